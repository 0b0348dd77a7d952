//! One-step offboarding (`people.offboard`, `firms.offboard`): in one transaction, the
//! people archived and marked offboarded, the codes they knew flagged for rotation, the
//! users they are disabled (sessions ended), their issued keys asked back; one audit event.
//!
//! The checklist is derived from the register on every read, never stored: the keys
//! still issued to the offboarded people (`keys_org_holder_ref`) and the codes whose
//! current value has a `person_offboarded` reason for them
//! (`code_rotation_reasons_org_person`). Returning a key or giving a code a new value
//! takes it off.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::{
    Actor, CodeToRotate, Error, FieldChange, KeyStatus, KeyToRecover, OffboardedPerson, Offboarding, RotationReasonKind,
};

use super::access_codes::{ledger, rotation};
use super::people::record;
use super::users;
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::{access_codes, code_rotation_reasons, firms, keys, people};
use crate::time;

/// A person as offboarding reads them.
#[derive(Debug, Clone, Queryable)]
struct Subject {
    id: String,
    name: String,
    user_id: Option<String>,
    archived_at: Option<NaiveDateTime>,
    offboarded_at: Option<NaiveDateTime>,
    offboard_reason: Option<String>,
}

type SubjectColumns =
    (people::id, people::name, people::user_id, people::archived_at, people::offboarded_at, people::offboard_reason);

const SUBJECT: SubjectColumns =
    (people::id, people::name, people::user_id, people::archived_at, people::offboarded_at, people::offboard_reason);

/// A firm as offboarding reads it.
#[derive(Debug, Clone, Queryable)]
struct FirmSubject {
    id: String,
    name: String,
    archived_at: Option<NaiveDateTime>,
    offboarded_at: Option<NaiveDateTime>,
    offboard_reason: Option<String>,
}

fn find_person(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Subject> {
    Ok(people::table.filter(people::org_id.eq(org_id)).filter(people::id.eq(id)).select(SUBJECT).first(conn)?)
}

fn find_firm(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<FirmSubject> {
    Ok(firms::table
        .filter(firms::org_id.eq(org_id))
        .filter(firms::id.eq(id))
        .select((firms::id, firms::name, firms::archived_at, firms::offboarded_at, firms::offboard_reason))
        .first(conn)?)
}

/// INVALID_INPUT `id` when one of the people is the caller's own user: offboarding would
/// disable the caller.
fn refuse_self(actor: &Actor, subjects: &[Subject]) -> StoreResult<()> {
    if subjects.iter().any(|s| s.user_id.as_deref() == Some(actor.user_id.as_str())) {
        return Err(Error::invalid("id", "you cannot offboard yourself (the person is your own user)").into());
    }
    Ok(())
}

/// `people.offboard`: offboards one person and answers the checklist. Offboarding an
/// offboarded person changes nothing and answers the checklist.
pub fn offboard_person(conn: &mut AnyConnection, actor: &Actor, id: &str, reason: &str) -> StoreResult<Offboarding> {
    super::lock_organisation(conn, &actor.org_id)?;
    let person = find_person(conn, &actor.org_id, id)?;
    refuse_self(actor, std::slice::from_ref(&person))?;
    if person.offboarded_at.is_none() {
        let now = time::now();
        let done = offboard_people(conn, actor, std::slice::from_ref(&person), reason, now)?;
        let mut changes = Vec::new();
        if person.archived_at.is_none() {
            changes.push(FieldChange::new("archived", Some("false"), Some("true")));
        }
        changes.push(FieldChange::new("offboardReason", None::<&str>, Some(reason)));
        done.describe(&mut changes);
        record(conn, actor, ("person", "Person"), (&person.id, &person.name), "offboarded", changes)?;
    }
    person_checklist(conn, &actor.org_id, id)?.ok_or_else(|| Error::Internal("an offboarded person".into()).into())
}

/// `firms.offboard`: offboards a firm and every person of it not yet offboarded (archived
/// or not), and answers the firm's checklist. Offboarding an offboarded firm changes
/// nothing and answers the checklist.
pub fn offboard_firm(conn: &mut AnyConnection, actor: &Actor, id: &str, reason: &str) -> StoreResult<Offboarding> {
    super::lock_organisation(conn, &actor.org_id)?;
    let firm = find_firm(conn, &actor.org_id, id)?;
    if firm.offboarded_at.is_none() {
        let subjects: Vec<Subject> = people::table
            .filter(people::org_id.eq(&actor.org_id))
            .filter(people::firm_id.eq(id))
            .filter(people::offboarded_at.is_null())
            .order((people::name, people::id))
            .select(SUBJECT)
            .load(conn)?;
        refuse_self(actor, &subjects)?;
        let now = time::now();
        let done = offboard_people(conn, actor, &subjects, reason, now)?;
        diesel::update(firms::table.filter(firms::org_id.eq(&actor.org_id)).filter(firms::id.eq(id)))
            .set((
                firms::archived_at.eq(Some(firm.archived_at.unwrap_or(now))),
                firms::offboarded_at.eq(Some(now)),
                firms::offboard_reason.eq(Some(reason)),
                firms::updated_at.eq(now),
                firms::version.eq(firms::version + 1),
            ))
            .execute(conn)?;
        let mut changes = Vec::new();
        if firm.archived_at.is_none() {
            changes.push(FieldChange::new("archived", Some("false"), Some("true")));
        }
        changes.push(FieldChange::new("offboardReason", None::<&str>, Some(reason)));
        let ids: Vec<&str> = subjects.iter().map(|s| s.id.as_str()).collect();
        if !ids.is_empty() {
            changes.push(FieldChange::new("people", None::<&str>, Some(&listed(&ids))));
        }
        done.describe(&mut changes);
        record(conn, actor, ("firm", "Firm"), (&firm.id, &firm.name), "offboarded", changes)?;
    }
    firm_checklist(conn, &actor.org_id, id)?.ok_or_else(|| Error::Internal("an offboarded firm".into()).into())
}

/// What an offboarding changed, for its audit event.
struct Done {
    keys: Vec<String>,
    codes: Vec<String>,
    users: Vec<String>,
}

impl Done {
    fn describe(&self, changes: &mut Vec<FieldChange>) {
        for (field, ids) in
            [("keysToRecover", &self.keys), ("codesToRotate", &self.codes), ("usersDisabled", &self.users)]
        {
            if !ids.is_empty() {
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                changes.push(FieldChange::new(field, None::<&str>, Some(&listed(&ids))));
            }
        }
    }
}

/// "n: id, id, …" — a count and the ids, as an audit event's detail.
fn listed(ids: &[&str]) -> String {
    format!("{}: {}", ids.len(), ids.join(", "))
}

/// Offboards `subjects` (people of the actor's organisation not yet offboarded), under
/// the organisation's lock: archived (if not already) and marked offboarded; every code
/// whose current value they knew flagged for rotation; the users they are disabled and
/// signed out; their issued keys asked back (`return_requested_at`, the version moves; no
/// movement: the key is still with them).
fn offboard_people(
    conn: &mut AnyConnection,
    actor: &Actor,
    subjects: &[Subject],
    reason: &str,
    now: NaiveDateTime,
) -> StoreResult<Done> {
    let org_id = actor.org_id.as_str();
    let ids: Vec<&str> = subjects.iter().map(|s| s.id.as_str()).collect();
    let mut done = Done { keys: Vec::new(), codes: Vec::new(), users: Vec::new() };
    if ids.is_empty() {
        return Ok(done);
    }
    let these = || people::table.filter(people::org_id.eq(org_id)).filter(people::id.eq_any(&ids));
    diesel::update(these().filter(people::archived_at.is_null()))
        .set(people::archived_at.eq(Some(now)))
        .execute(conn)?;
    diesel::update(these())
        .set((
            people::offboarded_at.eq(Some(now)),
            people::offboard_reason.eq(Some(reason)),
            people::updated_at.eq(now),
            people::version.eq(people::version + 1),
        ))
        .execute(conn)?;
    for subject in subjects {
        for code in ledger::codes_known_by_person(conn, org_id, &subject.id)? {
            let why = rotation::Reason::PersonOffboarded { person_id: subject.id.clone() };
            rotation::flag_for_rotation(conn, actor, &code.id, why)?;
            if !done.codes.contains(&code.id) {
                done.codes.push(code.id);
            }
        }
        if let Some(user_id) = &subject.user_id
            && users::disable_within(conn, org_id, user_id)?
        {
            done.users.push(user_id.clone());
        }
    }
    done.keys = diesel::update(
        keys::table
            .filter(keys::org_id.eq(org_id))
            .filter(keys::holder_id.eq_any(&ids))
            .filter(keys::status.eq(KeyStatus::Issued.as_str()))
            .filter(keys::return_requested_at.is_null()),
    )
    .set((keys::return_requested_at.eq(Some(now)), keys::version.eq(keys::version + 1)))
    .returning(keys::id)
    .get_results(conn)?;
    done.keys.sort();
    Ok(done)
}

/// The checklist of a person, if they were offboarded.
pub(crate) fn person_checklist(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Option<Offboarding>> {
    let person = find_person(conn, org_id, id)?;
    let (Some(at), Some(reason)) = (person.offboarded_at, person.offboard_reason) else { return Ok(None) };
    let people = vec![OffboardedPerson { id: person.id, name: person.name }];
    checklist(conn, org_id, at, reason, people).map(Some)
}

/// The checklist of a firm, if it was offboarded: for every offboarded person of the
/// firm (`people_org_firm`), by name.
pub(crate) fn firm_checklist(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Option<Offboarding>> {
    let firm = find_firm(conn, org_id, id)?;
    let (Some(at), Some(reason)) = (firm.offboarded_at, firm.offboard_reason) else { return Ok(None) };
    let people: Vec<(String, String)> = people::table
        .filter(people::org_id.eq(org_id))
        .filter(people::firm_id.eq(id))
        .filter(people::offboarded_at.is_not_null())
        .order((people::name, people::id))
        .select((people::id, people::name))
        .load(conn)?;
    let people = people.into_iter().map(|(id, name)| OffboardedPerson { id, name }).collect();
    checklist(conn, org_id, at, reason, people).map(Some)
}

type KeyToRecoverRow =
    (String, String, String, String, Option<String>, Option<String>, Option<NaiveDateTime>, Option<NaiveDateTime>);

/// Works the checklist out from the register: O(the people's keys and reasons).
fn checklist(
    conn: &mut AnyConnection,
    org_id: &str,
    offboarded_at: NaiveDateTime,
    reason: String,
    people: Vec<OffboardedPerson>,
) -> StoreResult<Offboarding> {
    let ids: Vec<&str> = people.iter().map(|p| p.id.as_str()).collect();
    let keys: Vec<KeyToRecoverRow> = keys::table
        .filter(keys::org_id.eq(org_id))
        .filter(keys::holder_id.eq_any(&ids))
        .filter(keys::status.eq(KeyStatus::Issued.as_str()))
        .order((keys::key_ref, keys::id))
        .select((
            keys::id,
            keys::key_ref,
            keys::label,
            keys::development_id,
            keys::holder_id,
            keys::issued_to,
            keys::issued_at,
            keys::expected_return_at,
        ))
        .load(conn)?;
    let keys_to_recover: Vec<KeyToRecover> = keys
        .into_iter()
        .map(|(id, key_ref, label, development_id, holder_id, issued_to, issued_at, expected_return_at)| KeyToRecover {
            id,
            key_ref,
            label,
            development_id,
            holder_id: holder_id.unwrap_or_default(),
            issued_to,
            issued_at: issued_at.map(time::from_db),
            expected_return_at: expected_return_at.map(time::from_db),
        })
        .collect();
    let codes: Vec<(String, String, String)> = code_rotation_reasons::table
        .inner_join(access_codes::table.on(access_codes::id.eq(code_rotation_reasons::code_id)))
        .filter(code_rotation_reasons::org_id.eq(org_id))
        .filter(code_rotation_reasons::person_id.eq_any(&ids))
        .filter(code_rotation_reasons::kind.eq(RotationReasonKind::PersonOffboarded.as_str()))
        .filter(code_rotation_reasons::value_version.eq(access_codes::value_version))
        .filter(access_codes::org_id.eq(org_id))
        .select((access_codes::id, access_codes::label, access_codes::development_id))
        .distinct()
        .order((access_codes::label, access_codes::id))
        .load(conn)?;
    let codes_to_rotate: Vec<CodeToRotate> =
        codes.into_iter().map(|(id, label, development_id)| CodeToRotate { id, label, development_id }).collect();
    Ok(Offboarding {
        offboarded_at: time::from_db(offboarded_at),
        reason,
        people,
        complete: keys_to_recover.is_empty() && codes_to_rotate.is_empty(),
        keys_to_recover,
        codes_to_rotate,
    })
}
