DROP TABLE key_audit_lines;
DROP TABLE key_audits;
DROP INDEX developments_org_audit_due;
ALTER TABLE developments DROP COLUMN audit_due_at;
ALTER TABLE developments DROP COLUMN last_audit_at;
ALTER TABLE developments DROP COLUMN audit_interval_days;
