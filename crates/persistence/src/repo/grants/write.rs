//! Creating grants and allocating their people's doorcodes (decision 81): under the
//! organisation's lock, so two allocations of one organisation are wholly one after the
//! other and "taken" is read after every earlier allocation committed.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::doorcode::{self, DoorcodeRequest, NotAllocated};
use keyward_domain::entities::CodeStatus;
use keyward_domain::grant::{CredentialStatus, Grant, GrantStatus, KeycardRequest};
use keyward_domain::schedule::{AccessPeriod, Schedule};
use keyward_domain::{Actor, Error, FieldChange, Secret};

use super::{GrantRow, assemble_one, keycards, schedule_json};
use crate::connection::AnyConnection;
use crate::error::{StoreError, StoreResult, is_foreign_key_violation};
use crate::repo::audit::{self, NewEvent};
use crate::repo::people;
use crate::schema::{
    access_code_doors, access_codes, developments, doorcodes, doors, grant_doors, grant_people, grants,
};
use crate::secrets::Sealer;
use crate::time;

/// The entity type of a grant's audit events.
const ENTITY: &str = "grant";

/// A new grant, validated: doors deduplicated, people deduplicated.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub development_id: String,
    pub name: String,
    pub period: AccessPeriod,
    pub doors: Vec<(String, Schedule)>,
    pub person_ids: Vec<String>,
    /// Doorcodes for every person (one code at all the grant's doors); `None`: none.
    pub doorcode: Option<DoorcodeRequest>,
    /// A keycard for every person (decision 105); `None`: none.
    pub keycard: Option<KeycardRequest>,
}

pub fn create(conn: &mut AnyConnection, sealer: &Sealer, actor: &Actor, new: NewGrant) -> StoreResult<Grant> {
    let org_id = actor.org_id.as_str();
    crate::repo::lock_organisation(conn, org_id)?;
    let development_exists: bool = diesel::select(diesel::dsl::exists(
        developments::table.filter(developments::org_id.eq(org_id)).filter(developments::id.eq(&new.development_id)),
    ))
    .get_result(conn)?;
    if !development_exists {
        return Err(Error::NotFound.into());
    }
    check_doors(conn, org_id, &new.development_id, &new.doors)?;
    check_people(conn, org_id, &new.person_ids)?;
    let now = time::now();
    let row = GrantRow {
        id: time::new_id(),
        org_id: org_id.to_owned(),
        development_id: new.development_id.clone(),
        name: new.name.clone(),
        starts_at: time::to_db(new.period.starts_at),
        ends_at: new.period.ends_at.map(time::to_db),
        doorcode_policy: new.doorcode.as_ref().map(|request| request.policy.as_str().to_owned()),
        created_at: now,
        updated_at: now,
        version: 1,
        status: GrantStatus::Active.as_str().to_owned(),
        ended_at: None,
    };
    diesel::insert_into(grants::table).values(&row).execute(conn).map_err(referenced_meanwhile)?;
    for (door_id, schedule) in &new.doors {
        insert_door(conn, org_id, &row.id, door_id, schedule)?;
    }
    let door_ids: Vec<&str> = new.doors.iter().map(|(door_id, _)| door_id.as_str()).collect();
    for person_id in &new.person_ids {
        insert_person(conn, org_id, &row.id, person_id, now)?;
        if let Some(request) = &new.doorcode {
            allocate(conn, sealer, org_id, &row.id, person_id, &door_ids, request, now)?;
        }
        if let Some(request) = &new.keycard {
            let grant = (row.id.as_str(), row.name.as_str());
            keycards::allocate(conn, actor, &row.development_id, grant, person_id, request, now)?;
        }
    }
    let mut changes = vec![
        FieldChange::new("name", None::<&str>, Some(&row.name)),
        FieldChange::new("developmentId", None::<&str>, Some(&row.development_id)),
        FieldChange::new("startsAt", None::<&str>, Some(new.period.starts_at.to_rfc3339())),
        FieldChange::new("doorIds", None::<&str>, Some(door_ids.join(","))),
        FieldChange::new("personIds", None::<&str>, Some(new.person_ids.join(","))),
    ];
    if let Some(ends_at) = new.period.ends_at {
        changes.push(FieldChange::new("endsAt", None::<&str>, Some(ends_at.to_rfc3339())));
    }
    if let Some(policy) = &row.doorcode_policy {
        changes.push(FieldChange::new("doorcodePolicy", None::<&str>, Some(policy)));
    }
    if let Some(request) = &new.keycard {
        changes.push(FieldChange::new("keycardPolicy", None::<&str>, Some(request.policy.as_str())));
    }
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "grant.created",
            entity_type: ENTITY,
            entity_id: &row.id,
            summary: format!("Grant {} created", row.name),
            changes,
        },
    )?;
    assemble_one(conn, row)
}

/// Each door is a door of the organisation (else NOT_FOUND) in the grant's development
/// (else INVALID_INPUT `doors[N].doorId`).
pub(super) fn check_doors(
    conn: &mut AnyConnection,
    org_id: &str,
    development_id: &str,
    given: &[(String, Schedule)],
) -> StoreResult<()> {
    for (n, (door_id, _)) in given.iter().enumerate() {
        let door_development: String = doors::table
            .filter(doors::org_id.eq(org_id))
            .filter(doors::id.eq(door_id))
            .select(doors::development_id)
            .first(conn)?;
        if door_development != development_id {
            return Err(
                Error::invalid(format!("doors[{n}].doorId"), "must be a door of the grant's development").into()
            );
        }
    }
    Ok(())
}

/// Each person is a person of the organisation (else NOT_FOUND), not archived (else
/// PERSON_ARCHIVED).
pub(super) fn check_people(conn: &mut AnyConnection, org_id: &str, person_ids: &[String]) -> StoreResult<()> {
    for person_id in person_ids {
        if people::person_ref(conn, org_id, person_id)?.archived() {
            return Err(Error::PersonArchived.into());
        }
    }
    Ok(())
}

pub(super) fn insert_door(
    conn: &mut AnyConnection,
    org_id: &str,
    grant_id: &str,
    door_id: &str,
    schedule: &Schedule,
) -> StoreResult<()> {
    diesel::insert_into(grant_doors::table)
        .values((
            grant_doors::org_id.eq(org_id),
            grant_doors::grant_id.eq(grant_id),
            grant_doors::door_id.eq(door_id),
            grant_doors::schedule.eq(schedule_json(schedule)),
        ))
        .execute(conn)
        .map_err(referenced_meanwhile)?;
    Ok(())
}

pub(super) fn insert_person(
    conn: &mut AnyConnection,
    org_id: &str,
    grant_id: &str,
    person_id: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::insert_into(grant_people::table)
        .values((
            grant_people::org_id.eq(org_id),
            grant_people::grant_id.eq(grant_id),
            grant_people::person_id.eq(person_id),
            grant_people::added_at.eq(now),
        ))
        .execute(conn)
        .map_err(referenced_meanwhile)?;
    Ok(())
}

/// Allocates a person's doorcode under a grant: one code, an active doorcode row per door.
#[allow(clippy::too_many_arguments)]
pub(super) fn allocate(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    org_id: &str,
    grant_id: &str,
    person_id: &str,
    door_ids: &[&str],
    request: &DoorcodeRequest,
    now: NaiveDateTime,
) -> StoreResult<()> {
    let length = crate::repo::org_settings::doorcode_length(conn, org_id)?;
    let mut failure: Option<StoreError> = None;
    let allocated = {
        let mut taken = |code: &Secret| {
            let lookup = sealer.lookup(code.expose());
            match taken_at(conn, org_id, door_ids, &lookup) {
                Ok(door) => door,
                Err(e) => {
                    // Stop drawing: a failed read counts as taken, and the error is answered.
                    failure.get_or_insert(e);
                    Some(String::new())
                }
            }
        };
        doorcode::allocate(request, length, &mut rand::rng(), &mut taken)
    };
    if let Some(e) = failure {
        return Err(e);
    }
    let code = match allocated {
        Ok(allocated) => allocated.code,
        Err(NotAllocated::Taken { door }) => return Err(Error::CodeTaken { door_id: door }.into()),
        Err(NotAllocated::Exhausted) => {
            return Err(Error::invalid("doorcode", "no free code of this length is left at these doors").into());
        }
    };
    let (sealed, lookup) = (sealer.seal(code.expose()), sealer.lookup(code.expose()));
    for door_id in door_ids {
        diesel::insert_into(doorcodes::table)
            .values((
                doorcodes::id.eq(time::new_id()),
                doorcodes::org_id.eq(org_id),
                doorcodes::grant_id.eq(grant_id),
                doorcodes::person_id.eq(person_id),
                doorcodes::door_id.eq(door_id),
                doorcodes::code_sealed.eq(&sealed),
                doorcodes::code_lookup.eq(&lookup),
                doorcodes::status.eq(CredentialStatus::Active.as_str()),
                doorcodes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The first of `door_ids` where a code (by its lookup hash) is an active doorcode or an
/// active shared access code. Reads `doorcodes_active_door_lookup` and
/// `access_codes_org_lookup`, then the code's door links by primary key.
fn taken_at(conn: &mut AnyConnection, org_id: &str, door_ids: &[&str], lookup: &str) -> StoreResult<Option<String>> {
    for door_id in door_ids {
        let doorcode: bool = diesel::select(diesel::dsl::exists(
            doorcodes::table
                .filter(doorcodes::door_id.eq(door_id))
                .filter(doorcodes::code_lookup.eq(lookup))
                .filter(doorcodes::status.eq(CredentialStatus::Active.as_str())),
        ))
        .get_result(conn)?;
        let shared: bool = diesel::select(diesel::dsl::exists(
            access_codes::table
                .filter(access_codes::org_id.eq(org_id))
                .filter(access_codes::code_lookup.eq(lookup))
                .filter(access_codes::status.eq(CodeStatus::Active.as_str()))
                .filter(diesel::dsl::exists(
                    access_code_doors::table
                        .filter(access_code_doors::code_id.eq(access_codes::id))
                        .filter(access_code_doors::door_id.eq(door_id)),
                )),
        ))
        .get_result(conn)?;
        if doorcode || shared {
            return Ok(Some((*door_id).to_owned()));
        }
    }
    Ok(None)
}

/// A door or person deleted by a concurrent call (PostgreSQL) is NOT_FOUND, as if it had
/// been gone when it was read.
fn referenced_meanwhile(e: diesel::result::Error) -> StoreError {
    let e = StoreError::from(e);
    if is_foreign_key_violation(&e) { Error::NotFound.into() } else { e }
}
