-- SMS: each organisation's Twilio settings (the auth token sealed like access codes),
-- every attempt that reached the provider stage (never the message body: it may hold a
-- code), and the per-day counter that makes the daily cap exact across server nodes.

CREATE TABLE sms_settings (
    org_id TEXT PRIMARY KEY REFERENCES organisations (id),
    account_sid TEXT NOT NULL,
    auth_token_sealed TEXT NOT NULL,
    from_number TEXT,
    messaging_service_sid TEXT,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE sms_messages (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    recipient_name TEXT NOT NULL,
    to_e164 TEXT NOT NULL,
    -- Unique per organisation while set; cleared when a key is reused after 24 hours.
    idempotency_key TEXT,
    -- SHA-256 of the parameters, to refuse a key reused with other parameters.
    request_fingerprint TEXT NOT NULL,
    -- pending, sent, rejected, unavailable, unknown
    status TEXT NOT NULL,
    provider_message_id TEXT,
    provider_status TEXT,
    provider_error_code INTEGER,
    http_status INTEGER,
    attempts INTEGER NOT NULL,
    segments INTEGER NOT NULL,
    encoding TEXT NOT NULL,
    CONSTRAINT sms_org_idempotency_key UNIQUE (org_id, idempotency_key)
);
CREATE INDEX sms_org_recipient_created ON sms_messages (org_id, to_e164, created_at);
CREATE INDEX sms_status_created ON sms_messages (status, created_at);

CREATE TABLE sms_daily_usage (
    org_id TEXT NOT NULL REFERENCES organisations (id),
    day DATE NOT NULL,
    sent INTEGER NOT NULL,
    PRIMARY KEY (org_id, day)
);
