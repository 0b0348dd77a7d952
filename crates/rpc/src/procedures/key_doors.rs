//! What a key opens (issue 12): `keys.setDoors`.

use keyward_domain::{Capability, Error, Key};
use keyward_persistence::repo::keys;
use serde::Deserialize;
use specta::Type;

use crate::procedure::{Access, Call, Procedure};

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetDoorsInput {
    pub id: String,
    /// The `version` you read; if the key changed since, VERSION_CONFLICT.
    #[serde(default)]
    pub expected_version: Option<i32>,
    /// Every door the key opens, doors of its development (at most 500, duplicates
    /// dropped); replaces the set, `[]` opens none.
    pub door_ids: Vec<String>,
}

pub struct SetDoors;
impl Procedure for SetDoors {
    const NAME: &'static str = "keys.setDoors";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = SetDoorsInput;
    type Output = Key;

    async fn call(call: Call<'_>, input: SetDoorsInput) -> Result<Key, Error> {
        let actor = call.actor()?.clone();
        let door_ids = super::distinct_ids("doorIds", input.door_ids, super::DOOR_IDS_MAX)?;
        let (id, expected) = (input.id, input.expected_version);
        call.app.db.write(move |c| keys::set_doors(c, &actor, &id, expected, door_ids)).await
    }
}
