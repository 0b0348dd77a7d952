//! `keys.sendSms`: a key ref or an access code sent by SMS, as a pipeline
//! (architecture principle 9): authorise → validate → settings → idempotency → limits →
//! commit `pending` → send → record the outcome and its audit event. The body exists
//! only in memory, on its way to the provider.

use std::sync::Arc;

use keyward_domain::{Actor, Capability, CodeStatus, Error, Secret, validate};
use keyward_persistence::repo::access_codes::ledger;
use keyward_persistence::repo::access_codes::{self, Reveal};
use keyward_persistence::repo::sms::{self, Attempt, Begun, CodeSent, Outcome, Recorded};
use keyward_persistence::repo::{developments, keys};
use keyward_sms::segments::{self, MAX_BODY_CHARS};
use keyward_sms::{Credentials, OutboundSms, SendFailure, phone};
use serde::{Deserialize, Serialize};
use specta::Type;

use tracing::Instrument;

use crate::App;
use crate::procedure::{Access, Call, Procedure};

/// What to send.
#[derive(Debug, Deserialize, Type)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum SmsTarget {
    /// `"{development}: key ref {keyRef} ({label})."`
    Key { id: String },
    /// `"{development}: {label} code {code}."` — active and unexpired codes only.
    AccessCode { id: String },
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendSmsInput {
    pub target: SmsTarget,
    /// A person of the directory (not archived): `recipientName` and `phone` default
    /// from them, and a code sent to them is recorded against them in the ledger.
    #[serde(default)]
    pub person_id: Option<String>,
    /// Required without `personId`.
    #[serde(default)]
    pub recipient_name: Option<String>,
    /// Required without `personId` (or when the person has no phone). National numbers
    /// are read in the server's default region (GB unless configured): `07400 123456` →
    /// `+447400123456`.
    #[serde(default)]
    pub phone: Option<String>,
    /// The same key within 24 hours answers the first attempt's result and sends nothing.
    /// 1 to 255 of `A-Z a-z 0-9 _ . : -`.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SendSmsOutput {
    pub sms_id: String,
    /// `sent`, or `pending` when replaying a send still in flight.
    pub status: String,
    /// Twilio's message sid (`SM…`).
    pub provider_message_id: Option<String>,
}

pub struct SendSms;
impl Procedure for SendSms {
    const NAME: &'static str = "keys.sendSms";
    const ACCESS: Access = Access::Signed(Capability::SendSms);
    type Input = SendSmsInput;
    type Output = SendSmsOutput;

    async fn call(call: Call<'_>, input: SendSmsInput) -> Result<SendSmsOutput, Error> {
        let actor = call.actor()?.clone();
        let app = call.app_owned();
        let person = match input.person_id {
            Some(person_id) => {
                let org_id = actor.org_id.clone();
                Some(app.db.run(move |c| ledger::active_person(c, &org_id, &person_id)).await?)
            }
            None => None,
        };
        let recipient_name = match (&input.recipient_name, &person) {
            (Some(name), _) => validate::required_line("recipientName", name, 100)?,
            (None, Some(person)) => person.name.clone(),
            (None, None) => return Err(Error::invalid("recipientName", "is required without personId")),
        };
        let number = match (input.phone, &person) {
            (Some(number), _) => number,
            (None, Some(person)) => {
                person.phone.clone().ok_or_else(|| Error::invalid("phone", "the person has no phone: give one"))?
            }
            (None, None) => return Err(Error::invalid("phone", "is required without personId")),
        };
        let to_e164 =
            phone::normalise(&number, app.sms.default_region).map_err(|e| Error::invalid("phone", e.to_string()))?;
        let person_id = person.map(|p| p.id);
        let idempotency_key = input.idempotency_key.map(|k| idempotency_key(&k)).transpose()?;
        let (target_type, target_id) = match input.target {
            SmsTarget::Key { id } => ("key", id),
            SmsTarget::AccessCode { id } => ("accessCode", id),
        };
        let mut attempt = Attempt {
            target_type,
            target_id,
            target_name: String::new(),
            recipient_name,
            to_e164,
            idempotency_key,
            segments: 0,
            encoding: "GSM-7",
            exposure: None,
        };

        // A retry under the same key answers the first result, whatever happened to the
        // target since (a code that expired, a key deleted).
        if attempt.idempotency_key.is_some() {
            let (org_id, lookup) = (actor.org_id.clone(), attempt.clone());
            if let Some(recorded) = app.db.run(move |c| sms::replay(c, &org_id, &lookup)).await? {
                return answer(recorded);
            }
        }

        // The target, its message, and the account, read together.
        let sealer = app.sealer.clone();
        let (org_id, target) = (actor.org_id.clone(), attempt.clone());
        let (target_name, body, account, value_version) = app
            .db
            .run(move |c| {
                let mut value_version = None;
                let (target_name, body) = if target.target_type == "key" {
                    let key = keys::get(c, &org_id, &target.target_id)?;
                    let development = developments::get(c, &org_id, &key.development_id)?;
                    (key.key_ref.clone(), format!("{}: key ref {} ({}).", development.name, key.key_ref, key.label))
                } else {
                    let code = access_codes::get(c, &sealer, Reveal::Unmasked, &org_id, &target.target_id)?;
                    value_version = Some(code.value_version);
                    if code.status != CodeStatus::Active || code.expired {
                        return Err(Error::CodeNotActive.into());
                    }
                    let development = developments::get(c, &org_id, &code.development_id)?;
                    // The one place a code value leaves its `Secret`: the message body.
                    let value = code.code.as_ref().map(Secret::expose).unwrap_or_default();
                    (code.label.clone(), format!("{}: {} code {}.", development.name, code.label, value))
                };
                let account =
                    sms::account(c, &sealer, &org_id)?.ok_or(Error::SmsNotConfigured { provider_code: None })?;
                Ok((target_name, body, account, value_version))
            })
            .await?;
        if body.chars().count() > MAX_BODY_CHARS {
            return Err(Error::invalid("target", format!("the message would be over {MAX_BODY_CHARS} characters")));
        }
        let (encoding, _, segment_count) = segments::count(&body);
        if segment_count > 2 {
            tracing::warn!(segments = segment_count, "a long SMS: several segments are billed");
        }
        attempt.target_name = target_name;
        // The value this message carries, for the ledger when the provider accepts it.
        attempt.exposure = value_version.map(|value_version| CodeSent { value_version, person_id });
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
        // From the pending row on, the send runs to its end even if the caller hangs up:
        // a dropped call must not leave a message unsent but `pending`, or sent but unrecorded.
        // The send takes its own connections; the call's goes back to the pool while Twilio answers.
        keyward_persistence::let_go_of_connection();
        let span = tracing::Span::current();
        tokio::spawn(send(app, actor, attempt, credentials, message).instrument(span))
            .await
            .map_err(|e| Error::Internal(format!("the SMS task failed: {e}")))?
    }
}

/// Limits and the `pending` row, the provider call, the outcome: see the module doc.
async fn send(
    app: Arc<App>,
    actor: Actor,
    attempt: Attempt,
    credentials: Credentials,
    message: OutboundSms,
) -> Result<SendSmsOutput, Error> {
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
        Ok(Begun::Replay(recorded)) => return answer(recorded),
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
    answer(recorded)
}

fn idempotency_key(key: &str) -> Result<String, Error> {
    let ok = (1..=255).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok {
        Ok(key.to_owned())
    } else {
        Err(Error::invalid("idempotencyKey", "must be 1 to 255 of A-Z a-z 0-9 _ . : -"))
    }
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

/// The caller's answer for a recorded send: the same for the first call and its replays.
fn answer(recorded: Recorded) -> Result<SendSmsOutput, Error> {
    match recorded.status.as_str() {
        "sent" | "pending" => Ok(SendSmsOutput {
            sms_id: recorded.id,
            status: recorded.status,
            provider_message_id: recorded.provider_message_id,
        }),
        // Twilio took it (the first answer was `sent`); its delivery report came since.
        "delivered" | "undelivered" | "failed" => Ok(SendSmsOutput {
            sms_id: recorded.id,
            status: "sent".to_owned(),
            provider_message_id: recorded.provider_message_id,
        }),
        // Twilio refused the credentials (20003) or the account (20404): fix the settings.
        "rejected"
            if matches!(recorded.provider_error_code, Some(20003 | 20404)) || recorded.http_status == Some(401) =>
        {
            Err(Error::SmsNotConfigured { provider_code: recorded.provider_error_code })
        }
        "rejected" => Err(Error::SmsRejected { provider_code: recorded.provider_error_code }),
        "unavailable" => Err(Error::SmsUnavailable { maybe_sent: false }),
        _ => Err(Error::SmsUnavailable { maybe_sent: true }),
    }
}
