//! `POST /test/clock`, for tests only: served only by `keyward serve --test-clock`
//! (404 otherwise). It sets or advances the process's clock
//! ([`keyward_persistence::time::TestClock`]), then runs the jobs that are due on this node
//! to their end before it answers, so that a test knows the work is done without
//! sleeping. docs/api.md, "`POST /test/clock`".

use chrono::{DateTime, TimeDelta, Utc};
use http::StatusCode;
use serde::Deserialize;

use super::Shared;
use super::http::{HttpResponse, json, refusal};

pub const PATH: &str = "/test/clock";

/// The body: `{"advanceSeconds": n}`, `{"set": "2027-03-28T00:30:00Z"}`, or `{}` (the
/// clock stays; only the due jobs run).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Move {
    #[serde(default)]
    advance_seconds: Option<i64>,
    #[serde(default)]
    set: Option<DateTime<Utc>>,
}

pub async fn handle(shared: &Shared, body: &[u8]) -> HttpResponse {
    let Some(clock) = &shared.test_clock else {
        return refusal(StatusCode::NOT_FOUND, "no such path: JSON-RPC is served on /");
    };
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    // An object only (serde would read `[n]` as a `Move` too).
    let parsed = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body)
        .and_then(|object| serde_json::from_value::<Move>(serde_json::Value::Object(object)));
    let moved = match parsed {
        Ok(Move { advance_seconds: Some(_), set: Some(_) }) => Err("give advanceSeconds or set, not both".to_owned()),
        Ok(Move { advance_seconds: Some(seconds), set: None }) => TimeDelta::try_seconds(seconds)
            .ok_or_else(|| "advanceSeconds is too large".to_owned())
            .and_then(|by| clock.advance(by)),
        Ok(Move { advance_seconds: None, set: Some(to) }) => clock.set(to),
        Ok(Move { advance_seconds: None, set: None }) => Ok(keyward_persistence::time::now_utc()),
        Err(e) => Err(format!("the body must be {{\"advanceSeconds\": n}} or {{\"set\": instant}}: {e}")),
    };
    let now = match moved {
        Ok(now) => now,
        Err(reason) => return refusal(StatusCode::BAD_REQUEST, &reason),
    };
    tracing::info!(now = %now.to_rfc3339(), "test clock moved");
    let ran = shared.jobs.run_due().await;
    json(
        StatusCode::OK,
        serde_json::json!({"now": now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true), "jobsRun": ran})
            .to_string(),
    )
}
