-- Background jobs (issue 13 §1): work that runs inside `keyward serve` when the clock
-- passes `run_at`, claimed by one node at a time with a lease. The other database's set
-- has the same table.

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    -- JobKind (crates/domain/src/jobs.rs), as text.
    kind TEXT NOT NULL,
    -- Null for the operator's jobs (the sweeps), which belong to no organisation.
    org_id TEXT REFERENCES organisations (id),
    -- What the job is about, unique per kind: a second enqueue of the same work is a
    -- no-op (a recurring job's slot, a key's reminder step).
    subject TEXT NOT NULL,
    run_at TIMESTAMP NOT NULL,
    -- JobState: pending | running | done | failed.
    state TEXT NOT NULL,
    -- Claims so far; a claim's number is its token (finishing checks it).
    attempts INTEGER NOT NULL,
    -- While `running`: past it, another node may claim the job again.
    lease_until TIMESTAMP,
    claimed_by TEXT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE UNIQUE INDEX jobs_kind_subject ON jobs (kind, subject);
-- The claim: due pending jobs by run_at, running ones by lease.
CREATE INDEX jobs_state_run_at ON jobs (state, run_at);
CREATE INDEX jobs_state_lease ON jobs (state, lease_until);
-- The purge of finished jobs.
CREATE INDEX jobs_finished_at ON jobs (finished_at);
