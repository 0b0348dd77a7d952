//! Key audits (issue 13 §4, decisions 155–159): the rows, and the reads (`get`, `lines`,
//! `list`); the writes are in `write` (start, record, complete, cancel) and `resolve`.
//!
//! An audit's snapshot is one `key_audit_lines` row per key of the development in stock
//! at the start (outcome `expected`), written by one `INSERT … SELECT` over
//! `keys_org_development_status`: O(the development's keys). Every read after that is a
//! page of `key_audit_lines_outcome_ref` or the audit's own row.

mod resolve;
mod write;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::{
    Error, KeyAudit, KeyAuditLine, KeyAuditLines, KeyAuditOutcome, KeyAuditPage, KeyAuditReport, KeyAuditStatus,
    KeyStatus, UnexpectedReason,
};

pub use resolve::resolve;
pub use write::{cancel, complete, record, start};

use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::repo::keyset_page;
use crate::schema::{key_audit_lines, key_audits, keys};
use crate::time;

/// Lines per page of `audits.lines` (and of each list of a report).
pub const LINES_PAGE: i64 = 100;
/// Audits per page of `audits.list`.
pub const AUDITS_PAGE: i64 = 50;

#[derive(Insertable, Queryable, Clone, Debug)]
#[diesel(table_name = key_audits)]
struct AuditRow {
    id: String,
    org_id: String,
    development_id: String,
    status: String,
    expected: i32,
    found: i32,
    unexpected: i32,
    missing: i32,
    left_stock: i32,
    marked_lost: i32,
    started_at: NaiveDateTime,
    started_by: String,
    completed_at: Option<NaiveDateTime>,
    completed_by: Option<String>,
    closed_at: Option<NaiveDateTime>,
    closed_by: Option<String>,
    updated_at: NaiveDateTime,
}

impl AuditRow {
    fn status(&self) -> StoreResult<KeyAuditStatus> {
        KeyAuditStatus::parse(&self.status)
            .ok_or_else(|| Error::Internal(format!("unknown audit status {:?}", self.status)).into())
    }

    fn into_audit(self) -> StoreResult<KeyAudit> {
        Ok(KeyAudit {
            status: self.status()?,
            id: self.id,
            development_id: self.development_id,
            expected: self.expected,
            found: self.found,
            unexpected: self.unexpected,
            missing: self.missing,
            left_stock: self.left_stock,
            marked_lost: self.marked_lost,
            started_at: time::from_db(self.started_at),
            started_by: self.started_by,
            completed_at: self.completed_at.map(time::from_db),
            completed_by: self.completed_by,
            closed_at: self.closed_at.map(time::from_db),
            closed_by: self.closed_by,
        })
    }
}

#[derive(Insertable, Queryable, Clone, Debug)]
#[diesel(table_name = key_audit_lines)]
struct LineRow {
    audit_id: String,
    key_id: String,
    org_id: String,
    key_ref: String,
    outcome: String,
    reason: Option<String>,
    recorded_at: Option<NaiveDateTime>,
    recorded_by: Option<String>,
}

/// The key's ref, label, development and status now.
type KeyNow = (String, String, String, String);

fn into_line((row, (key_ref, label, development_id, status)): (LineRow, KeyNow)) -> StoreResult<KeyAuditLine> {
    let unknown = |what: &str, v: &str| Error::Internal(format!("unknown {what} {v:?}"));
    Ok(KeyAuditLine {
        key_id: row.key_id,
        key_ref,
        label,
        development_id,
        status: KeyStatus::parse(&status).ok_or_else(|| unknown("key status", &status))?,
        outcome: KeyAuditOutcome::parse(&row.outcome).ok_or_else(|| unknown("outcome", &row.outcome))?,
        reason: match row.reason {
            Some(r) => Some(UnexpectedReason::parse(&r).ok_or_else(|| unknown("reason", &r))?),
            None => None,
        },
        recorded_at: row.recorded_at.map(time::from_db),
        recorded_by: row.recorded_by,
    })
}

fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<AuditRow> {
    Ok(key_audits::table.filter(key_audits::org_id.eq(org_id)).filter(key_audits::id.eq(id)).first(conn)?)
}

/// One key's line of an audit, with the key as it is now.
fn line(conn: &mut AnyConnection, audit_id: &str, key_id: &str) -> StoreResult<Option<KeyAuditLine>> {
    let found: Option<(LineRow, KeyNow)> = key_audit_lines::table
        .inner_join(keys::table)
        .filter(key_audit_lines::audit_id.eq(audit_id))
        .filter(key_audit_lines::key_id.eq(key_id))
        .select((key_audit_lines::all_columns, (keys::key_ref, keys::label, keys::development_id, keys::status)))
        .first(conn)
        .optional()?;
    found.map(into_line).transpose()
}

/// `audits.get`: the audit and the first page of each list (while open, `missing` is
/// what is left to find: the `expected` lines).
pub fn get(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<KeyAuditReport> {
    let audit = find(conn, org_id, id)?.into_audit()?;
    report(conn, audit)
}

fn report(conn: &mut AnyConnection, audit: KeyAudit) -> StoreResult<KeyAuditReport> {
    let missing =
        if audit.status == KeyAuditStatus::Open { KeyAuditOutcome::Expected } else { KeyAuditOutcome::Missing };
    Ok(KeyAuditReport {
        found: page(conn, &audit.id, KeyAuditOutcome::Found, None)?,
        missing: page(conn, &audit.id, missing, None)?,
        unexpected: page(conn, &audit.id, KeyAuditOutcome::Unexpected, None)?,
        audit,
    })
}

/// `audits.lines`: the audit's keys of one outcome, by the ref they had when their line
/// was written, [`LINES_PAGE`] at a time after `cursor`.
pub fn lines(
    conn: &mut AnyConnection,
    org_id: &str,
    id: &str,
    outcome: KeyAuditOutcome,
    cursor: Option<&str>,
) -> StoreResult<KeyAuditLines> {
    let audit = find(conn, org_id, id)?;
    let after = cursor.map(decode_cursor).transpose()?;
    page(conn, &audit.id, outcome, after)
}

fn page(
    conn: &mut AnyConnection,
    audit_id: &str,
    outcome: KeyAuditOutcome,
    after: Option<(String, String)>,
) -> StoreResult<KeyAuditLines> {
    let mut q = key_audit_lines::table
        .inner_join(keys::table)
        .filter(key_audit_lines::audit_id.eq(audit_id))
        .filter(key_audit_lines::outcome.eq(outcome.as_str()))
        .select((key_audit_lines::all_columns, (keys::key_ref, keys::label, keys::development_id, keys::status)))
        .into_boxed();
    if let Some((key_ref, key_id)) = after {
        q = q.filter(
            key_audit_lines::key_ref
                .gt(key_ref.clone())
                .or(key_audit_lines::key_ref.eq(key_ref).and(key_audit_lines::key_id.gt(key_id))),
        );
    }
    let mut rows: Vec<(LineRow, KeyNow)> =
        q.order((key_audit_lines::key_ref, key_audit_lines::key_id)).limit(LINES_PAGE + 1).load(conn)?;
    let next_cursor = keyset_page(&mut rows, LINES_PAGE, |(r, _)| encode_cursor(&r.key_ref, &r.key_id));
    let items = rows.into_iter().map(into_line).collect::<StoreResult<_>>()?;
    Ok(KeyAuditLines { items, next_cursor })
}

/// A line's place: its ref and key id (a ref has no space).
fn encode_cursor(key_ref: &str, key_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{key_ref} {key_id}"))
}

fn decode_cursor(cursor: &str) -> StoreResult<(String, String)> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.split_once(' ').map(|(r, id)| (r.to_owned(), id.to_owned())))
        .ok_or_else(|| Error::invalid("cursor", "is not a cursor from nextCursor").into())
}

/// `audits.list`: the organisation's audits (or one development's), newest first,
/// [`AUDITS_PAGE`] at a time after `cursor` (the last id of the previous page).
pub fn list(
    conn: &mut AnyConnection,
    org_id: &str,
    development_id: Option<&str>,
    cursor: Option<&str>,
) -> StoreResult<KeyAuditPage> {
    let q = key_audits::table.filter(key_audits::org_id.eq(org_id)).into_boxed();
    let mut q = super::of_development!(q, key_audits::development_id, development_id);
    if let Some(cursor) = cursor {
        q = q.filter(key_audits::id.lt(cursor.to_owned()));
    }
    let mut rows: Vec<AuditRow> = q.order(key_audits::id.desc()).limit(AUDITS_PAGE + 1).load(conn)?;
    let next_cursor = keyset_page(&mut rows, AUDITS_PAGE, |r| r.id.clone());
    let items = rows.into_iter().map(AuditRow::into_audit).collect::<StoreResult<_>>()?;
    Ok(KeyAuditPage { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_carries_a_ref_and_an_id_and_nothing_else_is_one() {
        let cursor = encode_cursor("OP-001", "0193-abc");
        assert_eq!(decode_cursor(&cursor).unwrap(), ("OP-001".to_owned(), "0193-abc".to_owned()));
        for bad in ["", "!!", &URL_SAFE_NO_PAD.encode("no-space")] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
