//! Who holds a grant: adding people (with their doorcodes), removing them (their
//! doorcodes end), and ending the grant for everyone. Each change bumps the grant's
//! `version` and records one audit event; a call that changes nothing records none.

use diesel::prelude::*;
use keyward_domain::doorcode::{AllocationPolicy, DoorcodeRequest};
use keyward_domain::grant::{CredentialEndReason, CredentialStatus, Grant};
use keyward_domain::{Actor, FieldChange};

use super::write::{add_person, check_people};
use super::{GrantRow, assemble, find};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::repo::audit::{self, NewEvent};
use crate::schema::{doorcodes, grant_doors, grant_people, grants};
use crate::secrets::Sealer;
use crate::time;

/// Adds people to a grant (those who hold it already are left as they are). When the
/// grant gives doorcodes, each new person gets one, chosen by `doorcode` (default
/// `random`).
pub fn add_people(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    actor: &Actor,
    id: &str,
    person_ids: Vec<String>,
    doorcode: Option<DoorcodeRequest>,
) -> StoreResult<Grant> {
    let org_id = actor.org_id.as_str();
    crate::repo::lock_organisation(conn, org_id)?;
    let row = find(conn, org_id, id)?;
    check_people(conn, org_id, &person_ids)?;
    let holders = holders(conn, id)?;
    let added: Vec<String> = person_ids.into_iter().filter(|p| !holders.contains(p)).collect();
    if added.is_empty() {
        return assemble(conn, row);
    }
    let door_ids = door_ids(conn, id)?;
    let door_ids: Vec<&str> = door_ids.iter().map(String::as_str).collect();
    let request = row
        .doorcode_policy
        .is_some()
        .then(|| doorcode.unwrap_or(DoorcodeRequest { policy: AllocationPolicy::Random, code: None }));
    let now = time::now();
    for person_id in &added {
        add_person(conn, sealer, (org_id, id), person_id, &door_ids, request.as_ref(), now)?;
    }
    let changes = vec![FieldChange::new("personIds", None::<&str>, Some(added.join(",")))];
    changed(conn, actor, row, "peopleAdded", changes)
}

/// Removes people from a grant; their doorcodes under it end (`person_removed`). People
/// who do not hold it are left out.
pub fn remove_people(conn: &mut AnyConnection, actor: &Actor, id: &str, person_ids: Vec<String>) -> StoreResult<Grant> {
    let org_id = actor.org_id.as_str();
    crate::repo::lock_organisation(conn, org_id)?;
    let row = find(conn, org_id, id)?;
    let holders = holders(conn, id)?;
    let removed: Vec<String> = person_ids.into_iter().filter(|p| holders.contains(p)).collect();
    if removed.is_empty() {
        return assemble(conn, row);
    }
    diesel::delete(grant_people::table.filter(grant_people::grant_id.eq(id)).filter(grant_people::person_id.eq_any(&removed)))
        .execute(conn)?;
    end_doorcodes(conn, id, Some(&removed), CredentialEndReason::PersonRemoved)?;
    let changes = vec![FieldChange::new("personIds", Some(removed.join(",")), None::<&str>)];
    changed(conn, actor, row, "peopleRemoved", changes)
}

/// Ends a grant now: `endsAt` becomes now (unless it ended already) and every doorcode
/// under it ends (`grant_ended`). Ending an ended grant changes nothing.
pub fn end(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<Grant> {
    let org_id = actor.org_id.as_str();
    crate::repo::lock_organisation(conn, org_id)?;
    let mut row = find(conn, org_id, id)?;
    let now = time::now();
    if row.ends_at.is_some_and(|ends_at| ends_at <= now) {
        return assemble(conn, row);
    }
    let old = row.ends_at.map(|at| time::from_db(at).to_rfc3339());
    row.ends_at = Some(now.max(row.starts_at));
    end_doorcodes(conn, id, None, CredentialEndReason::GrantEnded)?;
    let new = row.ends_at.map(|at| time::from_db(at).to_rfc3339());
    let changes = vec![FieldChange::new("endsAt", old, new)];
    changed(conn, actor, row, "ended", changes)
}

fn holders(conn: &mut AnyConnection, grant_id: &str) -> StoreResult<Vec<String>> {
    Ok(grant_people::table.filter(grant_people::grant_id.eq(grant_id)).select(grant_people::person_id).load(conn)?)
}

fn door_ids(conn: &mut AnyConnection, grant_id: &str) -> StoreResult<Vec<String>> {
    Ok(grant_doors::table
        .filter(grant_doors::grant_id.eq(grant_id))
        .order(grant_doors::door_id)
        .select(grant_doors::door_id)
        .load(conn)?)
}

/// Ends the active doorcodes of a grant (of `people` only, when given).
fn end_doorcodes(
    conn: &mut AnyConnection,
    grant_id: &str,
    people: Option<&[String]>,
    reason: CredentialEndReason,
) -> StoreResult<()> {
    let mut active = doorcodes::table
        .filter(doorcodes::grant_id.eq(grant_id))
        .filter(doorcodes::status.eq(CredentialStatus::Active.as_str()))
        .into_boxed();
    if let Some(people) = people {
        active = active.filter(doorcodes::person_id.eq_any(people));
    }
    let ids: Vec<String> = active.select(doorcodes::id).load(conn)?;
    diesel::update(doorcodes::table.filter(doorcodes::id.eq_any(&ids)))
        .set((
            doorcodes::status.eq(CredentialStatus::Ended.as_str()),
            doorcodes::end_reason.eq(reason.as_str()),
            doorcodes::ended_at.eq(time::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes the grant's new version with its audit event `grant.<action>`.
fn changed(
    conn: &mut AnyConnection,
    actor: &Actor,
    mut row: GrantRow,
    action: &str,
    changes: Vec<FieldChange>,
) -> StoreResult<Grant> {
    row.version += 1;
    row.updated_at = time::now();
    diesel::update(grants::table.filter(grants::org_id.eq(&actor.org_id)).filter(grants::id.eq(&row.id)))
        .set(&row)
        .execute(conn)?;
    audit::record(
        conn,
        actor,
        NewEvent {
            action: &format!("grant.{action}"),
            entity_type: "grant",
            entity_id: &row.id,
            summary: format!("Grant {} {action}", row.name),
            changes,
        },
    )?;
    assemble(conn, row)
}
