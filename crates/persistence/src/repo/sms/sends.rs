//! Sends: idempotency, limits, the pending row and its outcome.

use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use keyward_domain::{Actor, Error, FieldChange};
use sha2::{Digest, Sha256};

use crate::connection::AnyConnection;
use crate::error::{StoreError, StoreResult, is_unique_violation};
use crate::repo::access_codes::ledger::{self, Recipient};
use crate::repo::audit::{self, NewEvent};
use crate::repo::grants::credentials::{self, DoorcodeSent};
use crate::schema::{sms_daily_usage, sms_messages};
use crate::time;

const IDEMPOTENCY_WINDOW: TimeDelta = TimeDelta::hours(24);

/// What is being sent to whom (validated); never the body.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// `key`, `accessCode` or `grant` (a holder's credentials).
    pub target_type: &'static str,
    pub target_id: String,
    /// What the audit log may say about the target (a key ref, a code's label).
    pub target_name: String,
    pub recipient_name: String,
    pub to_e164: String,
    pub idempotency_key: Option<String>,
    pub segments: i32,
    pub encoding: &'static str,
    /// A code's send: who it reaches and which value it carries, for the code-exposure
    /// ledger (recorded when the provider accepts the message).
    pub exposure: Option<CodeSent>,
    /// A grant's credentials (`grants.sendCredentials`): the doorcodes the message
    /// carries, for the doorcode-exposure ledger (recorded when the provider accepts it).
    pub doorcodes: Vec<DoorcodeSent>,
}

/// What the ledger records of a code's send.
#[derive(Debug, Clone)]
pub struct CodeSent {
    pub value_version: i32,
    pub person_id: Option<String>,
}

impl Attempt {
    /// A send to `to_e164` about a target, before its message is known: no target name
    /// yet, no segments counted, no code or doorcode carried (the caller sets those).
    pub fn new(
        target_type: &'static str,
        target_id: String,
        recipient_name: String,
        to_e164: String,
        idempotency_key: Option<String>,
    ) -> Attempt {
        Attempt {
            target_type,
            target_id,
            target_name: String::new(),
            recipient_name,
            to_e164,
            idempotency_key,
            segments: 0,
            encoding: "GSM-7",
            exposure: None,
            doorcodes: Vec::new(),
        }
    }

    fn fingerprint(&self) -> String {
        let digest = Sha256::digest(
            format!("{}|{}|{}|{}", self.target_type, self.target_id, self.to_e164, self.recipient_name).as_bytes(),
        );
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The limits counted in the database: exact under concurrency, across nodes.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub per_recipient_per_hour: i32,
    pub per_organisation_per_day: i32,
}

/// A recorded send, as an idempotent replay needs it.
#[derive(Debug, Clone, Queryable)]
pub struct Recorded {
    pub id: String,
    pub status: String,
    pub provider_message_id: Option<String>,
    pub provider_error_code: Option<i32>,
    pub http_status: Option<i32>,
}

pub enum Begun {
    /// A `pending` row was committed: send now.
    Started { sms_id: String },
    /// The idempotency key was used before: answer what happened then.
    Replay(Recorded),
}

/// Settles idempotency, checks the limits (`burst` first, then the database caps) and
/// commits a `pending` row; in one write transaction. A refusal changes nothing in the
/// database (a burst allowance it took stays taken: acceptable for a burst guard).
///
/// The organisation's row of today's counter is locked first (a no-op UPDATE), so that
/// the idempotency check, the caps and the insert of one send see every send of the
/// organisation before it: exact on PostgreSQL under READ COMMITTED as on SQLite.
pub fn begin(
    conn: &mut AnyConnection,
    actor: &Actor,
    attempt: &Attempt,
    caps: Caps,
    burst: &(dyn Fn() -> Result<(), Duration> + Send + Sync),
) -> StoreResult<Begun> {
    let now = time::now();
    let today = now.date();
    // The organisation's row, not today's counter: sends either side of midnight must
    // serialise too (the same idempotency key, the same recipient's hour).
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    ensure_counter(conn, &actor.org_id, today)?;

    if let Some(replay) = previous_send(conn, &actor.org_id, attempt, true)? {
        return Ok(Begun::Replay(replay));
    }
    burst().map_err(|wait| rate_limited(wait.as_millis()))?;
    let counted = diesel::update(
        sms_daily_usage::table
            .find((&actor.org_id, today))
            .filter(sms_daily_usage::sent.lt(caps.per_organisation_per_day)),
    )
    .set(sms_daily_usage::sent.eq(sms_daily_usage::sent + 1))
    .execute(conn)?;
    if counted == 0 {
        let midnight = (today + TimeDelta::days(1)).and_hms_opt(0, 0, 0).expect("midnight exists");
        return Err(rate_limited((midnight - now).num_milliseconds().max(1) as u128));
    }
    let hour_ago = now - TimeDelta::hours(1);
    let recent: Vec<NaiveDateTime> = sms_messages::table
        .filter(sms_messages::org_id.eq(&actor.org_id))
        .filter(sms_messages::to_e164.eq(&attempt.to_e164))
        .filter(sms_messages::created_at.gt(hour_ago))
        .filter(sms_messages::status.ne_all(["rejected", "unavailable"]))
        .order(sms_messages::created_at)
        .select(sms_messages::created_at)
        .load(conn)?;
    if recent.len() as i64 >= i64::from(caps.per_recipient_per_hour) {
        // Free again when the oldest send counted leaves the hour.
        let oldest = recent[recent.len() - caps.per_recipient_per_hour.max(1) as usize];
        let wait = (oldest + TimeDelta::hours(1) - now).num_milliseconds().max(1);
        return Err(rate_limited(wait as u128));
    }

    let fingerprint = attempt.fingerprint();
    let sms_id = time::new_id();
    diesel::insert_into(sms_messages::table)
        .values((
            sms_messages::id.eq(&sms_id),
            sms_messages::org_id.eq(&actor.org_id),
            sms_messages::created_at.eq(now),
            sms_messages::updated_at.eq(now),
            sms_messages::actor_id.eq(&actor.user_id),
            sms_messages::actor_name.eq(&actor.name),
            sms_messages::target_type.eq(attempt.target_type),
            sms_messages::target_id.eq(&attempt.target_id),
            sms_messages::recipient_name.eq(&attempt.recipient_name),
            sms_messages::to_e164.eq(&attempt.to_e164),
            sms_messages::idempotency_key.eq(&attempt.idempotency_key),
            sms_messages::request_fingerprint.eq(&fingerprint),
            sms_messages::status.eq("pending"),
            sms_messages::attempts.eq(0),
            sms_messages::segments.eq(attempt.segments),
            sms_messages::encoding.eq(attempt.encoding),
        ))
        .execute(conn)?;
    Ok(Begun::Started { sms_id })
}

/// The earlier send under the attempt's idempotency key, if younger than 24 hours;
/// INVALID_INPUT if it had other parameters. With `free_expired`, an older send's key is
/// cleared so that it can be used again (inside the sending transaction only).
fn previous_send(
    conn: &mut AnyConnection,
    org_id: &str,
    attempt: &Attempt,
    free_expired: bool,
) -> StoreResult<Option<Recorded>> {
    let Some(key) = &attempt.idempotency_key else { return Ok(None) };
    let previous: Option<(NaiveDateTime, String, Recorded)> = sms_messages::table
        .filter(sms_messages::org_id.eq(org_id))
        .filter(sms_messages::idempotency_key.eq(key))
        .select((
            sms_messages::created_at,
            sms_messages::request_fingerprint,
            (
                sms_messages::id,
                sms_messages::status,
                sms_messages::provider_message_id,
                sms_messages::provider_error_code,
                sms_messages::http_status,
            ),
        ))
        .first(conn)
        .optional()?;
    match previous {
        None => Ok(None),
        Some((created_at, _, _)) if time::now() - created_at >= IDEMPOTENCY_WINDOW => {
            if free_expired {
                diesel::update(
                    sms_messages::table
                        .filter(sms_messages::org_id.eq(org_id))
                        .filter(sms_messages::idempotency_key.eq(key)),
                )
                .set(sms_messages::idempotency_key.eq(None::<String>))
                .execute(conn)?;
            }
            Ok(None)
        }
        Some((_, fingerprint, _)) if fingerprint != attempt.fingerprint() => {
            Err(Error::invalid("idempotencyKey", "was used before with different parameters").into())
        }
        Some((_, _, recorded)) => Ok(Some(recorded)),
    }
}

/// A read-only look for an earlier send under the attempt's key: lets a retry be answered
/// with the first result before the target or the settings are read again (a code that
/// expired since must not turn a `sent` into CODE_NOT_ACTIVE).
pub fn replay(conn: &mut AnyConnection, org_id: &str, attempt: &Attempt) -> StoreResult<Option<Recorded>> {
    previous_send(conn, org_id, attempt, false)
}

fn rate_limited(wait_ms: u128) -> StoreError {
    Error::RateLimited { retry_after_ms: u32::try_from(wait_ms.max(1)).unwrap_or(u32::MAX) }.into()
}

/// Creates today's counter row if missing. Inside a savepoint: on PostgreSQL a failed
/// INSERT would otherwise abort the whole transaction when a concurrent send created it.
fn ensure_counter(conn: &mut AnyConnection, org_id: &str, day: NaiveDate) -> StoreResult<()> {
    let exists: bool =
        diesel::select(diesel::dsl::exists(sms_daily_usage::table.find((org_id, day)).select(sms_daily_usage::sent)))
            .get_result(conn)?;
    if exists {
        return Ok(());
    }
    let inserted = conn.transaction(|c| {
        diesel::insert_into(sms_daily_usage::table)
            .values((sms_daily_usage::org_id.eq(org_id), sms_daily_usage::day.eq(day), sms_daily_usage::sent.eq(0)))
            .execute(c)
    });
    match inserted.map_err(StoreError::from) {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// What became of a send.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent {
        provider_message_id: String,
        provider_status: String,
        attempts: i32,
    },
    /// Refused by the provider: nothing sent, the day's count is given back.
    Rejected {
        code: Option<i32>,
        http_status: i32,
        attempts: i32,
    },
    /// Provider unreachable: nothing sent, the day's count is given back.
    Unavailable {
        code: Option<i32>,
        http_status: Option<i32>,
        attempts: i32,
    },
    /// Maybe sent: the count stays.
    Unknown {
        http_status: Option<i32>,
        attempts: i32,
    },
}

impl Outcome {
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Sent { .. } => "sent",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Unavailable { .. } => "unavailable",
            Outcome::Unknown { .. } => "unknown",
        }
    }
}

/// Records the outcome and its audit event (one transaction); a refusal gives the day's
/// count back.
pub fn finish(
    conn: &mut AnyConnection,
    actor: &Actor,
    sms_id: &str,
    attempt: &Attempt,
    outcome: &Outcome,
) -> StoreResult<()> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    let (message_id, provider_status, code, http_status, attempts) = match outcome {
        Outcome::Sent { provider_message_id, provider_status, attempts } => {
            (Some(provider_message_id.clone()), Some(provider_status.clone()), None, Some(201), *attempts)
        }
        Outcome::Rejected { code, http_status, attempts } => (None, None, *code, Some(*http_status), *attempts),
        Outcome::Unavailable { code, http_status, attempts } => (None, None, *code, *http_status, *attempts),
        Outcome::Unknown { http_status, attempts } => (None, None, None, *http_status, *attempts),
    };
    let created_at: NaiveDateTime = diesel::update(
        sms_messages::table
            .filter(sms_messages::org_id.eq(&actor.org_id))
            .filter(sms_messages::id.eq(sms_id))
            // The sweep may have called it `unknown` meanwhile; the real outcome wins.
            .filter(sms_messages::status.eq_any(["pending", "unknown"])),
    )
    .set((
        sms_messages::status.eq(outcome.status()),
        sms_messages::provider_message_id.eq(&message_id),
        sms_messages::provider_status.eq(&provider_status),
        sms_messages::provider_error_code.eq(code),
        sms_messages::http_status.eq(http_status),
        sms_messages::attempts.eq(attempts),
        sms_messages::updated_at.eq(time::now()),
    ))
    .returning(sms_messages::created_at)
    .get_result(conn)?;
    if matches!(outcome, Outcome::Rejected { .. } | Outcome::Unavailable { .. }) {
        diesel::update(sms_daily_usage::table.find((&actor.org_id, created_at.date())))
            .filter(sms_daily_usage::sent.gt(0))
            .set(sms_daily_usage::sent.eq(sms_daily_usage::sent - 1))
            .execute(conn)?;
    }
    if let (Outcome::Sent { .. }, Some(sent)) = (outcome, &attempt.exposure) {
        let who = Recipient {
            person_id: sent.person_id.clone(),
            name: attempt.recipient_name.clone(),
            phone: Some(attempt.to_e164.clone()),
            sms_id: Some(sms_id.to_owned()),
            ..Recipient::default()
        };
        ledger::record_sms(conn, actor, &attempt.target_id, sent.value_version, who)?;
    }
    if matches!(outcome, Outcome::Sent { .. }) && !attempt.doorcodes.is_empty() {
        credentials::record_sent(conn, actor, sms_id, &attempt.doorcodes)?;
    }
    record_outcome(
        conn,
        Author::User(actor),
        sms_id,
        attempt,
        "pending",
        outcome.status(),
        message_id.as_deref(),
        code,
        attempts,
    )
}

/// Who an SMS audit event is attributed to.
pub(super) enum Author<'a> {
    User(&'a Actor),
    /// keyward itself or the provider: (organisation, name).
    System(&'a str, &'a str),
}

#[allow(clippy::too_many_arguments)]
pub(super) fn record_outcome(
    conn: &mut AnyConnection,
    author: Author<'_>,
    sms_id: &str,
    attempt: &Attempt,
    from_status: &str,
    status: &str,
    message_id: Option<&str>,
    code: Option<i32>,
    attempts: i32,
) -> StoreResult<()> {
    let mut changes = vec![
        FieldChange::new("target", None::<&str>, Some(format!("{} {}", attempt.target_type, attempt.target_name))),
        FieldChange::new("to", None::<&str>, Some(&attempt.to_e164)),
        FieldChange::new("status", Some(from_status), Some(status)),
        FieldChange::new("segments", None::<&str>, Some(attempt.segments)),
        FieldChange::new("attempts", None::<&str>, Some(attempts)),
    ];
    if let Some(id) = message_id {
        changes.push(FieldChange::new("providerMessageId", None::<&str>, Some(id)));
    }
    if let Some(code) = code {
        changes.push(FieldChange::new("providerCode", None::<&str>, Some(code)));
    }
    let action = format!("sms.{status}");
    let event = NewEvent {
        action: &action,
        entity_type: "sms",
        entity_id: sms_id,
        summary: format!(
            "SMS of {} {} to {} ({}): {status}",
            attempt.target_type, attempt.target_name, attempt.recipient_name, attempt.to_e164
        ),
        changes,
    };
    match author {
        Author::User(actor) => audit::record(conn, actor, event),
        Author::System(org_id, name) => audit::record_system(conn, org_id, name, event),
    }
}
