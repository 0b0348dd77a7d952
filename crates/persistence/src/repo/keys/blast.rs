//! `keys.blastRadius`: what a key exposes. Each section is one query over the door
//! indexes (`key_doors_org_door`, `access_code_doors_org_door`, `grant_doors_org_door`,
//! the active doorcodes of a door): O(doors of the key + what is at them), never O(keys
//! of the organisation) (decision 121).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use keyward_domain::{
    Actor, BlastRadius, CodeAtDoors, CodeType, DoorKind, DoorcodesAtDoor, ExposedDoor, Key, KeyAtDoors, KeyStatus,
    KeyType, PersonAtDoors, Transition,
};

use super::{TransitionDetails, find};
use crate::connection::AnyConnection;
use crate::error::{StoreError, StoreResult};
use crate::repo::grants::corrupt;
use crate::schema::{
    access_code_doors, access_code_keys, access_codes, doorcodes, doors, grant_doors, grant_people, grants, key_doors,
    keys, people,
};
use crate::time;

/// `keys.markLost`, and `grants.replaceKeycard` for a card lost: the key marked lost
/// (its links' `key_lost` flags with it, decision 123), every code linked to it or at a
/// door it opens due for rotation (`key_lost`, decision 122), and its blast radius after
/// the change; in the caller's transaction.
pub fn mark_lost(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    details: TransitionDetails,
) -> StoreResult<(Key, BlastRadius)> {
    let key = mark_lost_only(conn, actor, id, details)?;
    let radius = blast_radius(conn, &actor.org_id, id)?;
    Ok((key, radius))
}

/// [`mark_lost`] without reading the blast radius: for `audits.resolve`, which reads every
/// radius once all its keys are lost (decision 158).
pub fn mark_lost_only(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    details: TransitionDetails,
) -> StoreResult<Key> {
    let key = super::transition(conn, actor, id, Transition::MarkLost, details)?;
    crate::repo::access_codes::rotation::key_lost(conn, actor, id)?;
    Ok(key)
}

/// The blast radius of the organisation's key `id` (another organisation's: NOT_FOUND).
pub fn blast_radius(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<BlastRadius> {
    let key = find(conn, org_id, id)?;
    let doors = exposed_doors(conn, org_id, id)?;
    let door_ids: Vec<&str> = doors.iter().map(|d| d.id.as_str()).collect();
    let mut radius = BlastRadius {
        key_type: parse(KeyType::parse, "key type", &key.key_type)?,
        status: key.status()?,
        key_id: key.id,
        key_ref: key.key_ref,
        other_keys: other_keys(conn, org_id, id, &door_ids)?,
        access_codes: codes(conn, org_id, id, &door_ids)?,
        doorcodes: doorcodes_at(conn, org_id, &door_ids)?,
        people: people_at(conn, org_id, &door_ids)?,
        doors,
        actions: Vec::new(),
    };
    radius.recommend();
    Ok(radius)
}

/// The ids of the codes a lost key makes due (decision 122): those linked to it and those
/// at the doors it opens, each once, ordered by id.
pub(crate) fn exposed_code_ids(conn: &mut AnyConnection, org_id: &str, key_id: &str) -> StoreResult<Vec<String>> {
    let linked: Vec<String> = access_code_keys::table
        .filter(access_code_keys::org_id.eq(org_id))
        .filter(access_code_keys::key_id.eq(key_id))
        .select(access_code_keys::code_id)
        .load(conn)?;
    let at_doors: Vec<String> = access_code_doors::table
        .filter(access_code_doors::org_id.eq(org_id))
        .filter(
            access_code_doors::door_id.eq_any(
                key_doors::table
                    .filter(key_doors::org_id.eq(org_id))
                    .filter(key_doors::key_id.eq(key_id))
                    .select(key_doors::door_id),
            ),
        )
        .select(access_code_doors::code_id)
        .load(conn)?;
    Ok(linked.into_iter().chain(at_doors).collect::<BTreeSet<_>>().into_iter().collect())
}

fn parse<T>(parse: fn(&str) -> Option<T>, what: &str, value: &str) -> StoreResult<T> {
    parse(value).ok_or_else(|| StoreError::from(corrupt(what, value)))
}

fn exposed_doors(conn: &mut AnyConnection, org_id: &str, key_id: &str) -> StoreResult<Vec<ExposedDoor>> {
    let rows: Vec<(String, String, String)> = key_doors::table
        .inner_join(doors::table)
        .filter(key_doors::org_id.eq(org_id))
        .filter(key_doors::key_id.eq(key_id))
        .order((doors::name, doors::id))
        .select((doors::id, doors::name, doors::kind))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, name, kind)| Ok(ExposedDoor { kind: parse(DoorKind::parse, "door kind", &kind)?, id, name }))
        .collect()
}

type KeyLink = (String, String, String, String, String, String, Option<String>, Option<String>);

fn other_keys(conn: &mut AnyConnection, org_id: &str, key_id: &str, door_ids: &[&str]) -> StoreResult<Vec<KeyAtDoors>> {
    if door_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<KeyLink> = key_doors::table
        .inner_join(keys::table)
        .filter(key_doors::org_id.eq(org_id))
        .filter(key_doors::door_id.eq_any(door_ids))
        .filter(key_doors::key_id.ne(key_id))
        .order((keys::key_ref, keys::id, key_doors::door_id))
        .select((
            keys::id,
            key_doors::door_id,
            keys::key_ref,
            keys::label,
            keys::key_type,
            keys::status,
            keys::holder_id,
            keys::issued_to,
        ))
        .load(conn)?;
    let mut out: Vec<KeyAtDoors> = Vec::new();
    for (id, door_id, key_ref, label, key_type, status, holder_id, issued_to) in rows {
        match out.last_mut() {
            Some(last) if last.id == id => last.door_ids.push(door_id),
            _ => out.push(KeyAtDoors {
                id,
                key_ref,
                label,
                key_type: parse(KeyType::parse, "key type", &key_type)?,
                status: parse(KeyStatus::parse, "key status", &status)?,
                holder_id,
                issued_to,
                door_ids: vec![door_id],
            }),
        }
    }
    Ok(out)
}

type CodeFacts = (String, String, String, Option<NaiveDate>, Option<chrono::NaiveDateTime>);

fn codes(conn: &mut AnyConnection, org_id: &str, key_id: &str, door_ids: &[&str]) -> StoreResult<Vec<CodeAtDoors>> {
    let linked: BTreeSet<String> = access_code_keys::table
        .filter(access_code_keys::org_id.eq(org_id))
        .filter(access_code_keys::key_id.eq(key_id))
        .select(access_code_keys::code_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let at_doors: Vec<(String, String)> = if door_ids.is_empty() {
        Vec::new()
    } else {
        access_code_doors::table
            .filter(access_code_doors::org_id.eq(org_id))
            .filter(access_code_doors::door_id.eq_any(door_ids))
            .order((access_code_doors::code_id, access_code_doors::door_id))
            .select((access_code_doors::code_id, access_code_doors::door_id))
            .load(conn)?
    };
    let mut doors_of: BTreeMap<String, Vec<String>> = linked.iter().map(|id| (id.clone(), Vec::new())).collect();
    for (code_id, door_id) in at_doors {
        doors_of.entry(code_id).or_default().push(door_id);
    }
    if doors_of.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = doors_of.keys().map(String::as_str).collect();
    let rows: Vec<CodeFacts> = access_codes::table
        .filter(access_codes::org_id.eq(org_id))
        .filter(access_codes::id.eq_any(&ids))
        .order((access_codes::label, access_codes::id))
        .select((
            access_codes::id,
            access_codes::label,
            access_codes::code_type,
            access_codes::rotate_by,
            access_codes::rotation_flagged_at,
        ))
        .load(conn)?;
    let today = time::now().date();
    rows.into_iter()
        .map(|(id, label, code_type, rotate_by, flagged_at)| {
            Ok(CodeAtDoors {
                code_type: parse(CodeType::parse, "code type", &code_type)?,
                // As `AccessCode::rotation_due`: a reason, or a `rotateBy` day that came.
                rotation_due: flagged_at.is_some() || rotate_by.is_some_and(|day| day <= today),
                door_ids: doors_of.remove(&id).unwrap_or_default(),
                linked: linked.contains(&id),
                id,
                label,
            })
        })
        .collect()
}

fn doorcodes_at(conn: &mut AnyConnection, org_id: &str, door_ids: &[&str]) -> StoreResult<Vec<DoorcodesAtDoor>> {
    if door_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String)> = doorcodes::table
        .filter(doorcodes::org_id.eq(org_id))
        .filter(doorcodes::door_id.eq_any(door_ids))
        .filter(doorcodes::status.eq("active"))
        .select((doorcodes::door_id, doorcodes::person_id))
        .load(conn)?;
    let mut by_door: BTreeMap<&str, (i32, BTreeSet<String>)> =
        door_ids.iter().map(|d| (*d, (0, BTreeSet::new()))).collect();
    for (door_id, person_id) in rows {
        if let Some((n, people)) = by_door.get_mut(door_id.as_str()) {
            *n += 1;
            people.insert(person_id);
        }
    }
    Ok(door_ids
        .iter()
        .map(|door_id| {
            let (active, people) = by_door.remove(door_id).unwrap_or_default();
            DoorcodesAtDoor { door_id: (*door_id).to_owned(), active, person_ids: people.into_iter().collect() }
        })
        .collect())
}

fn people_at(conn: &mut AnyConnection, org_id: &str, door_ids: &[&str]) -> StoreResult<Vec<PersonAtDoors>> {
    if door_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String, String, String)> = grant_doors::table
        .inner_join(grants::table.inner_join(grant_people::table.inner_join(people::table)))
        .filter(grant_doors::org_id.eq(org_id))
        .filter(grant_doors::door_id.eq_any(door_ids))
        .filter(grants::status.eq("active"))
        .order((people::name, people::id))
        .select((people::id, people::name, grants::id, grant_doors::door_id))
        .load(conn)?;
    let mut out: Vec<PersonAtDoors> = Vec::new();
    let mut sets: Vec<(BTreeSet<String>, BTreeSet<String>)> = Vec::new();
    for (id, name, grant_id, door_id) in rows {
        if out.last().is_none_or(|last| last.id != id) {
            out.push(PersonAtDoors { id, name, grant_ids: Vec::new(), door_ids: Vec::new() });
            sets.push(Default::default());
        }
        let (grant_ids, doors) = sets.last_mut().expect("pushed above");
        grant_ids.insert(grant_id);
        doors.insert(door_id);
    }
    for (person, (grant_ids, doors)) in out.iter_mut().zip(sets) {
        person.grant_ids = grant_ids.into_iter().collect();
        person.door_ids = doors.into_iter().collect();
    }
    Ok(out)
}
