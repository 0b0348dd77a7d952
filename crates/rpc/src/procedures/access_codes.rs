//! `keys.*AccessCode*`: the access-code register. Values are sealed at rest and shown
//! only to roles that may see them.

use chrono::NaiveDate;
use keyward_domain::entities::{CodeStatus, CodeType};
use keyward_domain::validate::{self, LONG_TEXT_MAX, SHORT_TEXT_MAX};
use keyward_domain::{AccessCode, AccessCodeChange, Actor, Capability, Error, Page, PageRequest, Secret};
use keyward_persistence::repo::access_codes::{self, CodeFilter, CodePatch, NewCode, Reveal};
use serde::Deserialize;
use specta::Type;

use super::{Empty, IdInput, Items};
use crate::procedure::{Access, Call, Procedure};

fn reveal(actor: &Actor) -> Reveal {
    if actor.role.can(Capability::SeeCodeValues) { Reveal::Values } else { Reveal::Nothing }
}

#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListAccessCodesInput {
    /// Case-insensitive substring of the label, or the exact code value.
    #[serde(default)]
    pub search: Option<Secret>,
    #[serde(default)]
    pub development_id: Option<String>,
    #[serde(default)]
    pub code_type: Option<CodeType>,
    #[serde(default)]
    pub status: Option<CodeStatus>,
    /// Only codes due (`true`) or not due (`false`) for rotation.
    #[serde(default)]
    pub rotation_due: Option<bool>,
    /// Only codes at this door.
    #[serde(default)]
    pub door_id: Option<String>,
    #[serde(default)]
    pub page: Option<i32>,
    #[serde(default)]
    pub limit: Option<i32>,
}

pub struct ListAccessCodes;
impl Procedure for ListAccessCodes {
    const NAME: &'static str = "keys.listAccessCodes";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = ListAccessCodesInput;
    type Output = Page<AccessCode>;

    async fn call(call: Call<'_>, input: ListAccessCodesInput) -> Result<Page<AccessCode>, Error> {
        let actor = call.actor()?;
        let (org_id, reveal) = (actor.org_id.clone(), reveal(actor));
        let page = PageRequest::new(input.page, input.limit)?;
        let filter = CodeFilter {
            search: validate::optional_line("search", input.search.as_ref().map(Secret::expose), SHORT_TEXT_MAX)?
                .map(Secret::from),
            development_id: input.development_id,
            code_type: input.code_type,
            status: input.status,
            rotation_due: input.rotation_due,
            door_id: input.door_id,
        };
        let sealer = call.app.sealer.clone();
        call.app.db.run(move |c| access_codes::list(c, &sealer, reveal, &org_id, &filter, page)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAccessCodeInput {
    pub development_id: String,
    pub code_type: CodeType,
    pub label: String,
    /// 1 to 32 printable characters.
    pub code: Secret,
    /// Default `active`.
    #[serde(default)]
    pub status: Option<CodeStatus>,
    /// Last day the code is valid, `YYYY-MM-DD`.
    #[serde(default)]
    pub expires_on: Option<NaiveDate>,
    #[serde(default)]
    pub notes: Option<String>,
    /// The day from which the code is due for rotation, `YYYY-MM-DD`.
    #[serde(default)]
    pub rotate_by: Option<NaiveDate>,
    /// Keys of the organisation that open the same door (at most 100): losing one makes
    /// the code due for rotation.
    #[serde(default)]
    pub key_ids: Option<Vec<String>>,
    /// Doors of the code's development it is at (at most 500; the gate code is the
    /// gate's).
    #[serde(default)]
    pub door_ids: Option<Vec<String>>,
}

/// At most this many keys linked to one code.
const KEY_IDS_MAX: usize = 100;

/// `keyIds` deduplicated, in the order given.
fn key_ids(ids: Vec<String>) -> Result<Vec<String>, Error> {
    super::distinct_ids("keyIds", ids, KEY_IDS_MAX)
}

/// `doorIds` deduplicated, in the order given.
fn door_ids(ids: Vec<String>) -> Result<Vec<String>, Error> {
    super::distinct_ids("doorIds", ids, super::DOOR_IDS_MAX)
}

impl CreateAccessCodeInput {
    /// The code to create, validated (also a CSV import's row).
    pub(crate) fn into_new(self) -> Result<NewCode, Error> {
        Ok(NewCode {
            development_id: self.development_id,
            code_type: self.code_type,
            label: validate::required_line("label", &self.label, SHORT_TEXT_MAX)?,
            code: validate::code("code", &self.code)?,
            status: self.status.unwrap_or_default(),
            expires_on: self.expires_on.map(|d| validate::date("expiresOn", d)).transpose()?,
            notes: validate::optional_text("notes", self.notes.as_deref(), LONG_TEXT_MAX)?,
            rotate_by: self.rotate_by.map(|d| validate::date("rotateBy", d)).transpose()?,
            key_ids: key_ids(self.key_ids.unwrap_or_default())?,
            door_ids: door_ids(self.door_ids.unwrap_or_default())?,
        })
    }
}

pub struct CreateAccessCode;
impl Procedure for CreateAccessCode {
    const NAME: &'static str = "keys.createAccessCode";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = CreateAccessCodeInput;
    type Output = AccessCode;

    async fn call(call: Call<'_>, input: CreateAccessCodeInput) -> Result<AccessCode, Error> {
        let actor = call.actor()?.clone();
        let new = input.into_new()?;
        let sealer = call.app.sealer.clone();
        call.app.db.write(move |c| access_codes::create(c, &sealer, reveal(&actor), &actor, new)).await
    }
}

/// Omitted fields stay as they are; `null` clears `expiresOn` and `notes`.
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAccessCodeInput {
    pub id: String,
    /// The `version` you read; if the code changed since, VERSION_CONFLICT.
    #[serde(default)]
    pub expected_version: Option<i32>,
    #[serde(default)]
    pub code_type: Option<CodeType>,
    #[serde(default)]
    pub label: Option<String>,
    /// 1 to 32 printable characters.
    #[serde(default)]
    pub code: Option<Secret>,
    #[serde(default)]
    pub status: Option<CodeStatus>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<NaiveDate>)]
    pub expires_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub notes: Option<Option<String>>,
    /// `null` clears it. Absent: as it is, except that a new `code` clears it (the
    /// rotation is done).
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<NaiveDate>)]
    pub rotate_by: Option<Option<NaiveDate>>,
    /// Replaces the linked keys (`[]` unlinks them all).
    #[serde(default)]
    pub key_ids: Option<Vec<String>>,
    /// Replaces the doors (`[]`: at none).
    #[serde(default)]
    pub door_ids: Option<Vec<String>>,
}

impl UpdateAccessCodeInput {
    /// The code's id, `expectedVersion` and patch, validated (also a CSV import's row).
    pub(crate) fn into_patch(self) -> Result<(String, Option<i32>, CodePatch), Error> {
        let patch = CodePatch {
            code_type: self.code_type,
            label: self.label.map(|l| validate::required_line("label", &l, SHORT_TEXT_MAX)).transpose()?,
            code: self.code.as_ref().map(|c| validate::code("code", c)).transpose()?,
            status: self.status,
            expires_on: self.expires_on.map(|d| d.map(|d| validate::date("expiresOn", d)).transpose()).transpose()?,
            notes: super::keys::patch_text("notes", self.notes, LONG_TEXT_MAX)?,
            rotate_by: self.rotate_by.map(|d| d.map(|d| validate::date("rotateBy", d)).transpose()).transpose()?,
            key_ids: self.key_ids.map(key_ids).transpose()?,
            door_ids: self.door_ids.map(door_ids).transpose()?,
        };
        Ok((self.id, self.expected_version, patch))
    }
}

pub struct UpdateAccessCode;
impl Procedure for UpdateAccessCode {
    const NAME: &'static str = "keys.updateAccessCode";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = UpdateAccessCodeInput;
    type Output = AccessCode;

    async fn call(call: Call<'_>, input: UpdateAccessCodeInput) -> Result<AccessCode, Error> {
        let actor = call.actor()?.clone();
        let (id, expected, patch) = input.into_patch()?;
        let sealer = call.app.sealer.clone();
        call.app.db.write(move |c| access_codes::update(c, &sealer, reveal(&actor), &actor, &id, expected, patch)).await
    }
}

pub struct DeleteAccessCode;
impl Procedure for DeleteAccessCode {
    const NAME: &'static str = "keys.deleteAccessCode";
    const ACCESS: Access = Access::Signed(Capability::Administer);
    type Input = IdInput;
    type Output = Empty;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Empty, Error> {
        let actor = call.actor()?.clone();
        call.app.db.write(move |c| access_codes::delete(c, &actor, &input.id)).await?;
        Ok(Empty {})
    }
}

pub struct AccessCodeHistory;
impl Procedure for AccessCodeHistory {
    const NAME: &'static str = "keys.accessCodeHistory";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = IdInput;
    type Output = Items<AccessCodeChange>;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Items<AccessCodeChange>, Error> {
        let org_id = call.actor()?.org_id.clone();
        let items = call.app.db.run(move |c| access_codes::history(c, &org_id, &input.id)).await?;
        Ok(Items { items })
    }
}
