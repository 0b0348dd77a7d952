//! `keys.*` of the key register: listing, refs, edits and the status transitions.

use chrono::{DateTime, Utc};
use keyward_domain::entities::{KeyType, SecurityLevel};
use keyward_domain::key_ref::normalise_key_ref;
use keyward_domain::validate::{self, LONG_TEXT_MAX, SHORT_TEXT_MAX};
use keyward_domain::{
    AcknowledgeBy, Capability, Error, Key, KeyHolderAt, KeyMovement, KeyStatus, Page, PageRequest, Transition,
};
use keyward_persistence::repo::keys::{self, KeyFields, KeyFilter, KeyPatch, NewKey, PageStart, TransitionDetails};
use keyward_sms::phone;
use serde::{Deserialize, Serialize};
use specta::Type;

use super::{AtInput, Empty, IdInput, Items};
use crate::procedure::{Access, Call, Procedure};

const PHONE_MAX: usize = 40;
const CODE_MAX: usize = 100;

#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListKeysInput {
    /// Case-insensitive substring of keyRef, label or issuedTo (`%` and `_` are literal);
    /// one or two characters match the start of keyRef only.
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub development_id: Option<String>,
    #[serde(default)]
    pub status: Option<KeyStatus>,
    #[serde(default)]
    pub key_type: Option<KeyType>,
    #[serde(default)]
    pub security_level: Option<SecurityLevel>,
    /// `true`: only issued keys past their expected return; `false`: only the others.
    #[serde(default)]
    pub overdue: Option<bool>,
    /// Keys whose holder (`holderId`) is this person.
    #[serde(default)]
    pub holder_id: Option<String>,
    /// Keys whose holder works for this firm.
    #[serde(default)]
    pub firm_id: Option<String>,
    /// Keys that open this door (`keys.setDoors`).
    #[serde(default)]
    pub door_id: Option<String>,
    /// `true`: keys whose handover (`acknowledge`) is not acknowledged (`awaiting` or
    /// `locked`); `false`: the others.
    #[serde(default)]
    pub unacknowledged: Option<bool>,
    /// 1 or more, with page × limit at most 10,000; default 1. Not with `cursor`.
    #[serde(default)]
    pub page: Option<i32>,
    /// 1 to 100; default 50.
    #[serde(default)]
    pub limit: Option<i32>,
    /// A previous answer's `nextCursor`: the page after that one.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// How deep page numbers go (page × limit); past it a cursor walks on.
pub(super) const PAGE_NUMBER_DEPTH: i64 = 10_000;

pub struct ListKeys;
impl Procedure for ListKeys {
    const NAME: &'static str = "keys.listKeys";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = ListKeysInput;
    type Output = Page<Key>;

    async fn call(call: Call<'_>, input: ListKeysInput) -> Result<Page<Key>, Error> {
        let org_id = call.actor()?.org_id.clone();
        let page = PageRequest::new(input.page, input.limit)?;
        let start = match input.cursor {
            Some(_) if input.page.is_some() => return Err(Error::invalid("cursor", "cannot be combined with page")),
            Some(cursor) => PageStart::After { key_ref: keys::decode_cursor(&cursor)?, limit: page.limit },
            None if i64::from(page.page) * i64::from(page.limit) > PAGE_NUMBER_DEPTH => {
                return Err(Error::invalid(
                    "page",
                    format!("page × limit must be at most {PAGE_NUMBER_DEPTH}; go further with cursor (nextCursor)"),
                ));
            }
            None => PageStart::Number(page),
        };
        let filter = KeyFilter {
            search: validate::optional_line("search", input.search.as_deref(), SHORT_TEXT_MAX)?,
            development_id: input.development_id,
            status: input.status,
            key_type: input.key_type,
            security_level: input.security_level,
            overdue: input.overdue,
            holder_id: input.holder_id,
            firm_id: input.firm_id,
            door_id: input.door_id,
            unacknowledged: input.unacknowledged,
        };
        call.app.db.run(move |c| keys::list(c, &org_id, &filter, start)).await
    }
}

pub struct GetKey;
impl Procedure for GetKey {
    const NAME: &'static str = "keys.getKey";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = IdInput;
    type Output = Key;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Key, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| keys::get(c, &org_id, &input.id)).await
    }
}

pub struct KeyHistory;
impl Procedure for KeyHistory {
    const NAME: &'static str = "keys.keyHistory";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = IdInput;
    type Output = Items<KeyMovement>;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Items<KeyMovement>, Error> {
        let org_id = call.actor()?.org_id.clone();
        let items = call.app.db.run(move |c| keys::history(c, &org_id, &input.id)).await?;
        Ok(Items { items })
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuggestKeyRefInput {
    pub development_id: String,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyRefSuggestion {
    /// `PREFIX-NNN`, the lowest number not yet used with the development's prefix.
    pub key_ref: String,
}

pub struct SuggestKeyRef;
impl Procedure for SuggestKeyRef {
    const NAME: &'static str = "keys.suggestKeyRef";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = SuggestKeyRefInput;
    type Output = KeyRefSuggestion;

    async fn call(call: Call<'_>, input: SuggestKeyRefInput) -> Result<KeyRefSuggestion, Error> {
        let org_id = call.actor()?.org_id.clone();
        let key_ref = call.app.db.run(move |c| keys::suggest_ref(c, &org_id, &input.development_id)).await?;
        Ok(KeyRefSuggestion { key_ref })
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKeyInput {
    pub development_id: String,
    pub key_type: KeyType,
    pub label: String,
    /// Omit to be given the development's next free ref, atomically.
    #[serde(default)]
    pub key_ref: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    /// Default `standard`.
    #[serde(default)]
    pub security_level: Option<SecurityLevel>,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub key_number: Option<String>,
    /// 1 to 10000; default 1.
    #[serde(default)]
    pub quantity: Option<i32>,
    #[serde(default)]
    pub access_restrictions: Option<String>,
    #[serde(default)]
    pub emergency_contact: Option<String>,
}

impl CreateKeyInput {
    /// The key to create, validated (also a CSV import's row).
    pub(crate) fn into_new(self) -> Result<NewKey, Error> {
        Ok(NewKey {
            development_id: self.development_id,
            key_ref: self.key_ref.as_deref().map(normalise_key_ref).transpose()?,
            fields: KeyFields {
                key_type: self.key_type,
                label: validate::required_line("label", &self.label, SHORT_TEXT_MAX)?,
                notes: validate::optional_text("notes", self.notes.as_deref(), LONG_TEXT_MAX)?,
                security_level: self.security_level.unwrap_or_default(),
                brand: validate::optional_line("brand", self.brand.as_deref(), CODE_MAX)?,
                key_number: validate::optional_line("keyNumber", self.key_number.as_deref(), CODE_MAX)?,
                quantity: validate::quantity("quantity", self.quantity.unwrap_or(1))?,
                access_restrictions: validate::optional_text(
                    "accessRestrictions",
                    self.access_restrictions.as_deref(),
                    LONG_TEXT_MAX,
                )?,
                emergency_contact: validate::optional_line(
                    "emergencyContact",
                    self.emergency_contact.as_deref(),
                    SHORT_TEXT_MAX,
                )?,
            },
        })
    }
}

pub struct CreateKey;
impl Procedure for CreateKey {
    const NAME: &'static str = "keys.createKey";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = CreateKeyInput;
    type Output = Key;

    async fn call(call: Call<'_>, input: CreateKeyInput) -> Result<Key, Error> {
        let actor = call.actor()?.clone();
        let new = input.into_new()?;
        call.app.db.write(move |c| keys::create(c, &actor, new)).await
    }
}

/// Every field but `id` is optional: omitted leaves it as it is; for the optional text
/// fields `null` (or an empty string) clears it.
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateKeyInput {
    pub id: String,
    /// The `version` you read; if the key changed since, VERSION_CONFLICT and nothing changes.
    #[serde(default)]
    pub expected_version: Option<i32>,
    #[serde(default)]
    pub development_id: Option<String>,
    #[serde(default)]
    pub key_type: Option<KeyType>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub key_ref: Option<String>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub notes: Option<Option<String>>,
    #[serde(default)]
    pub security_level: Option<SecurityLevel>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub brand: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub key_number: Option<Option<String>>,
    #[serde(default)]
    pub quantity: Option<i32>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub access_restrictions: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub emergency_contact: Option<Option<String>>,
}

/// An optional text field of an update: absent → unchanged, null or empty → cleared.
fn patch_line(field: &str, value: Option<Option<String>>, max: usize) -> Result<Option<Option<String>>, Error> {
    value.map(|v| validate::optional_line(field, v.as_deref(), max)).transpose()
}

pub(super) fn patch_text(
    field: &str,
    value: Option<Option<String>>,
    max: usize,
) -> Result<Option<Option<String>>, Error> {
    value.map(|v| validate::optional_text(field, v.as_deref(), max)).transpose()
}

impl UpdateKeyInput {
    /// The key's id, `expectedVersion` and patch, validated (also a CSV import's row).
    pub(crate) fn into_patch(self) -> Result<(String, Option<i32>, KeyPatch), Error> {
        let patch = KeyPatch {
            development_id: self.development_id,
            key_ref: self.key_ref.as_deref().map(normalise_key_ref).transpose()?,
            key_type: self.key_type,
            label: self.label.map(|l| validate::required_line("label", &l, SHORT_TEXT_MAX)).transpose()?,
            notes: patch_text("notes", self.notes, LONG_TEXT_MAX)?,
            security_level: self.security_level,
            brand: patch_line("brand", self.brand, CODE_MAX)?,
            key_number: patch_line("keyNumber", self.key_number, CODE_MAX)?,
            quantity: self.quantity.map(|q| validate::quantity("quantity", q)).transpose()?,
            access_restrictions: patch_text("accessRestrictions", self.access_restrictions, LONG_TEXT_MAX)?,
            emergency_contact: patch_line("emergencyContact", self.emergency_contact, SHORT_TEXT_MAX)?,
        };
        Ok((self.id, self.expected_version, patch))
    }
}

pub struct UpdateKey;
impl Procedure for UpdateKey {
    const NAME: &'static str = "keys.updateKey";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = UpdateKeyInput;
    type Output = Key;

    async fn call(call: Call<'_>, input: UpdateKeyInput) -> Result<Key, Error> {
        let actor = call.actor()?.clone();
        let (id, expected, patch) = input.into_patch()?;
        call.app.db.write(move |c| keys::update(c, &actor, &id, expected, patch)).await
    }
}

pub struct DeleteKey;
impl Procedure for DeleteKey {
    const NAME: &'static str = "keys.deleteKey";
    const ACCESS: Access = Access::Signed(Capability::Administer);
    type Input = IdInput;
    type Output = Empty;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Empty, Error> {
        let actor = call.actor()?.clone();
        call.app.db.write(move |c| keys::delete(c, &actor, &input.id)).await?;
        Ok(Empty {})
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueKeyInput {
    pub id: String,
    /// A person of the directory who receives the key (not archived: PERSON_ARCHIVED).
    /// `issuedTo` and `issuedToPhone` default from the person. At least one of
    /// `holderId` and `issuedTo` is required.
    #[serde(default)]
    pub holder_id: Option<String>,
    /// Who receives the key: a name for a walk-in, or how the holder is written on the
    /// key (with `holderId`, defaults to the person's name).
    #[serde(default)]
    pub issued_to: Option<String>,
    /// Kept as written (up to 40 characters), but only digits, spaces and `+ - ( ) .`:
    /// a letter is a typo, INVALID_INPUT. With `holderId`, defaults to the person's phone.
    #[serde(default)]
    pub issued_to_phone: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
    #[serde(default)]
    pub expected_return_at: Option<DateTime<Utc>>,
    /// Recorded in the key's history.
    #[serde(default)]
    pub notes: Option<String>,
    /// `"sms_code"`: text the holder (at `issuedToPhone`, or the person's phone) a 6-digit
    /// code to confirm with `keys.confirmHandover` within 15 minutes.
    #[serde(default)]
    pub acknowledge: Option<AcknowledgeBy>,
}

pub struct IssueKey;
impl Procedure for IssueKey {
    const NAME: &'static str = "keys.issueKey";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = IssueKeyInput;
    type Output = Key;

    async fn call(call: Call<'_>, input: IssueKeyInput) -> Result<Key, Error> {
        let actor = call.actor()?.clone();
        let details = issue_details(
            IssueTo {
                holder_id: input.holder_id,
                issued_to: input.issued_to,
                issued_to_phone: input.issued_to_phone,
                purpose: input.purpose,
                expected_return_at: input.expected_return_at,
                notes: input.notes,
            },
            call.app.sms.default_region,
        )?;
        let id = input.id;
        match input.acknowledge {
            Some(AcknowledgeBy::SmsCode) => super::handover::issue_acknowledged(call, id, details).await,
            None => call.app.db.write(move |c| keys::issue(c, &actor, &id, details)).await,
        }
    }
}

/// Who a key (or a key set) is issued to, as the caller wrote it.
pub(super) struct IssueTo {
    pub holder_id: Option<String>,
    pub issued_to: Option<String>,
    pub issued_to_phone: Option<String>,
    pub purpose: Option<String>,
    pub expected_return_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
}

/// The checked details of an issue: `holderId` or `issuedTo` required, the phone's
/// characters, the texts' lengths.
pub(super) fn issue_details(input: IssueTo, region: phone::Region) -> Result<TransitionDetails, Error> {
    let holder_id = input.holder_id.filter(|id| !id.is_empty());
    let issued_to = match (&holder_id, input.issued_to) {
        (None, None) => return Err(Error::invalid("issuedTo", "is required without holderId")),
        (None, Some(to)) => Some(validate::required_line("issuedTo", &to, SHORT_TEXT_MAX)?),
        (Some(_), to) => validate::optional_line("issuedTo", to.as_deref(), SHORT_TEXT_MAX)?,
    };
    let issued_to_phone = optional_phone("issuedToPhone", input.issued_to_phone.as_deref())?;
    Ok(TransitionDetails {
        holder_id,
        issued_to,
        // A number libphonenumber cannot read is kept as written, but no text finds it.
        holder_phone: issued_to_phone.as_deref().and_then(|p| phone::normalise(p, region).ok()),
        issued_to_phone,
        purpose: validate::optional_line("purpose", input.purpose.as_deref(), SHORT_TEXT_MAX)?,
        expected_return_at: input.expected_return_at.map(|at| validate::instant("expectedReturnAt", at)).transpose()?,
        notes: validate::optional_text("notes", input.notes.as_deref(), LONG_TEXT_MAX)?,
    })
}

pub struct HolderAt;
impl Procedure for HolderAt {
    const NAME: &'static str = "keys.holderAt";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = AtInput;
    type Output = KeyHolderAt;

    async fn call(call: Call<'_>, input: AtInput) -> Result<KeyHolderAt, Error> {
        let org_id = call.actor()?.org_id.clone();
        let at = validate::instant("at", input.at)?;
        call.app.db.run(move |c| keys::holder_at(c, &org_id, &input.id, at)).await
    }
}

/// A phone number kept as the caller wrote it: one line, at most [`PHONE_MAX`]
/// characters, and only the characters a number is written with (no letters).
fn optional_phone(field: &str, value: Option<&str>) -> Result<Option<String>, Error> {
    let value = validate::optional_line(field, value, PHONE_MAX)?;
    if let Some(number) = &value {
        phone::check_characters(number).map_err(|e| Error::invalid(field, e.to_string()))?;
    }
    Ok(value)
}

/// Params of the status changes other than issuing.
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyTransitionInput {
    pub id: String,
    /// Recorded in the key's history.
    #[serde(default)]
    pub notes: Option<String>,
}

/// The details of a status change other than issuing: its checked `notes`.
pub(super) fn transition_details(notes: Option<&str>) -> Result<TransitionDetails, Error> {
    Ok(TransitionDetails {
        notes: validate::optional_text("notes", notes, LONG_TEXT_MAX)?,
        ..TransitionDetails::default()
    })
}

async fn change_status(call: Call<'_>, input: KeyTransitionInput, transition: Transition) -> Result<Key, Error> {
    let actor = call.actor()?.clone();
    let details = transition_details(input.notes.as_deref())?;
    let id = input.id;
    call.app.db.write(move |c| keys::transition(c, &actor, &id, transition, details)).await
}

/// Declares a status-change procedure that takes `{id, notes?}`.
macro_rules! status_change {
    ($name:ident, $method:literal, $transition:expr, $capability:expr) => {
        pub struct $name;
        impl Procedure for $name {
            const NAME: &'static str = $method;
            const ACCESS: Access = Access::Signed($capability);
            type Input = KeyTransitionInput;
            type Output = Key;

            async fn call(call: Call<'_>, input: KeyTransitionInput) -> Result<Key, Error> {
                change_status(call, input, $transition).await
            }
        }
    };
}

status_change!(ReturnKey, "keys.returnKey", Transition::Return, Capability::Edit);
status_change!(ReturnToStock, "keys.returnToStock", Transition::ReturnToStock, Capability::Edit);
status_change!(MarkFound, "keys.markFound", Transition::MarkFound, Capability::Edit);
status_change!(MarkDamaged, "keys.markDamaged", Transition::MarkDamaged, Capability::Edit);
status_change!(DeactivateKey, "keys.deactivateKey", Transition::Deactivate, Capability::Administer);
status_change!(ReactivateKey, "keys.reactivateKey", Transition::Reactivate, Capability::Administer);
