//! Webhooks (issue 14 §3): the events an endpoint may subscribe to (each derived from an
//! audit event's action), the endpoint and delivery entities, a delivery's states, and
//! the retry schedule. Signing and sending live in `keyward_rpc::webhooks`, the outbox in
//! `keyward_persistence::repo::webhooks`.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::Secret;

/// What an endpoint can subscribe to. Each is one or more audit actions
/// ([`WebhookEvent::from_audit_action`]); the payload's `data` is that audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
pub enum WebhookEvent {
    #[serde(rename = "key.created")]
    KeyCreated,
    #[serde(rename = "key.issued")]
    KeyIssued,
    #[serde(rename = "key.returned")]
    KeyReturned,
    #[serde(rename = "key.overdue")]
    KeyOverdue,
    #[serde(rename = "key.lost")]
    KeyLost,
    #[serde(rename = "key.found")]
    KeyFound,
    #[serde(rename = "key.damaged")]
    KeyDamaged,
    #[serde(rename = "key.deleted")]
    KeyDeleted,
    #[serde(rename = "access_code.changed")]
    AccessCodeChanged,
    #[serde(rename = "sms.sent")]
    SmsSent,
    #[serde(rename = "person.offboarded")]
    PersonOffboarded,
    #[serde(rename = "firm.offboarded")]
    FirmOffboarded,
    /// Once a day (06:00 UTC) for an organisation with reminders on and keys overdue.
    #[serde(rename = "overdue.digest")]
    OverdueDigest,
}

impl WebhookEvent {
    pub const ALL: &'static [WebhookEvent] = &[
        WebhookEvent::KeyCreated,
        WebhookEvent::KeyIssued,
        WebhookEvent::KeyReturned,
        WebhookEvent::KeyOverdue,
        WebhookEvent::KeyLost,
        WebhookEvent::KeyFound,
        WebhookEvent::KeyDamaged,
        WebhookEvent::KeyDeleted,
        WebhookEvent::AccessCodeChanged,
        WebhookEvent::SmsSent,
        WebhookEvent::PersonOffboarded,
        WebhookEvent::FirmOffboarded,
        WebhookEvent::OverdueDigest,
    ];

    /// The name on the wire and in the payload's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::KeyCreated => "key.created",
            WebhookEvent::KeyIssued => "key.issued",
            WebhookEvent::KeyReturned => "key.returned",
            WebhookEvent::KeyOverdue => "key.overdue",
            WebhookEvent::KeyLost => "key.lost",
            WebhookEvent::KeyFound => "key.found",
            WebhookEvent::KeyDamaged => "key.damaged",
            WebhookEvent::KeyDeleted => "key.deleted",
            WebhookEvent::AccessCodeChanged => "access_code.changed",
            WebhookEvent::SmsSent => "sms.sent",
            WebhookEvent::PersonOffboarded => "person.offboarded",
            WebhookEvent::FirmOffboarded => "firm.offboarded",
            WebhookEvent::OverdueDigest => "overdue.digest",
        }
    }

    pub fn parse(s: &str) -> Option<WebhookEvent> {
        Self::ALL.iter().copied().find(|e| e.as_str() == s)
    }

    /// The event an audit action raises, if any: the one table from audit actions to
    /// webhook events.
    pub fn from_audit_action(action: &str) -> Option<WebhookEvent> {
        Some(match action {
            "key.created" => WebhookEvent::KeyCreated,
            "key.issued" => WebhookEvent::KeyIssued,
            "key.returned" | "key.returned_to_stock" => WebhookEvent::KeyReturned,
            "key.reminderSent" | "key.escalated" => WebhookEvent::KeyOverdue,
            "key.marked_lost" => WebhookEvent::KeyLost,
            "key.marked_found" => WebhookEvent::KeyFound,
            "key.marked_damaged" => WebhookEvent::KeyDamaged,
            "key.deleted" => WebhookEvent::KeyDeleted,
            "accessCode.created" | "accessCode.updated" | "accessCode.deleted" => WebhookEvent::AccessCodeChanged,
            "sms.sent" => WebhookEvent::SmsSent,
            "person.offboarded" => WebhookEvent::PersonOffboarded,
            "firm.offboarded" => WebhookEvent::FirmOffboarded,
            "overdue.digest" => WebhookEvent::OverdueDigest,
            _ => return None,
        })
    }
}

impl std::fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

text_enum! {
    /// `pending` (waiting for its next attempt) → `delivered` (a 2xx answer) or `failed`
    /// (retried for 24 hours without one, or its endpoint is gone or disabled);
    /// `webhooks.resend` makes a finished delivery `pending` again.
    DeliveryStatus {
        Pending = "pending",
        Delivered = "delivered",
        Failed = "failed",
    }
}

/// An organisation's webhook endpoint. Its secret is shown only by `webhooks.create`
/// and `webhooks.rotateSecret`.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub enabled: bool,
    /// Why keyward disabled the endpoint (deliveries kept failing); null otherwise.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `webhooks.create` and `webhooks.rotateSecret`: the endpoint and its signing secret
/// (`whsec_` + base64), shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct WebhookWithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: Secret,
}

/// One event for one endpoint, and where its delivery stands.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    /// Also the `webhook-id` header: the same on every attempt, so receivers can dedupe.
    pub id: String,
    pub endpoint_id: String,
    pub event: WebhookEvent,
    /// The audit event it carries.
    pub audit_event_id: String,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// When it is tried next (`pending` only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last attempt; null when there was no answer.
    pub last_status_code: Option<i32>,
    /// Why the last attempt failed, or the start of the answer's body (at most 200 characters).
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The exact body sent (JSON text).
    pub payload: String,
}

/// How long a delivery is retried before it is `failed`.
pub const RETRY_WINDOW: TimeDelta = TimeDelta::hours(24);

/// The wait after a delivery's `attempts`-th failed attempt: 30 s, doubling, at most 4
/// hours (about 15 attempts in [`RETRY_WINDOW`]).
pub fn retry_after(attempts: i32) -> TimeDelta {
    let doublings = u32::try_from(attempts.clamp(1, 16) - 1).unwrap_or(0);
    TimeDelta::seconds(30 * 2_i64.pow(doublings)).min(TimeDelta::hours(4))
}

/// After a failed attempt at `now`: the next attempt's time, or `None` when it would fall
/// past `retry_until` (the delivery is then `failed`).
pub fn next_attempt(now: DateTime<Utc>, attempts: i32, retry_until: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let at = now + retry_after(attempts);
    (at <= retry_until).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_back_from_their_names_and_serialise_as_them() {
        for event in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::parse(event.as_str()), Some(*event));
            assert_eq!(serde_json::to_string(event).unwrap(), format!("\"{}\"", event.as_str()));
        }
    }

    #[test]
    fn audit_actions_map_to_events() {
        assert_eq!(WebhookEvent::from_audit_action("key.issued"), Some(WebhookEvent::KeyIssued));
        assert_eq!(WebhookEvent::from_audit_action("key.marked_lost"), Some(WebhookEvent::KeyLost));
        assert_eq!(WebhookEvent::from_audit_action("accessCode.updated"), Some(WebhookEvent::AccessCodeChanged));
        // The overdue reminders (issue 13 §2) record these two.
        assert_eq!(WebhookEvent::from_audit_action("key.reminderSent"), Some(WebhookEvent::KeyOverdue));
        assert_eq!(WebhookEvent::from_audit_action("key.escalated"), Some(WebhookEvent::KeyOverdue));
        assert_eq!(WebhookEvent::from_audit_action("overdue.digest"), Some(WebhookEvent::OverdueDigest));
        assert_eq!(WebhookEvent::from_audit_action("sms.failed"), None);
        assert_eq!(WebhookEvent::from_audit_action("webhook.created"), None);
    }

    #[test]
    fn retries_back_off_to_four_hours_within_a_day() {
        assert_eq!(retry_after(1), TimeDelta::seconds(30));
        assert_eq!(retry_after(2), TimeDelta::seconds(60));
        assert_eq!(retry_after(30), TimeDelta::hours(4));
        let start: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        let until = start + RETRY_WINDOW;
        let (mut now, mut attempts) = (start, 1);
        while let Some(at) = next_attempt(now, attempts, until) {
            now = at;
            attempts += 1;
        }
        assert!((10..=20).contains(&attempts), "{attempts} attempts in a day");
        assert!(until - now < TimeDelta::hours(4));
    }
}
