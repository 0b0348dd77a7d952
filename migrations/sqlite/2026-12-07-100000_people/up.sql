-- People (issue 11): the key-holder directory and its firms, keys issued to a person,
-- the code-exposure ledger (who has known each value of a code), rotation reasons, and
-- the organisation's `maskCodesInLists` setting. The SQLite set has the same tables.

CREATE TABLE firms (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    name TEXT NOT NULL,
    phone TEXT,
    email TEXT,
    notes TEXT,
    archived_at TIMESTAMP,
    -- Set by `firms.offboard` (with the reason): the firm and its people are archived.
    offboarded_at TIMESTAMP,
    offboard_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL,
    -- Lower-cased name, phone and email, kept by the application.
    search_text TEXT NOT NULL
);
CREATE INDEX firms_org_name ON firms (org_id, name, id);

CREATE TABLE people (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    name TEXT NOT NULL,
    -- resident | staff | contractor | guest | other
    kind TEXT NOT NULL,
    -- E.164, normalised as for SMS.
    phone TEXT,
    email TEXT,
    firm_id TEXT REFERENCES firms (id),
    -- For residents: where they live.
    development_id TEXT REFERENCES developments (id),
    -- When the person is also a user of keyward: offboarding revokes their sessions.
    user_id TEXT REFERENCES users (id),
    notes TEXT,
    archived_at TIMESTAMP,
    offboarded_at TIMESTAMP,
    offboard_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL,
    -- Lower-cased name, phone and email, kept by the application.
    search_text TEXT NOT NULL
);
CREATE INDEX people_org_name ON people (org_id, name, id);
CREATE INDEX people_org_firm ON people (org_id, firm_id, name);
CREATE INDEX people_org_development ON people (org_id, development_id, name);
CREATE INDEX people_user ON people (user_id);

-- A key issued to a person of the directory carries the person (issued_to and
-- issued_to_phone keep the name and number as they were at issue); offboarding asks
-- for the key back without pretending it is back.
ALTER TABLE keys ADD COLUMN holder_id TEXT REFERENCES people (id);
ALTER TABLE keys ADD COLUMN return_requested_at TIMESTAMP;
CREATE INDEX keys_org_holder_ref ON keys (org_id, holder_id, key_ref) WHERE holder_id IS NOT NULL;

-- The holder of each movement: point-in-time answers (`people.holdingsAt`).
ALTER TABLE key_movements ADD COLUMN holder_id TEXT;
CREATE INDEX key_movements_org_holder_at ON key_movements (org_id, holder_id, at) WHERE holder_id IS NOT NULL;

ALTER TABLE organisations ADD COLUMN mask_codes_in_lists BOOLEAN NOT NULL DEFAULT 0;

-- Each value a code has had, numbered from 1 (no value is stored here): an exposure
-- belongs to the value it revealed, and a new value starts a new exposure period.
ALTER TABLE access_codes ADD COLUMN value_version INTEGER NOT NULL DEFAULT 1;
-- A staff-chosen date from which the code is due for rotation.
ALTER TABLE access_codes ADD COLUMN rotate_by DATE;
-- Set while the current value has a rotation reason (cleared by a new value).
ALTER TABLE access_codes ADD COLUMN rotation_flagged_at TIMESTAMP;
CREATE INDEX access_codes_org_rotation ON access_codes (org_id, rotation_flagged_at, rotate_by);

CREATE TABLE access_code_values (
    org_id TEXT NOT NULL,
    code_id TEXT NOT NULL REFERENCES access_codes (id) ON DELETE CASCADE,
    value_version INTEGER NOT NULL,
    started_at TIMESTAMP NOT NULL,
    started_by TEXT NOT NULL,
    PRIMARY KEY (code_id, value_version)
);
CREATE INDEX access_code_values_code_started ON access_code_values (code_id, started_at);
-- The ledger starts with this migration: each existing code's value is taken to have
-- started when the code was last updated.
INSERT INTO access_code_values (org_id, code_id, value_version, started_at, started_by)
SELECT org_id, id, 1, updated_at, '' FROM access_codes;

-- Every time a code's value reached someone: `set` (the user who typed it), `sms`,
-- `disclosure` (recorded by staff), `reveal` (shown in the app).
CREATE TABLE code_exposures (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    code_id TEXT NOT NULL REFERENCES access_codes (id) ON DELETE CASCADE,
    value_version INTEGER NOT NULL,
    at TIMESTAMP NOT NULL,
    channel TEXT NOT NULL,
    -- Who learnt it: a person of the directory, a user, or a bare name and/or phone.
    person_id TEXT REFERENCES people (id),
    user_id TEXT,
    name TEXT NOT NULL,
    phone TEXT,
    sms_id TEXT,
    note TEXT,
    -- Who recorded it (the sender, the staff member, the revealing user).
    actor_id TEXT,
    actor_name TEXT NOT NULL
);
CREATE INDEX code_exposures_code_value_at ON code_exposures (code_id, value_version, at);
CREATE INDEX code_exposures_org_person ON code_exposures (org_id, person_id, code_id) WHERE person_id IS NOT NULL;

-- Why a code is due for rotation; a reason belongs to one value of the code.
CREATE TABLE code_rotation_reasons (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    code_id TEXT NOT NULL REFERENCES access_codes (id) ON DELETE CASCADE,
    value_version INTEGER NOT NULL,
    at TIMESTAMP NOT NULL,
    -- person_offboarded | key_lost
    kind TEXT NOT NULL,
    person_id TEXT,
    key_id TEXT,
    note TEXT,
    actor_name TEXT NOT NULL
);
CREATE INDEX code_rotation_reasons_code_value ON code_rotation_reasons (code_id, value_version, at);
CREATE INDEX code_rotation_reasons_org_person ON code_rotation_reasons (org_id, person_id) WHERE person_id IS NOT NULL;

-- The keys that open the same door as a code (until doors exist, issue 12): losing one
-- makes the code due for rotation.
CREATE TABLE access_code_keys (
    org_id TEXT NOT NULL,
    code_id TEXT NOT NULL REFERENCES access_codes (id) ON DELETE CASCADE,
    key_id TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    PRIMARY KEY (code_id, key_id)
);
CREATE INDEX access_code_keys_org_key ON access_code_keys (org_id, key_id);
