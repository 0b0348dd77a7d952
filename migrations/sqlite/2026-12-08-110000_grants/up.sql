-- Access grants (issue 12 §3): doors of a development given to people for an access
-- period on a weekly schedule per door, and the people's doorcodes. The other database's
-- set has the same tables.

CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    development_id TEXT NOT NULL REFERENCES developments (id),
    name TEXT NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP,
    -- random | preferred | strict; null: the grant gives no doorcodes.
    doorcode_policy TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX grants_org_name ON grants (org_id, name, id);
CREATE INDEX grants_org_development_name ON grants (org_id, development_id, name, id);

-- The doors of a grant, each with its weekly schedule (JSON: the wire's windows,
-- normalised; `[]` is at any time). A door of a grant cannot be deleted (no cascade).
CREATE TABLE grant_doors (
    org_id TEXT NOT NULL,
    grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    door_id TEXT NOT NULL REFERENCES doors (id),
    schedule TEXT NOT NULL,
    PRIMARY KEY (grant_id, door_id)
);
CREATE INDEX grant_doors_org_door ON grant_doors (org_id, door_id, grant_id);

CREATE TABLE grant_people (
    org_id TEXT NOT NULL,
    grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    person_id TEXT NOT NULL REFERENCES people (id),
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (grant_id, person_id)
);
CREATE INDEX grant_people_org_person ON grant_people (org_id, person_id, grant_id);

-- A person's doorcode at one door of a grant: sealed (AES-256-GCM) with a keyed hash for
-- exact-match lookups, as access codes. At most one active doorcode per value and door.
CREATE TABLE doorcodes (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    person_id TEXT NOT NULL REFERENCES people (id),
    door_id TEXT NOT NULL REFERENCES doors (id),
    code_sealed TEXT NOT NULL,
    code_lookup TEXT NOT NULL,
    -- active | ended
    status TEXT NOT NULL,
    -- person_removed | grant_ended | replaced | door_removed
    end_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP
);
CREATE UNIQUE INDEX doorcodes_active_door_lookup ON doorcodes (door_id, code_lookup) WHERE status = 'active';
CREATE INDEX doorcodes_org_grant_person ON doorcodes (org_id, grant_id, person_id, door_id);
