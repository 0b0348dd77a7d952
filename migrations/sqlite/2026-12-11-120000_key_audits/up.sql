-- Key audits (issue 13 §4): a physical count of a development's key store against the
-- register (decisions 155–159). The other database's set has the same tables.

-- The schedule: days between audits, the last completed audit, and when the next is due
-- (kept by developments.create/update and audits.complete), so that keys.summary counts
-- the overdue ones from an index.
ALTER TABLE developments ADD COLUMN audit_interval_days INTEGER;
ALTER TABLE developments ADD COLUMN last_audit_at TIMESTAMP;
ALTER TABLE developments ADD COLUMN audit_due_at TIMESTAMP;
CREATE INDEX developments_org_audit_due ON developments (org_id, audit_due_at) WHERE audit_due_at IS NOT NULL;

CREATE TABLE key_audits (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    development_id TEXT NOT NULL REFERENCES developments (id) ON DELETE CASCADE,
    -- open | completed | resolved | cancelled
    status TEXT NOT NULL,
    expected INTEGER NOT NULL,
    found INTEGER NOT NULL,
    unexpected INTEGER NOT NULL,
    missing INTEGER NOT NULL,
    left_stock INTEGER NOT NULL,
    marked_lost INTEGER NOT NULL,
    started_at TIMESTAMP NOT NULL,
    started_by TEXT NOT NULL,
    completed_at TIMESTAMP,
    completed_by TEXT,
    closed_at TIMESTAMP,
    closed_by TEXT,
    updated_at TIMESTAMP NOT NULL
);
-- One open audit per development: a second audits.start loses here if not before.
CREATE UNIQUE INDEX key_audits_one_open ON key_audits (development_id) WHERE status = 'open';
-- audits.list, newest first (ids are UUIDv7), of the organisation or of one development.
CREATE INDEX key_audits_org_id ON key_audits (org_id, id);
CREATE INDEX key_audits_org_development_id ON key_audits (org_id, development_id, id);

-- One row per key of an audit: the snapshot's keys (outcome `expected` until recorded)
-- and the keys recorded that were not in it. `key_ref` is the ref when the row was
-- written: the order of audits.lines.
CREATE TABLE key_audit_lines (
    audit_id TEXT NOT NULL REFERENCES key_audits (id) ON DELETE CASCADE,
    key_id TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    key_ref TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    recorded_at TIMESTAMP,
    recorded_by TEXT,
    PRIMARY KEY (audit_id, key_id)
);
CREATE INDEX key_audit_lines_outcome_ref ON key_audit_lines (audit_id, outcome, key_ref, key_id);
-- A deleted key's lines go with it (ON DELETE CASCADE) through this index.
CREATE INDEX key_audit_lines_key ON key_audit_lines (key_id);
