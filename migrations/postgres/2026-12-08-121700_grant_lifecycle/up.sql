-- Grants gain a state (issue 12 §3): `active` until `grants.end`, then `ended` for good,
-- with the instant it was ended. The other database's set has the same columns.
ALTER TABLE grants ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE grants ADD COLUMN ended_at TIMESTAMP;
