-- The audit log becomes a hash chain per organisation (docs/api.md § Audit):
-- `seq` numbers an organisation's events 1, 2, 3 … in the order they were written;
-- `prev_hash` is the previous event's `hash` (64 zeros for seq 1); `hash` is the SHA-256
-- of the event's canonical content. Existing events are numbered here, in SQL, by
-- (at, id) per organisation; their hashes are computed by keyward right after migrating
-- (`repo::audit::build_missing_chains`): neither database can compute the canonical JSON
-- and SHA-256 the same way in SQL. An empty `hash` means "not chained yet".
ALTER TABLE audit_events ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
UPDATE audit_events SET seq = numbered.n
FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY org_id ORDER BY at, id) AS n FROM audit_events) AS numbered
WHERE numbered.id = audit_events.id;
CREATE UNIQUE INDEX audit_org_seq ON audit_events (org_id, seq);
