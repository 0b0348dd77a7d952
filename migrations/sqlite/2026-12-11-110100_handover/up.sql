-- Acknowledged handover (issue 13 §6). The other database's set has the same table.

-- The acknowledgement asked for a key's current holding (keys.issueKey with
-- `acknowledge`): its state (awaiting, acknowledged, locked: HandoverState), the code as a
-- keyed hash (HMAC-SHA-256 under the server's key, never the code), where it was sent, and
-- when it was confirmed. The row goes when the holding ends (every other status change)
-- and is replaced by the next issue that asks for one.
CREATE TABLE key_handovers (
    key_id TEXT PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    state TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    -- E.164, where the code was sent (and so who acknowledged).
    phone TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    wrong_tries INTEGER NOT NULL,
    acknowledged_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
-- keys.listKeys {unacknowledged}: the handovers in a state, then their keys by id.
CREATE INDEX key_handovers_org_state ON key_handovers (org_id, state, key_id);
