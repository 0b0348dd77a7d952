-- Doors (issue 12): the doors, gates and other openings of a development; which keys
-- open them and which access codes are at them; and each development's time zone, in
-- which the schedules at its doors are read. The PostgreSQL set has the same tables.

ALTER TABLE developments ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Europe/London';

CREATE TABLE doors (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    development_id TEXT NOT NULL REFERENCES developments (id),
    name TEXT NOT NULL,
    -- entrance | gate | flat | amenity | plant_room | bin_store | car_park | lift | other
    kind TEXT NOT NULL,
    notes TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX doors_org_name ON doors (org_id, name, id);
CREATE INDEX doors_org_development_name ON doors (org_id, development_id, name, id);
CREATE INDEX doors_org_kind_name ON doors (org_id, kind, name, id);

-- The doors a key opens (a master key many). A door that a key opens cannot be deleted
-- (no cascade on door_id: DOOR_IN_USE); a deleted key drops its links.
CREATE TABLE key_doors (
    org_id TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    door_id TEXT NOT NULL REFERENCES doors (id),
    PRIMARY KEY (key_id, door_id)
);
CREATE INDEX key_doors_org_door ON key_doors (org_id, door_id, key_id);

-- The doors an access code is at (the gate code is the gate's).
CREATE TABLE access_code_doors (
    org_id TEXT NOT NULL,
    code_id TEXT NOT NULL REFERENCES access_codes (id) ON DELETE CASCADE,
    door_id TEXT NOT NULL REFERENCES doors (id),
    PRIMARY KEY (code_id, door_id)
);
CREATE INDEX access_code_doors_org_door ON access_code_doors (org_id, door_id, code_id);
