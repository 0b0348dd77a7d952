-- A status change writes no search index (decision 187, `repo/keys/grams.rs`), as
-- decision 184 made it on PostgreSQL. `keys_grams` indexed a key's whole search text,
-- `ref \n label \n holder`: every issue and every return changes the holder, so each
-- wrote a new FTS5 segment and a tombstone (and, later, their merges): a quarter of W1's
-- time. Now:
-- - `keys_grams` indexes the head (`ref \n label \n`), written only when the head changes;
-- - the holders' names are indexed once per organisation and name, in `holder_names`
--   and the FTS5 table `holder_grams`, written when a key goes to a name the organisation
--   has not issued to before; `keys_org_issued_to` leads from a name to its keys (and
--   their refs: a search alone reads no key row for the keys it finds by holder,
--   decision 189).
-- A name stays when its last key comes back, as it stays in the history and the audit
-- log; a search that matches it finds no key by it.

DROP TRIGGER keys_grams_insert;
DROP TRIGGER keys_grams_update;
INSERT INTO keys_grams (keys_grams) VALUES ('delete-all');
INSERT INTO keys_grams (rowid, grams)
SELECT search_id, keyward_search_grams(org_id, keyward_search_head(search_text)) FROM keys;

CREATE TRIGGER keys_grams_insert AFTER INSERT ON keys BEGIN
    UPDATE keys SET search_id = (SELECT IFNULL(MAX(search_id), 0) + 1 FROM keys)
    WHERE id = new.id AND new.search_id IS NULL;
    INSERT INTO keys_grams (rowid, grams)
    SELECT search_id, keyward_search_grams(org_id, keyward_search_head(search_text)) FROM keys WHERE id = new.id;
END;
CREATE TRIGGER keys_grams_update AFTER UPDATE OF search_text ON keys
WHEN keyward_search_head(old.search_text) <> keyward_search_head(new.search_text) BEGIN
    DELETE FROM keys_grams WHERE rowid = new.search_id;
    INSERT INTO keys_grams (rowid, grams)
    VALUES (new.search_id, keyward_search_grams(new.org_id, keyward_search_head(new.search_text)));
END;

CREATE TABLE holder_names (
    id INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    -- `keys.issued_to` as written.
    name TEXT NOT NULL,
    -- The name as a key's search text holds it (lower-cased).
    search TEXT NOT NULL,
    UNIQUE (org_id, name)
);
CREATE VIRTUAL TABLE holder_grams USING fts5 (
    grams, content = '', contentless_delete = 1, tokenize = 'ascii', detail = 'none'
);
CREATE TRIGGER holder_names_insert AFTER INSERT ON holder_names BEGIN
    INSERT INTO holder_grams (rowid, grams) VALUES (new.id, keyward_search_grams(new.org_id, new.search));
END;
CREATE TRIGGER holder_names_delete AFTER DELETE ON holder_names BEGIN
    DELETE FROM holder_grams WHERE rowid = old.id;
END;

CREATE TRIGGER keys_holder_insert AFTER INSERT ON keys WHEN new.issued_to IS NOT NULL BEGIN
    INSERT INTO holder_names (org_id, name, search)
    VALUES (new.org_id, new.issued_to, keyward_search_holder(new.search_text))
    ON CONFLICT (org_id, name) DO NOTHING;
END;
CREATE TRIGGER keys_holder_update AFTER UPDATE OF issued_to ON keys
WHEN new.issued_to IS NOT NULL AND new.issued_to IS NOT old.issued_to BEGIN
    INSERT INTO holder_names (org_id, name, search)
    VALUES (new.org_id, new.issued_to, keyward_search_holder(new.search_text))
    ON CONFLICT (org_id, name) DO NOTHING;
END;

INSERT INTO holder_names (org_id, name, search)
SELECT org_id, issued_to, keyward_search_holder(MIN(search_text)) FROM keys
WHERE issued_to IS NOT NULL GROUP BY org_id, issued_to;

CREATE INDEX keys_org_issued_to ON keys (org_id, issued_to, key_ref) WHERE issued_to IS NOT NULL;
