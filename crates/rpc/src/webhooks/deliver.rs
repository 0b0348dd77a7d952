//! One attempt of one delivery (the `webhook_delivery` job): read the delivery if this
//! attempt is still to be made, sign and POST it, record the outcome (which enqueues the
//! next attempt, or fails the delivery and perhaps disables its endpoint). A run repeated
//! after a lost lease finds the attempt made and does nothing, or sends once more with
//! the same `webhook-id` (receivers dedupe on it, as Standard Webhooks asks).

use keyward_domain::Secret;
use keyward_persistence::repo::webhooks::outbox::{self, Attempt, Due, EXCERPT_CHARS, Recorded};
use keyward_persistence::time;

use super::{sign, target};
use crate::App;
use crate::metrics;

/// Makes attempt `attempt` of delivery `id`; `Ok` with a summary for the job's log line.
/// An `Err` is the database failing (the job is retried); a failed HTTP call is recorded.
pub async fn run(app: &App, subject: &str) -> Result<String, String> {
    let Some((id, attempt)) = outbox::parse_subject(subject) else {
        return Err(format!("a webhook job's subject is not <delivery>:<attempt>: {subject:?}"));
    };
    let (id, attempt) = (id.to_owned(), attempt);
    let due = {
        let id = id.clone();
        app.db.run(move |c| outbox::due(c, &id, attempt)).await.map_err(|e| e.to_string())?
    };
    let Some(due) = due else { return Ok(format!("delivery {id} attempt {attempt}: made already")) };
    let outcome = if due.endpoint_enabled {
        send(app, &due).await
    } else {
        Attempt {
            delivered: false,
            status_code: None,
            error: Some("the endpoint is disabled".to_owned()),
            give_up: true,
        }
    };
    let summary = format!("delivery {id} attempt {attempt}: {}", describe(&outcome));
    let org_id = due.org_id.clone();
    let recorded = app
        .db
        .write(move |c| outbox::record_attempt(c, &org_id, &id, attempt, outcome))
        .await
        .map_err(|e| e.to_string())?;
    let label = match recorded {
        Recorded::Delivered => "delivered",
        Recorded::Retry { .. } => "retry",
        Recorded::Failed { disabled: false } => "failed",
        Recorded::Failed { disabled: true } => {
            tracing::warn!(org = %due.org_id, endpoint = %due.endpoint_id, "webhook endpoint disabled: its deliveries failed for 24 hours");
            "failed"
        }
        Recorded::Stale => return Ok(format!("{summary} (recorded already)")),
    };
    metrics::record_webhook_delivery(label);
    Ok(format!("{summary} → {label}"))
}

fn describe(outcome: &Attempt) -> String {
    match (outcome.delivered, outcome.status_code, &outcome.error) {
        (true, Some(code), _) => format!("HTTP {code}"),
        (_, Some(code), _) => format!("HTTP {code}, failed"),
        (_, None, Some(error)) => error.clone(),
        _ => "failed".to_owned(),
    }
}

/// Signs and POSTs the payload; never fails, the outcome says how it went.
async fn send(app: &App, due: &Due) -> Attempt {
    let failed = |error: String| Attempt { delivered: false, status_code: None, error: Some(error), give_up: false };
    let allow_private = app.webhooks.allow_private;
    let url = match target::parse(&due.url, allow_private) {
        Ok(url) => url,
        Err(e) => return failed(format!("refused: {e}")),
    };
    if let Err(refused) = target::check_literal(&url, allow_private) {
        return failed(refused);
    }
    let secret = match app.sealer.open(&due.secret_sealed) {
        Ok(secret) => Secret::new(secret),
        Err(_) => return failed("the endpoint's secret cannot be opened".to_owned()),
    };
    let timestamp = time::now_utc().timestamp();
    let signature = match sign::signature(&secret, &due.id, timestamp, &due.payload) {
        Ok(signature) => signature,
        Err(e) => return failed(e),
    };
    let request = app
        .webhooks
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &due.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(due.payload.clone());
    match request.send().await {
        Ok(mut response) => {
            let status = response.status();
            let excerpt = excerpt(&mut response).await;
            Attempt {
                delivered: status.is_success(),
                status_code: Some(i32::from(status.as_u16())),
                error: (!status.is_success()).then_some(excerpt).flatten(),
                give_up: false,
            }
        }
        Err(e) => failed(error_text(&e)),
    }
}

/// The start of the answer's body, read no further than needed.
async fn excerpt(response: &mut reqwest::Response) -> Option<String> {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_CHARS * 4 {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text: String = String::from_utf8_lossy(&bytes).chars().take(EXCERPT_CHARS).collect();
    (!text.trim().is_empty()).then_some(text)
}

/// A failed request, with its cause (the resolver's refusal, a timeout, a refused
/// connection), without the URL (it may carry a token in its query).
fn error_text(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "redirect not followed"
    } else {
        "request failed"
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let refused = causes.iter().find(|c| c.starts_with("refused:"));
    match refused {
        Some(refused) => refused.clone(),
        None => match causes.last() {
            Some(cause) => format!("{what}: {cause}"),
            None => what.to_owned(),
        },
    }
}
