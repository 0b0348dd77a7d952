-- The doorcode-exposure ledger (issue 12 §3, §6): each time a doorcode's value reached
-- its person (`grants.sendCredentials`, by SMS), with the door it opens, so that a
-- door's log reads its sends by instant. Doorcodes are not access codes, so they have
-- their own table rather than rows of `code_exposures`. The SQLite set has the same.
CREATE TABLE doorcode_exposures (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    doorcode_id TEXT NOT NULL REFERENCES doorcodes (id) ON DELETE CASCADE,
    door_id TEXT NOT NULL REFERENCES doors (id),
    grant_id TEXT NOT NULL,
    person_id TEXT NOT NULL REFERENCES people (id),
    at TIMESTAMP NOT NULL,
    -- sms
    channel TEXT NOT NULL,
    sms_id TEXT,
    actor_id TEXT,
    actor_name TEXT NOT NULL
);
CREATE INDEX doorcode_exposures_org_door_at ON doorcode_exposures (org_id, door_id, at);
CREATE INDEX doorcode_exposures_doorcode ON doorcode_exposures (doorcode_id, at);
