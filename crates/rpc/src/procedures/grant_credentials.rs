//! `grants.sendCredentials`: a holder's doorcodes sent to them by SMS (issue 12 §3,
//! decision 127) through the one SMS pipeline ([`crate::sms_pipeline::send`]: limits,
//! outbox, retries, audit), each doorcode recorded in the doorcode-exposure ledger when
//! the provider accepts the message. The values leave their `Secret` only in the body.

use keyward_domain::{Capability, Error};
use keyward_persistence::repo::access_codes::ledger;
use keyward_persistence::repo::grants::credentials::{self, CredentialsToSend};
use keyward_persistence::repo::sms::{self, Attempt};
use keyward_sms::phone;
use serde::Deserialize;
use specta::Type;

use super::sms::{SendSmsOutput, answer, idempotency_key};
use crate::procedure::{Access, Call, Procedure};
use crate::sms_pipeline;

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendCredentialsInput {
    /// The grant.
    pub id: String,
    /// A holder of the grant, not archived, with a phone.
    pub person_id: String,
    /// As `keys.sendSms`: the same key within 24 hours answers the first attempt's
    /// result and sends nothing.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

pub struct SendCredentials;
impl Procedure for SendCredentials {
    const NAME: &'static str = "grants.sendCredentials";
    const ACCESS: Access = Access::Signed(Capability::SendSms);
    type Input = SendCredentialsInput;
    type Output = SendSmsOutput;

    async fn call(call: Call<'_>, input: SendCredentialsInput) -> Result<SendSmsOutput, Error> {
        let actor = call.actor()?.clone();
        let app = call.app_owned();
        let idempotency_key = input.idempotency_key.map(|k| idempotency_key(&k)).transpose()?;
        let (org_id, person_id) = (actor.org_id.clone(), input.person_id.clone());
        let person = app.db.run(move |c| ledger::active_person(c, &org_id, &person_id)).await?;
        let number = person.phone.clone().ok_or_else(|| Error::invalid("personId", "the person has no phone"))?;
        let to_e164 =
            phone::normalise(&number, app.sms.default_region).map_err(|e| Error::invalid("personId", e.to_string()))?;
        let mut attempt = Attempt::new("grant", input.id.clone(), person.name.clone(), to_e164, idempotency_key);
        if let Some(recorded) = sms_pipeline::replay(&app, &actor.org_id, &attempt).await? {
            return answer(recorded);
        }

        let sealer = app.sealer.clone();
        let (org_id, grant_id, person_id) = (actor.org_id.clone(), input.id, person.id.clone());
        let (credentials, account) = app
            .db
            .run(move |c| {
                let credentials = credentials::to_send(c, &sealer, &org_id, &grant_id, &person_id)?;
                let account =
                    sms::account(c, &sealer, &org_id)?.ok_or(Error::SmsNotConfigured { provider_code: None })?;
                Ok((credentials, account))
            })
            .await?;
        attempt.target_name = credentials.grant_name.clone();
        attempt.doorcodes = credentials.doorcodes.iter().map(|doorcode| doorcode.sent.clone()).collect();
        let body = body(&credentials);
        answer(sms_pipeline::send(app, actor, attempt, body, account, "id").await?)
    }
}

/// `"{development}: your door codes ({grant}): {door} {code} ({schedule}); …"`. The one
/// place doorcode values leave their `Secret`.
fn body(credentials: &CredentialsToSend) -> String {
    let doors: Vec<String> = credentials
        .doorcodes
        .iter()
        .map(|doorcode| format!("{} {} ({})", doorcode.door_name, doorcode.code.expose(), doorcode.schedule.summary()))
        .collect();
    format!("{}: your door codes ({}): {}.", credentials.development_name, credentials.grant_name, doors.join("; "))
}
