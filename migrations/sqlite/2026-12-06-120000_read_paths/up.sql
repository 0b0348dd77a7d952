-- The read paths (decisions 37–40): what a user reads costs O(page), O(statuses) or
-- O(matches), never O(keys of the organisation).
--
-- Maintained counts, written by `repo::counts` in the transaction of every write that
-- creates or deletes a key or code or changes a key's development, status or due date:
--   key_counts          keys per (organisation, development, status);
--   key_due_days        issued keys with a due date, per day they are due (the summary's
--                       overdue number adds whole past days and counts only today's keys);
--   access_code_counts  codes per (organisation, development);
--   key_ref_floors      per ref prefix, a number below which every number is taken
--                       (suggestKeyRef starts there instead of at 1).
-- All are filled here from the data as it is, and recounted after a bulk load
-- (`repo::maintenance::after_bulk_load`).

CREATE TABLE key_counts (
    org_id TEXT NOT NULL,
    development_id TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (org_id, development_id, status)
);

CREATE TABLE key_due_days (
    org_id TEXT NOT NULL,
    due_day DATE NOT NULL,
    development_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (org_id, due_day, development_id)
);

CREATE TABLE access_code_counts (
    org_id TEXT NOT NULL,
    development_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (org_id, development_id)
);

CREATE TABLE key_ref_floors (
    org_id TEXT NOT NULL,
    ref_prefix TEXT NOT NULL,
    floor INTEGER NOT NULL,
    PRIMARY KEY (org_id, ref_prefix)
);

INSERT INTO key_counts (org_id, development_id, status, n)
SELECT org_id, development_id, status, COUNT(*) FROM keys GROUP BY org_id, development_id, status;

INSERT INTO key_due_days (org_id, due_day, development_id, n)
SELECT org_id, date(expected_return_at), development_id, COUNT(*) FROM keys
WHERE status = 'issued' AND expected_return_at IS NOT NULL
GROUP BY org_id, date(expected_return_at), development_id;

INSERT INTO access_code_counts (org_id, development_id, n)
SELECT org_id, development_id, COUNT(*) FROM access_codes GROUP BY org_id, development_id;

-- The lowest number n + 1 (n ≥ 1) that is free, or 1 when 1 itself is free.
INSERT INTO key_ref_floors (org_id, ref_prefix, floor)
SELECT k.org_id, k.ref_prefix,
       CASE WHEN NOT EXISTS (SELECT 1 FROM keys o WHERE o.org_id = k.org_id
                               AND o.ref_prefix = k.ref_prefix AND o.ref_number = 1)
            THEN 1 ELSE MIN(k.ref_number + 1) END
FROM keys k
WHERE k.ref_prefix IS NOT NULL AND k.ref_number >= 1
  AND NOT EXISTS (SELECT 1 FROM keys o WHERE o.org_id = k.org_id
                    AND o.ref_prefix = k.ref_prefix AND o.ref_number = k.ref_number + 1)
GROUP BY k.org_id, k.ref_prefix;

-- A filtered page (development and status) reads its rows in key_ref order and stops.
DROP INDEX keys_org_development_status;
CREATE INDEX keys_org_development_status_ref ON keys (org_id, development_id, status, key_ref);
-- The keys due today (the rest of the overdue number comes from key_due_days), and
-- the overdue filter.
CREATE INDEX keys_org_status_due ON keys (org_id, status, expected_return_at);

-- Search: an FTS5 table with the trigram tokenizer holds each key's search_text under
-- the key's `search_id` (a stable integer: a rowid may change on VACUUM). The triggers
-- keep it in step with the keys; a bulk load drops them and `after_bulk_load` rebuilds
-- the table. A search reads the matches in every organisation, then keeps its own
-- (decision 38).
ALTER TABLE keys ADD COLUMN search_id INTEGER;
UPDATE keys SET search_id = rowid;
CREATE UNIQUE INDEX keys_search_id ON keys (search_id);
CREATE VIRTUAL TABLE keys_search USING fts5 (search_text, tokenize = 'trigram');
INSERT INTO keys_search (rowid, search_text) SELECT search_id, search_text FROM keys;

CREATE TRIGGER keys_search_insert AFTER INSERT ON keys BEGIN
    UPDATE keys SET search_id = (SELECT IFNULL(MAX(search_id), 0) + 1 FROM keys)
    WHERE id = new.id AND new.search_id IS NULL;
    INSERT INTO keys_search (rowid, search_text)
    SELECT search_id, search_text FROM keys WHERE id = new.id;
END;
CREATE TRIGGER keys_search_update AFTER UPDATE OF search_text ON keys
WHEN old.search_text <> new.search_text BEGIN
    UPDATE keys_search SET search_text = new.search_text WHERE rowid = new.search_id;
END;
CREATE TRIGGER keys_search_delete AFTER DELETE ON keys BEGIN
    DELETE FROM keys_search WHERE rowid = old.search_id;
END;
