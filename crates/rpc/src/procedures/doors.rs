//! `doors.*`: the doors, gates and other openings of a development (issue 12).

use keyward_domain::validate::{self, LONG_TEXT_MAX, SHORT_TEXT_MAX};
use keyward_domain::{Capability, Door, DoorKind, Error, Page};
use keyward_persistence::repo::doors::{self, DoorFields, DoorFilter, DoorPatch};
use serde::Deserialize;
use specta::Type;

use super::people::numbered_page;
use super::{Empty, IdInput};
use crate::procedure::{Access, Call, Procedure};

#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListDoorsInput {
    #[serde(default)]
    pub development_id: Option<String>,
    #[serde(default)]
    pub kind: Option<DoorKind>,
    /// 1 or more, with page × limit at most 10,000; default 1.
    #[serde(default)]
    pub page: Option<i32>,
    /// 1 to 100; default 50.
    #[serde(default)]
    pub limit: Option<i32>,
}

pub struct ListDoors;
impl Procedure for ListDoors {
    const NAME: &'static str = "doors.list";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = ListDoorsInput;
    type Output = Page<Door>;

    async fn call(call: Call<'_>, input: ListDoorsInput) -> Result<Page<Door>, Error> {
        let org_id = call.actor()?.org_id.clone();
        let page = numbered_page(input.page, input.limit)?;
        let filter = DoorFilter { development_id: input.development_id, kind: input.kind };
        call.app.db.run(move |c| doors::list(c, &org_id, &filter, page)).await
    }
}

pub struct GetDoor;
impl Procedure for GetDoor {
    const NAME: &'static str = "doors.get";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = IdInput;
    type Output = Door;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Door, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| doors::get(c, &org_id, &input.id)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDoorInput {
    /// A development of the organisation; a door stays in it.
    pub development_id: String,
    pub name: String,
    pub kind: DoorKind,
    #[serde(default)]
    pub notes: Option<String>,
}

impl CreateDoorInput {
    /// The door to create, validated (also a CSV import's row).
    pub(crate) fn into_fields(self) -> Result<DoorFields, Error> {
        Ok(DoorFields {
            development_id: self.development_id,
            name: validate::required_line("name", &self.name, SHORT_TEXT_MAX)?,
            kind: self.kind,
            notes: validate::optional_text("notes", self.notes.as_deref(), LONG_TEXT_MAX)?,
        })
    }
}

pub struct CreateDoor;
impl Procedure for CreateDoor {
    const NAME: &'static str = "doors.create";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = CreateDoorInput;
    type Output = Door;

    async fn call(call: Call<'_>, input: CreateDoorInput) -> Result<Door, Error> {
        let actor = call.actor()?.clone();
        let fields = input.into_fields()?;
        call.app.db.write(move |c| doors::create(c, &actor, fields)).await
    }
}

/// Every field but `id` is optional: omitted leaves it as it is; `notes: null` (or empty)
/// clears it.
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateDoorInput {
    pub id: String,
    /// The `version` you read; if the door changed since, VERSION_CONFLICT and nothing changes.
    #[serde(default)]
    pub expected_version: Option<i32>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub kind: Option<DoorKind>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub notes: Option<Option<String>>,
}

impl UpdateDoorInput {
    /// The door's id, `expectedVersion` and patch, validated (also a CSV import's row).
    pub(crate) fn into_patch(self) -> Result<(String, Option<i32>, DoorPatch), Error> {
        let patch = DoorPatch {
            name: self.name.map(|n| validate::required_line("name", &n, SHORT_TEXT_MAX)).transpose()?,
            kind: self.kind,
            notes: super::keys::patch_text("notes", self.notes, LONG_TEXT_MAX)?,
        };
        Ok((self.id, self.expected_version, patch))
    }
}

pub struct UpdateDoor;
impl Procedure for UpdateDoor {
    const NAME: &'static str = "doors.update";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = UpdateDoorInput;
    type Output = Door;

    async fn call(call: Call<'_>, input: UpdateDoorInput) -> Result<Door, Error> {
        let actor = call.actor()?.clone();
        let (id, expected, patch) = input.into_patch()?;
        call.app.db.write(move |c| doors::update(c, &actor, &id, expected, patch)).await
    }
}

pub struct DeleteDoor;
impl Procedure for DeleteDoor {
    const NAME: &'static str = "doors.delete";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = IdInput;
    type Output = Empty;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Empty, Error> {
        let actor = call.actor()?.clone();
        call.app.db.write(move |c| doors::delete(c, &actor, &input.id)).await?;
        Ok(Empty {})
    }
}
