//! The code-exposure ledger and rotation (issue 11): every channel by which a value
//! reaches someone, masking, value periods, point-in-time answers, rotation reasons.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::support::{Client, TestApp};

mod exposure;
mod guards;
mod known_by;
mod rotation;

const CODE: &str = "7Q2-4481#";
const NEW_CODE: &str = "8R3-5592*";

/// A development and an active gate code created by the owner.
async fn gate_code(app: &TestApp, extra: Value) -> (Value, Value) {
    let dev = app.development("Oak Park").await;
    let mut params = json!({"developmentId": dev["id"], "codeType": "gate", "label": "Main gate", "code": CODE});
    params.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let code = app.owner.ok("keys.createAccessCode", params).await;
    (dev, code)
}

/// A person of the owner's organisation, inserted as the people procedures would (they
/// belong to another part of issue 11).
fn person(app: &TestApp, org_id: &str, name: &str, phone: Option<&str>, archived: bool) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let phone = phone.map_or("NULL".to_owned(), |p| format!("'{p}'"));
    let archived_at = if archived { "'2026-01-01 00:00:00'" } else { "NULL" };
    app.db.execute(&format!(
        "INSERT INTO people (id, org_id, name, kind, phone, archived_at, created_at, updated_at, version, search_text) \
         VALUES ('{id}', '{org_id}', '{name}', 'contractor', {phone}, {archived_at}, \
                 '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, '{}')",
        name.to_lowercase()
    ));
    id
}

async fn org_id(client: &Client) -> String {
    client.ok("auth.me", json!({})).await["organisation"]["id"].as_str().unwrap().to_owned()
}

async fn user_id(client: &Client) -> String {
    client.ok("auth.me", json!({})).await["user"]["id"].as_str().unwrap().to_owned()
}

/// The current value's exposures, oldest first.
async fn exposures(app: &TestApp, code: &Value) -> Vec<Value> {
    let answer = app.owner.ok("keys.accessCodeExposure", json!({"id": code["id"], "limit": 100})).await;
    answer["exposures"]["items"].as_array().unwrap().clone()
}

fn channels(exposures: &[Value]) -> Vec<&str> {
    exposures.iter().map(|e| e["channel"].as_str().unwrap()).collect()
}

/// An instant of an answer moved by `micros` microseconds, as the wire writes it.
fn shifted(at: &Value, micros: i64) -> String {
    let at: DateTime<Utc> = at.as_str().unwrap().parse().unwrap();
    (at + TimeDelta::microseconds(micros)).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Every ledger row of the code, as raw text, for "nothing changed" checks.
fn ledger_rows(app: &TestApp) -> Vec<String> {
    app.db.texts(
        "SELECT id || '/' || channel || '/' || value_version AS v FROM code_exposures \
         UNION ALL SELECT id || '/' || kind AS v FROM code_rotation_reasons \
         UNION ALL SELECT code_id || '/' || key_id AS v FROM access_code_keys ORDER BY v",
    )
}
