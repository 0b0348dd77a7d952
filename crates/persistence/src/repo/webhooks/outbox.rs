//! The outbox of webhook deliveries: [`on_event`] writes one `pending` row per enabled
//! endpoint that wants an audit event's webhook event, in the transaction that records
//! the event (so a change and its deliveries commit together or not at all), and enqueues
//! the job that delivers it. The job ([`due`], then [`record_attempt`]) retries with the
//! domain's backoff for 24 hours; a delivery that fails for good disables its endpoint,
//! unless the endpoint answered a later delivery since.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::jobs::JobKind;
use keyward_domain::webhooks::{DeliveryStatus, RETRY_WINDOW, WebhookDelivery, WebhookEvent, next_attempt};
use keyward_domain::{Actor, Error, FieldChange};
use serde_json::json;

use super::super::audit::{self, ChainedEvent, NewEvent};
use super::super::grants::corrupt;
use super::super::jobs;
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::{webhook_deliveries, webhook_endpoints};
use crate::time;

/// Deliveries per page of `webhooks.deliveries`.
pub const PAGE: i64 = 50;
/// The longest `last_error` kept (an answer's body is cut to it).
pub const EXCERPT_CHARS: usize = 200;

#[derive(Insertable, Queryable, Clone, Debug)]
#[diesel(table_name = webhook_deliveries, treat_none_as_null = true)]
struct DeliveryRow {
    id: String,
    org_id: String,
    endpoint_id: String,
    event: String,
    audit_event_id: String,
    payload: String,
    status: String,
    attempts: i32,
    next_attempt_at: Option<NaiveDateTime>,
    retry_until: NaiveDateTime,
    last_attempt_at: Option<NaiveDateTime>,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    delivered_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

impl DeliveryRow {
    fn status(&self) -> StoreResult<DeliveryStatus> {
        Ok(DeliveryStatus::parse(&self.status).ok_or_else(|| corrupt("delivery status", &self.status))?)
    }

    fn into_delivery(self) -> StoreResult<WebhookDelivery> {
        Ok(WebhookDelivery {
            status: self.status()?,
            event: WebhookEvent::parse(&self.event).ok_or_else(|| corrupt("webhook event", &self.event))?,
            id: self.id,
            endpoint_id: self.endpoint_id,
            audit_event_id: self.audit_event_id,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at.map(time::from_db),
            last_attempt_at: self.last_attempt_at.map(time::from_db),
            last_status_code: self.last_status_code,
            last_error: self.last_error,
            delivered_at: self.delivered_at.map(time::from_db),
            created_at: time::from_db(self.created_at),
            payload: self.payload,
        })
    }
}

/// The job that makes attempt `attempt` of a delivery: one job per attempt, so that the
/// jobs table's `UNIQUE (kind, subject)` makes each attempt's enqueue happen once.
fn enqueue_attempt(
    conn: &mut AnyConnection,
    org_id: &str,
    id: &str,
    attempt: i32,
    at: NaiveDateTime,
) -> StoreResult<()> {
    jobs::enqueue(conn, JobKind::WebhookDelivery, Some(org_id), &format!("{id}:{attempt}"), at)?;
    Ok(())
}

/// Reads a job's subject back: the delivery and the attempt it makes.
pub fn parse_subject(subject: &str) -> Option<(&str, i32)> {
    let (id, attempt) = subject.rsplit_once(':')?;
    Some((id, attempt.parse().ok()?))
}

/// Called by `audit::record` for every event, inside its transaction: when the action
/// raises a webhook event, one query for the organisation's enabled endpoints (by index)
/// and one delivery per endpoint that wants it. `enabled`: whether the organisation has
/// an enabled endpoint, when the caller read it in this transaction (`Some(false)`:
/// nothing to look up).
pub(crate) fn on_event(conn: &mut AnyConnection, event: &ChainedEvent, enabled: Option<bool>) -> StoreResult<()> {
    let Some(kind) = WebhookEvent::from_audit_action(&event.action) else { return Ok(()) };
    if enabled == Some(false) {
        return Ok(());
    }
    let endpoints: Vec<(String, String)> = webhook_endpoints::table
        .filter(webhook_endpoints::org_id.eq(&event.org_id))
        .filter(webhook_endpoints::enabled.eq(true))
        .select((webhook_endpoints::id, webhook_endpoints::events))
        .load(conn)?;
    let wanted: Vec<String> = endpoints
        .into_iter()
        .filter(|(_, events)| events.split(',').any(|e| e == kind.as_str()))
        .map(|(id, _)| id)
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let payload = payload(kind, event);
    let now = time::now();
    for endpoint_id in wanted {
        let row = DeliveryRow {
            id: time::new_id(),
            org_id: event.org_id.clone(),
            endpoint_id,
            event: kind.as_str().to_owned(),
            audit_event_id: event.id.clone(),
            payload: payload.clone(),
            status: DeliveryStatus::Pending.as_str().to_owned(),
            attempts: 0,
            next_attempt_at: Some(now),
            retry_until: now + RETRY_WINDOW,
            last_attempt_at: None,
            last_status_code: None,
            last_error: None,
            delivered_at: None,
            created_at: now,
        };
        diesel::insert_into(webhook_deliveries::table).values(&row).execute(conn)?;
        enqueue_attempt(conn, &row.org_id, &row.id, 1, now)?;
    }
    Ok(())
}

/// The body: Standard Webhooks' `{type, timestamp, data}`, `data` the audit event.
fn payload(kind: WebhookEvent, event: &ChainedEvent) -> String {
    let at = event.at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let changes: serde_json::Value = serde_json::from_str(&event.changes).unwrap_or_else(|_| json!([]));
    json!({
        "type": kind.as_str(),
        "timestamp": at,
        "data": {
            "auditEventId": event.id,
            "organisationId": event.org_id,
            "action": event.action,
            "entityType": event.entity_type,
            "entityId": event.entity_id,
            "actorId": event.actor_id,
            "actorName": event.actor_name,
            "summary": event.summary,
            "changes": changes,
            "at": at,
        }
    })
    .to_string()
}

/// A delivery whose attempt is due, with what sending it needs.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: String,
    pub org_id: String,
    pub endpoint_id: String,
    pub url: String,
    pub secret_sealed: String,
    pub endpoint_enabled: bool,
    pub payload: String,
}

/// The delivery of a job's subject, when its attempt `attempt` is still to be made
/// (`None`: made already by an earlier run, resent, or the delivery is gone).
pub fn due(conn: &mut AnyConnection, id: &str, attempt: i32) -> StoreResult<Option<Due>> {
    let found: Option<(DeliveryRow, (String, String, bool))> = webhook_deliveries::table
        .inner_join(webhook_endpoints::table.on(webhook_endpoints::id.eq(webhook_deliveries::endpoint_id)))
        .filter(webhook_deliveries::id.eq(id))
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_deliveries::attempts.eq(attempt - 1))
        .select((
            webhook_deliveries::all_columns,
            (webhook_endpoints::url, webhook_endpoints::secret_sealed, webhook_endpoints::enabled),
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(|(d, (url, secret_sealed, endpoint_enabled))| Due {
        id: d.id,
        org_id: d.org_id,
        endpoint_id: d.endpoint_id,
        url,
        secret_sealed,
        endpoint_enabled,
        payload: d.payload,
    }))
}

/// How an attempt went.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// A 2xx answer.
    pub delivered: bool,
    pub status_code: Option<i32>,
    /// Why it failed, or the answer's body (cut to [`EXCERPT_CHARS`]).
    pub error: Option<String>,
    /// No retry: the endpoint is disabled.
    pub give_up: bool,
}

/// What became of the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Delivered,
    Retry {
        at: NaiveDateTime,
    },
    /// Failed for good; `disabled`: its endpoint was disabled for it.
    Failed {
        disabled: bool,
    },
    /// Another run recorded this attempt already: nothing changed.
    Stale,
}

/// Records attempt `attempt` of a delivery (in one write transaction): delivered, or
/// retried later, or failed for good (disabling the endpoint, with an audit event, unless
/// it delivered something created after this delivery).
pub fn record_attempt(
    conn: &mut AnyConnection,
    org_id: &str,
    id: &str,
    attempt: i32,
    outcome: Attempt,
) -> StoreResult<Recorded> {
    super::super::lock_organisation(conn, org_id)?;
    let now = time::now();
    let row: Option<DeliveryRow> = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(id))
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_deliveries::attempts.eq(attempt - 1))
        .first(conn)
        .optional()?;
    let Some(row) = row else { return Ok(Recorded::Stale) };
    let error = outcome.error.map(|e| e.chars().take(EXCERPT_CHARS).collect::<String>());
    let (recorded, status, next_at, delivered_at) = if outcome.delivered {
        (Recorded::Delivered, DeliveryStatus::Delivered, None, Some(now))
    } else {
        let next = (!outcome.give_up)
            .then(|| next_attempt(time::from_db(now), attempt, time::from_db(row.retry_until)))
            .flatten()
            .map(time::to_db);
        match next {
            Some(at) => (Recorded::Retry { at }, DeliveryStatus::Pending, Some(at), None),
            None => (Recorded::Failed { disabled: false }, DeliveryStatus::Failed, None, None),
        }
    };
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(status.as_str()),
            webhook_deliveries::attempts.eq(attempt),
            webhook_deliveries::next_attempt_at.eq(next_at),
            webhook_deliveries::last_attempt_at.eq(Some(now)),
            webhook_deliveries::last_status_code.eq(outcome.status_code),
            webhook_deliveries::last_error.eq(&error),
            webhook_deliveries::delivered_at.eq(delivered_at),
        ))
        .execute(conn)?;
    match recorded {
        Recorded::Delivered => {
            diesel::update(webhook_endpoints::table.find(&row.endpoint_id))
                .set(webhook_endpoints::last_success_at.eq(Some(now)))
                .execute(conn)?;
            Ok(recorded)
        }
        Recorded::Retry { at } => {
            enqueue_attempt(conn, org_id, id, attempt + 1, at)?;
            Ok(recorded)
        }
        Recorded::Failed { .. } if outcome.give_up => Ok(recorded),
        Recorded::Failed { .. } => Ok(Recorded::Failed { disabled: disable_after(conn, &row)? }),
        Recorded::Stale => Ok(recorded),
    }
}

/// Disables the endpoint of a delivery that failed for good, unless it is disabled
/// already or delivered something created after this delivery; returns whether it did.
fn disable_after(conn: &mut AnyConnection, row: &DeliveryRow) -> StoreResult<bool> {
    let endpoint: Option<(String, bool, Option<NaiveDateTime>)> = webhook_endpoints::table
        .find(&row.endpoint_id)
        .select((webhook_endpoints::url, webhook_endpoints::enabled, webhook_endpoints::last_success_at))
        .first(conn)
        .optional()?;
    let Some((url, enabled, last_success_at)) = endpoint else { return Ok(false) };
    if !enabled || last_success_at.is_some_and(|at| at >= row.created_at) {
        return Ok(false);
    }
    let reason = "deliveries failed for 24 hours";
    diesel::update(webhook_endpoints::table.find(&row.endpoint_id))
        .set((
            webhook_endpoints::enabled.eq(false),
            webhook_endpoints::disabled_reason.eq(Some(reason)),
            webhook_endpoints::updated_at.eq(time::now()),
        ))
        .execute(conn)?;
    audit::record_system(
        conn,
        &row.org_id,
        "keyward",
        NewEvent {
            action: "webhook.disabled",
            entity_type: "webhook",
            entity_id: &row.endpoint_id,
            summary: format!("Webhook endpoint {url} disabled: {reason}"),
            changes: vec![FieldChange::new("enabled", Some(true), Some(false))],
        },
    )?;
    Ok(true)
}

/// `webhooks.deliveries`' filters.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<String>,
    pub status: Option<DeliveryStatus>,
    /// The `nextCursor` of the previous page: deliveries older than it.
    pub cursor: Option<String>,
}

/// The organisation's deliveries, newest first, a page of [`PAGE`]; and the cursor of the
/// next page.
pub fn list(
    conn: &mut AnyConnection,
    org_id: &str,
    filter: &DeliveryFilter,
) -> StoreResult<(Vec<WebhookDelivery>, Option<String>)> {
    let mut query = webhook_deliveries::table.filter(webhook_deliveries::org_id.eq(org_id)).into_boxed();
    if let Some(endpoint_id) = &filter.endpoint_id {
        query = query.filter(webhook_deliveries::endpoint_id.eq(endpoint_id.clone()));
    }
    if let Some(status) = filter.status {
        query = query.filter(webhook_deliveries::status.eq(status.as_str()));
    }
    if let Some(cursor) = &filter.cursor {
        query = query.filter(webhook_deliveries::id.lt(cursor.clone()));
    }
    let mut rows: Vec<DeliveryRow> = query.order(webhook_deliveries::id.desc()).limit(PAGE + 1).load(conn)?;
    let next = crate::repo::keyset_page(&mut rows, PAGE, |r| r.id.clone());
    let items = rows.into_iter().map(DeliveryRow::into_delivery).collect::<StoreResult<_>>()?;
    Ok((items, next))
}

/// `webhooks.resend`: a delivered or failed delivery becomes `pending` again, tried at
/// once and retried for another 24 hours, under its same id.
pub fn resend(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<WebhookDelivery> {
    super::super::lock_organisation(conn, &actor.org_id)?;
    let row: DeliveryRow = webhook_deliveries::table
        .filter(webhook_deliveries::org_id.eq(&actor.org_id))
        .filter(webhook_deliveries::id.eq(id))
        .first(conn)?;
    if row.status()? == DeliveryStatus::Pending {
        return Err(Error::invalid("deliveryId", "is pending: it is tried again at its nextAttemptAt").into());
    }
    let enabled: bool =
        webhook_endpoints::table.find(&row.endpoint_id).select(webhook_endpoints::enabled).first(conn)?;
    if !enabled {
        return Err(Error::invalid("deliveryId", "its endpoint is disabled: enable it first").into());
    }
    let now = time::now();
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
            webhook_deliveries::next_attempt_at.eq(Some(now)),
            webhook_deliveries::retry_until.eq(now + RETRY_WINDOW),
        ))
        .execute(conn)?;
    enqueue_attempt(conn, &actor.org_id, id, row.attempts + 1, now)?;
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "webhook.resent",
            entity_type: "webhook",
            entity_id: &row.endpoint_id,
            summary: format!("Webhook delivery {id} ({}) resent", row.event),
            changes: vec![FieldChange::new("status", Some(&row.status), Some(DeliveryStatus::Pending.as_str()))],
        },
    )?;
    webhook_deliveries::table.find(id).first::<DeliveryRow>(conn)?.into_delivery()
}

/// An endpoint's deliveries, deleted with it.
pub(crate) fn delete_of_endpoint(conn: &mut AnyConnection, endpoint_id: &str) -> StoreResult<usize> {
    Ok(diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(endpoint_id)))
        .execute(conn)?)
}
