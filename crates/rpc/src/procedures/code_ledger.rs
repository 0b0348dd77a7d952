//! The code-exposure ledger (issue 11): `keys.revealAccessCode`,
//! `keys.recordCodeDisclosure`, `keys.accessCodeExposure`, `keys.accessCodeKnownBy`.

use chrono::{DateTime, Utc};
use keyward_domain::validate::{self, LONG_TEXT_MAX, SHORT_TEXT_MAX};
use keyward_domain::{
    AccessCodeExposure, AccessCodeKnownBy, Capability, CodeExposure, Error, PageRequest, RevealedCode,
};
use keyward_persistence::repo::access_codes::ledger::{self, Disclosed};
use serde::Deserialize;
use specta::Type;

use super::IdInput;
use crate::procedure::{Access, Call, Procedure};

pub struct RevealAccessCode;
impl Procedure for RevealAccessCode {
    const NAME: &'static str = "keys.revealAccessCode";
    const ACCESS: Access = Access::Signed(Capability::SeeCodeValues);
    type Input = IdInput;
    type Output = RevealedCode;

    async fn call(call: Call<'_>, input: IdInput) -> Result<RevealedCode, Error> {
        let actor = call.actor()?.clone();
        let sealer = call.app.sealer.clone();
        call.app.db.write(move |c| ledger::reveal(c, &sealer, &actor, &input.id)).await
    }
}

/// Exactly one of `personId` and `name`.
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordCodeDisclosureInput {
    pub id: String,
    /// A person of the directory (not archived).
    #[serde(default)]
    pub person_id: Option<String>,
    /// Someone outside the directory, by name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

pub struct RecordCodeDisclosure;
impl Procedure for RecordCodeDisclosure {
    const NAME: &'static str = "keys.recordCodeDisclosure";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = RecordCodeDisclosureInput;
    type Output = CodeExposure;

    async fn call(call: Call<'_>, input: RecordCodeDisclosureInput) -> Result<CodeExposure, Error> {
        let actor = call.actor()?.clone();
        let name = validate::optional_line("name", input.name.as_deref(), SHORT_TEXT_MAX)?;
        let to = match (input.person_id, name) {
            (Some(person_id), None) => Disclosed::Person(person_id),
            (None, Some(name)) => Disclosed::Name(name),
            (Some(_), Some(_)) => return Err(Error::invalid("name", "give personId or name, not both")),
            (None, None) => return Err(Error::invalid("personId", "give personId or name")),
        };
        let note = validate::optional_text("note", input.note.as_deref(), LONG_TEXT_MAX)?;
        let id = input.id;
        call.app.db.write(move |c| ledger::record_disclosure(c, &actor, &id, to, note)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessCodeExposureInput {
    pub id: String,
    #[serde(default)]
    pub page: Option<i32>,
    #[serde(default)]
    pub limit: Option<i32>,
}

pub struct ExposureOfCode;
impl Procedure for ExposureOfCode {
    const NAME: &'static str = "keys.accessCodeExposure";
    const ACCESS: Access = Access::Signed(Capability::SeeCodeValues);
    const READ_ONLY: bool = true;
    type Input = AccessCodeExposureInput;
    type Output = AccessCodeExposure;

    async fn call(call: Call<'_>, input: AccessCodeExposureInput) -> Result<AccessCodeExposure, Error> {
        let org_id = call.actor()?.org_id.clone();
        let page = PageRequest::new(input.page, input.limit)?;
        call.app.db.run(move |c| ledger::exposure(c, &org_id, &input.id, page)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessCodeKnownByInput {
    pub id: String,
    /// Exact to the microsecond (finer digits are dropped).
    pub at: DateTime<Utc>,
}

pub struct KnownByAt;
impl Procedure for KnownByAt {
    const NAME: &'static str = "keys.accessCodeKnownBy";
    const ACCESS: Access = Access::Signed(Capability::SeeCodeValues);
    const READ_ONLY: bool = true;
    type Input = AccessCodeKnownByInput;
    type Output = AccessCodeKnownBy;

    async fn call(call: Call<'_>, input: AccessCodeKnownByInput) -> Result<AccessCodeKnownBy, Error> {
        let org_id = call.actor()?.org_id.clone();
        let at = validate::instant("at", input.at)?;
        call.app.db.run(move |c| ledger::known_by(c, &org_id, &input.id, at)).await
    }
}
