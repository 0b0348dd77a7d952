//! Starting an audit (the snapshot), recording keys, completing and cancelling it.

use diesel::prelude::*;
use diesel::sql_types::Text;
use keyward_domain::key_audit::{stock_statuses, unexpected_reason};
use keyward_domain::{Actor, Error, FieldChange, KeyAuditOutcome, KeyAuditReport, KeyAuditStatus, RecordedKey};

use super::{AuditRow, LineRow, find, line, report};
use crate::connection::AnyConnection;
use crate::error::{StoreError, StoreResult, is_unique_violation};
use crate::repo::audit::{self, NewEvent};
use crate::repo::{count_i32, developments};
use crate::schema::{key_audit_lines, key_audits, keys};
use crate::time;

const ENTITY: &str = "keyAudit";

fn stock() -> Vec<&'static str> {
    stock_statuses().iter().map(|s| s.as_str()).collect()
}

/// INVALID_INPUT `developmentId`: the development has an open audit (decision 156).
fn already_open(audit_id: &str) -> StoreError {
    Error::invalid("developmentId", format!("an audit of this development is already open ({audit_id})")).into()
}

/// `audits.start`: a new open audit of the development, its snapshot the development's
/// keys in stock now, written by one `INSERT … SELECT`. A development with an open audit
/// refuses (under the organisation's lock; the partial unique index `key_audits_one_open`
/// catches whatever gets past it).
pub fn start(conn: &mut AnyConnection, actor: &Actor, development_id: &str) -> StoreResult<KeyAuditReport> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    let development = developments::get(conn, &actor.org_id, development_id)?;
    let open: Option<String> = key_audits::table
        .filter(key_audits::development_id.eq(development_id))
        .filter(key_audits::status.eq(KeyAuditStatus::Open.as_str()))
        .select(key_audits::id)
        .first(conn)
        .optional()?;
    if let Some(open) = open {
        return Err(already_open(&open));
    }
    let now = time::now();
    let mut row = AuditRow {
        id: time::new_id(),
        org_id: actor.org_id.clone(),
        development_id: development_id.to_owned(),
        status: KeyAuditStatus::Open.as_str().to_owned(),
        expected: 0,
        found: 0,
        unexpected: 0,
        missing: 0,
        left_stock: 0,
        marked_lost: 0,
        started_at: now,
        started_by: actor.name.clone(),
        completed_at: None,
        completed_by: None,
        closed_at: None,
        closed_by: None,
        updated_at: now,
    };
    diesel::insert_into(key_audits::table).values(&row).execute(conn).map_err(|e| {
        let e = StoreError::from(e);
        if is_unique_violation(&e) { already_open("started meanwhile") } else { e }
    })?;
    let snapshot = keys::table
        .filter(keys::org_id.eq(&actor.org_id))
        .filter(keys::development_id.eq(development_id))
        .filter(keys::status.eq_any(stock()))
        .select((
            row.id.clone().into_sql::<Text>(),
            keys::id,
            keys::org_id,
            keys::key_ref,
            KeyAuditOutcome::Expected.as_str().into_sql::<Text>(),
        ));
    let expected = diesel::insert_into(key_audit_lines::table)
        .values(snapshot)
        .into_columns((
            key_audit_lines::audit_id,
            key_audit_lines::key_id,
            key_audit_lines::org_id,
            key_audit_lines::key_ref,
            key_audit_lines::outcome,
        ))
        .execute(conn)?;
    row.expected = count_i32(expected as i64);
    row.missing = row.expected;
    diesel::update(key_audits::table.find(&row.id))
        .set((key_audits::expected.eq(row.expected), key_audits::missing.eq(row.missing)))
        .execute(conn)?;
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "keyAudit.started",
            entity_type: ENTITY,
            entity_id: &row.id,
            summary: format!("Key audit of {} started: {} keys expected", development.name, row.expected),
            changes: vec![
                FieldChange::new("developmentId", None::<&str>, Some(development_id)),
                FieldChange::new("expected", None::<i32>, Some(row.expected)),
            ],
        },
    )?;
    report(conn, row.into_audit()?)
}

/// `audits.record`: the key of `key_ref` was seen in the store. Idempotent per key: a
/// key recorded before answers its line again and changes nothing. No audit event: the
/// line says who recorded it and when (decision 157).
pub fn record(conn: &mut AnyConnection, actor: &Actor, id: &str, key_ref: &str) -> StoreResult<RecordedKey> {
    // Taking the audit's row first serialises the records of one audit with each other and
    // with `complete` (PostgreSQL; SQLite's write transactions never interleave), so a key
    // is never recorded into an audit that completed meanwhile.
    let touched = diesel::update(
        key_audits::table
            .filter(key_audits::org_id.eq(&actor.org_id))
            .filter(key_audits::id.eq(id))
            .filter(key_audits::status.eq(KeyAuditStatus::Open.as_str())),
    )
    .set(key_audits::updated_at.eq(time::now()))
    .execute(conn)?;
    if touched == 0 {
        return Err(find(conn, &actor.org_id, id)?.status()?.refusal().into());
    }
    let audit = find(conn, &actor.org_id, id)?;
    let (key_id, development_id, status): (String, String, String) = keys::table
        .filter(keys::org_id.eq(&actor.org_id))
        .filter(keys::key_ref.eq(key_ref))
        .select((keys::id, keys::development_id, keys::status))
        .first(conn)?;
    if let Some(done) = line(conn, id, &key_id)?.filter(|l| l.outcome != KeyAuditOutcome::Expected) {
        return Ok(RecordedKey { line: done, newly_recorded: false });
    }
    let status = keyward_domain::KeyStatus::parse(&status)
        .ok_or_else(|| Error::Internal(format!("unknown key status {status:?}")))?;
    let reason = unexpected_reason(&audit.development_id, &development_id, status);
    let outcome = if reason.is_some() { KeyAuditOutcome::Unexpected } else { KeyAuditOutcome::Found };
    let now = time::now();
    let changed = diesel::update(
        key_audit_lines::table
            .filter(key_audit_lines::audit_id.eq(id))
            .filter(key_audit_lines::key_id.eq(&key_id))
            .filter(key_audit_lines::outcome.eq(KeyAuditOutcome::Expected.as_str())),
    )
    .set((
        key_audit_lines::outcome.eq(outcome.as_str()),
        key_audit_lines::reason.eq(reason.map(|r| r.as_str())),
        key_audit_lines::recorded_at.eq(Some(now)),
        key_audit_lines::recorded_by.eq(Some(actor.name.as_str())),
    ))
    .execute(conn)?;
    let was_expected = changed == 1;
    if !was_expected {
        let row = LineRow {
            audit_id: id.to_owned(),
            key_id: key_id.clone(),
            org_id: actor.org_id.clone(),
            key_ref: key_ref.to_owned(),
            outcome: outcome.as_str().to_owned(),
            reason: reason.map(|r| r.as_str().to_owned()),
            recorded_at: Some(now),
            recorded_by: Some(actor.name.clone()),
        };
        diesel::insert_into(key_audit_lines::table).values(&row).execute(conn)?;
    }
    let (found, unexpected) = if reason.is_some() { (0, 1) } else { (1, 0) };
    diesel::update(key_audits::table.find(id))
        .set((
            key_audits::found.eq(key_audits::found + found),
            key_audits::unexpected.eq(key_audits::unexpected + unexpected),
            key_audits::missing.eq(key_audits::missing - i32::from(was_expected)),
        ))
        .execute(conn)?;
    let line = line(conn, id, &key_id)?.ok_or(Error::NotFound)?;
    Ok(RecordedKey { line, newly_recorded: true })
}

/// `audits.complete`: the count ends. The snapshot's keys not recorded become `missing`
/// if the register still has them in stock, else `left_stock` (issued, lost… during the
/// audit); the counts are recounted from the lines; the development's last audit is now
/// and its next one due an interval later.
pub fn complete(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<KeyAuditReport> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    let row = close(conn, actor, id, KeyAuditStatus::Completed)?;
    let in_stock = keys::table
        .filter(keys::org_id.eq(&actor.org_id))
        .filter(keys::development_id.eq(&row.development_id))
        .filter(keys::status.eq_any(stock()))
        .select(keys::id);
    let expected = || {
        key_audit_lines::table
            .filter(key_audit_lines::audit_id.eq(id))
            .filter(key_audit_lines::outcome.eq(KeyAuditOutcome::Expected.as_str()))
    };
    diesel::update(expected().filter(key_audit_lines::key_id.eq_any(in_stock)))
        .set(key_audit_lines::outcome.eq(KeyAuditOutcome::Missing.as_str()))
        .execute(conn)?;
    diesel::update(expected()).set(key_audit_lines::outcome.eq(KeyAuditOutcome::LeftStock.as_str())).execute(conn)?;
    let counts: Vec<(String, i64)> = key_audit_lines::table
        .filter(key_audit_lines::audit_id.eq(id))
        .group_by(key_audit_lines::outcome)
        .select((key_audit_lines::outcome, diesel::dsl::count_star()))
        .load(conn)?;
    let count = |o: KeyAuditOutcome| count_i32(counts.iter().find(|(s, _)| s == o.as_str()).map_or(0, |(_, n)| *n));
    let now = time::now();
    diesel::update(key_audits::table.find(id))
        .set((
            key_audits::found.eq(count(KeyAuditOutcome::Found)),
            key_audits::unexpected.eq(count(KeyAuditOutcome::Unexpected)),
            key_audits::missing.eq(count(KeyAuditOutcome::Missing)),
            key_audits::left_stock.eq(count(KeyAuditOutcome::LeftStock)),
            key_audits::completed_at.eq(Some(now)),
            key_audits::completed_by.eq(Some(actor.name.as_str())),
        ))
        .execute(conn)?;
    developments::audit_completed(conn, &actor.org_id, &row.development_id)?;
    let done = find(conn, &actor.org_id, id)?.into_audit()?;
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "keyAudit.completed",
            entity_type: ENTITY,
            entity_id: id,
            summary: format!(
                "Key audit completed: {} found, {} missing, {} unexpected",
                done.found, done.missing, done.unexpected
            ),
            changes: vec![
                FieldChange::new("status", Some("open"), Some("completed")),
                FieldChange::new("found", None::<i32>, Some(done.found)),
                FieldChange::new("missing", None::<i32>, Some(done.missing)),
                FieldChange::new("unexpected", None::<i32>, Some(done.unexpected)),
                FieldChange::new("leftStock", None::<i32>, Some(done.left_stock)),
            ],
        },
    )?;
    report(conn, done)
}

/// `audits.cancel`: an open audit is given up; its lines stay as they were.
pub fn cancel(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<KeyAuditReport> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    close(conn, actor, id, KeyAuditStatus::Cancelled)?;
    let now = time::now();
    diesel::update(key_audits::table.find(id))
        .set((key_audits::closed_at.eq(Some(now)), key_audits::closed_by.eq(Some(actor.name.as_str()))))
        .execute(conn)?;
    let done = find(conn, &actor.org_id, id)?.into_audit()?;
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "keyAudit.cancelled",
            entity_type: ENTITY,
            entity_id: id,
            summary: "Key audit cancelled".to_owned(),
            changes: vec![FieldChange::new("status", Some("open"), Some("cancelled"))],
        },
    )?;
    report(conn, done)
}

/// Moves the audit to `to` if its state allows (`KeyAuditStatus::move_to`), guarded by
/// its state in the `UPDATE` too; returns the row as it was.
pub(super) fn close(conn: &mut AnyConnection, actor: &Actor, id: &str, to: KeyAuditStatus) -> StoreResult<AuditRow> {
    let row = find(conn, &actor.org_id, id)?;
    let from = row.status()?;
    from.move_to(to)?;
    let moved =
        diesel::update(key_audits::table.filter(key_audits::id.eq(id)).filter(key_audits::status.eq(from.as_str())))
            .set((key_audits::status.eq(to.as_str()), key_audits::updated_at.eq(time::now())))
            .execute(conn)?;
    if moved == 0 {
        // Another call moved it first (PostgreSQL).
        return Err(find(conn, &actor.org_id, id)?.status()?.refusal().into());
    }
    Ok(row)
}
