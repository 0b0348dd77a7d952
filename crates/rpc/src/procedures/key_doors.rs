//! What a key opens (issue 12): `keys.setDoors`; and what losing it exposes (§5):
//! `keys.blastRadius` and `keys.markLost`.

use keyward_domain::{BlastRadius as Radius, Capability, Error, Key};
use keyward_persistence::repo::keys;
use serde::{Deserialize, Serialize};
use specta::Type;

use super::IdInput;
use super::keys::{KeyTransitionInput, transition_details};
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

/// The doors the key opens, what else is at them, and what to do: owner, manager and
/// team, since it names the people who hold grants there (decision 124).
pub struct BlastRadius;
impl Procedure for BlastRadius {
    const NAME: &'static str = "keys.blastRadius";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    const READ_ONLY: bool = true;
    type Input = IdInput;
    type Output = Radius;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Radius, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| keys::blast_radius(c, &org_id, &input.id)).await
    }
}

/// `keys.markLost`'s answer: the key as the other status changes answer it, and its
/// blast radius after the change (its codes now `rotationDue`).
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LostKey {
    #[serde(flatten)]
    pub key: Key,
    pub blast_radius: Radius,
}

/// Marks the key lost and, in the same transaction, every code linked to it or at a door
/// it opens due for rotation (`key_lost`, decision 122).
pub struct MarkLost;
impl Procedure for MarkLost {
    const NAME: &'static str = "keys.markLost";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = KeyTransitionInput;
    type Output = LostKey;

    async fn call(call: Call<'_>, input: KeyTransitionInput) -> Result<LostKey, Error> {
        let actor = call.actor()?.clone();
        let details = transition_details(input.notes.as_deref())?;
        let id = input.id;
        call.app
            .db
            .write(move |c| {
                let (key, blast_radius) = keys::mark_lost(c, &actor, &id, details)?;
                Ok(LostKey { key, blast_radius })
            })
            .await
    }
}
