-- PostgreSQL only (decision 184): SQLite's search index is the FTS5 table keys_grams, a
-- table of its own already, written only when a key's search text changes.
SELECT 1;
