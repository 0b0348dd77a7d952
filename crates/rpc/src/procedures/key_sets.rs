//! `keySets.*` (issue 13 §5): named sets of keys of one development (rings, bunches),
//! issued and returned as one transaction through the key register's own transitions.

use chrono::{DateTime, Utc};
use keyward_domain::key_sets::MEMBERS_MAX;
use keyward_domain::validate::{self, LONG_TEXT_MAX, SHORT_TEXT_MAX};
use keyward_domain::{Capability, Error, KeySet, KeySetState, Page};
use keyward_persistence::repo::key_sets::{self, KeySetFilter, KeySetPatch, NewKeySet};
use serde::Deserialize;
use specta::Type;

use super::keys::{IssueTo, issue_details};
use super::people::numbered_page;
use super::{Empty, IdInput, distinct_ids};
use crate::procedure::{Access, Call, Procedure};

#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListKeySetsInput {
    #[serde(default)]
    pub development_id: Option<String>,
    #[serde(default)]
    pub state: Option<KeySetState>,
    /// 1 or more, with page × limit at most 10,000; default 1.
    #[serde(default)]
    pub page: Option<i32>,
    /// 1 to 100; default 50.
    #[serde(default)]
    pub limit: Option<i32>,
}

pub struct ListKeySets;
impl Procedure for ListKeySets {
    const NAME: &'static str = "keySets.list";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = ListKeySetsInput;
    type Output = Page<KeySet>;

    async fn call(call: Call<'_>, input: ListKeySetsInput) -> Result<Page<KeySet>, Error> {
        let org_id = call.actor()?.org_id.clone();
        let page = numbered_page(input.page, input.limit)?;
        let filter = KeySetFilter { development_id: input.development_id, state: input.state };
        call.app.db.run(move |c| key_sets::list(c, &org_id, &filter, page)).await
    }
}

pub struct GetKeySet;
impl Procedure for GetKeySet {
    const NAME: &'static str = "keySets.get";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = IdInput;
    type Output = KeySet;

    async fn call(call: Call<'_>, input: IdInput) -> Result<KeySet, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| key_sets::get(c, &org_id, &input.id)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKeySetInput {
    pub development_id: String,
    pub name: String,
    /// 1 to 100 keys of the development, in stock, in no other set.
    pub key_ids: Vec<String>,
}

/// The members asked for: deduplicated, 1 to [`MEMBERS_MAX`].
fn member_ids(key_ids: Vec<String>) -> Result<Vec<String>, Error> {
    let ids = distinct_ids("keyIds", key_ids, MEMBERS_MAX)?;
    if ids.is_empty() {
        return Err(Error::invalid("keyIds", "a set has at least one key"));
    }
    Ok(ids)
}

pub struct CreateKeySet;
impl Procedure for CreateKeySet {
    const NAME: &'static str = "keySets.create";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = CreateKeySetInput;
    type Output = KeySet;

    async fn call(call: Call<'_>, input: CreateKeySetInput) -> Result<KeySet, Error> {
        let actor = call.actor()?.clone();
        let new = NewKeySet {
            development_id: input.development_id,
            name: validate::required_line("name", &input.name, SHORT_TEXT_MAX)?,
            key_ids: member_ids(input.key_ids)?,
        };
        call.app.db.write(move |c| key_sets::create(c, &actor, new)).await
    }
}

/// Every field but `id` is optional: omitted leaves it as it is.
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateKeySetInput {
    pub id: String,
    /// The `version` you read; if the set changed since, VERSION_CONFLICT and nothing changes.
    #[serde(default)]
    pub expected_version: Option<i32>,
    #[serde(default)]
    pub name: Option<String>,
    /// The members, replacing the old ones (only while every member is in stock).
    #[serde(default)]
    pub key_ids: Option<Vec<String>>,
}

pub struct UpdateKeySet;
impl Procedure for UpdateKeySet {
    const NAME: &'static str = "keySets.update";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = UpdateKeySetInput;
    type Output = KeySet;

    async fn call(call: Call<'_>, input: UpdateKeySetInput) -> Result<KeySet, Error> {
        let actor = call.actor()?.clone();
        let patch = KeySetPatch {
            name: input.name.map(|n| validate::required_line("name", &n, SHORT_TEXT_MAX)).transpose()?,
            key_ids: input.key_ids.map(member_ids).transpose()?,
        };
        let (id, expected) = (input.id, input.expected_version);
        call.app.db.write(move |c| key_sets::update(c, &actor, &id, expected, patch)).await
    }
}

pub struct DeleteKeySet;
impl Procedure for DeleteKeySet {
    const NAME: &'static str = "keySets.delete";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = IdInput;
    type Output = Empty;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Empty, Error> {
        let actor = call.actor()?.clone();
        call.app.db.write(move |c| key_sets::delete(c, &actor, &input.id)).await?;
        Ok(Empty {})
    }
}

/// Who receives the set: as `keys.issueKey` (every member is issued with these details).
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueKeySetInput {
    pub id: String,
    #[serde(default)]
    pub holder_id: Option<String>,
    #[serde(default)]
    pub issued_to: Option<String>,
    #[serde(default)]
    pub issued_to_phone: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
    #[serde(default)]
    pub expected_return_at: Option<DateTime<Utc>>,
    /// Recorded in each member's history, after the set's name.
    #[serde(default)]
    pub notes: Option<String>,
}

pub struct IssueKeySet;
impl Procedure for IssueKeySet {
    const NAME: &'static str = "keySets.issue";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = IssueKeySetInput;
    type Output = KeySet;

    async fn call(call: Call<'_>, input: IssueKeySetInput) -> Result<KeySet, Error> {
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
        call.app.db.write(move |c| key_sets::issue(c, &actor, &id, details)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReturnKeySetInput {
    pub id: String,
    /// The members handed back; omitted: every member still out. Members still out
    /// after the return are flagged `missing` and the set is `incomplete`.
    #[serde(default)]
    pub key_ids: Option<Vec<String>>,
    /// Recorded in each returned member's history, after the set's name.
    #[serde(default)]
    pub notes: Option<String>,
}

pub struct ReturnKeySet;
impl Procedure for ReturnKeySet {
    const NAME: &'static str = "keySets.return";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = ReturnKeySetInput;
    type Output = KeySet;

    async fn call(call: Call<'_>, input: ReturnKeySetInput) -> Result<KeySet, Error> {
        let actor = call.actor()?.clone();
        let key_ids = input.key_ids.map(member_ids).transpose()?;
        let notes = validate::optional_text("notes", input.notes.as_deref(), LONG_TEXT_MAX)?;
        let id = input.id;
        call.app.db.write(move |c| key_sets::return_members(c, &actor, &id, key_ids, notes)).await
    }
}
