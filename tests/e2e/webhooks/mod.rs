//! Webhooks (issue 14 §3) end to end: the real binary delivering to a local receiver
//! that verifies Standard Webhooks signatures with its own implementation, on the test
//! clock (no sleeps): one delivery per event, atomic with the change; retries after the
//! backoff, giving up after 24 hours and disabling the endpoint with an audit event;
//! resend; SSRF refusals without `--allow-private-webhooks`; bad input; isolation.

mod delivery;
mod endpoints;
mod retries;

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::webhooks::Receiver;

/// The test clock, private (loopback) plain-http targets allowed (the receiver), and
/// sessions that outlive the 24 hours of retries.
pub const SETTINGS: &[(&str, &str)] = &[
    ("KEYWARD_TEST_CLOCK", "true"),
    ("KEYWARD_ALLOW_PRIVATE_WEBHOOKS", "true"),
    ("KEYWARD_TOKEN_TTL_MINUTES", "4320"),
];

/// An endpoint for `events` at the receiver, whose secret the receiver now verifies with.
pub async fn subscribe(app: &TestApp, receiver: &Receiver, events: &[&str]) -> Value {
    let created = app.owner.ok("webhooks.create", json!({"url": receiver.url(), "events": events})).await;
    let secret = created["secret"].as_str().expect("a secret");
    receiver.set_secret(secret);
    created["endpoint"].clone()
}

/// A key of a new development, issued to Sam.
pub async fn issued_key(app: &TestApp) -> Value {
    let dev = app.development("Oak Park").await;
    let key = app.key(&dev["id"], "Flat 1 front door").await;
    app.owner.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Sam"})).await
}

/// The organisation's deliveries, newest first.
pub async fn deliveries(app: &TestApp) -> Vec<Value> {
    let page = app.owner.ok("webhooks.deliveries", json!({})).await;
    page["items"].as_array().expect("items").clone()
}
