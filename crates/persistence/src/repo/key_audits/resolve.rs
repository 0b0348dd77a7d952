//! `audits.resolve`: a completed audit's missing keys are marked lost in one transaction,
//! each through `keys::mark_lost_only` (the path of `keys.markLost`: status, history, its
//! audit event, codes flagged), and the blast radii of all of them answered together
//! (decision 158).

use std::collections::BTreeSet;

use diesel::prelude::*;
use keyward_domain::key_audit::{combined_actions, stock_statuses};
use keyward_domain::{Actor, FieldChange, KeyAuditOutcome, KeyAuditStatus, KeyStatus, ResolvedKeyAudit};

use super::find;
use super::write::close;
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::repo::audit::{self, NewEvent};
use crate::repo::count_i32;
use crate::repo::keys::{self, TransitionDetails};
use crate::schema::{key_audit_lines, key_audits, keys as key_table};
use crate::time;

/// Marks lost every missing key of the audit that the register still has in stock (one
/// moved since completion is skipped and counted), then reads each one's blast radius,
/// after all are lost, so that none is recommended for replacement. O(missing keys ×
/// their doors); one audit event for the audit, plus each key's `key.marked_lost`.
pub fn resolve(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<ResolvedKeyAudit> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    let row = close(conn, actor, id, KeyAuditStatus::Resolved)?;
    let missing: Vec<(String, String)> = key_audit_lines::table
        .inner_join(key_table::table)
        .filter(key_audit_lines::audit_id.eq(id))
        .filter(key_audit_lines::outcome.eq(KeyAuditOutcome::Missing.as_str()))
        .order((key_audit_lines::key_ref, key_audit_lines::key_id))
        .select((key_audit_lines::key_id, key_table::status))
        .load(conn)?;
    let started = row.started_at.format("%Y-%m-%d");
    let mut lost = Vec::new();
    let mut skipped = 0;
    for (key_id, status) in missing {
        let in_stock = KeyStatus::parse(&status).is_some_and(|s| stock_statuses().contains(&s));
        if !in_stock {
            skipped += 1;
            continue;
        }
        let notes = Some(format!("Missing in the key audit started {started} ({id})"));
        keys::mark_lost_only(conn, actor, &key_id, TransitionDetails { notes, ..TransitionDetails::default() })?;
        lost.push(key_id);
    }
    let radii =
        lost.iter().map(|key_id| keys::blast_radius(conn, &actor.org_id, key_id)).collect::<StoreResult<Vec<_>>>()?;
    let doors: BTreeSet<&str> = radii.iter().flat_map(|r| r.doors.iter().map(|d| d.id.as_str())).collect();
    let codes: BTreeSet<&str> = radii.iter().flat_map(|r| r.access_codes.iter().map(|c| c.id.as_str())).collect();
    let marked_lost = count_i32(lost.len() as i64);
    let now = time::now();
    diesel::update(key_audits::table.find(id))
        .set((
            key_audits::marked_lost.eq(marked_lost),
            key_audits::closed_at.eq(Some(now)),
            key_audits::closed_by.eq(Some(actor.name.as_str())),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "keyAudit.resolved",
            entity_type: "keyAudit",
            entity_id: id,
            summary: format!("Key audit resolved: {marked_lost} missing keys marked lost"),
            changes: vec![
                FieldChange::new("status", Some("completed"), Some("resolved")),
                FieldChange::new("markedLost", None::<i32>, Some(marked_lost)),
                FieldChange::new("skipped", None::<i32>, Some(skipped)),
            ],
        },
    )?;
    Ok(ResolvedKeyAudit {
        audit: find(conn, &actor.org_id, id)?.into_audit()?,
        keys_marked_lost: marked_lost,
        keys_skipped: skipped,
        doors_exposed: count_i32(doors.len() as i64),
        codes_flagged: count_i32(codes.len() as i64),
        actions: combined_actions(&radii),
    })
}
