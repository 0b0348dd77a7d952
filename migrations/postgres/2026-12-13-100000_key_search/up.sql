-- The search index off the keys' heap (decision 184, `repo/keys/grams.rs`). An UPDATE of a
-- key that changes an indexed column (every issue, return and return to stock changes
-- `status`) cannot be HOT, and then every index of `keys` gets an entry for the new row
-- version: the search GIN too, about one per character of `search_text`, whether the
-- text changed or not. It was a third of W1's time.
--
-- A key's search text is `ref \n label \n holder` (`keys::search_text`). Now:
-- - the head (`ref \n label \n`) is indexed in `key_search`, one narrow row per key,
--   written by the triggers below only when the head changes (a new key, a new label);
-- - the holder (the text after the last line break) is indexed on `keys` only for keys
--   that have one (`issued_to IS NOT NULL`): an issue adds entries, a return and a
--   return to stock add none.
-- A search is on one field (it cannot hold a line break), so its windows are all in the
-- head or all in the holder.

CREATE FUNCTION keyward_search_holder(txt text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS
$$ SELECT split_part(txt, E'\n', -1) $$;

CREATE FUNCTION keyward_search_head(txt text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS
$$ SELECT left(txt, length(txt) - length(split_part(txt, E'\n', -1))) $$;

CREATE TABLE key_search (
    key_id TEXT PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
    org_id TEXT NOT NULL,
    head TEXT NOT NULL
);

INSERT INTO key_search (key_id, org_id, head)
SELECT id, org_id, keyward_search_head(search_text) FROM keys;

CREATE FUNCTION keyward_key_search() RETURNS trigger
LANGUAGE plpgsql AS
$$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO key_search (key_id, org_id, head)
        VALUES (NEW.id, NEW.org_id, keyward_search_head(NEW.search_text));
    ELSE
        UPDATE key_search SET head = keyward_search_head(NEW.search_text) WHERE key_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER keys_search_insert AFTER INSERT ON keys
FOR EACH ROW EXECUTE FUNCTION keyward_key_search();

CREATE TRIGGER keys_search_update AFTER UPDATE OF search_text ON keys
FOR EACH ROW WHEN (keyward_search_head(OLD.search_text) IS DISTINCT FROM keyward_search_head(NEW.search_text))
EXECUTE FUNCTION keyward_key_search();

-- fastupdate off, as for the index it replaces (migration org_search_grams).
CREATE INDEX key_search_grams ON key_search USING gin (keyward_search_grams(org_id, head))
WITH (fastupdate = off);
CREATE INDEX keys_org_holder_grams ON keys USING gin (keyward_search_grams(org_id, keyward_search_holder(search_text)))
WITH (fastupdate = off) WHERE issued_to IS NOT NULL;
DROP INDEX keys_org_search_grams;
