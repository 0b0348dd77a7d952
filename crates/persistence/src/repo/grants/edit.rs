//! Changing a grant (issue 12 §3; decisions 100–102): its name, period and doors
//! (`update`), its people (`add_people`, `remove_people`) and its end (`end`). A grant is
//! one row for all its holders, so an edit applies to every holder at once. Each call
//! takes the organisation's lock first (allocations stay serialised, decision 82), refuses
//! an ended grant, and writes one audit event.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use keyward_domain::doorcode::{AllocationPolicy, DoorcodeRequest};
use keyward_domain::entities::diff;
use keyward_domain::grant::{CredentialEndReason, CredentialStatus, Grant, GrantStatus};
use keyward_domain::schedule::{AccessPeriod, Schedule};
use keyward_domain::{Actor, Error, FieldChange, Secret};

use super::keycards;
use super::write::{allocate, check_doors, check_people, insert_door, insert_person};
use super::{GrantRow, assemble_one, corrupt, find, schedule_json, schedule_of};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::repo::people::{guard_version, record};
use crate::schema::{doorcodes, grant_doors, grant_people, grants};
use crate::secrets::Sealer;
use crate::time;

/// The entity type of a grant's audit events, and how a summary names one.
const GRANT: (&str, &str) = ("grant", "Grant");

/// Changes to a grant; `None` leaves a field, `ends_at: Some(None)` removes the end.
/// `doors` replaces the grant's doors and their schedules.
#[derive(Debug, Default, Clone)]
pub struct GrantPatch {
    pub name: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<Option<DateTime<Utc>>>,
    pub doors: Option<Vec<(String, Schedule)>>,
}

pub fn update(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    actor: &Actor,
    id: &str,
    expected_version: Option<i32>,
    patch: GrantPatch,
) -> StoreResult<Grant> {
    let org_id = actor.org_id.as_str();
    let old = changeable(conn, org_id, id)?;
    guard_version(expected_version, old.version)?;
    let now = time::now();
    let mut new = old.clone();
    let mut changes = Vec::new();
    if let Some(name) = patch.name {
        new.name = name;
        diff(&mut changes, "name", &Some(&old.name), &Some(&new.name));
    }
    if patch.starts_at.is_some() || patch.ends_at.is_some() {
        let starts_at = patch.starts_at.unwrap_or(time::from_db(old.starts_at));
        let ends_at = patch.ends_at.unwrap_or(old.ends_at.map(time::from_db));
        let period = AccessPeriod::new(starts_at, ends_at)?;
        if period.ends_at.is_some_and(|ends_at| ends_at <= time::from_db(now)) {
            return Err(Error::invalid("endsAt", "is past: grants.end ends a grant and its credentials").into());
        }
        new.starts_at = time::to_db(period.starts_at);
        new.ends_at = period.ends_at.map(time::to_db);
        let instant = |at: Option<NaiveDateTime>| at.map(|at| time::from_db(at).to_rfc3339());
        diff(&mut changes, "startsAt", &instant(Some(old.starts_at)), &instant(Some(new.starts_at)));
        diff(&mut changes, "endsAt", &instant(old.ends_at), &instant(new.ends_at));
    }
    if let Some(doors) = patch.doors {
        check_doors(conn, org_id, &old.development_id, &doors)?;
        replace_doors(conn, sealer, &old, &doors, now, &mut changes)?;
    }
    if changes.is_empty() {
        return assemble_one(conn, old);
    }
    save(conn, &mut new, now)?;
    record(conn, actor, GRANT, (&new.id, &new.name), "updated", changes)?;
    assemble_one(conn, new)
}

/// Gives the grant to more people, with doorcodes at all its doors if it gives them
/// (`doorcode`: how, for these people; default the grant's policy). People who already
/// hold it are left as they are.
pub fn add_people(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    actor: &Actor,
    id: &str,
    person_ids: &[String],
    doorcode: Option<DoorcodeRequest>,
) -> StoreResult<Grant> {
    let org_id = actor.org_id.as_str();
    let mut row = changeable(conn, org_id, id)?;
    check_people(conn, org_id, person_ids)?;
    let request = match (policy_of(&row)?, doorcode) {
        (None, Some(_)) => {
            return Err(Error::invalid("doorcode", "is only taken by a grant that gives doorcodes").into());
        }
        (None, None) => None,
        (Some(_), Some(request)) => Some(request),
        (Some(policy), None) => Some(DoorcodeRequest { policy, code: None }),
    };
    let holding: HashSet<String> = holders_among(conn, org_id, &row.id, person_ids)?.into_iter().collect();
    let added: Vec<&String> = person_ids.iter().filter(|person_id| !holding.contains(*person_id)).collect();
    if added.is_empty() {
        return assemble_one(conn, row);
    }
    let door_ids = door_ids_of(conn, &row.id)?;
    let door_ids: Vec<&str> = door_ids.iter().map(String::as_str).collect();
    let now = time::now();
    for person_id in &added {
        insert_person(conn, org_id, &row.id, person_id, now)?;
        if let Some(request) = &request {
            allocate(conn, sealer, org_id, &row.id, person_id, &door_ids, request, now)?;
        }
    }
    let added: Vec<&str> = added.iter().map(|person_id| person_id.as_str()).collect();
    let changes = vec![FieldChange::new("personIds", None::<&str>, Some(added.join(",")))];
    save(conn, &mut row, now)?;
    record(conn, actor, GRANT, (&row.id, &row.name), "peopleAdded", changes)?;
    assemble_one(conn, row)
}

/// Takes the grant from people: their doorcodes end (`person_removed`), which frees the
/// codes at those doors, and their keycards end with the cards asked back. People who do
/// not hold it are passed over.
pub fn remove_people(conn: &mut AnyConnection, actor: &Actor, id: &str, person_ids: &[String]) -> StoreResult<Grant> {
    let org_id = actor.org_id.as_str();
    let mut row = changeable(conn, org_id, id)?;
    let removed = holders_among(conn, org_id, &row.id, person_ids)?;
    if removed.is_empty() {
        return assemble_one(conn, row);
    }
    let now = time::now();
    let ended = end_doorcodes(conn, &row, Some(&removed), None, CredentialEndReason::PersonRemoved, now)?;
    let cards = keycards::end_active(conn, org_id, &row.id, Some(&removed), CredentialEndReason::PersonRemoved, now)?;
    diesel::delete(
        grant_people::table.filter(grant_people::grant_id.eq(&row.id)).filter(grant_people::person_id.eq_any(&removed)),
    )
    .execute(conn)?;
    let changes = vec![
        FieldChange::new("personIds", Some(removed.join(",")), None::<&str>),
        FieldChange::new("doorcodesEnded", None::<&str>, Some(ended)),
        FieldChange::new("keycardsEnded", None::<&str>, Some(cards)),
    ];
    save(conn, &mut row, now)?;
    record(conn, actor, GRANT, (&row.id, &row.name), "peopleRemoved", changes)?;
    assemble_one(conn, row)
}

/// Ends a grant: `endsAt` becomes `at` (default now; never later than it was, never before
/// `startsAt`), every active doorcode ends (`grant_ended`), and the grant is `ended` for
/// good. Ending an ended grant changes nothing (decision 101).
pub fn end(conn: &mut AnyConnection, actor: &Actor, id: &str, at: Option<DateTime<Utc>>) -> StoreResult<Grant> {
    let org_id = actor.org_id.as_str();
    crate::repo::lock_organisation(conn, org_id)?;
    let old = find(conn, org_id, id)?;
    if !status_of(&old)?.can_change() {
        return assemble_one(conn, old);
    }
    let now = time::now();
    let at = at.map(time::to_db).unwrap_or(now);
    if at > now {
        return Err(Error::invalid("at", "must not be in the future (to end a grant later, set its endsAt)").into());
    }
    let mut new = old.clone();
    let ends_at = at.max(old.starts_at);
    new.ends_at = Some(old.ends_at.map_or(ends_at, |ends| ends.min(ends_at)));
    new.status = GrantStatus::Ended.as_str().to_owned();
    new.ended_at = Some(now);
    let ended = end_doorcodes(conn, &old, None, None, CredentialEndReason::GrantEnded, now)?;
    let cards = keycards::end_active(conn, org_id, &old.id, None, CredentialEndReason::GrantEnded, now)?;
    let instant = |at: Option<NaiveDateTime>| at.map(|at| time::from_db(at).to_rfc3339());
    let mut changes = vec![FieldChange::new("status", Some(GrantStatus::Active), Some(GrantStatus::Ended))];
    diff(&mut changes, "endsAt", &instant(old.ends_at), &instant(new.ends_at));
    changes.push(FieldChange::new("doorcodesEnded", None::<&str>, Some(ended)));
    changes.push(FieldChange::new("keycardsEnded", None::<&str>, Some(cards)));
    save(conn, &mut new, now)?;
    record(conn, actor, GRANT, (&new.id, &new.name), "ended", changes)?;
    assemble_one(conn, new)
}

/// The grant under the organisation's lock (taken first, as every audited write), if it
/// can still change: an ended grant is INVALID_INPUT `id`.
fn changeable(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<GrantRow> {
    crate::repo::lock_organisation(conn, org_id)?;
    let row = find(conn, org_id, id)?;
    if !status_of(&row)?.can_change() {
        return Err(Error::invalid("id", "the grant has ended").into());
    }
    Ok(row)
}

fn status_of(row: &GrantRow) -> StoreResult<GrantStatus> {
    Ok(GrantStatus::parse(&row.status).ok_or_else(|| corrupt("grant status", &row.status))?)
}

fn policy_of(row: &GrantRow) -> StoreResult<Option<AllocationPolicy>> {
    match &row.doorcode_policy {
        None => Ok(None),
        Some(policy) => Ok(Some(AllocationPolicy::parse(policy).ok_or_else(|| corrupt("doorcode policy", policy))?)),
    }
}

/// Which of `person_ids` hold the grant (by `grant_people`'s primary key), by id.
fn holders_among(
    conn: &mut AnyConnection,
    org_id: &str,
    grant_id: &str,
    person_ids: &[String],
) -> StoreResult<Vec<String>> {
    Ok(grant_people::table
        .filter(grant_people::org_id.eq(org_id))
        .filter(grant_people::grant_id.eq(grant_id))
        .filter(grant_people::person_id.eq_any(person_ids))
        .order(grant_people::person_id)
        .select(grant_people::person_id)
        .load(conn)?)
}

fn door_ids_of(conn: &mut AnyConnection, grant_id: &str) -> StoreResult<Vec<String>> {
    Ok(grant_doors::table
        .filter(grant_doors::grant_id.eq(grant_id))
        .order(grant_doors::door_id)
        .select(grant_doors::door_id)
        .load(conn)?)
}

/// Sets the grant's doors to `doors`: a removed door's doorcodes end (`door_removed`); a
/// kept door gets its new schedule; an added door gets a doorcode for every holder, if the
/// grant gives doorcodes (decision 100).
fn replace_doors(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    row: &GrantRow,
    doors: &[(String, Schedule)],
    now: NaiveDateTime,
    changes: &mut Vec<FieldChange>,
) -> StoreResult<()> {
    let current: Vec<(String, String)> = grant_doors::table
        .filter(grant_doors::grant_id.eq(&row.id))
        .order(grant_doors::door_id)
        .select((grant_doors::door_id, grant_doors::schedule))
        .load(conn)?;
    let removed: Vec<&str> = current
        .iter()
        .filter(|(door_id, _)| !doors.iter().any(|(kept, _)| kept == door_id))
        .map(|(door_id, _)| door_id.as_str())
        .collect();
    let mut added: Vec<&str> = Vec::new();
    for (door_id, schedule) in doors {
        match current.iter().find(|(current_id, _)| current_id == door_id) {
            None => {
                insert_door(conn, &row.org_id, &row.id, door_id, schedule)?;
                added.push(door_id);
            }
            Some((_, json)) => {
                let (old_schedule, new_schedule) = (schedule_json(&schedule_of(json)?), schedule_json(schedule));
                if old_schedule != new_schedule {
                    diesel::update(
                        grant_doors::table
                            .filter(grant_doors::grant_id.eq(&row.id))
                            .filter(grant_doors::door_id.eq(door_id)),
                    )
                    .set(grant_doors::schedule.eq(&new_schedule))
                    .execute(conn)?;
                    let field = format!("doors.{door_id}.schedule");
                    changes.push(FieldChange::new(&field, Some(old_schedule), Some(new_schedule)));
                }
            }
        }
    }
    if !removed.is_empty() {
        end_doorcodes(conn, row, None, Some(&removed), CredentialEndReason::DoorRemoved, now)?;
        diesel::delete(
            grant_doors::table.filter(grant_doors::grant_id.eq(&row.id)).filter(grant_doors::door_id.eq_any(&removed)),
        )
        .execute(conn)?;
    }
    if let (Some(policy), false) = (policy_of(row)?, added.is_empty()) {
        allocate_at_added_doors(conn, sealer, row, policy, &added, now)?;
    }
    if !removed.is_empty() || !added.is_empty() {
        let old_ids: Vec<&str> = current.iter().map(|(door_id, _)| door_id.as_str()).collect();
        let mut new_ids: Vec<&str> = doors.iter().map(|(door_id, _)| door_id.as_str()).collect();
        new_ids.sort_unstable();
        changes.push(FieldChange::new("doorIds", Some(old_ids.join(",")), Some(new_ids.join(","))));
    }
    Ok(())
}

/// Every holder's doorcode at doors added to the grant: the code they already have, if it
/// is free at every added door; else `strict` grants are CODE_TAKEN naming the door (and
/// nothing changes), others draw a random code for the added doors (decision 100).
fn allocate_at_added_doors(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    row: &GrantRow,
    policy: AllocationPolicy,
    added: &[&str],
    now: NaiveDateTime,
) -> StoreResult<()> {
    let holders: Vec<String> = grant_people::table
        .filter(grant_people::grant_id.eq(&row.id))
        .order(grant_people::person_id)
        .select(grant_people::person_id)
        .load(conn)?;
    for person_id in &holders {
        let sealed: Option<String> = doorcodes::table
            .filter(doorcodes::org_id.eq(&row.org_id))
            .filter(doorcodes::grant_id.eq(&row.id))
            .filter(doorcodes::person_id.eq(person_id))
            .filter(doorcodes::status.eq(CredentialStatus::Active.as_str()))
            .order(doorcodes::door_id)
            .select(doorcodes::code_sealed)
            .first(conn)
            .optional()?;
        let code = sealed.map(|sealed| sealer.open(&sealed)).transpose()?.map(Secret::from);
        let policy = if policy == AllocationPolicy::Strict && code.is_some() {
            AllocationPolicy::Strict
        } else {
            AllocationPolicy::Preferred
        };
        let request = DoorcodeRequest { policy, code };
        allocate(conn, sealer, &row.org_id, &row.id, person_id, added, &request, now)?;
    }
    Ok(())
}

/// Ends the grant's active doorcodes, of these people only (`None`: everyone's) and at
/// these doors only (`None`: all), with `reason`; answers how many.
fn end_doorcodes(
    conn: &mut AnyConnection,
    row: &GrantRow,
    people: Option<&[String]>,
    doors: Option<&[&str]>,
    reason: CredentialEndReason,
    now: NaiveDateTime,
) -> StoreResult<usize> {
    let mut active = doorcodes::table
        .filter(doorcodes::org_id.eq(&row.org_id))
        .filter(doorcodes::grant_id.eq(&row.id))
        .filter(doorcodes::status.eq(CredentialStatus::Active.as_str()))
        .select(doorcodes::id)
        .into_boxed();
    if let Some(people) = people {
        active = active.filter(doorcodes::person_id.eq_any(people));
    }
    if let Some(doors) = doors {
        active = active.filter(doorcodes::door_id.eq_any(doors));
    }
    let ids: Vec<String> = active.load(conn)?;
    if !ids.is_empty() {
        diesel::update(doorcodes::table.filter(doorcodes::id.eq_any(&ids)))
            .set((
                doorcodes::status.eq(CredentialStatus::Ended.as_str()),
                doorcodes::end_reason.eq(reason.as_str()),
                doorcodes::ended_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(ids.len())
}

fn save(conn: &mut AnyConnection, row: &mut GrantRow, now: NaiveDateTime) -> StoreResult<()> {
    row.version += 1;
    row.updated_at = now;
    let updated = diesel::update(grants::table.filter(grants::org_id.eq(&row.org_id)).filter(grants::id.eq(&row.id)))
        .set(&*row)
        .execute(conn)?;
    if updated == 0 {
        return Err(Error::NotFound.into());
    }
    Ok(())
}
