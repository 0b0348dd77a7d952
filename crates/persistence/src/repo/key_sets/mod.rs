//! Key sets (issue 13 §5): a named set of keys of one development, issued and returned as
//! one (`movement`). A key belongs to at most one set (`key_set_members`' primary key);
//! members are changed, and a set deleted, only while every member is in stock.

mod movement;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::{
    Actor, Error, FieldChange, KeySet, KeySetMember, KeySetState, KeyStatus, Page, PageRequest, entities::diff,
};

pub use movement::{issue, return_members};

use super::people::{Listed, guard_version, record};
use crate::connection::AnyConnection;
use crate::error::{StoreError, StoreResult, is_foreign_key_violation, is_unique_violation};
use crate::schema::{developments, key_set_members, key_sets, keys};
use crate::time;

/// The entity type of a set's audit events, and how a summary names one.
const KEY_SET: (&str, &str) = ("keySet", "Key set");

#[derive(Insertable, Queryable, AsChangeset, Clone, Debug)]
#[diesel(table_name = key_sets, treat_none_as_null = true)]
struct KeySetRow {
    id: String,
    org_id: String,
    development_id: String,
    name: String,
    state: String,
    issued_to: Option<String>,
    issued_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
}

/// A member as read with its key: id, ref, label, status, missing since.
type MemberRow = (String, String, String, String, Option<NaiveDateTime>);

impl KeySetRow {
    fn state(&self) -> StoreResult<KeySetState> {
        KeySetState::parse(&self.state)
            .ok_or_else(|| Error::Internal(format!("unknown key set state {:?} in the database", self.state)).into())
    }

    fn into_set(self, members: Vec<MemberRow>) -> StoreResult<KeySet> {
        let members = members
            .into_iter()
            .map(|(key_id, key_ref, label, status, missing_since)| {
                let status = KeyStatus::parse(&status)
                    .ok_or_else(|| Error::Internal(format!("unknown key status {status:?} in the database")))?;
                Ok(KeySetMember { key_id, key_ref, label, status, missing: missing_since.is_some() })
            })
            .collect::<StoreResult<_>>()?;
        Ok(KeySet {
            state: self.state()?,
            id: self.id,
            development_id: self.development_id,
            name: self.name,
            issued_to: self.issued_to,
            issued_at: self.issued_at.map(time::from_db),
            members,
            created_at: time::from_db(self.created_at),
            updated_at: time::from_db(self.updated_at),
            version: self.version,
        })
    }
}

fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<KeySetRow> {
    Ok(key_sets::table.filter(key_sets::org_id.eq(org_id)).filter(key_sets::id.eq(id)).first(conn)?)
}

/// The members of these sets with their keys, by set then key ref: one query over
/// `key_set_members_set`, the keys by primary key.
fn members_of(conn: &mut AnyConnection, org_id: &str, set_ids: &[&str]) -> StoreResult<Vec<(String, MemberRow)>> {
    let rows: Vec<(String, String, String, String, String, Option<NaiveDateTime>)> = key_set_members::table
        .inner_join(keys::table)
        .filter(key_set_members::org_id.eq(org_id))
        .filter(crate::repo::any_of(conn, key_set_members::set_id, set_ids))
        .order((key_set_members::set_id, keys::key_ref))
        .select((
            key_set_members::set_id,
            keys::id,
            keys::key_ref,
            keys::label,
            keys::status,
            key_set_members::missing_since,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(set, id, key_ref, label, status, missing)| (set, (id, key_ref, label, status, missing)))
        .collect())
}

fn answer(conn: &mut AnyConnection, row: KeySetRow) -> StoreResult<KeySet> {
    let members = members_of(conn, &row.org_id, &[&row.id])?.into_iter().map(|(_, m)| m).collect();
    row.into_set(members)
}

pub fn get(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<KeySet> {
    let row = find(conn, org_id, id)?;
    answer(conn, row)
}

#[derive(Debug, Default, Clone)]
pub struct KeySetFilter {
    pub development_id: Option<String>,
    pub state: Option<KeySetState>,
}

/// A page of sets by name then id, with their members (one more query for the page).
pub fn list(conn: &mut AnyConnection, org_id: &str, f: &KeySetFilter, page: PageRequest) -> StoreResult<Page<KeySet>> {
    let filtered = || {
        let mut q = key_sets::table.filter(key_sets::org_id.eq(org_id)).into_boxed();
        if let Some(development_id) = &f.development_id {
            q = q.filter(key_sets::development_id.eq(development_id));
        }
        if let Some(state) = f.state {
            q = q.filter(key_sets::state.eq(state.as_str()));
        }
        q
    };
    let counted: Vec<String> = filtered().select(key_sets::id).limit(Listed::CAP + 1).load(conn)?;
    let rows: Vec<KeySetRow> = filtered()
        .order((key_sets::name, key_sets::id))
        .limit(i64::from(page.limit))
        .offset(page.offset())
        .load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut members = members_of(conn, org_id, &ids)?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let (mine, rest): (Vec<_>, Vec<_>) = members.into_iter().partition(|(set, _)| *set == row.id);
        members = rest;
        items.push(row.into_set(mine.into_iter().map(|(_, m)| m).collect())?);
    }
    Ok(Listed::page(items, counted.len(), page))
}

/// A new set: its development, name and keys (validated, deduplicated, 1 to
/// [`keyward_domain::key_sets::MEMBERS_MAX`]).
#[derive(Debug, Clone)]
pub struct NewKeySet {
    pub development_id: String,
    pub name: String,
    pub key_ids: Vec<String>,
}

pub fn create(conn: &mut AnyConnection, actor: &Actor, new: NewKeySet) -> StoreResult<KeySet> {
    super::lock_organisation(conn, &actor.org_id)?;
    let development_exists: bool = diesel::select(diesel::dsl::exists(
        developments::table
            .filter(developments::org_id.eq(&actor.org_id))
            .filter(developments::id.eq(&new.development_id)),
    ))
    .get_result(conn)?;
    if !development_exists {
        return Err(Error::NotFound.into());
    }
    let now = time::now();
    let row = KeySetRow {
        id: time::new_id(),
        org_id: actor.org_id.clone(),
        development_id: new.development_id,
        name: new.name,
        state: KeySetState::InStock.as_str().to_owned(),
        issued_to: None,
        issued_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    diesel::insert_into(key_sets::table).values(&row).execute(conn).map_err(development_gone)?;
    let refs = add_members(conn, &row, &new.key_ids)?;
    let changes = vec![
        FieldChange::new("developmentId", None::<&str>, Some(&row.development_id)),
        FieldChange::new("name", None::<&str>, Some(&row.name)),
        FieldChange::new("keys", None::<&str>, Some(&refs.join(", "))),
    ];
    record(conn, actor, KEY_SET, (&row.id, &row.name), "created", changes)?;
    answer(conn, row)
}

/// Changes to a set; `None` leaves a field. `key_ids` replaces the members.
#[derive(Debug, Default, Clone)]
pub struct KeySetPatch {
    pub name: Option<String>,
    pub key_ids: Option<Vec<String>>,
}

pub fn update(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    expected_version: Option<i32>,
    p: KeySetPatch,
) -> StoreResult<KeySet> {
    super::lock_organisation(conn, &actor.org_id)?;
    let old = find(conn, &actor.org_id, id)?;
    guard_version(expected_version, old.version)?;
    let mut new = old.clone();
    new.name = p.name.unwrap_or(new.name);
    let mut changes = Vec::new();
    diff(&mut changes, "name", &Some(&old.name), &Some(&new.name));
    if let Some(key_ids) = p.key_ids {
        let before = members_of(conn, &actor.org_id, &[id])?;
        let mut old_ids: Vec<&str> = before.iter().map(|(_, m)| m.0.as_str()).collect();
        let mut new_ids: Vec<&str> = key_ids.iter().map(String::as_str).collect();
        old_ids.sort_unstable();
        new_ids.sort_unstable();
        if old_ids != new_ids {
            refuse_unless(&before, not_out)?;
            diesel::delete(key_set_members::table.filter(key_set_members::set_id.eq(id))).execute(conn)?;
            let refs = add_members(conn, &old, &key_ids)?;
            let old_refs: Vec<&str> = before.iter().map(|(_, m)| m.1.as_str()).collect();
            changes.push(FieldChange::new("keys", Some(&old_refs.join(", ")), Some(&refs.join(", "))));
        }
    }
    if changes.is_empty() {
        return answer(conn, old);
    }
    new.version = old.version + 1;
    new.updated_at = time::now();
    diesel::update(key_sets::table.filter(key_sets::org_id.eq(&actor.org_id)).filter(key_sets::id.eq(id)))
        .set(&new)
        .execute(conn)?;
    record(conn, actor, KEY_SET, (&new.id, &new.name), "updated", changes)?;
    answer(conn, new)
}

/// Deletes a set none of whose members is out (the keys stay); otherwise
/// KEYS_NOT_IN_STOCK naming those that are.
pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<()> {
    super::lock_organisation(conn, &actor.org_id)?;
    let row = find(conn, &actor.org_id, id)?;
    refuse_unless(&members_of(conn, &actor.org_id, &[id])?, not_out)?;
    diesel::delete(key_sets::table.filter(key_sets::org_id.eq(&actor.org_id)).filter(key_sets::id.eq(id)))
        .execute(conn)?;
    let changes = vec![FieldChange::new("name", Some(&row.name), None::<&str>)];
    record(conn, actor, KEY_SET, (&row.id, &row.name), "deleted", changes)
}

/// The name of the set a key belongs to, if any (`key_set_members`' primary key).
pub(crate) fn set_name_of_key(conn: &mut AnyConnection, org_id: &str, key_id: &str) -> StoreResult<Option<String>> {
    Ok(key_set_members::table
        .inner_join(key_sets::table)
        .filter(key_set_members::org_id.eq(org_id))
        .filter(key_set_members::key_id.eq(key_id))
        .select(key_sets::name)
        .first(conn)
        .optional()?)
}

/// KEYS_NOT_IN_STOCK naming the members for which `at_hand` is false, if any.
fn refuse_unless(members: &[(String, MemberRow)], at_hand: impl Fn(KeyStatus) -> bool) -> StoreResult<()> {
    let out: Vec<String> = members
        .iter()
        .filter(|(_, m)| !KeyStatus::parse(&m.3).is_some_and(&at_hand))
        .map(|(_, m)| m.1.clone())
        .collect();
    if out.is_empty() { Ok(()) } else { Err(Error::KeysNotInStock { key_refs: out }.into()) }
}

/// Whether a key is back in the store, as far as its set is concerned: not out with a
/// holder. A set's members change, and a set is deleted, only while all of them are.
fn not_out(status: KeyStatus) -> bool {
    status != KeyStatus::Issued
}

/// Makes these keys the set's members and answers their refs: NOT_FOUND unless every key
/// is the organisation's; INVALID_INPUT `keyIds` for a key of another development or
/// already in another set; KEYS_NOT_IN_STOCK for a key that is out (issued).
fn add_members(conn: &mut AnyConnection, set: &KeySetRow, key_ids: &[String]) -> StoreResult<Vec<String>> {
    let found: Vec<(String, String, String, String, Option<String>)> = keys::table
        .left_join(key_set_members::table.inner_join(key_sets::table))
        .filter(keys::org_id.eq(&set.org_id))
        .filter(keys::id.eq_any(key_ids))
        .order(keys::key_ref)
        .select((keys::id, keys::key_ref, keys::development_id, keys::status, key_sets::name.nullable()))
        .load(conn)?;
    if found.len() != key_ids.len() {
        return Err(Error::NotFound.into());
    }
    for (_, key_ref, development_id, status, other_set) in &found {
        if *development_id != set.development_id {
            return Err(Error::invalid("keyIds", format!("key {key_ref} is not a key of the set's development")).into());
        }
        if let Some(other) = other_set {
            return Err(Error::invalid("keyIds", format!("key {key_ref} is already in key set {other}")).into());
        }
        if status == KeyStatus::Issued.as_str() {
            return Err(Error::KeysNotInStock { key_refs: vec![key_ref.clone()] }.into());
        }
    }
    // One row at a time: a MultiConnection has no batch insert (as `keys.setDoors`).
    for (key_id, ..) in &found {
        diesel::insert_into(key_set_members::table)
            .values((
                key_set_members::key_id.eq(key_id),
                key_set_members::org_id.eq(&set.org_id),
                key_set_members::set_id.eq(&set.id),
                key_set_members::missing_since.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
            .map_err(|e| {
                // A concurrent call put the key in another set, or deleted it (PostgreSQL).
                let e = StoreError::from(e);
                if is_unique_violation(&e) {
                    Error::invalid("keyIds", "a key is already in another key set").into()
                } else if is_foreign_key_violation(&e) {
                    Error::NotFound.into()
                } else {
                    e
                }
            })?;
    }
    Ok(found.into_iter().map(|(_, key_ref, ..)| key_ref).collect())
}

/// Maps a foreign-key failure (the development deleted by a concurrent call) to NOT_FOUND.
fn development_gone(e: diesel::result::Error) -> StoreError {
    let e = StoreError::from(e);
    if is_foreign_key_violation(&e) { Error::NotFound.into() } else { e }
}
