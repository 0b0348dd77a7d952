//! `people.*` and `firms.*`: the key-holder directory.

use keyward_domain::validate::{self, LONG_TEXT_MAX, SHORT_TEXT_MAX};
use keyward_domain::{Capability, Error, Firm, Offboarding, Page, PageRequest, Person, PersonHoldingsAt, PersonKind};
use keyward_persistence::repo::firms::{self, FirmFields, FirmFilter, FirmPatch};
use keyward_persistence::repo::keys;
use keyward_persistence::repo::offboarding;
use keyward_persistence::repo::people::{self, PersonFields, PersonFilter, PersonPatch};
use keyward_sms::phone::{self, Region};
use serde::Deserialize;
use specta::Type;

use super::{AtInput, IdInput};
use crate::procedure::{Access, Call, Procedure};

/// A directory phone: E.164 as for SMS (national numbers in the server's default region);
/// empty is none.
fn e164(field: &str, value: Option<&str>, region: Region) -> Result<Option<String>, Error> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => phone::normalise(v, region).map(Some).map_err(|e| Error::invalid(field, e.to_string())),
    }
}

/// An optional email, validated and lower-cased; empty is none.
fn email(field: &str, value: Option<&str>) -> Result<Option<String>, Error> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(|v| validate::email(field, v)).transpose()
}

/// An optional id of a patch: absent → unchanged, null or empty → cleared.
fn patch_id(value: Option<Option<String>>) -> Option<Option<String>> {
    value.map(|v| v.filter(|v| !v.is_empty()))
}

/// A numbered page of the directory: as `keys.listKeys`, page × limit at most 10,000.
pub(super) fn numbered_page(page: Option<i32>, limit: Option<i32>) -> Result<PageRequest, Error> {
    let request = PageRequest::new(page, limit)?;
    if i64::from(request.page) * i64::from(request.limit) > super::keys::PAGE_NUMBER_DEPTH {
        return Err(Error::invalid("page", "page × limit must be at most 10000"));
    }
    Ok(request)
}

#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListPeopleInput {
    /// Case-insensitive substring of name, phone or email (`%` and `_` are literal).
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub kind: Option<PersonKind>,
    #[serde(default)]
    pub firm_id: Option<String>,
    #[serde(default)]
    pub development_id: Option<String>,
    /// `true`: only archived people; default `false`: only the others.
    #[serde(default)]
    pub archived: Option<bool>,
    /// 1 or more, with page × limit at most 10,000; default 1.
    #[serde(default)]
    pub page: Option<i32>,
    /// 1 to 100; default 50.
    #[serde(default)]
    pub limit: Option<i32>,
}

pub struct ListPeople;
impl Procedure for ListPeople {
    const NAME: &'static str = "people.list";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = ListPeopleInput;
    type Output = Page<Person>;

    async fn call(call: Call<'_>, input: ListPeopleInput) -> Result<Page<Person>, Error> {
        let org_id = call.actor()?.org_id.clone();
        let page = numbered_page(input.page, input.limit)?;
        let filter = PersonFilter {
            search: validate::optional_line("search", input.search.as_deref(), SHORT_TEXT_MAX)?,
            kind: input.kind,
            firm_id: input.firm_id,
            development_id: input.development_id,
            archived: input.archived.unwrap_or(false),
        };
        call.app.db.run(move |c| people::list(c, &org_id, &filter, page)).await
    }
}

pub struct GetPerson;
impl Procedure for GetPerson {
    const NAME: &'static str = "people.get";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = IdInput;
    type Output = Person;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Person, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| people::get(c, &org_id, &input.id)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePersonInput {
    pub name: String,
    pub kind: PersonKind,
    /// Normalised to E.164 as for SMS (national numbers in the server's default region).
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// A firm of the organisation that is not archived.
    #[serde(default)]
    pub firm_id: Option<String>,
    /// For residents: a development of the organisation.
    #[serde(default)]
    pub development_id: Option<String>,
    /// A user of the organisation.
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

impl CreatePersonInput {
    /// The person to create, validated (also a CSV import's row).
    pub(crate) fn into_fields(self, region: Region) -> Result<PersonFields, Error> {
        Ok(PersonFields {
            name: validate::required_line("name", &self.name, SHORT_TEXT_MAX)?,
            kind: self.kind,
            phone: e164("phone", self.phone.as_deref(), region)?,
            email: email("email", self.email.as_deref())?,
            firm_id: self.firm_id.filter(|v| !v.is_empty()),
            development_id: self.development_id.filter(|v| !v.is_empty()),
            user_id: self.user_id.filter(|v| !v.is_empty()),
            notes: validate::optional_text("notes", self.notes.as_deref(), LONG_TEXT_MAX)?,
        })
    }
}

pub struct CreatePerson;
impl Procedure for CreatePerson {
    const NAME: &'static str = "people.create";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = CreatePersonInput;
    type Output = Person;

    async fn call(call: Call<'_>, input: CreatePersonInput) -> Result<Person, Error> {
        let actor = call.actor()?.clone();
        let fields = input.into_fields(call.app.sms.default_region)?;
        call.app.db.write(move |c| people::create(c, &actor, fields)).await
    }
}

/// Every field but `id` is optional: omitted leaves it as it is; for the optional fields
/// `null` (or an empty string) clears it.
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePersonInput {
    pub id: String,
    /// The `version` you read; if the person changed since, VERSION_CONFLICT and nothing changes.
    #[serde(default)]
    pub expected_version: Option<i32>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub kind: Option<PersonKind>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub firm_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub development_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub user_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub notes: Option<Option<String>>,
}

impl UpdatePersonInput {
    /// The person's id, `expectedVersion` and patch, validated (also a CSV import's row).
    pub(crate) fn into_patch(self, region: Region) -> Result<(String, Option<i32>, PersonPatch), Error> {
        let patch = PersonPatch {
            name: self.name.map(|n| validate::required_line("name", &n, SHORT_TEXT_MAX)).transpose()?,
            kind: self.kind,
            phone: self.phone.map(|v| e164("phone", v.as_deref(), region)).transpose()?,
            email: self.email.map(|v| email("email", v.as_deref())).transpose()?,
            firm_id: patch_id(self.firm_id),
            development_id: patch_id(self.development_id),
            user_id: patch_id(self.user_id),
            notes: super::keys::patch_text("notes", self.notes, LONG_TEXT_MAX)?,
        };
        Ok((self.id, self.expected_version, patch))
    }
}

pub struct UpdatePerson;
impl Procedure for UpdatePerson {
    const NAME: &'static str = "people.update";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = UpdatePersonInput;
    type Output = Person;

    async fn call(call: Call<'_>, input: UpdatePersonInput) -> Result<Person, Error> {
        let actor = call.actor()?.clone();
        let (id, expected, patch) = input.into_patch(call.app.sms.default_region)?;
        call.app.db.write(move |c| people::update(c, &actor, &id, expected, patch)).await
    }
}

pub struct ArchivePerson;
impl Procedure for ArchivePerson {
    const NAME: &'static str = "people.archive";
    const ACCESS: Access = Access::Signed(Capability::Administer);
    type Input = IdInput;
    type Output = Person;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Person, Error> {
        let actor = call.actor()?.clone();
        call.app.db.write(move |c| people::archive(c, &actor, &input.id)).await
    }
}

pub struct HoldingsAt;
impl Procedure for HoldingsAt {
    const NAME: &'static str = "people.holdingsAt";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = AtInput;
    type Output = PersonHoldingsAt;

    async fn call(call: Call<'_>, input: AtInput) -> Result<PersonHoldingsAt, Error> {
        let org_id = call.actor()?.org_id.clone();
        let at = validate::instant("at", input.at)?;
        call.app.db.run(move |c| keys::holdings_at(c, &org_id, &input.id, at)).await
    }
}

/// The longest offboarding reason, in characters.
pub const OFFBOARD_REASON_MAX: usize = 2000;

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OffboardInput {
    pub id: String,
    /// Why (one line, up to 2,000 characters): kept on the person or firm and in the audit event.
    pub reason: String,
}

impl OffboardInput {
    /// The id and the validated reason.
    fn parts(self) -> Result<(String, String), Error> {
        Ok((self.id, validate::required_line("reason", &self.reason, OFFBOARD_REASON_MAX)?))
    }
}

pub struct OffboardPerson;
impl Procedure for OffboardPerson {
    const NAME: &'static str = "people.offboard";
    const ACCESS: Access = Access::Signed(Capability::Administer);
    type Input = OffboardInput;
    type Output = Offboarding;

    async fn call(call: Call<'_>, input: OffboardInput) -> Result<Offboarding, Error> {
        let actor = call.actor()?.clone();
        let (id, reason) = input.parts()?;
        call.app.db.write(move |c| offboarding::offboard_person(c, &actor, &id, &reason)).await
    }
}

#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListFirmsInput {
    /// Case-insensitive substring of name, phone or email (`%` and `_` are literal).
    #[serde(default)]
    pub search: Option<String>,
    /// `true`: only archived firms; default `false`: only the others.
    #[serde(default)]
    pub archived: Option<bool>,
    /// 1 or more, with page × limit at most 10,000; default 1.
    #[serde(default)]
    pub page: Option<i32>,
    /// 1 to 100; default 50.
    #[serde(default)]
    pub limit: Option<i32>,
}

pub struct ListFirms;
impl Procedure for ListFirms {
    const NAME: &'static str = "firms.list";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = ListFirmsInput;
    type Output = Page<Firm>;

    async fn call(call: Call<'_>, input: ListFirmsInput) -> Result<Page<Firm>, Error> {
        let org_id = call.actor()?.org_id.clone();
        let page = numbered_page(input.page, input.limit)?;
        let filter = FirmFilter {
            search: validate::optional_line("search", input.search.as_deref(), SHORT_TEXT_MAX)?,
            archived: input.archived.unwrap_or(false),
        };
        call.app.db.run(move |c| firms::list(c, &org_id, &filter, page)).await
    }
}

pub struct GetFirm;
impl Procedure for GetFirm {
    const NAME: &'static str = "firms.get";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = IdInput;
    type Output = Firm;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Firm, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| firms::get(c, &org_id, &input.id)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateFirmInput {
    pub name: String,
    /// Normalised to E.164 as for SMS.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

pub struct CreateFirm;
impl Procedure for CreateFirm {
    const NAME: &'static str = "firms.create";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = CreateFirmInput;
    type Output = Firm;

    async fn call(call: Call<'_>, input: CreateFirmInput) -> Result<Firm, Error> {
        let actor = call.actor()?.clone();
        let fields = FirmFields {
            name: validate::required_line("name", &input.name, SHORT_TEXT_MAX)?,
            phone: e164("phone", input.phone.as_deref(), call.app.sms.default_region)?,
            email: email("email", input.email.as_deref())?,
            notes: validate::optional_text("notes", input.notes.as_deref(), LONG_TEXT_MAX)?,
        };
        call.app.db.write(move |c| firms::create(c, &actor, fields)).await
    }
}

/// Every field but `id` is optional: omitted leaves it as it is; for the optional fields
/// `null` (or an empty string) clears it.
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateFirmInput {
    pub id: String,
    /// The `version` you read; if the firm changed since, VERSION_CONFLICT and nothing changes.
    #[serde(default)]
    pub expected_version: Option<i32>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub notes: Option<Option<String>>,
}

pub struct UpdateFirm;
impl Procedure for UpdateFirm {
    const NAME: &'static str = "firms.update";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = UpdateFirmInput;
    type Output = Firm;

    async fn call(call: Call<'_>, input: UpdateFirmInput) -> Result<Firm, Error> {
        let actor = call.actor()?.clone();
        let region = call.app.sms.default_region;
        let patch = FirmPatch {
            name: input.name.map(|n| validate::required_line("name", &n, SHORT_TEXT_MAX)).transpose()?,
            phone: input.phone.map(|v| e164("phone", v.as_deref(), region)).transpose()?,
            email: input.email.map(|v| email("email", v.as_deref())).transpose()?,
            notes: super::keys::patch_text("notes", input.notes, LONG_TEXT_MAX)?,
        };
        let (id, expected) = (input.id, input.expected_version);
        call.app.db.write(move |c| firms::update(c, &actor, &id, expected, patch)).await
    }
}

pub struct ArchiveFirm;
impl Procedure for ArchiveFirm {
    const NAME: &'static str = "firms.archive";
    const ACCESS: Access = Access::Signed(Capability::Administer);
    type Input = IdInput;
    type Output = Firm;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Firm, Error> {
        let actor = call.actor()?.clone();
        call.app.db.write(move |c| firms::archive(c, &actor, &input.id)).await
    }
}

pub struct OffboardFirm;
impl Procedure for OffboardFirm {
    const NAME: &'static str = "firms.offboard";
    const ACCESS: Access = Access::Signed(Capability::Administer);
    type Input = OffboardInput;
    type Output = Offboarding;

    async fn call(call: Call<'_>, input: OffboardInput) -> Result<Offboarding, Error> {
        let actor = call.actor()?.clone();
        let (id, reason) = input.parts()?;
        call.app.db.write(move |c| offboarding::offboard_firm(c, &actor, &id, &reason)).await
    }
}
