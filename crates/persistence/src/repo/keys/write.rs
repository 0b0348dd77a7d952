//! Creation, edits and deletion, each a version-guarded write with its audit event.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::key_ref::format_key_ref;
use keyward_domain::{
    Actor, Error, FieldChange, Key, KeyStatus,
    entities::diff,
    entities::{KeyType, SecurityLevel},
};

use super::history::record_movement;
use super::refs::{development_prefix, lowest_free_number};
use super::{KeyRow, MAX_ATTEMPTS, find};
use crate::connection::AnyConnection;
use crate::error::{StoreError, StoreResult, is_foreign_key_violation, is_unique_violation};
use crate::repo::audit::{self, NewEvent};
use crate::repo::counts;
use crate::schema::keys;
use crate::time;

/// The descriptive fields of a key, validated. Optional texts are `None` when empty.
#[derive(Debug, Clone)]
pub struct KeyFields {
    pub key_type: KeyType,
    pub label: String,
    pub notes: Option<String>,
    pub security_level: SecurityLevel,
    pub brand: Option<String>,
    pub key_number: Option<String>,
    pub quantity: i32,
    pub access_restrictions: Option<String>,
    pub emergency_contact: Option<String>,
}

pub struct NewKey {
    pub development_id: String,
    /// Normalised; `None` assigns the development's next free ref.
    pub key_ref: Option<String>,
    pub fields: KeyFields,
}

pub fn create(conn: &mut AnyConnection, actor: &Actor, new: NewKey) -> StoreResult<Key> {
    // The organisation's lock first (it also serialises key-ref writers, so that a
    // suggested ref cannot be taken between choosing and inserting it).
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    let prefix = development_prefix(conn, &actor.org_id, &new.development_id)?;
    let key_ref = match new.key_ref {
        Some(key_ref) => key_ref,
        None => format_key_ref(&prefix, lowest_free_number(conn, &actor.org_id, &prefix)?),
    };
    let now = time::now();
    let f = new.fields;
    let mut row = KeyRow {
        id: time::new_id(),
        org_id: actor.org_id.clone(),
        development_id: new.development_id,
        key_ref: String::new(),
        ref_prefix: None,
        ref_number: None,
        key_type: f.key_type.as_str().to_owned(),
        label: f.label,
        status: KeyStatus::InStock.as_str().to_owned(),
        notes: f.notes,
        issued_to: None,
        issued_to_phone: None,
        issued_at: None,
        issued_by: None,
        purpose: None,
        expected_return_at: None,
        security_level: f.security_level.as_str().to_owned(),
        brand: f.brand,
        key_number: f.key_number,
        quantity: f.quantity,
        access_restrictions: f.access_restrictions,
        emergency_contact: f.emergency_contact,
        created_at: now,
        updated_at: now,
        last_status_change_at: Some(now),
        last_status_change_by: Some(actor.name.clone()),
        version: 1,
        search_text: String::new(),
        holder_id: None,
        return_requested_at: None,
        return_claimed_at: None,
        holder_phone: None,
    };
    row.set_key_ref(key_ref);
    row.refresh_search_text();
    diesel::insert_into(keys::table).values(&row).execute(conn).map_err(|e| key_ref_taken(e.into(), &row.key_ref))?;
    derived_changed(conn, &actor.org_id, None, Some(&row))?;
    record_movement(conn, actor, &row, "created", None)?;
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "key.created",
            entity_type: "key",
            entity_id: &row.id,
            summary: format!("Key {} ({}) created", row.key_ref, row.label),
            changes: vec![
                FieldChange::new("keyRef", None::<&str>, Some(&row.key_ref)),
                FieldChange::new("label", None::<&str>, Some(&row.label)),
                FieldChange::new("keyType", None::<&str>, Some(&row.key_type)),
                FieldChange::new("status", None::<&str>, Some(&row.status)),
            ],
        },
    )?;
    row.into_key(now, Vec::new())
}

/// The contract's answer to a constraint the database enforced: the ref is taken, or
/// the development was deleted meanwhile (PostgreSQL).
fn key_ref_taken(e: StoreError, key_ref: &str) -> StoreError {
    if is_unique_violation(&e) {
        Error::KeyRefTaken(key_ref.to_owned()).into()
    } else if is_foreign_key_violation(&e) {
        Error::NotFound.into()
    } else {
        e
    }
}

/// Changes to a key's fields; `None` leaves a field as it is. For the optional texts,
/// `Some(None)` clears the field.
#[derive(Debug, Default, Clone)]
pub struct KeyPatch {
    pub development_id: Option<String>,
    pub key_ref: Option<String>,
    pub key_type: Option<KeyType>,
    pub label: Option<String>,
    pub notes: Option<Option<String>>,
    pub security_level: Option<SecurityLevel>,
    pub brand: Option<Option<String>>,
    pub key_number: Option<Option<String>>,
    pub quantity: Option<i32>,
    pub access_restrictions: Option<Option<String>>,
    pub emergency_contact: Option<Option<String>>,
}

pub fn update(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    expected_version: Option<i32>,
    patch: KeyPatch,
) -> StoreResult<Key> {
    if let Some(development_id) = &patch.development_id {
        development_prefix(conn, &actor.org_id, development_id)?;
        // The doors a key opens are of its development (decision 94).
        crate::repo::lock_organisation(conn, &actor.org_id)?;
        let key = find(conn, &actor.org_id, id)?;
        if key.development_id != *development_id && !super::doors::of_key(conn, &actor.org_id, id)?.is_empty() {
            return Err(Error::invalid(
                "developmentId",
                "the key opens doors of its development: clear them with keys.setDoors first",
            )
            .into());
        }
        // The keys of a set are of one development (issue 13 §5).
        if key.development_id != *development_id
            && let Some(set) = crate::repo::key_sets::set_name_of_key(conn, &actor.org_id, id)?
        {
            return Err(Error::invalid(
                "developmentId",
                format!("the key is in key set {set}: take it out of the set first"),
            )
            .into());
        }
    }
    // `with_retries` takes the organisation's lock, which also serialises key-ref writers.
    with_retries(conn, actor, id, |old, _| {
        if let Some(expected) = expected_version
            && expected != old.version
        {
            return Err(Error::VersionConflict { current: old.version }.into());
        }
        let mut new = old.clone();
        let p = patch.clone();
        if let Some(v) = p.development_id {
            new.development_id = v;
        }
        if let Some(v) = p.key_ref {
            new.set_key_ref(v);
        }
        if let Some(v) = p.key_type {
            new.key_type = v.as_str().to_owned();
        }
        if let Some(v) = p.label {
            new.label = v;
        }
        if let Some(v) = p.security_level {
            new.security_level = v.as_str().to_owned();
        }
        if let Some(v) = p.quantity {
            new.quantity = v;
        }
        new.notes = p.notes.unwrap_or(new.notes);
        new.brand = p.brand.unwrap_or(new.brand);
        new.key_number = p.key_number.unwrap_or(new.key_number);
        new.access_restrictions = p.access_restrictions.unwrap_or(new.access_restrictions);
        new.emergency_contact = p.emergency_contact.unwrap_or(new.emergency_contact);

        let mut changes = Vec::new();
        diff(&mut changes, "developmentId", &Some(&old.development_id), &Some(&new.development_id));
        diff(&mut changes, "keyRef", &Some(&old.key_ref), &Some(&new.key_ref));
        diff(&mut changes, "keyType", &Some(&old.key_type), &Some(&new.key_type));
        diff(&mut changes, "label", &Some(&old.label), &Some(&new.label));
        diff(&mut changes, "notes", &old.notes, &new.notes);
        diff(&mut changes, "securityLevel", &Some(&old.security_level), &Some(&new.security_level));
        diff(&mut changes, "brand", &old.brand, &new.brand);
        diff(&mut changes, "keyNumber", &old.key_number, &new.key_number);
        diff(&mut changes, "quantity", &Some(old.quantity), &Some(new.quantity));
        diff(&mut changes, "accessRestrictions", &old.access_restrictions, &new.access_restrictions);
        diff(&mut changes, "emergencyContact", &old.emergency_contact, &new.emergency_contact);
        let summary = format!("Key {} updated", new.key_ref);
        Ok(Planned { new, changes, action: "updated", summary, movement: None })
    })
}

/// A change worked out from the key as it was read.
pub(super) struct Planned {
    pub(super) new: KeyRow,
    pub(super) changes: Vec<FieldChange>,
    /// The verb of the audit action `key.<action>` and of the history movement.
    pub(super) action: &'static str,
    pub(super) summary: String,
    /// `Some(notes)` records a movement in the key's history.
    pub(super) movement: Option<Option<String>>,
}

/// Reads the key, plans the change, and writes it with one UPDATE guarded by the version
/// that was read. If another writer got there first (only possible on PostgreSQL), the
/// UPDATE matches nothing, and the change is planned again from the key as it is now —
/// so a transition is judged against the real current status and the audit event shows
/// exactly what changed.
pub(super) fn with_retries(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    mut plan: impl FnMut(&KeyRow, NaiveDateTime) -> StoreResult<Planned>,
) -> StoreResult<Key> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    for _ in 0..MAX_ATTEMPTS {
        let old = find(conn, &actor.org_id, id)?;
        // One instant for the whole change: updatedAt, the status change, the history.
        let now = time::now();
        let Planned { mut new, changes, action, summary, movement } = plan(&old, now)?;
        if changes.is_empty() {
            return super::answer(conn, old, now);
        }
        new.version = old.version + 1;
        new.updated_at = now;
        new.refresh_search_text();
        let update = diesel::update(
            keys::table
                .filter(keys::org_id.eq(&actor.org_id))
                .filter(keys::id.eq(id))
                .filter(keys::version.eq(old.version)),
        )
        .set(super::key_change!(&old, &new))
        .returning(keys::all_columns);
        // Kept (decision 186) for a transition, whose changed columns come in few shapes;
        // an edit's are whatever fields its caller patched.
        let written =
            if movement.is_some() { crate::repo::Kept(update).get_result(conn) } else { update.get_result(conn) };
        let written: Option<KeyRow> = written.optional().map_err(|e| key_ref_taken(e.into(), &new.key_ref))?;
        let Some(written) = written else { continue };
        derived_changed(conn, &actor.org_id, Some(&old), Some(&written))?;
        if let Some(notes) = movement {
            record_movement(conn, actor, &written, action, notes)?;
        }
        audit::record(
            conn,
            actor,
            NewEvent { action: &format!("key.{action}"), entity_type: "key", entity_id: id, summary, changes },
        )?;
        let holding = if written.status == old.status { super::Holding::AsItWas } else { super::Holding::New };
        return super::answer_in(conn, written, now, holding);
    }
    Err(Error::Unavailable.into())
}

/// Keeps the counts, the ref floor, the doors' lost links and the handover in step with a
/// key that was created (`old` is `None`), changed, or deleted (`new` is `None`). Called
/// under the organisation's lock.
fn derived_changed(
    conn: &mut AnyConnection,
    org_id: &str,
    old: Option<&KeyRow>,
    new: Option<&KeyRow>,
) -> StoreResult<()> {
    counts::key_changed(conn, org_id, old.map(KeyRow::facts), new.map(KeyRow::facts))?;
    // A deleted key's links and handover go with it (cascade); a created key has none.
    if let (Some(old), Some(new)) = (old, new) {
        let lost = |row: &KeyRow| row.status == KeyStatus::Lost.as_str();
        if lost(old) != lost(new) {
            super::doors::key_lost_changed(conn, org_id, &new.id, lost(new))?;
        }
        // Only an issued key has a handover (the holding's); leaving `issued` ends it.
        let issued = |row: &KeyRow| row.status == KeyStatus::Issued.as_str();
        if issued(old) && !issued(new) {
            super::handover::holding_ended(conn, org_id, &new.id)?;
        }
    }
    let numbered = |row: Option<&KeyRow>| row.and_then(|r| Some((r.ref_prefix.clone()?, r.ref_number?)));
    let (old_ref, new_ref) = (numbered(old), numbered(new));
    if old_ref == new_ref {
        return Ok(());
    }
    if let Some((prefix, number)) = old_ref.filter(|(_, n)| *n >= 1) {
        counts::ref_number_freed(conn, org_id, &prefix, number)?;
    }
    if let Some((prefix, number)) = new_ref
        && number == counts::ref_floor(conn, org_id, &prefix)?
    {
        let floor = lowest_free_number(conn, org_id, &prefix)?;
        counts::set_ref_floor(conn, org_id, &prefix, floor)?;
    }
    Ok(())
}

/// Deletes a key that nobody holds; an issued key is INVALID_TRANSITION.
pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<()> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    for _ in 0..MAX_ATTEMPTS {
        let old = find(conn, &actor.org_id, id)?;
        let current = old.status()?;
        if !current.can_delete() {
            return Err(Error::InvalidTransition { current }.into());
        }
        let deleted = diesel::delete(
            keys::table
                .filter(keys::org_id.eq(&actor.org_id))
                .filter(keys::id.eq(id))
                .filter(keys::version.eq(old.version)),
        )
        .execute(conn)?;
        if deleted == 0 {
            continue;
        }
        derived_changed(conn, &actor.org_id, Some(&old), None)?;
        audit::record(
            conn,
            actor,
            NewEvent {
                action: "key.deleted",
                entity_type: "key",
                entity_id: id,
                summary: format!("Key {} ({}) deleted", old.key_ref, old.label),
                changes: vec![FieldChange::new("keyRef", Some(&old.key_ref), None::<&str>)],
            },
        )?;
        return Ok(());
    }
    Err(Error::Unavailable.into())
}
