//! Doors (issue 12): the doors, gates and other openings of a development, which keys and
//! access codes link to.

pub mod log;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::{Actor, Door, DoorKind, Error, FieldChange, Page, PageRequest, entities::diff};

use super::people::{Listed, guard_version, record};
use crate::connection::{AnyConnection, MultiBackend};
use crate::error::{StoreError, StoreResult, is_foreign_key_violation};
use crate::schema::{access_code_doors, developments, doors, grant_doors, key_doors};
use crate::time;

/// The entity type of a door's audit events, and how a summary names one.
const DOOR: (&str, &str) = ("door", "Door");

#[derive(Insertable, Queryable, AsChangeset, Clone, Debug)]
#[diesel(table_name = doors, treat_none_as_null = true)]
struct DoorRow {
    id: String,
    org_id: String,
    development_id: String,
    name: String,
    kind: String,
    notes: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
}

impl DoorRow {
    fn into_door(self) -> StoreResult<Door> {
        let kind = DoorKind::parse(&self.kind)
            .ok_or_else(|| Error::Internal(format!("unknown door kind {:?} in the database", self.kind)))?;
        Ok(Door {
            id: self.id,
            development_id: self.development_id,
            name: self.name,
            kind,
            notes: self.notes,
            created_at: time::from_db(self.created_at),
            updated_at: time::from_db(self.updated_at),
            version: self.version,
        })
    }
}

fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<DoorRow> {
    Ok(doors::table.filter(doors::org_id.eq(org_id)).filter(doors::id.eq(id)).first(conn)?)
}

pub fn get(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Door> {
    find(conn, org_id, id)?.into_door()
}

/// The doors of the organisation with these ids, in the order of `ids` (unknown ids and
/// other organisations' doors are left out).
pub fn by_ids(conn: &mut AnyConnection, org_id: &str, ids: &[String]) -> StoreResult<Vec<Door>> {
    let rows: Vec<DoorRow> =
        doors::table.filter(doors::org_id.eq(org_id)).filter(crate::repo::any_of(conn, doors::id, ids)).load(conn)?;
    let mut found = rows.into_iter().map(DoorRow::into_door).collect::<StoreResult<Vec<_>>>()?;
    found.sort_by_key(|d| ids.iter().position(|id| *id == d.id));
    Ok(found)
}

#[derive(Debug, Default, Clone)]
pub struct DoorFilter {
    pub development_id: Option<String>,
    pub kind: Option<DoorKind>,
}

fn filtered<'a>(org_id: &'a str, f: &'a DoorFilter) -> doors::BoxedQuery<'a, MultiBackend> {
    let mut q = doors::table.filter(doors::org_id.eq(org_id)).into_boxed();
    if let Some(development_id) = &f.development_id {
        q = q.filter(doors::development_id.eq(development_id));
    }
    if let Some(kind) = f.kind {
        q = q.filter(doors::kind.eq(kind.as_str()));
    }
    q
}

/// A page of doors ordered by name then id.
pub fn list(conn: &mut AnyConnection, org_id: &str, f: &DoorFilter, page: PageRequest) -> StoreResult<Page<Door>> {
    let counted: Vec<String> = filtered(org_id, f).select(doors::id).limit(Listed::CAP + 1).load(conn)?;
    let rows: Vec<DoorRow> = filtered(org_id, f)
        .order((doors::name, doors::id))
        .limit(i64::from(page.limit))
        .offset(page.offset())
        .load(conn)?;
    let items = rows.into_iter().map(DoorRow::into_door).collect::<StoreResult<_>>()?;
    Ok(Listed::page(items, counted.len(), page))
}

/// `doors.exportCsv`: the doors that match, ordered by name then id, at most `max + 1`
/// (one more tells the caller the export is over its limit); one query, no total.
pub fn export(conn: &mut AnyConnection, org_id: &str, f: &DoorFilter, max: usize) -> StoreResult<Vec<Door>> {
    let rows: Vec<DoorRow> = filtered(org_id, f).order((doors::name, doors::id)).limit(max as i64 + 1).load(conn)?;
    rows.into_iter().map(DoorRow::into_door).collect()
}

/// A door's fields, validated.
#[derive(Debug, Clone)]
pub struct DoorFields {
    pub development_id: String,
    pub name: String,
    pub kind: DoorKind,
    pub notes: Option<String>,
}

pub fn create(conn: &mut AnyConnection, actor: &Actor, f: DoorFields) -> StoreResult<Door> {
    super::lock_organisation(conn, &actor.org_id)?;
    let development_exists: bool = diesel::select(diesel::dsl::exists(
        developments::table
            .filter(developments::org_id.eq(&actor.org_id))
            .filter(developments::id.eq(&f.development_id)),
    ))
    .get_result(conn)?;
    if !development_exists {
        return Err(Error::NotFound.into());
    }
    let now = time::now();
    let row = DoorRow {
        id: time::new_id(),
        org_id: actor.org_id.clone(),
        development_id: f.development_id,
        name: f.name,
        kind: f.kind.as_str().to_owned(),
        notes: f.notes,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    diesel::insert_into(doors::table).values(&row).execute(conn).map_err(|e| {
        // The development was deleted by a concurrent call (PostgreSQL).
        let e = StoreError::from(e);
        if is_foreign_key_violation(&e) { Error::NotFound.into() } else { e }
    })?;
    let changes = vec![
        FieldChange::new("developmentId", None::<&str>, Some(&row.development_id)),
        FieldChange::new("name", None::<&str>, Some(&row.name)),
        FieldChange::new("kind", None::<&str>, Some(&row.kind)),
    ];
    record(conn, actor, DOOR, (&row.id, &row.name), "created", changes)?;
    row.into_door()
}

/// Changes to a door; `None` leaves a field, `Some(None)` clears `notes`. A door stays in
/// its development (decision 70).
#[derive(Debug, Default, Clone)]
pub struct DoorPatch {
    pub name: Option<String>,
    pub kind: Option<DoorKind>,
    pub notes: Option<Option<String>>,
}

pub fn update(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    expected_version: Option<i32>,
    p: DoorPatch,
) -> StoreResult<Door> {
    super::lock_organisation(conn, &actor.org_id)?;
    let old = find(conn, &actor.org_id, id)?;
    guard_version(expected_version, old.version)?;
    let mut new = old.clone();
    new.name = p.name.unwrap_or(new.name);
    if let Some(kind) = p.kind {
        new.kind = kind.as_str().to_owned();
    }
    new.notes = p.notes.unwrap_or(new.notes);
    let mut changes = Vec::new();
    diff(&mut changes, "name", &Some(&old.name), &Some(&new.name));
    diff(&mut changes, "kind", &Some(&old.kind), &Some(&new.kind));
    diff(&mut changes, "notes", &old.notes, &new.notes);
    if changes.is_empty() {
        return old.into_door();
    }
    new.version = old.version + 1;
    new.updated_at = time::now();
    let updated = diesel::update(doors::table.filter(doors::org_id.eq(&actor.org_id)).filter(doors::id.eq(id)))
        .set(&new)
        .execute(conn)?;
    if updated == 0 {
        return Err(Error::NotFound.into()); // deleted meanwhile (PostgreSQL)
    }
    record(conn, actor, DOOR, (&new.id, &new.name), "updated", changes)?;
    new.into_door()
}

/// Whether a key or an access code opens the door.
fn in_use(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<bool> {
    let by_key: bool = diesel::select(diesel::dsl::exists(
        key_doors::table.filter(key_doors::org_id.eq(org_id)).filter(key_doors::door_id.eq(id)),
    ))
    .get_result(conn)?;
    if by_key {
        return Ok(true);
    }
    let by_grant: bool = diesel::select(diesel::dsl::exists(
        grant_doors::table.filter(grant_doors::org_id.eq(org_id)).filter(grant_doors::door_id.eq(id)),
    ))
    .get_result(conn)?;
    if by_grant {
        return Ok(true);
    }
    Ok(diesel::select(diesel::dsl::exists(
        access_code_doors::table.filter(access_code_doors::org_id.eq(org_id)).filter(access_code_doors::door_id.eq(id)),
    ))
    .get_result(conn)?)
}

/// Deletes a door no key, access code or grant opens; otherwise DOOR_IN_USE (decision 70).
pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<()> {
    super::lock_organisation(conn, &actor.org_id)?;
    let row = find(conn, &actor.org_id, id)?;
    if in_use(conn, &actor.org_id, id)? {
        return Err(Error::DoorInUse.into());
    }
    let deleted = diesel::delete(doors::table.filter(doors::org_id.eq(&actor.org_id)).filter(doors::id.eq(id)))
        .execute(conn)
        .map_err(|e| {
            // A key or code was linked by a concurrent call (PostgreSQL).
            let e = StoreError::from(e);
            if is_foreign_key_violation(&e) { Error::DoorInUse.into() } else { e }
        })?;
    if deleted == 0 {
        return Err(Error::NotFound.into()); // another call deleted it first
    }
    let changes = vec![FieldChange::new("name", Some(&row.name), None::<&str>)];
    record(conn, actor, DOOR, (&row.id, &row.name), "deleted", changes)
}

/// Whether a development still has doors.
pub(crate) fn any_in_development(conn: &mut AnyConnection, org_id: &str, development_id: &str) -> StoreResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        doors::table.filter(doors::org_id.eq(org_id)).filter(doors::development_id.eq(development_id)),
    ))
    .get_result(conn)?)
}

/// NOT_FOUND unless every door (deduplicated) is one of the organisation's; INVALID_INPUT
/// `field` if one is of another development than `development_id` (what opens a door
/// belongs to the door's development: decision 94). One query.
pub(crate) fn check_in_development(
    conn: &mut AnyConnection,
    org_id: &str,
    development_id: &str,
    door_ids: &[String],
    field: &str,
) -> StoreResult<()> {
    if door_ids.is_empty() {
        return Ok(());
    }
    let found: Vec<(String, String)> = doors::table
        .filter(doors::org_id.eq(org_id))
        .filter(doors::id.eq_any(door_ids))
        .select((doors::id, doors::development_id))
        .load(conn)?;
    if found.len() != door_ids.len() {
        return Err(Error::NotFound.into());
    }
    if let Some((id, _)) = found.iter().find(|(_, development)| development != development_id) {
        return Err(Error::invalid(field, format!("door {id} is not a door of this development")).into());
    }
    Ok(())
}

/// Maps a foreign-key failure while linking doors (a door deleted by a concurrent call)
/// to NOT_FOUND.
pub(crate) fn door_gone(e: diesel::result::Error) -> StoreError {
    let e = StoreError::from(e);
    if is_foreign_key_violation(&e) { Error::NotFound.into() } else { e }
}
