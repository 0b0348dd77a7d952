-- Overdue reminders with escalation (issue 13 §2). The other database's set has the same
-- tables.

-- The organisation's settings (settings.getReminders / updateReminders); no row: the
-- defaults, off.
CREATE TABLE reminder_settings (
    org_id TEXT PRIMARY KEY REFERENCES organisations (id),
    enabled BOOLEAN NOT NULL DEFAULT 0,
    first_after_minutes INTEGER NOT NULL,
    repeat_every_hours INTEGER NOT NULL,
    max_reminders INTEGER NOT NULL,
    escalate_after_hours INTEGER NOT NULL,
    -- A JSON array of user ids.
    escalate_to_user_ids TEXT NOT NULL,
    escalate_phone TEXT,
    -- HH:MM on the development's wall clock; both or neither.
    quiet_start TEXT,
    quiet_end TEXT,
    updated_at TIMESTAMP NOT NULL
);
-- The sweep reads the organisations that have reminders on.
CREATE INDEX reminder_settings_enabled ON reminder_settings (enabled);

-- An overdue key's reminders for one issue and one due time (its cycle): a key returned,
-- extended or issued again starts a new cycle (the row is replaced).
CREATE TABLE key_reminders (
    key_id TEXT PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    issued_at TIMESTAMP NOT NULL,
    due_at TIMESTAMP NOT NULL,
    reminders_sent INTEGER NOT NULL,
    last_reminder_at TIMESTAMP,
    escalated_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);

-- reports.overdue of one development: issued keys by due time.
CREATE INDEX keys_org_development_status_due ON keys (org_id, development_id, status, expected_return_at);
