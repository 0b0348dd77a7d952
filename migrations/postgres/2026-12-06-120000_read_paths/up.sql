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

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

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
    floor BIGINT NOT NULL,
    PRIMARY KEY (org_id, ref_prefix)
);

INSERT INTO key_counts (org_id, development_id, status, n)
SELECT org_id, development_id, status, COUNT(*) FROM keys GROUP BY org_id, development_id, status;

INSERT INTO key_due_days (org_id, due_day, development_id, n)
SELECT org_id, CAST(expected_return_at AS DATE), development_id, COUNT(*) FROM keys
WHERE status = 'issued' AND expected_return_at IS NOT NULL
GROUP BY org_id, CAST(expected_return_at AS DATE), development_id;

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
-- A search reads one organisation's matches, not every organisation's.
DROP INDEX keys_search_trgm;
CREATE INDEX keys_org_search_trgm ON keys USING gin (org_id, search_text gin_trgm_ops);
