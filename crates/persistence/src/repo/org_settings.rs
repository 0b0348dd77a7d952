//! The organisation's settings that every signed-in user may read (`settings.get`);
//! the owner changes them (`settings.update`).

use diesel::prelude::*;
use keyward_domain::{Actor, FieldChange, OrganisationSettings};

use super::audit::{self, NewEvent};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::organisations;

pub fn view(conn: &mut AnyConnection, org_id: &str) -> StoreResult<OrganisationSettings> {
    Ok(OrganisationSettings { mask_codes_in_lists: super::access_codes::masked(conn, org_id)? })
}

/// Changes `maskCodesInLists`; an audit event when it changes.
pub fn set_mask_codes_in_lists(
    conn: &mut AnyConnection,
    actor: &Actor,
    mask: bool,
) -> StoreResult<OrganisationSettings> {
    super::lock_organisation(conn, &actor.org_id)?;
    let old = view(conn, &actor.org_id)?;
    if old.mask_codes_in_lists == mask {
        return Ok(old);
    }
    diesel::update(organisations::table.find(&actor.org_id))
        .set(organisations::mask_codes_in_lists.eq(mask))
        .execute(conn)?;
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "organisation.settingsUpdated",
            entity_type: "organisation",
            entity_id: &actor.org_id,
            summary: format!("Code values {} in lists", if mask { "masked" } else { "shown" }),
            changes: vec![FieldChange::new(
                "maskCodesInLists",
                Some(&old.mask_codes_in_lists.to_string()),
                Some(&mask.to_string()),
            )],
        },
    )?;
    view(conn, &actor.org_id)
}
