//! Changing access grants (issue 12 §3): `grants.update`, `grants.addPeople`,
//! `grants.removePeople` and `grants.end`. A grant is one row for all its holders, so an
//! edit applies to every holder at once.

use chrono::{DateTime, Utc};
use keyward_domain::grant::Grant;
use keyward_domain::validate::{self, SHORT_TEXT_MAX};
use keyward_domain::{Capability, Error};
use keyward_persistence::repo::grants::{self, GrantPatch};
use serde::Deserialize;
use specta::Type;

use super::grants::{DoorcodeInput, GrantDoorInput, doorcode_request, grant_doors, people_of};
use crate::procedure::{Access, Call, Procedure};

/// Every field but `id` is optional: omitted leaves it as it is; `endsAt: null` removes
/// the end.
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateGrantInput {
    pub id: String,
    /// The `version` you read; if the grant changed since, VERSION_CONFLICT and nothing changes.
    #[serde(default)]
    pub expected_version: Option<i32>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// After `startsAt` and in the future (`grants.end` ends a grant now); null: no end.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<DateTime<Utc>>)]
    pub ends_at: Option<Option<DateTime<Utc>>>,
    /// All the grant's doors with their schedules (1 to 100 doors of its development): a
    /// door left out is removed (its doorcodes end), a new one gets every holder a doorcode
    /// if the grant gives them.
    #[serde(default)]
    pub doors: Option<Vec<GrantDoorInput>>,
}

pub struct UpdateGrant;
impl Procedure for UpdateGrant {
    const NAME: &'static str = "grants.update";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = UpdateGrantInput;
    type Output = Grant;

    async fn call(call: Call<'_>, input: UpdateGrantInput) -> Result<Grant, Error> {
        let actor = call.actor()?.clone();
        let patch = GrantPatch {
            name: input.name.map(|name| validate::required_line("name", &name, SHORT_TEXT_MAX)).transpose()?,
            starts_at: input.starts_at.map(|at| validate::instant("startsAt", at)).transpose()?,
            ends_at: input.ends_at.map(|at| at.map(|at| validate::instant("endsAt", at)).transpose()).transpose()?,
            doors: input.doors.as_deref().map(grant_doors).transpose()?,
        };
        let sealer = call.app.sealer.clone();
        let (id, expected) = (input.id, input.expected_version);
        call.app.db.write(move |c| grants::update(c, &sealer, &actor, &id, expected, patch)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddGrantPeopleInput {
    pub id: String,
    /// 1 to 500 people of the organisation, not archived; those who hold the grant already
    /// are left as they are.
    pub person_ids: Vec<String>,
    /// How these people's doorcodes are chosen (a grant that gives doorcodes only);
    /// absent: the grant's policy, drawing random codes.
    #[serde(default)]
    pub doorcode: Option<DoorcodeInput>,
}

pub struct AddGrantPeople;
impl Procedure for AddGrantPeople {
    const NAME: &'static str = "grants.addPeople";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = AddGrantPeopleInput;
    type Output = Grant;

    async fn call(call: Call<'_>, input: AddGrantPeopleInput) -> Result<Grant, Error> {
        let actor = call.actor()?.clone();
        let person_ids = some_people(input.person_ids)?;
        let doorcode = doorcode_request(input.doorcode, person_ids.len())?;
        let sealer = call.app.sealer.clone();
        call.app.db.write(move |c| grants::add_people(c, &sealer, &actor, &input.id, &person_ids, doorcode)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveGrantPeopleInput {
    pub id: String,
    /// 1 to 500 people; those who do not hold the grant are passed over.
    pub person_ids: Vec<String>,
}

pub struct RemoveGrantPeople;
impl Procedure for RemoveGrantPeople {
    const NAME: &'static str = "grants.removePeople";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = RemoveGrantPeopleInput;
    type Output = Grant;

    async fn call(call: Call<'_>, input: RemoveGrantPeopleInput) -> Result<Grant, Error> {
        let actor = call.actor()?.clone();
        let person_ids = some_people(input.person_ids)?;
        call.app.db.write(move |c| grants::remove_people(c, &actor, &input.id, &person_ids)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndGrantInput {
    pub id: String,
    /// When access ends: not in the future; default now. Before `startsAt`: the grant
    /// never gave access.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

pub struct EndGrant;
impl Procedure for EndGrant {
    const NAME: &'static str = "grants.end";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = EndGrantInput;
    type Output = Grant;

    async fn call(call: Call<'_>, input: EndGrantInput) -> Result<Grant, Error> {
        let actor = call.actor()?.clone();
        let at = input.at.map(|at| validate::instant("at", at)).transpose()?;
        call.app.db.write(move |c| grants::end(c, &actor, &input.id, at)).await
    }
}

/// `personIds` of `addPeople` / `removePeople`: 1 to 500, deduplicated.
fn some_people(person_ids: Vec<String>) -> Result<Vec<String>, Error> {
    if person_ids.is_empty() {
        return Err(Error::invalid("personIds", "must name at least one person"));
    }
    people_of("personIds", person_ids)
}
