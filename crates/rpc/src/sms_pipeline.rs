//! The SMS send pipeline, one function for every sender: `keys.sendSms` today, and the
//! jobs that text people (reminders, handover codes) after it. [`send`] takes a message
//! already written and addressed, and runs the rest of the contract's pipeline
//! (docs/api.md, SMS): the body's length and segments → the limits and the `pending` row
//! in one transaction (the outbox: burst, daily and per-recipient caps, idempotency) →
//! the provider call with its retries (`keyward_sms::twilio::RetryPolicy`) → the outcome
//! and its audit event (and, for a code, the exposure ledger). The body exists only in
//! memory, on its way to the provider; it is never stored or logged.
//!
//! A caller with an idempotency key first asks [`replay`]: the same key answers the first
//! attempt's record and sends nothing. A job's key names the job and its step, so a job
//! run again after a lost lease never texts twice.

use std::sync::Arc;

use keyward_domain::{Actor, Error};
use keyward_persistence::repo::sms::{self, Account, Attempt, Begun, Outcome, Recorded};
use keyward_sms::segments::{self, MAX_BODY_CHARS};
use keyward_sms::{Credentials, OutboundSms, SendFailure};
use tracing::Instrument;

use crate::App;

/// The record of an earlier attempt under `attempt`'s idempotency key, if any (within
/// 24 hours); `None` without a key.
pub async fn replay(app: &App, org_id: &str, attempt: &Attempt) -> Result<Option<Recorded>, Error> {
    if attempt.idempotency_key.is_none() {
        return Ok(None);
    }
    let (org_id, lookup) = (org_id.to_owned(), attempt.clone());
    app.db.run(move |c| sms::replay(c, &org_id, &lookup)).await
}

/// Sends `body` to `attempt.to_e164` through the organisation's `account` for `actor`,
/// and answers the send's record (`sent`, `rejected`, `unavailable`, `unknown`, or the
/// replayed record of an earlier attempt under the same idempotency key). A limit that
/// refuses is `RATE_LIMITED`; a body too long is INVALID_INPUT `field`.
///
/// From the `pending` row on, the send runs to its end even if the caller goes away: a
/// dropped call must not leave a message unsent but `pending`, or sent but unrecorded.
/// The caller's connection goes back to the pool while the provider answers.
pub async fn send(
    app: Arc<App>,
    actor: Actor,
    mut attempt: Attempt,
    body: String,
    account: Account,
    field: &str,
) -> Result<Recorded, Error> {
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(Error::invalid(field, format!("the message would be over {MAX_BODY_CHARS} characters")));
    }
    let (encoding, _, segment_count) = segments::count(&body);
    if segment_count > 2 {
        tracing::warn!(segments = segment_count, "a long SMS: several segments are billed");
    }
    attempt.segments = i32::try_from(segment_count).unwrap_or(i32::MAX);
    attempt.encoding = encoding.as_str();
    let message = OutboundSms {
        to: attempt.to_e164.clone(),
        from: account.from_number,
        messaging_service_sid: account.messaging_service_sid,
        body,
        status_callback: app.sms.public_url.as_deref().map(|base| crate::twilio_status::url(base, &actor.org_id)),
    };
    let credentials =
        Credentials { account_sid: account.account_sid, auth_token: account.auth_token.expose().to_owned() };
    keyward_persistence::let_go_of_connection();
    let span = tracing::Span::current();
    tokio::spawn(outbox_and_provider(app, actor, attempt, credentials, message).instrument(span))
        .await
        .map_err(|e| Error::Internal(format!("the SMS task failed: {e}")))?
}

/// Limits and the `pending` row, the provider call, the outcome.
async fn outbox_and_provider(
    app: Arc<App>,
    actor: Actor,
    attempt: Attempt,
    credentials: Credentials,
    message: OutboundSms,
) -> Result<Recorded, Error> {
    let burst = Arc::clone(&app.sms.burst);
    let caps = app.sms.caps;
    let (begin_actor, begin_attempt) = (actor.clone(), attempt.clone());
    let begun = app
        .db
        .write(move |c| {
            let org_id = begin_actor.org_id.clone();
            sms::begin(c, &begin_actor, &begin_attempt, caps, &move || burst.check(&org_id))
        })
        .await;
    let sms_id = match begun {
        Ok(Begun::Replay(recorded)) => return Ok(recorded),
        Ok(Begun::Started { sms_id }) => sms_id,
        Err(e) => {
            if let Error::RateLimited { retry_after_ms } = &e {
                tracing::info!(retry_after_ms, "SMS refused by a limit");
            }
            return Err(e);
        }
    };

    let outcome = outcome_of(app.sms.sender.send(&credentials, &message).await);
    drop(message); // the body, with any code in it, goes no further
    let recorded = Recorded {
        id: sms_id.clone(),
        status: outcome.status().to_owned(),
        provider_message_id: match &outcome {
            Outcome::Sent { provider_message_id, .. } => Some(provider_message_id.clone()),
            _ => None,
        },
        provider_error_code: match &outcome {
            Outcome::Rejected { code, .. } | Outcome::Unavailable { code, .. } => *code,
            _ => None,
        },
        http_status: match &outcome {
            Outcome::Rejected { http_status, .. } => Some(*http_status),
            Outcome::Unavailable { http_status, .. } | Outcome::Unknown { http_status, .. } => *http_status,
            Outcome::Sent { .. } => Some(201),
        },
    };
    if let Err(e) = app.db.write(move |c| sms::finish(c, &actor, &sms_id, &attempt, &outcome)).await {
        // The provider has answered: that answer is the caller's, not "unavailable, safe
        // to retry", which could text the code twice. The row stays `pending` and the
        // sweep will call it `unknown`.
        tracing::error!(error = %e, "could not record an SMS outcome");
    }
    Ok(recorded)
}

fn outcome_of(result: Result<keyward_sms::Delivery, SendFailure>) -> Outcome {
    let code = |c: Option<i64>| c.and_then(|c| i32::try_from(c).ok());
    let attempts = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    match result {
        Ok(d) => Outcome::Sent {
            provider_message_id: d.provider_message_id,
            provider_status: d.provider_status,
            attempts: attempts(d.attempts),
        },
        Err(SendFailure::Rejected { http_status, code: c, attempts: n }) => {
            Outcome::Rejected { code: code(c), http_status: i32::from(http_status), attempts: attempts(n) }
        }
        Err(SendFailure::Unavailable { http_status, code: c, attempts: n }) => {
            Outcome::Unavailable { code: code(c), http_status: http_status.map(i32::from), attempts: attempts(n) }
        }
        Err(SendFailure::Unknown { reason, http_status, attempts: n }) => {
            tracing::warn!(%reason, "SMS outcome unknown: it may have been sent");
            Outcome::Unknown { http_status: http_status.map(i32::from), attempts: attempts(n) }
        }
    }
}
