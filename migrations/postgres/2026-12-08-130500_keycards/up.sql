-- Keycards (issue 12 §3) and the door log (§6). A keycard is a `card` key of the
-- register issued to a person of a grant; the key's own history records the issue and
-- the return. The SQLite set has the same tables.

CREATE TABLE keycards (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    person_id TEXT NOT NULL REFERENCES people (id),
    key_id TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    -- active | ended
    status TEXT NOT NULL,
    -- person_removed | grant_ended | replaced | door_removed
    end_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP
);
-- A card is one person's keycard at a time; a person has one keycard per grant.
CREATE UNIQUE INDEX keycards_active_key ON keycards (key_id) WHERE status = 'active';
CREATE UNIQUE INDEX keycards_active_grant_person ON keycards (grant_id, person_id) WHERE status = 'active';
CREATE INDEX keycards_org_grant_person ON keycards (org_id, grant_id, person_id);

-- The free cards of a development, first by ref: a keycard is found with LIMIT 1.
CREATE INDEX keys_org_development_type_status_ref ON keys (org_id, development_id, key_type, status, key_ref);

-- The door log reads a door's doorcodes by the instant they were allocated or ended.
CREATE INDEX doorcodes_org_door_created ON doorcodes (org_id, door_id, created_at);
CREATE INDEX doorcodes_org_door_ended ON doorcodes (org_id, door_id, ended_at) WHERE ended_at IS NOT NULL;
