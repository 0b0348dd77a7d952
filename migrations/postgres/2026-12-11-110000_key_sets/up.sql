-- Key sets (issue 13 §5): a named set of keys of one development (a ring, a bunch),
-- issued and returned as one. The other database's set has the same tables.

CREATE TABLE key_sets (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    -- A development is deleted only when it has no keys; its (then empty) sets go with it.
    development_id TEXT NOT NULL REFERENCES developments (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- in_stock | issued | incomplete (KeySetState).
    state TEXT NOT NULL,
    issued_to TEXT,
    issued_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL
);
-- keySets.list: by name, optionally of one development.
CREATE INDEX key_sets_org_name ON key_sets (org_id, name, id);
CREATE INDEX key_sets_org_development_name ON key_sets (org_id, development_id, name, id);

-- A key belongs to at most one set: the key is the primary key.
CREATE TABLE key_set_members (
    key_id TEXT PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    set_id TEXT NOT NULL REFERENCES key_sets (id) ON DELETE CASCADE,
    -- When a partial return left this member out (keySets.return); cleared when it is back.
    missing_since TIMESTAMP
);
-- A set's members, and the members of a page of sets.
CREATE INDEX key_set_members_set ON key_set_members (set_id, key_id);
