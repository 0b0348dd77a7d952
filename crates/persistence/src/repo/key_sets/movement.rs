//! Issuing and returning a key set: every member moves through the key register's own
//! transitions (`keys::issue`, `keys::transition`), so each key's status, history (which
//! names the set) and audit event move as they do for one key, all in the caller's one
//! transaction.

use diesel::prelude::*;
use keyward_domain::{Actor, Error, FieldChange, KeySet, KeySetState, KeyStatus, Transition};

use super::{KEY_SET, answer, find, members_of, refuse_unless};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::repo::keys::{self, TransitionDetails};
use crate::repo::people::record;
use crate::schema::{key_set_members, key_sets, keys as key_table};
use crate::time;

/// Issues every member of the set to one holder, or none: a member that cannot be issued
/// (not `in_stock` or `returned`) is KEYS_NOT_IN_STOCK naming every such member, and
/// nothing changes. Under the
/// organisation's lock, so of two concurrent issues of one set exactly one wins.
pub fn issue(conn: &mut AnyConnection, actor: &Actor, id: &str, details: TransitionDetails) -> StoreResult<KeySet> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    let set = find(conn, &actor.org_id, id)?;
    let members = members_of(conn, &actor.org_id, &[id])?;
    if members.is_empty() {
        return Err(Error::invalid("id", format!("key set {} has no keys", set.name)).into());
    }
    refuse_unless(&members, |status| Transition::Issue.allows(status))?;
    let notes = set_notes(&set.name, details.notes.as_deref());
    let mut issued_to = None;
    for (_, (key_id, ..)) in &members {
        let key = keys::issue(conn, actor, key_id, TransitionDetails { notes: notes.clone(), ..details.clone() })?;
        issued_to = key.issued_to;
    }
    diesel::update(key_set_members::table.filter(key_set_members::set_id.eq(id)))
        .set(key_set_members::missing_since.eq(None::<chrono::NaiveDateTime>))
        .execute(conn)?;
    let mut new = set.clone();
    new.state = KeySetState::Issued.as_str().to_owned();
    new.issued_to = issued_to;
    new.issued_at = Some(time::now());
    new.version = set.version + 1;
    new.updated_at = time::now();
    write(conn, actor, &set, &new, "issued", Vec::new())
}

/// Returns these members (default: every member still out); a member given that is not
/// issued is already back and stays as it is. The members still issued after it are
/// flagged missing (and their keys `returnRequested`), and the set is `incomplete` until
/// they come back; none left out: `in_stock`. A set in stock is INVALID_TRANSITION.
pub fn return_members(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    key_ids: Option<Vec<String>>,
    notes: Option<String>,
) -> StoreResult<KeySet> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    let set = find(conn, &actor.org_id, id)?;
    if set.state()? == KeySetState::InStock {
        return Err(Error::InvalidTransition { current: KeyStatus::InStock }.into());
    }
    let members = members_of(conn, &actor.org_id, &[id])?;
    let issued = |status: &str| status == KeyStatus::Issued.as_str();
    let returning: Vec<&str> = match &key_ids {
        None => members.iter().filter(|(_, m)| issued(&m.3)).map(|(_, m)| m.0.as_str()).collect(),
        Some(ids) => {
            if let Some(stranger) = ids.iter().find(|id| !members.iter().any(|(_, m)| m.0 == **id)) {
                return Err(Error::invalid("keyIds", format!("key {stranger} is not in this set")).into());
            }
            members.iter().filter(|(_, m)| ids.contains(&m.0) && issued(&m.3)).map(|(_, m)| m.0.as_str()).collect()
        }
    };
    let notes = set_notes(&set.name, notes.as_deref());
    for key_id in &returning {
        let details = TransitionDetails { notes: notes.clone(), ..TransitionDetails::default() };
        keys::transition(conn, actor, key_id, Transition::Return, details)?;
    }
    let still_out: Vec<(&str, &str)> = members
        .iter()
        .filter(|(_, m)| issued(&m.3) && !returning.contains(&m.0.as_str()))
        .map(|(_, m)| (m.0.as_str(), m.1.as_str()))
        .collect();
    let out_ids: Vec<&str> = still_out.iter().map(|(id, _)| *id).collect();
    let now = time::now();
    diesel::update(
        key_set_members::table.filter(key_set_members::set_id.eq(id)).filter(key_set_members::key_id.ne_all(&out_ids)),
    )
    .set(key_set_members::missing_since.eq(None::<chrono::NaiveDateTime>))
    .execute(conn)?;
    diesel::update(
        key_set_members::table
            .filter(key_set_members::set_id.eq(id))
            .filter(key_set_members::key_id.eq_any(&out_ids))
            .filter(key_set_members::missing_since.is_null()),
    )
    .set(key_set_members::missing_since.eq(Some(now)))
    .execute(conn)?;
    // The holder is asked to bring the rest back, as offboarding asks (the version moves).
    diesel::update(
        key_table::table
            .filter(key_table::org_id.eq(&actor.org_id))
            .filter(key_table::id.eq_any(&out_ids))
            .filter(key_table::return_requested_at.is_null()),
    )
    .set((key_table::return_requested_at.eq(Some(now)), key_table::version.eq(key_table::version + 1)))
    .execute(conn)?;

    let state = KeySetState::after_return(still_out.len());
    let mut new = set.clone();
    new.state = state.as_str().to_owned();
    if state == KeySetState::InStock {
        new.issued_to = None;
        new.issued_at = None;
    }
    new.version = set.version + 1;
    new.updated_at = now;
    let mut changes = Vec::new();
    if !still_out.is_empty() {
        let missing: Vec<&str> = still_out.iter().map(|(_, key_ref)| *key_ref).collect();
        changes.push(FieldChange::new("missing", None::<&str>, Some(&missing.join(", "))));
    }
    write(conn, actor, &set, &new, "returned", changes)
}

/// The history note of a member moved with its set: the set's name, then the caller's notes.
fn set_notes(name: &str, notes: Option<&str>) -> Option<String> {
    Some(match notes {
        Some(notes) => format!("Key set {name}: {notes}"),
        None => format!("Key set {name}"),
    })
}

/// Writes the set's new state and its audit event `keySet.<action>`.
fn write(
    conn: &mut AnyConnection,
    actor: &Actor,
    old: &super::KeySetRow,
    new: &super::KeySetRow,
    action: &str,
    mut changes: Vec<FieldChange>,
) -> StoreResult<KeySet> {
    diesel::update(key_sets::table.filter(key_sets::org_id.eq(&actor.org_id)).filter(key_sets::id.eq(&old.id)))
        .set(new)
        .execute(conn)?;
    let mut state_changes = Vec::new();
    keyward_domain::entities::diff(&mut state_changes, "state", &Some(&old.state), &Some(&new.state));
    keyward_domain::entities::diff(&mut state_changes, "issuedTo", &old.issued_to, &new.issued_to);
    state_changes.append(&mut changes);
    record(conn, actor, KEY_SET, (&new.id, &new.name), action, state_changes)?;
    answer(conn, new.clone())
}
