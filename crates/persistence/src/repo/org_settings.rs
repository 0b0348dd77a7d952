//! The organisation's settings that every signed-in user may read (`settings.get`);
//! the owner changes them (`settings.update`).

use diesel::prelude::*;
use keyward_domain::doorcode::DoorcodeLength;
use keyward_domain::{Actor, Error, FieldChange, OrganisationSettings};

use super::audit::{self, NewEvent};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::organisations;

/// Changes to the settings; `None` leaves one as it is.
#[derive(Debug, Default, Clone, Copy)]
pub struct SettingsPatch {
    pub mask_codes_in_lists: Option<bool>,
    pub doorcode_length: Option<DoorcodeLength>,
}

pub fn view(conn: &mut AnyConnection, org_id: &str) -> StoreResult<OrganisationSettings> {
    Ok(OrganisationSettings {
        mask_codes_in_lists: super::access_codes::masked(conn, org_id)?,
        doorcode_length: doorcode_length(conn, org_id)?,
    })
}

/// The organisation's doorcode length, which `random` allocations use.
pub fn doorcode_length(conn: &mut AnyConnection, org_id: &str) -> StoreResult<DoorcodeLength> {
    let digits: Option<i32> =
        organisations::table.find(org_id).select(organisations::doorcode_length).first(conn).optional()?;
    match digits {
        None => Ok(DoorcodeLength::default()),
        Some(digits) => Ok(DoorcodeLength::new("doorcodeLength", digits)
            .map_err(|_| Error::Internal(format!("doorcode length {digits} in the database")))?),
    }
}

/// Applies the changes; one audit event when something changes.
pub fn update(conn: &mut AnyConnection, actor: &Actor, patch: SettingsPatch) -> StoreResult<OrganisationSettings> {
    super::lock_organisation(conn, &actor.org_id)?;
    let old = view(conn, &actor.org_id)?;
    let new = OrganisationSettings {
        mask_codes_in_lists: patch.mask_codes_in_lists.unwrap_or(old.mask_codes_in_lists),
        doorcode_length: patch.doorcode_length.unwrap_or(old.doorcode_length),
    };
    let mut changes = Vec::new();
    if old.mask_codes_in_lists != new.mask_codes_in_lists {
        changes.push(FieldChange::new(
            "maskCodesInLists",
            Some(old.mask_codes_in_lists),
            Some(new.mask_codes_in_lists),
        ));
    }
    if old.doorcode_length != new.doorcode_length {
        changes.push(FieldChange::new(
            "doorcodeLength",
            Some(old.doorcode_length.digits()),
            Some(new.doorcode_length.digits()),
        ));
    }
    if changes.is_empty() {
        return Ok(old);
    }
    diesel::update(organisations::table.find(&actor.org_id))
        .set((
            organisations::mask_codes_in_lists.eq(new.mask_codes_in_lists),
            organisations::doorcode_length.eq(i32::from(new.doorcode_length.digits())),
        ))
        .execute(conn)?;
    let summary = match (patch.mask_codes_in_lists, changes.len()) {
        (Some(mask), 1) if old.mask_codes_in_lists != mask => {
            format!("Code values {} in lists", if mask { "masked" } else { "shown" })
        }
        _ => "Settings updated".to_owned(),
    };
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "organisation.settingsUpdated",
            entity_type: "organisation",
            entity_id: &actor.org_id,
            summary,
            changes,
        },
    )?;
    Ok(new)
}
