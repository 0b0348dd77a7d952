-- Consecutive failed logins per email, shared by every node, for every email tried
-- (known or not, so that a lock says nothing about whether an account exists). The email
-- is kept only as SHA-256 hex of its lower-case form: people type passwords into the
-- email field. After `failures` reaches the threshold the email is locked until
-- `locked_until` (a window that doubles with each further failure); a successful login
-- deletes the row; rows idle for a day are purged.
CREATE TABLE login_failures (
    email_hash TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until TIMESTAMP,
    last_failure_at TIMESTAMP NOT NULL
);
