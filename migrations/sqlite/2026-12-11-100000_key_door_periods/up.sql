-- Door-set periods (issue 12 §6, decision 145): when each key opened each door, so that a
-- door's key log shows a key's movements while it opened the door, and only those. Written
-- by keys.setDoors in its transaction (a removed door's period closed, an added door's
-- opened); at most one open period per key and door. A door's periods go with the door
-- (it can be deleted only once nothing opens it, so only closed ones), a key's with the
-- key (its movements go too). The PostgreSQL set has the same table and indexes.
CREATE TABLE key_door_periods (
    org_id TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    door_id TEXT NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
    from_at TIMESTAMP NOT NULL,
    -- NULL while the key still opens the door; [from_at, to_at) otherwise.
    to_at TIMESTAMP,
    PRIMARY KEY (key_id, door_id, from_at)
);
CREATE INDEX key_door_periods_org_door ON key_door_periods (org_id, door_id, from_at);
CREATE UNIQUE INDEX key_door_periods_open ON key_door_periods (key_id, door_id) WHERE to_at IS NULL;

-- The doors keys open now: key_doors has no time of its own, so each period starts when
-- its key was created (what the log showed before; decision 145).
INSERT INTO key_door_periods (org_id, key_id, door_id, from_at, to_at)
SELECT key_doors.org_id, key_doors.key_id, key_doors.door_id, keys.created_at, NULL
FROM key_doors JOIN keys ON keys.id = key_doors.key_id;
