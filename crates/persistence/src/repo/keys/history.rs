//! The history of a key: one movement per creation and status change.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::{Actor, KeyMovement};

use super::{KeyRow, find};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::key_movements;
use crate::time;

/// Newest first.
pub fn history(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Vec<KeyMovement>> {
    find(conn, org_id, id)?;
    let rows: Vec<MovementRow> = key_movements::table
        .filter(key_movements::org_id.eq(org_id))
        .filter(key_movements::key_id.eq(id))
        .order((key_movements::at.desc(), key_movements::id.desc()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|m| KeyMovement {
            id: m.id,
            at: time::from_db(m.at),
            action: m.action,
            actor_name: m.actor_name,
            issued_to: m.issued_to,
            holder_id: m.holder_id,
            purpose: m.purpose,
            expected_return_at: m.expected_return_at.map(time::from_db),
            notes: m.notes,
        })
        .collect())
}

#[derive(Insertable, Queryable)]
#[diesel(table_name = key_movements)]
struct MovementRow {
    id: String,
    org_id: String,
    key_id: String,
    at: NaiveDateTime,
    action: String,
    actor_name: String,
    issued_to: Option<String>,
    purpose: Option<String>,
    expected_return_at: Option<NaiveDateTime>,
    notes: Option<String>,
    holder_id: Option<String>,
}

pub(super) fn record_movement(
    conn: &mut AnyConnection,
    actor: &Actor,
    key: &KeyRow,
    action: &str,
    notes: Option<String>,
) -> StoreResult<()> {
    insert_movement(conn, &actor.name, key, key.updated_at, action, notes)
}

/// A movement that leaves the key as it is (a reminder or an escalation sent about it),
/// at `at`, by `actor_name` (keyward itself for a job).
pub fn record_note(
    conn: &mut AnyConnection,
    org_id: &str,
    key_id: &str,
    actor_name: &str,
    action: &str,
    notes: String,
) -> StoreResult<()> {
    let key = find(conn, org_id, key_id)?;
    insert_movement(conn, actor_name, &key, time::now(), action, Some(notes))
}

fn insert_movement(
    conn: &mut AnyConnection,
    actor_name: &str,
    key: &KeyRow,
    at: NaiveDateTime,
    action: &str,
    notes: Option<String>,
) -> StoreResult<()> {
    let row = MovementRow {
        id: time::new_id(),
        org_id: key.org_id.clone(),
        key_id: key.id.clone(),
        at,
        action: action.to_owned(),
        actor_name: actor_name.to_owned(),
        issued_to: key.issued_to.clone(),
        purpose: key.purpose.clone(),
        expected_return_at: key.expected_return_at,
        notes,
        holder_id: key.holder_id.clone(),
    };
    crate::repo::Kept(diesel::insert_into(key_movements::table).values(&row)).execute(conn)?;
    Ok(())
}
