//! What a key opens: `keys.setDoors` and the doors shown on keys (read for a whole page
//! in one query).

use std::collections::HashMap;

use diesel::prelude::*;
use keyward_domain::{Actor, Error, FieldChange, Key, KeyStatus};

use super::find;
use super::write::{Planned, with_retries};
use crate::connection::{AnyConnection, MultiBackend};
use crate::error::StoreResult;
use crate::repo::{doors, joined};
use crate::schema::{key_door_periods, key_doors};

/// The doors each key opens, by key id, ordered by door id (one query, by the primary
/// key `(key_id, door_id)`).
pub(super) fn of_keys(
    conn: &mut AnyConnection,
    org_id: &str,
    key_ids: &[&str],
) -> StoreResult<HashMap<String, Vec<String>>> {
    if key_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let these = crate::repo::any_of(conn, key_doors::key_id, key_ids);
    let links: Vec<(String, String)> = key_doors::table
        .filter(key_doors::org_id.eq(org_id))
        .filter(these)
        .order((key_doors::key_id, key_doors::door_id))
        .select((key_doors::key_id, key_doors::door_id))
        .load(conn)?;
    Ok(crate::repo::group_pairs(links))
}

/// The doors one key opens, ordered by id.
pub(super) fn of_key(conn: &mut AnyConnection, org_id: &str, key_id: &str) -> StoreResult<Vec<String>> {
    Ok(of_keys(conn, org_id, &[key_id])?.remove(key_id).unwrap_or_default())
}

/// `keys.setDoors`: makes `door_ids` (deduplicated, doors of the key's development) the
/// doors the key opens (each link says whether the key is lost, decision 123), and closes
/// the periods of the doors it no longer opens and opens those of the doors it opens now
/// (decision 145); one audit event `key.doors_set` with the before and after, and a new
/// version. The same set again changes nothing.
pub fn set_doors(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    expected_version: Option<i32>,
    door_ids: Vec<String>,
) -> StoreResult<Key> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    let key = find(conn, &actor.org_id, id)?;
    if let Some(expected) = expected_version
        && expected != key.version
    {
        return Err(Error::VersionConflict { current: key.version }.into());
    }
    doors::check_in_development(conn, &actor.org_id, &key.development_id, &door_ids, "doorIds")?;
    let before = of_key(conn, &actor.org_id, id)?;
    let mut after = door_ids;
    after.sort();
    let lost = key.status == KeyStatus::Lost.as_str();
    if before == after {
        return super::answer(conn, key, crate::time::now());
    }
    diesel::delete(key_doors::table.filter(key_doors::org_id.eq(&actor.org_id)).filter(key_doors::key_id.eq(id)))
        .execute(conn)?;
    periods_changed(conn, &actor.org_id, id, &before, &after)?;
    for door_id in &after {
        diesel::insert_into(key_doors::table)
            .values((
                key_doors::org_id.eq(&actor.org_id),
                key_doors::key_id.eq(id),
                key_doors::door_id.eq(door_id),
                key_doors::key_lost.eq(lost),
            ))
            .execute(conn)
            .map_err(doors::door_gone)?;
    }
    let change = FieldChange::new("doorIds", joined(&before), joined(&after));
    with_retries(conn, actor, id, |old, _| {
        Ok(Planned {
            new: old.clone(),
            changes: vec![change.clone()],
            action: "doors_set",
            summary: format!("Key {} opens {} door(s)", old.key_ref, after.len()),
            movement: None,
        })
    })
}

/// Keeps the door-set periods in step with a change of the key's doors from `before` to
/// `after` (both sorted), at this instant: a removed door's open period ends now (and is
/// dropped if it began now: it held no instant), an added door's begins now. In the
/// transaction of `keys.setDoors`, under the organisation's lock: O(doors changed).
fn periods_changed(
    conn: &mut AnyConnection,
    org_id: &str,
    key_id: &str,
    before: &[String],
    after: &[String],
) -> StoreResult<()> {
    let now = crate::time::now();
    let removed: Vec<&String> = before.iter().filter(|door| after.binary_search(door).is_err()).collect();
    let added: Vec<&String> = after.iter().filter(|door| before.binary_search(door).is_err()).collect();
    if !removed.is_empty() {
        let open = || {
            key_door_periods::table
                .filter(key_door_periods::org_id.eq(org_id))
                .filter(key_door_periods::key_id.eq(key_id))
                .filter(key_door_periods::door_id.eq_any(&removed))
                .filter(key_door_periods::to_at.is_null())
        };
        diesel::delete(open().filter(key_door_periods::from_at.ge(now))).execute(conn)?;
        diesel::update(open()).set(key_door_periods::to_at.eq(Some(now))).execute(conn)?;
    }
    for door_id in added {
        diesel::insert_into(key_door_periods::table)
            .values((
                key_door_periods::org_id.eq(org_id),
                key_door_periods::key_id.eq(key_id),
                key_door_periods::door_id.eq(door_id),
                key_door_periods::from_at.eq(now),
            ))
            .execute(conn)
            .map_err(doors::door_gone)?;
    }
    Ok(())
}

/// Keeps `key_doors.key_lost` in step with the key's status (decision 123), in the
/// transaction of the change: O(doors of the key).
pub(super) fn key_lost_changed(conn: &mut AnyConnection, org_id: &str, key_id: &str, lost: bool) -> StoreResult<()> {
    diesel::update(key_doors::table.filter(key_doors::org_id.eq(org_id)).filter(key_doors::key_id.eq(key_id)))
        .set(key_doors::key_lost.eq(lost))
        .execute(conn)?;
    Ok(())
}

/// The links of lost keys to doors, in the organisation or one development (the summary
/// counts their distinct doors): a read of `key_doors_org_lost_door`, O(links of lost keys).
pub(crate) fn lost_links<'a>(
    org_id: &'a str,
    development_id: Option<&'a str>,
) -> key_doors::BoxedQuery<'a, MultiBackend> {
    use crate::schema::doors as door_rows;

    let mut q = key_doors::table.filter(key_doors::org_id.eq(org_id)).filter(key_doors::key_lost).into_boxed();
    if let Some(development_id) = development_id {
        q = q.filter(
            key_doors::door_id.eq_any(
                door_rows::table
                    .filter(door_rows::org_id.eq(org_id))
                    .filter(door_rows::development_id.eq(development_id))
                    .select(door_rows::id),
            ),
        );
    }
    q
}
