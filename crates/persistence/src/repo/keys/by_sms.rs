//! What a holder can do to their keys by text (issue 13 §3): say a key is back
//! (`returnClaimedAt`, for staff to confirm with `keys.returnKey`) and take more time
//! (`expectedReturnAt` later). Each is a version-guarded write with its history movement and
//! audit event, by the phone's actor; neither changes the status.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use keyward_domain::{Actor, Key, KeyStatus, entities::diff};

use super::stamp;
use super::write::{Planned, with_retries};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::{developments, keys, people};

/// At most this many keys answer one text (a reply lists their refs).
pub const MAX_HELD: i64 = 20;

/// A key issued to the sender of a text.
#[derive(Debug, Clone, Queryable)]
pub struct HeldKey {
    pub id: String,
    pub key_ref: String,
    pub expected_return_at: Option<NaiveDateTime>,
    /// The development's IANA zone, for the reply's wall-clock times.
    pub time_zone: String,
}

/// The organisation's issued keys whose holder's phone is `phone` (E.164): the number they
/// were issued to, or the phone of the person of the directory who holds them. By ref;
/// two index reads (`keys_org_holder_phone`, `people_org_phone` then `keys_org_holder_ref`),
/// never the organisation's keys.
pub fn held_by_phone(conn: &mut AnyConnection, org_id: &str, phone: &str) -> StoreResult<Vec<HeldKey>> {
    let issued = || {
        keys::table
            .inner_join(developments::table)
            .filter(keys::org_id.eq(org_id))
            .filter(keys::status.eq(KeyStatus::Issued.as_str()))
            .order(keys::key_ref)
            .limit(MAX_HELD)
            .select((keys::id, keys::key_ref, keys::expected_return_at, developments::time_zone))
            .into_boxed()
    };
    let mut held: Vec<HeldKey> = issued().filter(keys::holder_phone.eq(phone)).load(conn)?;
    let people_ids: Vec<String> = people::table
        .filter(people::org_id.eq(org_id))
        .filter(people::phone.eq(phone))
        .select(people::id)
        .limit(MAX_HELD)
        .load(conn)?;
    if !people_ids.is_empty() {
        held.extend(issued().filter(keys::holder_id.eq_any(people_ids)).load::<HeldKey>(conn)?);
    }
    held.sort_by(|a, b| a.key_ref.cmp(&b.key_ref));
    held.dedup_by(|a, b| a.id == b.id);
    held.truncate(usize::try_from(MAX_HELD).unwrap_or(usize::MAX));
    Ok(held)
}

/// The holder says the key is back: `returnClaimedAt` set (kept from an earlier claim).
pub fn claim_return(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<Key> {
    with_retries(conn, actor, id, |old, now| {
        let mut new = old.clone();
        new.return_claimed_at = old.return_claimed_at.or(Some(now));
        let mut changes = Vec::new();
        diff(&mut changes, "returnClaimedAt", &old.return_claimed_at.map(stamp), &new.return_claimed_at.map(stamp));
        let summary = format!("Key {}: the holder says it is back ({})", new.key_ref, actor.name);
        Ok(Planned { new, changes, action: "return_claimed", summary, movement: Some(None) })
    })
}

/// `expectedReturnAt` moved `days` later (from now when the key had none). The reminders
/// follow: the key is in a new cycle (decision 131).
pub fn extend(conn: &mut AnyConnection, actor: &Actor, id: &str, days: i64) -> StoreResult<Key> {
    with_retries(conn, actor, id, |old, now| {
        let mut new = old.clone();
        new.expected_return_at = Some(old.expected_return_at.unwrap_or(now) + TimeDelta::days(days));
        let mut changes = Vec::new();
        diff(&mut changes, "expectedReturnAt", &old.expected_return_at.map(stamp), &new.expected_return_at.map(stamp));
        let summary = format!("Key {}: due back {days} days later ({})", new.key_ref, actor.name);
        Ok(Planned {
            new,
            changes,
            action: "extended",
            summary,
            movement: Some(Some(format!("Extended by {days} days"))),
        })
    })
}
