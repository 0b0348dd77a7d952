//! Acknowledged handover (issue 13 §6): the code asked for a key's current holding, kept
//! as a keyed hash (`Sealer::lookup`: HMAC-SHA-256 under the server's key, bound to the
//! key's id), and its tries (`keyward_domain::handover::judge`).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::handover::{self, Verdict};
use keyward_domain::{Actor, Error, FieldChange, HandoverRefusal, HandoverState, Key, KeyHandover, Secret};
use subtle::ConstantTimeEq;

use super::write::{Planned, with_retries};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::key_handovers;
use crate::secrets::Sealer;
use crate::time;

#[derive(Insertable, Queryable, Clone, Debug)]
#[diesel(table_name = key_handovers)]
struct HandoverRow {
    key_id: String,
    org_id: String,
    state: String,
    code_hash: String,
    phone: String,
    expires_at: NaiveDateTime,
    wrong_tries: i32,
    acknowledged_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

impl HandoverRow {
    fn state(&self) -> StoreResult<HandoverState> {
        HandoverState::parse(&self.state)
            .ok_or_else(|| Error::Internal(format!("unknown handover state {:?} in the database", self.state)).into())
    }
}

/// The code sent for a handover, and where it went.
pub struct HandoverCode {
    pub code: Secret,
    /// E.164.
    pub phone: String,
}

/// The keyed hash a code is kept as: bound to the key, so one code of two keys differs.
fn code_hash(sealer: &Sealer, key_id: &str, code: &Secret) -> String {
    sealer.lookup(&format!("handover:{key_id}:{}", code.expose()))
}

/// The handovers of these keys (by primary key).
pub(super) fn of_keys(
    conn: &mut AnyConnection,
    org_id: &str,
    key_ids: &[&str],
) -> StoreResult<HashMap<String, KeyHandover>> {
    if key_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let these = crate::repo::any_of(conn, key_handovers::key_id, key_ids);
    let rows: Vec<HandoverRow> =
        key_handovers::table.filter(key_handovers::org_id.eq(org_id)).filter(these).load(conn)?;
    rows.into_iter()
        .map(|row| {
            let handover = KeyHandover {
                state: row.state()?,
                phone: row.phone,
                expires_at: time::from_db(row.expires_at),
                acknowledged_at: row.acknowledged_at.map(time::from_db),
            };
            Ok((row.key_id, handover))
        })
        .collect()
}

/// The holding ended (or a new one starts): its handover goes. In the caller's transaction.
pub(super) fn holding_ended(conn: &mut AnyConnection, org_id: &str, key_id: &str) -> StoreResult<()> {
    diesel::delete(
        key_handovers::table.filter(key_handovers::org_id.eq(org_id)).filter(key_handovers::key_id.eq(key_id)),
    )
    .execute(conn)?;
    Ok(())
}

/// Asks the holder of a key just issued (in this transaction) to acknowledge it with
/// `code`, good for 15 minutes. Answers the key with its handover `awaiting`.
pub fn begin_handover(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    actor: &Actor,
    key_id: &str,
    code: &HandoverCode,
) -> StoreResult<Key> {
    let now = time::now();
    holding_ended(conn, &actor.org_id, key_id)?;
    let row = HandoverRow {
        key_id: key_id.to_owned(),
        org_id: actor.org_id.clone(),
        state: HandoverState::Awaiting.as_str().to_owned(),
        code_hash: code_hash(sealer, key_id, &code.code),
        phone: code.phone.clone(),
        expires_at: time::to_db(handover::expires_at(time::from_db(now))),
        wrong_tries: 0,
        acknowledged_at: None,
        created_at: now,
    };
    diesel::insert_into(key_handovers::table).values(&row).execute(conn)?;
    super::get(conn, &actor.org_id, key_id)
}

/// A try of the code of a key's handover. The right code in time acknowledges it (the key's
/// history and audit log record `handover_acknowledged` with the phone); a wrong one uses
/// up a try (the fifth locks the handover, recorded as `handover_locked`). A refusal is
/// answered as `Ok(Err(HANDOVER_REFUSED))`, so that the try it used is kept (committed).
pub fn confirm_handover(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    actor: &Actor,
    key_id: &str,
    code: &Secret,
) -> StoreResult<Result<Key, Error>> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    super::find(conn, &actor.org_id, key_id)?;
    let row: Option<HandoverRow> = key_handovers::table
        .filter(key_handovers::org_id.eq(&actor.org_id))
        .filter(key_handovers::key_id.eq(key_id))
        .first(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(Err(Error::HandoverRefused { reason: HandoverRefusal::NotAwaiting, tries_left: None }));
    };
    let matches: bool = row.code_hash.as_bytes().ct_eq(code_hash(sealer, key_id, code).as_bytes()).into();
    let now = time::now();
    let verdict = handover::judge(
        Some(row.state()?),
        row.wrong_tries,
        time::from_db(row.expires_at),
        time::from_db(now),
        matches,
    );
    let this =
        key_handovers::table.filter(key_handovers::org_id.eq(&actor.org_id)).filter(key_handovers::key_id.eq(key_id));
    match verdict {
        Verdict::Refuse(reason) => Ok(Err(Error::HandoverRefused { reason, tries_left: None })),
        Verdict::Wrong { tries_left, locks } => {
            let state = if locks { HandoverState::Locked } else { HandoverState::Awaiting };
            diesel::update(this)
                .set((key_handovers::wrong_tries.eq(row.wrong_tries + 1), key_handovers::state.eq(state.as_str())))
                .execute(conn)?;
            if locks {
                let notes = format!("{} wrong codes: the handover can no longer be acknowledged", handover::MAX_TRIES);
                record(conn, actor, key_id, HandoverState::Locked, "handover_locked", notes)?;
            }
            Ok(Err(Error::HandoverRefused { reason: HandoverRefusal::WrongCode, tries_left: Some(tries_left) }))
        }
        Verdict::Acknowledge => {
            diesel::update(this)
                .set((
                    key_handovers::state.eq(HandoverState::Acknowledged.as_str()),
                    key_handovers::acknowledged_at.eq(Some(now)),
                ))
                .execute(conn)?;
            let notes = format!("Acknowledged with the code sent to {}", row.phone);
            Ok(Ok(record(conn, actor, key_id, HandoverState::Acknowledged, "handover_acknowledged", notes)?))
        }
    }
}

/// The key's new version, its history movement and audit event `key.<action>`.
fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    key_id: &str,
    state: HandoverState,
    action: &'static str,
    notes: String,
) -> StoreResult<Key> {
    with_retries(conn, actor, key_id, |old, _| {
        let changes = vec![FieldChange::new("handover", Some(HandoverState::Awaiting.as_str()), Some(state.as_str()))];
        let summary = format!("Key {} {}", old.key_ref, action.replace('_', " "));
        Ok(Planned { new: old.clone(), changes, action, summary, movement: Some(Some(notes.clone())) })
    })
}
