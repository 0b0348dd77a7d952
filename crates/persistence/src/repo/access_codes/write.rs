//! Creating and updating codes: a new value starts a value period (its `set` exposure),
//! linked keys and `rotateBy` are kept with the row.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use keyward_domain::entities::{CodeStatus, CodeType};
use keyward_domain::{AccessCode, Actor, Error, ExposureChannel, FieldChange, Secret, entities::diff};

use super::{CodeRow, ENTITY, MAX_ATTEMPTS, Reveal, answer, doors, find, ledger, rotation};
use crate::connection::AnyConnection;
use crate::error::{StoreError, StoreResult, is_foreign_key_violation};
use crate::repo::audit::{self, NewEvent};
use crate::repo::joined;
use crate::schema::{access_code_values, access_codes, developments};
use crate::secrets::Sealer;
use crate::time;

/// Starts value `value_version` of a code: its period, and its first exposure (`set`,
/// the user who typed it).
fn start_value(conn: &mut AnyConnection, actor: &Actor, row: &CodeRow, at: NaiveDateTime) -> StoreResult<()> {
    diesel::insert_into(access_code_values::table)
        .values((
            access_code_values::org_id.eq(&row.org_id),
            access_code_values::code_id.eq(&row.id),
            access_code_values::value_version.eq(row.value_version),
            access_code_values::started_at.eq(at),
            access_code_values::started_by.eq(&actor.name),
        ))
        .execute(conn)?;
    let who = ledger::Recipient::user(actor);
    ledger::record(conn, actor, &row.id, row.value_version, at, ExposureChannel::Set, who)?;
    Ok(())
}

/// A new code, validated.
pub struct NewCode {
    pub development_id: String,
    pub code_type: CodeType,
    pub label: String,
    pub code: Secret,
    pub status: CodeStatus,
    pub expires_on: Option<NaiveDate>,
    pub notes: Option<String>,
    pub rotate_by: Option<NaiveDate>,
    /// Keys of the organisation that open the same door (deduplicated).
    pub key_ids: Vec<String>,
    /// Doors of the code's development it is at (deduplicated).
    pub door_ids: Vec<String>,
}

fn development_exists(conn: &mut AnyConnection, org_id: &str, development_id: &str) -> StoreResult<()> {
    let exists: bool = diesel::select(diesel::dsl::exists(
        developments::table.filter(developments::org_id.eq(org_id)).filter(developments::id.eq(development_id)),
    ))
    .get_result(conn)?;
    if exists { Ok(()) } else { Err(Error::NotFound.into()) }
}

pub fn create(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    reveal: Reveal,
    actor: &Actor,
    new: NewCode,
) -> StoreResult<AccessCode> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    development_exists(conn, &actor.org_id, &new.development_id)?;
    let now = time::now();
    let row = CodeRow {
        id: time::new_id(),
        org_id: actor.org_id.clone(),
        development_id: new.development_id,
        code_type: new.code_type.as_str().to_owned(),
        search_text: new.label.to_lowercase(),
        label: new.label,
        code_sealed: sealer.seal(new.code.expose()),
        code_lookup: sealer.lookup(new.code.expose()),
        status: new.status.as_str().to_owned(),
        expires_on: new.expires_on,
        notes: new.notes,
        created_at: now,
        updated_at: now,
        version: 1,
        value_version: 1,
        rotate_by: new.rotate_by,
        rotation_flagged_at: None,
    };
    rotation::check_keys(conn, &actor.org_id, &new.key_ids)?;
    doors::check(conn, &actor.org_id, &row.development_id, &new.door_ids)?;
    diesel::insert_into(access_codes::table).values(&row).execute(conn).map_err(|e| {
        let e = StoreError::from(e);
        // The development was deleted by a concurrent call.
        if is_foreign_key_violation(&e) { Error::NotFound.into() } else { e }
    })?;
    crate::repo::counts::code_changed(conn, &actor.org_id, &row.development_id, 1)?;
    start_value(conn, actor, &row, now)?;
    rotation::link_keys(conn, &row, &new.key_ids)?;
    doors::link(conn, &row, &new.door_ids)?;
    rotation::schedule(conn, actor, &row, now)?;
    let mut changes = vec![
        FieldChange::new("label", None::<&str>, Some(&row.label)),
        FieldChange::new("codeType", None::<&str>, Some(&row.code_type)),
        FieldChange::new("code", None::<&str>, Some("***")),
        FieldChange::new("status", None::<&str>, Some(&row.status)),
    ];
    diff(&mut changes, "expiresOn", &None, &row.expires_on);
    diff(&mut changes, "rotateBy", &None, &row.rotate_by);
    diff(&mut changes, "keyIds", &None, &joined(&new.key_ids));
    diff(&mut changes, "doorIds", &None, &joined(&new.door_ids));
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "accessCode.created",
            entity_type: ENTITY,
            entity_id: &row.id,
            summary: format!("Access code {} created", row.label),
            changes,
        },
    )?;
    answer(conn, sealer, reveal, row)
}

/// Changes to a code; `None` leaves a field as it is, `Some(None)` clears an optional one.
#[derive(Debug, Default, Clone)]
pub struct CodePatch {
    pub code_type: Option<CodeType>,
    pub label: Option<String>,
    pub code: Option<Secret>,
    pub status: Option<CodeStatus>,
    pub expires_on: Option<Option<NaiveDate>>,
    pub notes: Option<Option<String>>,
    /// Absent: as it is, except that a new value clears it (the rotation is done).
    pub rotate_by: Option<Option<NaiveDate>>,
    /// Replaces the linked keys.
    pub key_ids: Option<Vec<String>>,
    /// Replaces the doors (deduplicated).
    pub door_ids: Option<Vec<String>>,
}

/// Updates a code with one UPDATE guarded by the version read, like keys.
pub fn update(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    reveal: Reveal,
    actor: &Actor,
    id: &str,
    expected_version: Option<i32>,
    patch: CodePatch,
) -> StoreResult<AccessCode> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    if let Some(key_ids) = &patch.key_ids {
        rotation::check_keys(conn, &actor.org_id, key_ids)?;
    }
    for _ in 0..MAX_ATTEMPTS {
        let old = find(conn, &actor.org_id, id)?;
        if let Some(expected) = expected_version
            && expected != old.version
        {
            return Err(Error::VersionConflict { current: old.version }.into());
        }
        let mut new = old.clone();
        let p = patch.clone();
        if let Some(v) = p.code_type {
            new.code_type = v.as_str().to_owned();
        }
        if let Some(v) = p.label {
            new.search_text = v.to_lowercase();
            new.label = v;
        }
        if let Some(v) = p.status {
            new.status = v.as_str().to_owned();
        }
        new.expires_on = p.expires_on.unwrap_or(new.expires_on);
        new.notes = p.notes.unwrap_or(new.notes);

        let mut changes = Vec::new();
        diff(&mut changes, "codeType", &Some(&old.code_type), &Some(&new.code_type));
        diff(&mut changes, "label", &Some(&old.label), &Some(&new.label));
        let new_value = match &p.code {
            Some(code) => Secret::from(sealer.open(&old.code_sealed)?) != *code,
            None => false,
        };
        if let (true, Some(code)) = (new_value, &p.code) {
            new.code_sealed = sealer.seal(code.expose());
            new.code_lookup = sealer.lookup(code.expose());
            changes.push(FieldChange::new("code", Some("***"), Some("***")));
            // A new value: a new exposure period, the old value's reasons left behind,
            // and the scheduled rotation done unless a new day comes with it.
            new.value_version = old.value_version + 1;
            new.rotation_flagged_at = None;
            new.rotate_by = None;
        }
        new.rotate_by = p.rotate_by.unwrap_or(new.rotate_by);
        if let Some(door_ids) = &p.door_ids {
            doors::check(conn, &actor.org_id, &old.development_id, door_ids)?;
        }
        let old_doors = match &p.door_ids {
            Some(_) => doors::of_codes(conn, &actor.org_id, &[id])?.remove(id).unwrap_or_default(),
            None => Vec::new(),
        };
        let old_keys = match &p.key_ids {
            Some(_) => rotation::linked_keys(conn, &actor.org_id, &[id])?.remove(id).unwrap_or_default(),
            None => Vec::new(),
        };
        diff(&mut changes, "status", &Some(&old.status), &Some(&new.status));
        diff(&mut changes, "expiresOn", &old.expires_on, &new.expires_on);
        diff(&mut changes, "notes", &old.notes, &new.notes);
        diff(&mut changes, "rotateBy", &old.rotate_by, &new.rotate_by);
        if let Some(key_ids) = &p.key_ids {
            let (mut before, mut after) = (old_keys.clone(), key_ids.clone());
            before.sort();
            after.sort();
            diff(&mut changes, "keyIds", &joined(&before), &joined(&after));
        }
        if let Some(door_ids) = &p.door_ids {
            let mut after = door_ids.clone();
            after.sort();
            diff(&mut changes, "doorIds", &joined(&old_doors), &joined(&after));
        }
        if changes.is_empty() {
            return answer(conn, sealer, reveal, old);
        }
        let now = time::now();
        new.version = old.version + 1;
        new.updated_at = now;
        let written: Option<CodeRow> = diesel::update(
            access_codes::table
                .filter(access_codes::org_id.eq(&actor.org_id))
                .filter(access_codes::id.eq(id))
                .filter(access_codes::version.eq(old.version)),
        )
        .set(&new)
        .returning(access_codes::all_columns)
        .get_result(conn)
        .optional()
        .map_err(|e| {
            let e = StoreError::from(e);
            if is_foreign_key_violation(&e) { Error::NotFound.into() } else { e }
        })?;
        let Some(written) = written else { continue };
        if new_value {
            start_value(conn, actor, &written, now)?;
        }
        if let Some(key_ids) = &p.key_ids {
            rotation::link_keys(conn, &written, key_ids)?;
        }
        if let Some(door_ids) = &p.door_ids {
            doors::link(conn, &written, door_ids)?;
        }
        if new.rotate_by != old.rotate_by || new_value {
            rotation::schedule(conn, actor, &written, now)?;
        }
        audit::record(
            conn,
            actor,
            NewEvent {
                action: "accessCode.updated",
                entity_type: ENTITY,
                entity_id: id,
                summary: describe(&new.label, &changes),
                changes,
            },
        )?;
        return answer(conn, sealer, reveal, written);
    }
    Err(Error::Unavailable.into())
}

/// "Main gate: code changed; status active → inactive". Never a code value.
fn describe(label: &str, changes: &[FieldChange]) -> String {
    let parts: Vec<String> = changes
        .iter()
        .map(|c| match (c.field.as_str(), &c.from, &c.to) {
            ("code", _, _) => "code changed".to_owned(),
            (field, Some(from), Some(to)) => format!("{field} {from} → {to}"),
            (field, None, Some(to)) => format!("{field} set to {to}"),
            (field, _, None) => format!("{field} cleared"),
        })
        .collect();
    format!("{label}: {}", parts.join("; "))
}
