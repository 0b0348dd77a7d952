-- Search by the organisation's own trigrams (decision 173, `repo/keys/grams.rs`): the
-- trigram GIN on (org_id, search_text) intersected the organisation's whole posting list
-- (100,000 entries in an organisation of 100,000 keys) with every organisation's matches.
-- Here a term is the 64-bit hash of the organisation and a three-character window, so
-- the index hands back the organisation's candidates only.
CREATE FUNCTION keyward_search_grams(org text, txt text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS
$$ SELECT ARRAY(SELECT hashtextextended(org || substr(txt, i, 3), 0)
                FROM generate_series(1, length(txt) - 2) AS i) $$;

-- Without GIN's pending list (fastupdate): every search scans the whole list, and writes
-- that change search_text (each issue and each return to stock) filled it until a search
-- read 482 pages of it (L2 at half speed after W1 had run).
CREATE INDEX keys_org_search_grams ON keys USING gin (keyward_search_grams(org_id, search_text))
WITH (fastupdate = off);
DROP INDEX keys_org_search_trgm;
