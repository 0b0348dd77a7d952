//! Rotation: why a code's current value is due for a change. A reason belongs to one
//! value (`value_version`); a new value leaves them behind. `rotation_flagged_at` on the
//! code says "this value has a reason" so that the filter and the summary count read an
//! index, not the reasons; a `rotateBy` day that has come makes a code due on its own.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use keyward_domain::{Actor, Error, RotationReason, RotationReasonKind};

use super::{CodeRow, find};
use crate::connection::{AnyConnection, MultiBackend};
use crate::error::{StoreError, StoreResult, is_foreign_key_violation};
use crate::schema::{access_code_keys, access_codes, code_rotation_reasons, keys};
use crate::time;

/// Why a code must change, as other areas give it (offboarding, a lost key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    PersonOffboarded { person_id: String },
    KeyLost { key_id: String },
}

impl Reason {
    pub fn kind(&self) -> RotationReasonKind {
        match self {
            Reason::PersonOffboarded { .. } => RotationReasonKind::PersonOffboarded,
            Reason::KeyLost { .. } => RotationReasonKind::KeyLost,
        }
    }
}

#[derive(Insertable, Queryable)]
#[diesel(table_name = code_rotation_reasons)]
struct ReasonRow {
    id: String,
    org_id: String,
    code_id: String,
    value_version: i32,
    at: NaiveDateTime,
    kind: String,
    person_id: Option<String>,
    key_id: Option<String>,
    note: Option<String>,
    actor_name: String,
}

/// Marks the code's current value due for rotation with `reason`, inside the caller's
/// write transaction (offboarding, `keys.markLost`): the caller records the one audit
/// event of its action. The organisation's lock is taken (again: free if held).
/// Another organisation's code is NOT_FOUND.
pub fn flag_for_rotation(conn: &mut AnyConnection, actor: &Actor, code_id: &str, reason: Reason) -> StoreResult<()> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    let code = find(conn, &actor.org_id, code_id)?;
    let now = time::now();
    let (person_id, key_id) = match &reason {
        Reason::PersonOffboarded { person_id } => (Some(person_id.clone()), None),
        Reason::KeyLost { key_id } => (None, Some(key_id.clone())),
    };
    let row = ReasonRow {
        id: time::new_id(),
        org_id: actor.org_id.clone(),
        code_id: code.id.clone(),
        value_version: code.value_version,
        at: now,
        kind: reason.kind().as_str().to_owned(),
        person_id,
        key_id,
        note: None,
        actor_name: actor.name.clone(),
    };
    diesel::insert_into(code_rotation_reasons::table).values(&row).execute(conn)?;
    // The version moves: a reader's copy no longer shows the code as it is.
    diesel::update(
        access_codes::table.filter(access_codes::org_id.eq(&actor.org_id)).filter(access_codes::id.eq(code_id)),
    )
    .set((
        access_codes::rotation_flagged_at.eq(Some(code.rotation_flagged_at.unwrap_or(now))),
        access_codes::version.eq(access_codes::version + 1),
    ))
    .execute(conn)?;
    Ok(())
}

/// `keys.markLost`: every code linked to the key, and every code at a door the key
/// opens, becomes due (one `key_lost` reason each, a code linked and at a door only
/// once), in the same transaction (decision 122). Returns how many.
pub fn key_lost(conn: &mut AnyConnection, actor: &Actor, key_id: &str) -> StoreResult<usize> {
    let codes = crate::repo::keys::exposed_code_ids(conn, &actor.org_id, key_id)?;
    for code_id in &codes {
        flag_for_rotation(conn, actor, code_id, Reason::KeyLost { key_id: key_id.to_owned() })?;
    }
    Ok(codes.len())
}

fn of_org<'a>(org_id: &'a str, development_id: Option<&'a str>) -> access_codes::BoxedQuery<'a, MultiBackend> {
    let q = access_codes::table.filter(access_codes::org_id.eq(org_id));
    crate::repo::of_development!(q.into_boxed(), access_codes::development_id, development_id)
}

/// The codes flagged for rotation; with [`scheduled`], the codes due (the summary counts
/// both, two range reads of `access_codes_org_rotation`, O(codes due)).
pub(crate) fn flagged<'a>(
    org_id: &'a str,
    development_id: Option<&'a str>,
) -> access_codes::BoxedQuery<'a, MultiBackend> {
    of_org(org_id, development_id).filter(access_codes::rotation_flagged_at.is_not_null())
}

/// The codes not flagged whose `rotateBy` day is `today` or past.
pub(crate) fn scheduled<'a>(
    org_id: &'a str,
    development_id: Option<&'a str>,
    today: NaiveDate,
) -> access_codes::BoxedQuery<'a, MultiBackend> {
    of_org(org_id, development_id)
        .filter(access_codes::rotation_flagged_at.is_null())
        .filter(access_codes::rotate_by.le(today))
}

/// The reasons of each code's current value, by code id; a scheduled reason only once
/// its day has come.
pub(super) fn current_reasons(
    conn: &mut AnyConnection,
    rows: &[CodeRow],
    today: NaiveDate,
) -> StoreResult<HashMap<String, Vec<RotationReason>>> {
    let Some(first) = rows.first() else { return Ok(HashMap::new()) };
    let codes: HashMap<&str, &CodeRow> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
    let ids: Vec<&str> = codes.keys().copied().collect();
    let found: Vec<ReasonRow> = code_rotation_reasons::table
        .filter(code_rotation_reasons::org_id.eq(&first.org_id))
        .filter(code_rotation_reasons::code_id.eq_any(&ids))
        .order((code_rotation_reasons::at, code_rotation_reasons::id))
        .load(conn)?;
    let mut out: HashMap<String, Vec<RotationReason>> = HashMap::new();
    for r in found {
        let Some(code) = codes.get(r.code_id.as_str()) else { continue };
        if r.value_version != code.value_version {
            continue;
        }
        let kind = RotationReasonKind::parse(&r.kind)
            .ok_or_else(|| StoreError::from(Error::Internal(format!("unknown rotation reason {:?}", r.kind))))?;
        let rotate_by = match kind {
            RotationReasonKind::Scheduled => match code.rotate_by {
                Some(day) if day <= today => Some(day),
                _ => continue,
            },
            _ => None,
        };
        out.entry(r.code_id).or_default().push(RotationReason {
            kind,
            at: time::from_db(r.at),
            actor_name: r.actor_name,
            person_id: r.person_id,
            key_id: r.key_id,
            rotate_by,
        });
    }
    Ok(out)
}

/// The keys linked to each code, by code id.
pub(super) fn linked_keys(
    conn: &mut AnyConnection,
    org_id: &str,
    code_ids: &[&str],
) -> StoreResult<HashMap<String, Vec<String>>> {
    let links: Vec<(String, String)> = access_code_keys::table
        .filter(access_code_keys::org_id.eq(org_id))
        .filter(access_code_keys::code_id.eq_any(code_ids))
        .order((access_code_keys::code_id, access_code_keys::key_id))
        .select((access_code_keys::code_id, access_code_keys::key_id))
        .load(conn)?;
    Ok(crate::repo::group_pairs(links))
}

/// NOT_FOUND unless every key is one of the organisation's (`keyIds` are deduplicated).
pub(super) fn check_keys(conn: &mut AnyConnection, org_id: &str, key_ids: &[String]) -> StoreResult<()> {
    if key_ids.is_empty() {
        return Ok(());
    }
    let found: i64 =
        keys::table.filter(keys::org_id.eq(org_id)).filter(keys::id.eq_any(key_ids)).count().get_result(conn)?;
    if usize::try_from(found).ok() == Some(key_ids.len()) { Ok(()) } else { Err(Error::NotFound.into()) }
}

/// Makes `key_ids` the code's linked keys.
pub(super) fn link_keys(conn: &mut AnyConnection, code: &CodeRow, key_ids: &[String]) -> StoreResult<()> {
    diesel::delete(access_code_keys::table.filter(access_code_keys::code_id.eq(&code.id))).execute(conn)?;
    for key_id in key_ids {
        diesel::insert_into(access_code_keys::table)
            .values((
                access_code_keys::org_id.eq(&code.org_id),
                access_code_keys::code_id.eq(&code.id),
                access_code_keys::key_id.eq(key_id),
            ))
            .execute(conn)
            .map_err(|e| {
                let e = StoreError::from(e);
                // A key deleted by a concurrent call.
                if is_foreign_key_violation(&e) { Error::NotFound.into() } else { e }
            })?;
    }
    Ok(())
}

/// Keeps the current value's `scheduled` reason in step with `rotateBy`: who set the day
/// and when (shown once the day has come).
pub(super) fn schedule(conn: &mut AnyConnection, actor: &Actor, code: &CodeRow, now: NaiveDateTime) -> StoreResult<()> {
    diesel::delete(
        code_rotation_reasons::table
            .filter(code_rotation_reasons::code_id.eq(&code.id))
            .filter(code_rotation_reasons::value_version.eq(code.value_version))
            .filter(code_rotation_reasons::kind.eq(RotationReasonKind::Scheduled.as_str())),
    )
    .execute(conn)?;
    if code.rotate_by.is_none() {
        return Ok(());
    }
    let row = ReasonRow {
        id: time::new_id(),
        org_id: code.org_id.clone(),
        code_id: code.id.clone(),
        value_version: code.value_version,
        at: now,
        kind: RotationReasonKind::Scheduled.as_str().to_owned(),
        person_id: None,
        key_id: None,
        note: None,
        actor_name: actor.name.clone(),
    };
    diesel::insert_into(code_rotation_reasons::table).values(&row).execute(conn)?;
    Ok(())
}
