//! Acknowledged handover (issue 13 §6): `keys.issueKey {acknowledge: "sms_code"}` texts
//! the holder a 6-digit code through the shared SMS pipeline, and
//! `keys.confirmHandover {id, code}` takes it within 15 minutes and 5 tries.

use keyward_domain::{Capability, Error, Key, Secret, handover};
use keyward_persistence::repo::keys::{self, HandoverCode, TransitionDetails};
use keyward_persistence::repo::{developments, sms};
use keyward_sms::phone;
use serde::Deserialize;
use specta::Type;

use crate::procedure::{Access, Call, Procedure};
use crate::sms_pipeline;

/// Issues a key and texts its holder a code to acknowledge it. The SMS settings are read
/// first (none: SMS_NOT_CONFIGURED, nothing issued); the holder's phone (`issuedToPhone`,
/// or the person's) must be a number keyward can text, else INVALID_INPUT and nothing is
/// issued. The issue and the code's hash commit together; then the code goes out through
/// the shared pipeline (limits, outbox, audit). A send that fails answers its SMS error:
/// the key is issued and its handover `awaiting` all the same.
pub(super) async fn issue_acknowledged(call: Call<'_>, id: String, details: TransitionDetails) -> Result<Key, Error> {
    let actor = call.actor()?.clone();
    let app = call.app_owned();
    let (sealer, org_id, key_id) = (app.sealer.clone(), actor.org_id.clone(), id.clone());
    let (account, development) = app
        .db
        .run(move |c| {
            let key = keys::get(c, &org_id, &key_id)?;
            let development = developments::get(c, &org_id, &key.development_id)?;
            let account = sms::account(c, &sealer, &org_id)?.ok_or(Error::SmsNotConfigured { provider_code: None })?;
            Ok((account, development.name))
        })
        .await?;
    let code = handover::new_code(&mut rand::rng());
    let region = app.sms.default_region;
    let (sealer, write_actor, sent_code) = (app.sealer.clone(), actor.clone(), code.clone());
    let key = app
        .db
        .write(move |c| {
            let issued = keys::issue(c, &write_actor, &id, details)?;
            let Some(number) = issued.issued_to_phone.as_deref() else {
                return Err(Error::invalid(
                    "acknowledge",
                    "the holder has no phone to text the code to: give issuedToPhone",
                )
                .into());
            };
            let phone = phone::normalise(number, region).map_err(|e| Error::invalid("issuedToPhone", e.to_string()))?;
            keys::begin_handover(c, &sealer, &write_actor, &id, &HandoverCode { code: sent_code, phone })
        })
        .await?;
    let Some(handover) = &key.handover else {
        return Err(Error::Internal("a handover was begun but is not shown".to_owned()));
    };
    let recipient = key.issued_to.clone().unwrap_or_default();
    let mut attempt = sms::Attempt::new("key", key.id.clone(), recipient, handover.phone.clone(), None);
    attempt.target_name = key.key_ref.clone();
    // The one place the code leaves its `Secret`: the message body.
    let body = format!(
        "{development}: your code for key {} ({}) is {}. Give it to the staff member to confirm you have the key.",
        key.key_ref,
        key.label,
        code.expose()
    );
    drop(code);
    let recorded = sms_pipeline::send(app, actor, attempt, body, account, "acknowledge").await?;
    super::sms::answer(recorded)?;
    Ok(key)
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmHandoverInput {
    pub id: String,
    /// The 6 digits the holder received.
    pub code: Secret,
}

pub struct ConfirmHandover;
impl Procedure for ConfirmHandover {
    const NAME: &'static str = "keys.confirmHandover";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = ConfirmHandoverInput;
    type Output = Key;

    async fn call(call: Call<'_>, input: ConfirmHandoverInput) -> Result<Key, Error> {
        let actor = call.actor()?.clone();
        let code = input.code;
        if code.expose().len() != 6 || !code.expose().bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid("code", "must be the 6 digits the holder received"));
        }
        let sealer = call.app.sealer.clone();
        let id = input.id;
        call.app.db.write(move |c| keys::confirm_handover(c, &sealer, &actor, &id, &code)).await?
    }
}
