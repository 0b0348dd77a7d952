//! `keys.sendSms` and `settings.*Sms` end to end: the real binary, a fake Twilio over HTTP
//! (`shared/notes/sms.md` §8, `docs/api.md` §SMS).

use std::time::{Duration, Instant};

use chrono::DateTime;
use fake_twilio::{Scripted, numbers};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::on_both_databases_with;
use crate::support::sms::{FROM, PHONE, eventually, kill};
use crate::support::{Client, RpcError, SmsApp};

const CODE: &str = "4821#";
const SID: &str = fake_twilio::DEFAULT_ACCOUNT_SID;

/// A development with a key and an active access code.
async fn register(app: &SmsApp) -> (Value, Value) {
    let dev = app.development("Oak Park").await;
    let key = app.key(&dev["id"], "Flat 12 front door").await;
    let code = app
        .owner
        .ok(
            "keys.createAccessCode",
            json!({"developmentId": dev["id"], "codeType": "gate", "label": "Main Gate", "code": CODE}),
        )
        .await;
    (key, code)
}

fn key_target(key: &Value) -> Value {
    json!({"type": "key", "id": key["id"]})
}

fn code_target(code: &Value) -> Value {
    json!({"type": "accessCode", "id": code["id"]})
}

/// `keys.sendSms` params without an idempotency key.
fn request(target: &Value, phone: &str) -> Value {
    json!({"target": target, "recipientName": "Sam Smith", "phone": phone})
}

/// `keys.sendSms` params with an idempotency key.
fn keyed(target: &Value, phone: &str, idempotency_key: &str) -> Value {
    let mut params = request(target, phone);
    params["idempotencyKey"] = json!(idempotency_key);
    params
}

async fn send(client: &Client, params: Value) -> Result<Value, RpcError> {
    client.call("keys.sendSms", params).await
}

/// Sends and expects `{smsId, status:"sent", providerMessageId:"SM…"}`.
#[track_caller]
pub(crate) fn sent(result: Result<Value, RpcError>) -> Value {
    let answer = result.unwrap_or_else(|e| panic!("the SMS was not sent: {e:?}"));
    assert_eq!(answer["status"], "sent", "{answer}");
    assert!(answer["smsId"].as_str().is_some_and(|id| !id.is_empty()), "{answer}");
    assert!(answer["providerMessageId"].as_str().is_some_and(|id| id.starts_with("SM")), "{answer}");
    answer
}

#[track_caller]
pub(crate) fn failed(result: Result<Value, RpcError>) -> RpcError {
    match result {
        Ok(answer) => panic!("the send succeeded but should have failed: {answer}"),
        Err(e) => e,
    }
}

#[track_caller]
pub(crate) fn assert_rejected(result: Result<Value, RpcError>, provider_code: i64) {
    let e = failed(result);
    e.assert_kind(-32051, "SMS_REJECTED");
    assert_eq!(e.data["providerCode"], provider_code, "{e:?}");
}

#[track_caller]
pub(crate) fn assert_unavailable(result: Result<Value, RpcError>, maybe_sent: bool) {
    let e = failed(result);
    e.assert_kind(-32052, "SMS_UNAVAILABLE");
    assert_eq!(e.data["maybeSent"], maybe_sent, "{e:?}");
}

/// RATE_LIMITED; returns `retryAfterMs`, which is positive.
#[track_caller]
fn assert_rate_limited(result: Result<Value, RpcError>) -> u64 {
    let e = failed(result);
    e.assert_kind(-32029, "RATE_LIMITED");
    let wait = e.data["retryAfterMs"].as_u64().unwrap_or_else(|| panic!("no retryAfterMs: {e:?}"));
    assert!(wait > 0, "{e:?}");
    wait
}

/// The audit log's SMS events, oldest first, read through `client`.
async fn sms_events_via(client: &Client) -> Vec<Value> {
    let page = client.ok("audit.list", json!({"entityType": "sms", "limit": 100})).await;
    let mut items = page["items"].as_array().expect("items").clone();
    assert_eq!(page["total"], items.len(), "the test's log fits in one page");
    items.reverse();
    items
}

async fn sms_events(app: &SmsApp) -> Vec<Value> {
    sms_events_via(&app.owner).await
}

/// What an event says `field` became, if it shows the field.
fn changed_to(event: &Value, field: &str) -> Option<String> {
    event["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["field"] == field)
        .and_then(|c| c["to"].as_str().map(str::to_owned))
}

/// Checks an SMS event: its action, the number, how many requests reached the provider
/// and the provider's error code (`None`: the event shows none).
#[track_caller]
fn assert_event(event: &Value, action: &str, to: &str, attempts: u32, provider_code: Option<i64>) {
    assert_eq!(event["action"], action, "{event}");
    assert_eq!(event["entityType"], "sms", "{event}");
    assert_eq!(changed_to(event, "to").as_deref(), Some(to), "{event}");
    assert_eq!(changed_to(event, "attempts"), Some(attempts.to_string()), "{event}");
    assert_eq!(changed_to(event, "providerCode"), provider_code.map(|c| c.to_string()), "{event}");
}

/// The one SMS event the test expects.
async fn only_event(app: &SmsApp) -> Value {
    let events = sms_events(app).await;
    assert_eq!(events.len(), 1, "exactly one SMS event: {events:?}");
    events[0].clone()
}

/// The `To` of every request the fake received, in arrival order.
fn recipients(app: &SmsApp) -> Vec<String> {
    app.fake.requests().iter().map(|r| r.field("To").unwrap_or_default().to_owned()).collect()
}

/// Distinct valid GB mobiles: `07400 1234NN`.
pub(crate) fn mobile(n: usize) -> String {
    assert!(n < 100);
    format!("07400 1234{n:02}")
}

fn e164(n: usize) -> String {
    format!("+4474001234{n:02}")
}

fn scripted(status: u16) -> Scripted {
    Scripted::status(status)
}

fn retry_after_zero(status: u16) -> Scripted {
    Scripted { status, retry_after: Some("0".to_owned()), ..Scripted::default() }
}

mod credentials;
mod inbound;
mod limits;
mod sending;
mod settings;
