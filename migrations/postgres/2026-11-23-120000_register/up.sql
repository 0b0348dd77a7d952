-- The key register: organisations, users and sessions, developments, keys with their
-- movements, and the audit log. Every tenant table carries org_id, every query filters
-- on it, and every unique constraint includes it (users.email is global: one
-- organisation per user, and login is by email).
-- The SQLite set in ../../sqlite/ has the same tables; only types and the search index differ.
-- Sorted text columns use the "C" collation (byte order), as SQLite does: lists come back
-- in the same order on both databases, whatever the server's locale.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    email TEXT NOT NULL UNIQUE,
    name TEXT COLLATE "C" NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_org_name ON users (org_id, name);

-- Bearer tokens are stored only as SHA-256 hashes.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE developments (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    name TEXT COLLATE "C" NOT NULL,
    key_prefix TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX developments_org_name ON developments (org_id, name);

CREATE TABLE keys (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    development_id TEXT NOT NULL REFERENCES developments (id),
    key_ref TEXT COLLATE "C" NOT NULL,
    -- key_ref split as PREFIX-NUMBER when it has that form: finds the lowest free number.
    ref_prefix TEXT,
    ref_number BIGINT,
    key_type TEXT NOT NULL,
    label TEXT COLLATE "C" NOT NULL,
    status TEXT NOT NULL,
    notes TEXT,
    issued_to TEXT,
    issued_to_phone TEXT,
    issued_at TIMESTAMP,
    issued_by TEXT,
    purpose TEXT,
    expected_return_at TIMESTAMP,
    security_level TEXT NOT NULL,
    brand TEXT,
    key_number TEXT,
    quantity INTEGER NOT NULL,
    access_restrictions TEXT,
    emergency_contact TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_status_change_at TIMESTAMP,
    last_status_change_by TEXT,
    version INTEGER NOT NULL,
    -- Lower-cased key_ref, label and issued_to, kept by the application: one column to
    -- search, with a trigram index so that a substring search does not read every key.
    search_text TEXT NOT NULL,
    CONSTRAINT keys_org_key_ref UNIQUE (org_id, key_ref)
);
CREATE INDEX keys_org_development_ref ON keys (org_id, development_id, key_ref);
CREATE INDEX keys_org_status_ref ON keys (org_id, status, key_ref);
CREATE INDEX keys_org_development_status ON keys (org_id, development_id, status);
CREATE INDEX keys_org_ref_number ON keys (org_id, ref_prefix, ref_number);
CREATE INDEX keys_search_trgm ON keys USING gin (search_text gin_trgm_ops);

CREATE TABLE key_movements (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    at TIMESTAMP NOT NULL,
    action TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    issued_to TEXT,
    purpose TEXT,
    expected_return_at TIMESTAMP,
    notes TEXT
);
CREATE INDEX key_movements_key_at ON key_movements (key_id, at);

-- Kept when the entity is deleted: the audit log must outlive what it describes.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    -- JSON array of {field, from, to}.
    changes TEXT NOT NULL
);
CREATE INDEX audit_org_at ON audit_events (org_id, at, id);
CREATE INDEX audit_org_entity ON audit_events (org_id, entity_type, entity_id, at);
CREATE INDEX audit_org_actor ON audit_events (org_id, actor_id, at);
CREATE INDEX audit_org_action ON audit_events (org_id, action, at);
