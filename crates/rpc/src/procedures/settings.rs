//! `settings.*`: the organisation's settings (`settings.get`: everyone signed in reads
//! them; `settings.update`: the owner) and its SMS settings (owner only; the auth token is
//! sealed at rest and never answered).

use keyward_domain::doorcode::DoorcodeLength;
use keyward_domain::{Capability, Error, OrganisationSettings, Secret, SmsSettings, validate};
use keyward_persistence::repo::org_settings::{self, SettingsPatch};
use keyward_persistence::repo::sms::{self, NewSettings};
use keyward_sms::phone;
use serde::Deserialize;
use specta::Type;

use super::NoParams;
use crate::procedure::{Access, Call, Procedure};

pub struct Get;
impl Procedure for Get {
    const NAME: &'static str = "settings.get";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = NoParams;
    type Output = OrganisationSettings;

    async fn call(call: Call<'_>, _: NoParams) -> Result<OrganisationSettings, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| org_settings::view(c, &org_id)).await
    }
}

/// Omitted fields stay as they are.
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateInput {
    /// Hide code values in every answer but `keys.revealAccessCode`.
    #[serde(default)]
    pub mask_codes_in_lists: Option<bool>,
    /// The number of digits of random doorcodes: 4 to 8.
    #[serde(default)]
    pub doorcode_length: Option<i32>,
}

pub struct Update;
impl Procedure for Update {
    const NAME: &'static str = "settings.update";
    const ACCESS: Access = Access::Signed(Capability::ManageOrganisation);
    type Input = UpdateInput;
    type Output = OrganisationSettings;

    async fn call(call: Call<'_>, input: UpdateInput) -> Result<OrganisationSettings, Error> {
        let actor = call.actor()?.clone();
        let patch = SettingsPatch {
            mask_codes_in_lists: input.mask_codes_in_lists,
            doorcode_length: input.doorcode_length.map(|n| DoorcodeLength::new("doorcodeLength", n)).transpose()?,
        };
        call.app.db.write(move |c| org_settings::update(c, &actor, patch)).await
    }
}

pub struct GetSms;
impl Procedure for GetSms {
    const NAME: &'static str = "settings.getSms";
    const ACCESS: Access = Access::Signed(Capability::ManageOrganisation);
    const READ_ONLY: bool = true;
    type Input = NoParams;
    type Output = SmsSettings;

    async fn call(call: Call<'_>, _: NoParams) -> Result<SmsSettings, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| sms::view(c, &org_id)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateSmsInput {
    /// `AC` and 32 hex digits.
    pub account_sid: String,
    /// Twilio's auth token: 1 to 64 printable characters; stored sealed, never shown again.
    pub auth_token: Secret,
    /// An E.164 number (`+447400123456`; digits, spaces and `+ - ( ) .` only, no letters)
    /// or an alphanumeric sender ID (up to 11 letters, digits or spaces, beginning with a
    /// letter). This or `messagingServiceSid` is required.
    #[serde(default)]
    pub from_number: Option<String>,
    /// `MG` and 32 hex digits.
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
}

fn sid(field: &str, prefix: &str, value: &str) -> Result<String, Error> {
    let value = value.trim();
    let ok = value.len() == 34 && value.starts_with(prefix) && value[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok { Ok(value.to_owned()) } else { Err(Error::invalid(field, format!("must be {prefix} and 32 hex digits"))) }
}

/// A sender: a value that begins with `+` or a digit is a phone number (so a letter in
/// it is a typo, refused like any number's); one that begins with a letter is an
/// alphanumeric sender ID.
fn sender(value: &str) -> Result<String, Error> {
    let value = value.trim();
    if value.starts_with('+') {
        // Any valid international number; the region does not matter with a `+`.
        let region = phone::region("GB").expect("GB is a region");
        return phone::normalise(value, region).map_err(|e| Error::invalid("fromNumber", e.to_string()));
    }
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        phone::check_characters(value).map_err(|e| Error::invalid("fromNumber", e.to_string()))?;
        return Err(Error::invalid("fromNumber", "must be in international form, beginning with +"));
    }
    let alphanumeric = (1..=11).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && value.bytes().any(|b| b.is_ascii_alphabetic());
    if alphanumeric {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(
            "fromNumber",
            "must be an E.164 number or a sender ID of up to 11 letters, digits or spaces",
        ))
    }
}

pub struct UpdateSms;
impl Procedure for UpdateSms {
    const NAME: &'static str = "settings.updateSms";
    const ACCESS: Access = Access::Signed(Capability::ManageOrganisation);
    type Input = UpdateSmsInput;
    type Output = SmsSettings;

    async fn call(call: Call<'_>, input: UpdateSmsInput) -> Result<SmsSettings, Error> {
        let actor = call.actor()?.clone();
        let auth_token = input.auth_token.expose().trim();
        if auth_token.is_empty() || auth_token.chars().count() > 64 || auth_token.chars().any(char::is_control) {
            return Err(Error::invalid("authToken", "must be 1 to 64 printable characters"));
        }
        let auth_token = Secret::from(auth_token);
        let new = NewSettings {
            account_sid: sid("accountSid", "AC", &input.account_sid)?,
            auth_token,
            from_number: validate::optional_line("fromNumber", input.from_number.as_deref(), 40)?
                .map(|f| sender(&f))
                .transpose()?,
            messaging_service_sid: validate::optional_line(
                "messagingServiceSid",
                input.messaging_service_sid.as_deref(),
                40,
            )?
            .map(|s| sid("messagingServiceSid", "MG", &s))
            .transpose()?,
        };
        if new.from_number.is_none() && new.messaging_service_sid.is_none() {
            return Err(Error::invalid("fromNumber", "give a sender number or a messaging service"));
        }
        let sealer = call.app.sealer.clone();
        call.app.db.write(move |c| sms::save(c, &sealer, &actor, new)).await
    }
}
