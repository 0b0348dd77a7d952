-- Webhooks (issue 14 §3): an organisation's endpoints and the outbox of deliveries, one
-- row per event and endpoint, written in the transaction of the audit event it carries.
-- The other database's set has the same tables.

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    url TEXT NOT NULL,
    -- The subscribed WebhookEvent names, comma-separated.
    events TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    -- `whsec_...`, sealed under the server's secret key (secrets.rs).
    secret_sealed TEXT NOT NULL,
    -- The last 2xx answer: an endpoint is disabled when a delivery created after it fails for good.
    last_success_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- The outbox's one query per audited write: the organisation's enabled endpoints.
CREATE INDEX webhook_endpoints_org_enabled ON webhook_endpoints (org_id, enabled);

CREATE TABLE webhook_deliveries (
    -- UUIDv7; also the `webhook-id` header.
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    audit_event_id TEXT NOT NULL,
    -- The exact JSON body, built when the event was recorded.
    payload TEXT NOT NULL,
    -- DeliveryStatus: pending | delivered | failed.
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP,
    -- Retried until then (24 hours after it was created or resent).
    retry_until TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    last_status_code INTEGER,
    last_error TEXT,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
-- webhooks.deliveries: newest first (UUIDv7 ids are time-ordered), per organisation and
-- per endpoint.
CREATE INDEX webhook_deliveries_org_id ON webhook_deliveries (org_id, id);
CREATE INDEX webhook_deliveries_endpoint_id ON webhook_deliveries (endpoint_id, id);
