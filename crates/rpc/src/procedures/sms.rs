//! `keys.sendSms`: a key ref or an access code sent by SMS (architecture principle 9):
//! authorise → validate → idempotency → the target, its message and the settings; then
//! the shared pipeline ([`crate::sms_pipeline::send`]: limits → commit `pending` → send →
//! record the outcome and its audit event). The body exists only in memory, on its way
//! to the provider.

use keyward_domain::{Capability, CodeStatus, Error, Secret, validate};
use keyward_persistence::repo::access_codes::ledger;
use keyward_persistence::repo::access_codes::{self, Reveal};
use keyward_persistence::repo::sms::{self, Attempt, CodeSent, Recorded};
use keyward_persistence::repo::{developments, keys};
use keyward_sms::phone;
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::procedure::{Access, Call, Procedure};
use crate::sms_pipeline;

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
        let mut attempt = Attempt::new(target_type, target_id, recipient_name, to_e164, idempotency_key);

        // A retry under the same key answers the first result, whatever happened to the
        // target since (a code that expired, a key deleted).
        if let Some(recorded) = sms_pipeline::replay(&app, &actor.org_id, &attempt).await? {
            return answer(recorded);
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
        attempt.target_name = target_name;
        // The value this message carries, for the ledger when the provider accepts it.
        attempt.exposure = value_version.map(|value_version| CodeSent { value_version, person_id });
        answer(sms_pipeline::send(app, actor, attempt, body, account, "target").await?)
    }
}

pub(super) fn idempotency_key(key: &str) -> Result<String, Error> {
    let ok = (1..=255).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok {
        Ok(key.to_owned())
    } else {
        Err(Error::invalid("idempotencyKey", "must be 1 to 255 of A-Z a-z 0-9 _ . : -"))
    }
}

/// The caller's answer for a recorded send: the same for the first call and its replays.
pub(super) fn answer(recorded: Recorded) -> Result<SendSmsOutput, Error> {
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
