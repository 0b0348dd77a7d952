//! Point-in-time answers from the key history: who held a key at an instant, and which
//! keys a person held. Exact to the microsecond: a movement at exactly `at` counts (the
//! state AT an instant includes a change made at it). Movements of one instant are
//! ordered by id (UUIDv7, so in the order they were written).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use keyward_domain::{Error, Holding, KeyHolderAt, PersonHoldingsAt, Transition};

use super::find;
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::repo::people;
use crate::schema::key_movements;
use crate::time;

/// The fields of a movement the point-in-time answers and a door's log read
/// (`.select(Movement::as_select())`).
#[derive(Queryable, Selectable)]
#[diesel(table_name = key_movements)]
pub(crate) struct Movement {
    pub id: String,
    pub key_id: String,
    pub at: NaiveDateTime,
    pub action: String,
    pub actor_name: String,
    pub issued_to: Option<String>,
    pub holder_id: Option<String>,
}

/// The key's last status movement at or before `at` (index key_movements_key_at): notes
/// that leave the status as it was (a reminder sent, a holder's RETURNED or EXTEND by SMS)
/// are not holdings' ends or starts.
fn last_movement(
    conn: &mut AnyConnection,
    org_id: &str,
    key_id: &str,
    at: NaiveDateTime,
) -> StoreResult<Option<Movement>> {
    Ok(key_movements::table
        .filter(key_movements::org_id.eq(org_id))
        .filter(key_movements::key_id.eq(key_id))
        .filter(key_movements::at.le(at))
        .filter(key_movements::action.eq_any(status_actions()))
        .order((key_movements::at.desc(), key_movements::id.desc()))
        .select(Movement::as_select())
        .first(conn)
        .optional()?)
}

/// The movements that set a status: the creation and every transition.
fn status_actions() -> Vec<&'static str> {
    std::iter::once("created").chain(Transition::ALL.iter().map(|t| t.action())).collect()
}

/// The holding a movement began, if it is an issue.
fn holding(m: &Movement) -> Option<Holding> {
    (m.action == Transition::Issue.action()).then(|| Holding {
        key_id: m.key_id.clone(),
        holder_id: m.holder_id.clone(),
        issued_to: m.issued_to.clone(),
        since: time::from_db(m.at),
        issued_by: m.actor_name.clone(),
        movement_id: m.id.clone(),
    })
}

pub fn holder_at(conn: &mut AnyConnection, org_id: &str, key_id: &str, at: DateTime<Utc>) -> StoreResult<KeyHolderAt> {
    find(conn, org_id, key_id)?;
    let last = last_movement(conn, org_id, key_id, time::to_db(at))?;
    let status = match &last {
        None => None,
        Some(m) => Some(
            Transition::status_after(&m.action)
                .ok_or_else(|| Error::Internal(format!("unknown movement {:?} in the database", m.action)))?,
        ),
    };
    Ok(KeyHolderAt {
        key_id: key_id.to_owned(),
        at,
        status,
        holding: last.as_ref().and_then(holding),
        movement_ids: last.into_iter().map(|m| m.id).collect(),
    })
}

/// Reads the person's issue movements up to `at` (index key_movements_org_holder_at),
/// then each of those keys' last movement at or before `at`: O(the person's history),
/// never the organisation's keys.
pub fn holdings_at(
    conn: &mut AnyConnection,
    org_id: &str,
    person_id: &str,
    at: DateTime<Utc>,
) -> StoreResult<PersonHoldingsAt> {
    people::person_ref(conn, org_id, person_id)?;
    let at_db = time::to_db(at);
    let mut key_ids: Vec<String> = key_movements::table
        .filter(key_movements::org_id.eq(org_id))
        .filter(key_movements::holder_id.eq(person_id))
        .filter(key_movements::at.le(at_db))
        .select(key_movements::key_id)
        .distinct()
        .load(conn)?;
    key_ids.sort();
    let mut items = Vec::new();
    let mut movement_ids = Vec::new();
    for key_id in key_ids {
        let Some(last) = last_movement(conn, org_id, &key_id, at_db)? else { continue };
        if let Some(h) = holding(&last).filter(|h| h.holder_id.as_deref() == Some(person_id)) {
            items.push(h);
        }
        movement_ids.push(last.id);
    }
    items.sort_by(|a, b| (a.since, &a.movement_id).cmp(&(b.since, &b.movement_id)));
    Ok(PersonHoldingsAt { person_id: person_id.to_owned(), at, items, movement_ids })
}
