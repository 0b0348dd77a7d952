//! Listing and search: keyset pages after a cursor, totals from the counts or capped
//! (decisions 38–40).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::{
    Error, HandoverState, Key, KeyStatus, Page, PageRequest,
    entities::{KeyType, SecurityLevel},
};

use super::KeyRow;
use crate::connection::{AnyConnection, MultiBackend};
use crate::error::StoreResult;
use crate::repo::counts;
use crate::schema::{key_doors, key_handovers, keys, people};
use crate::time;

#[derive(Debug, Default, Clone)]
pub struct KeyFilter {
    pub search: Option<String>,
    pub development_id: Option<String>,
    pub status: Option<KeyStatus>,
    pub key_type: Option<KeyType>,
    pub security_level: Option<SecurityLevel>,
    pub overdue: Option<bool>,
    /// Keys whose holder is this person.
    pub holder_id: Option<String>,
    /// Keys whose holder works for this firm (through the firm's people).
    pub firm_id: Option<String>,
    /// Keys that open this door (`key_doors_org_door`).
    pub door_id: Option<String>,
    /// `true`: keys whose handover awaits acknowledgement or is locked
    /// (`key_handovers_org_state`); `false`: the others.
    pub unacknowledged: Option<bool>,
}

/// How far a total is counted when the maintained counts cannot give it (a search, or a
/// filter on key type, security level or `overdue: false`): beyond it the answer says
/// `totalCapped`.
pub const TOTAL_CAP: i64 = 1000;

/// Searches shorter than this (in characters) match keyRef prefixes only: a trigram
/// index needs three characters.
const TRIGRAM: usize = 3;

/// The organisation's keys that match the filter. `fts`: narrow a search through SQLite's
/// FTS5 table first (worth it when the organisation has few matches).
fn filtered<'a>(
    org_id: &'a str,
    f: &'a KeyFilter,
    now: NaiveDateTime,
    fts: bool,
) -> keys::BoxedQuery<'a, MultiBackend> {
    let mut q = keys::table.filter(keys::org_id.eq(org_id)).into_boxed();
    if let Some(search) = &f.search {
        if search.chars().count() < TRIGRAM {
            // Key refs are upper-case ASCII; U+10FFFF sorts after every character.
            let prefix = search.to_uppercase();
            q = q.filter(keys::key_ref.ge(prefix.clone())).filter(keys::key_ref.lt(format!("{prefix}\u{10FFFF}")));
        } else {
            if fts {
                // The FTS5 trigram table narrows to the keys that contain every trigram
                // of the search (a phrase of trigrams); the LIKE below decides.
                let phrase = format!("\"{}\"", search.to_lowercase().replace('"', "\"\""));
                q = q.filter(
                    diesel::dsl::sql::<diesel::sql_types::Bool>(
                        "keys.search_id IN (SELECT rowid FROM keys_search WHERE keys_search MATCH ",
                    )
                    .bind::<diesel::sql_types::Text, _>(phrase)
                    .sql(")"),
                );
            }
            q = q.filter(keys::search_text.like(crate::repo::like_contains(search)).escape('\\'));
        }
    }
    if let Some(v) = &f.development_id {
        q = q.filter(keys::development_id.eq(v));
    }
    if let Some(v) = &f.holder_id {
        q = q.filter(keys::holder_id.eq(v));
    }
    if let Some(v) = &f.firm_id {
        // The firm's people (people_org_firm), then their keys (keys_org_holder_ref).
        let holders =
            people::table.filter(people::org_id.eq(org_id)).filter(people::firm_id.eq(v)).select(people::id.nullable());
        q = q.filter(keys::holder_id.eq_any(holders));
    }
    if let Some(v) = &f.door_id {
        let openers = key_doors::table
            .filter(key_doors::org_id.eq(org_id))
            .filter(key_doors::door_id.eq(v))
            .select(key_doors::key_id);
        q = q.filter(keys::id.eq_any(openers));
    }
    if let Some(v) = f.unacknowledged {
        let pending = [HandoverState::Awaiting.as_str(), HandoverState::Locked.as_str()];
        let unacknowledged = key_handovers::table
            .filter(key_handovers::org_id.eq(org_id))
            .filter(key_handovers::state.eq_any(pending))
            .select(key_handovers::key_id);
        q = if v { q.filter(keys::id.eq_any(unacknowledged)) } else { q.filter(keys::id.ne_all(unacknowledged)) };
    }
    if let Some(v) = f.status {
        q = q.filter(keys::status.eq(v.as_str()));
    }
    if let Some(v) = f.key_type {
        q = q.filter(keys::key_type.eq(v.as_str()));
    }
    if let Some(v) = f.security_level {
        q = q.filter(keys::security_level.eq(v.as_str()));
    }
    let issued = KeyStatus::Issued.as_str();
    match f.overdue {
        Some(true) => q = q.filter(keys::status.eq(issued)).filter(keys::expected_return_at.lt(now)),
        Some(false) => {
            q = q.filter(
                keys::status
                    .ne(issued)
                    .or(keys::expected_return_at.is_null())
                    .or(keys::expected_return_at.ge(now).assume_not_null()),
            )
        }
        None => {}
    }
    q
}

/// Where a page starts: a page number (the offset is bounded by the caller), or after
/// the key ref a cursor carries.
#[derive(Debug, Clone)]
pub enum PageStart {
    Number(PageRequest),
    After { key_ref: String, limit: i32 },
}

/// The opaque cursor of `nextCursor`: base64url of the last key ref of a page.
pub fn encode_cursor(key_ref: &str) -> String {
    URL_SAFE_NO_PAD.encode(key_ref)
}

/// The key ref a cursor carries; a string this server did not give is INVALID_INPUT.
pub fn decode_cursor(cursor: &str) -> Result<String, Error> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|key_ref| !key_ref.is_empty())
        .ok_or_else(|| Error::invalid("cursor", "is not a cursor from nextCursor"))
}

/// A page of keys ordered by ref (unique in an organisation, so a ref is a position),
/// with the total that match: exact from the maintained counts when the filter is one
/// they answer, otherwise counted up to [`TOTAL_CAP`]. Reads the page's rows plus one
/// (to know whether a next page exists), never the organisation's keys.
pub fn list(conn: &mut AnyConnection, org_id: &str, f: &KeyFilter, start: PageStart) -> StoreResult<Page<Key>> {
    let now = time::now();
    let fts = matches!(conn, AnyConnection::Sqlite(_));
    let (total, total_capped) = match exact_total(conn, org_id, f, now)? {
        Some(total) => (total, false),
        None => {
            let counted: Vec<i32> = filtered(org_id, f, now, fts)
                .select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
                .limit(TOTAL_CAP + 1)
                .load(conn)?;
            let counted = counted.len() as i64;
            (counted.min(TOTAL_CAP), counted > TOTAL_CAP)
        }
    };
    // SQLite's FTS table holds every organisation's matches, and they are sorted by ref
    // before a page is kept: with over 1,000 matches here the page is cheaper walking
    // the organisation in ref order, where matches come often (decision 38).
    let fts = fts && !total_capped;
    let (page, limit, query) = match &start {
        PageStart::Number(page) if page.offset() == 0 => (page.page, page.limit, filtered(org_id, f, now, fts)),
        PageStart::Number(page) => {
            // Skip to the page's first ref reading only the index (the rows skipped are
            // not fetched; on an interleaved table each would be a page read), then
            // read the page from there.
            let first: Option<String> = filtered(org_id, f, now, fts)
                .select(keys::key_ref)
                .order(keys::key_ref)
                .offset(page.offset())
                .first(conn)
                .optional()?;
            let Some(first) = first else {
                let total = crate::repo::count_i32(total);
                let (page, limit) = (page.page, page.limit);
                return Ok(Page { items: Vec::new(), total, total_capped, page, limit, next_cursor: None });
            };
            (page.page, page.limit, filtered(org_id, f, now, fts).filter(keys::key_ref.ge(first)))
        }
        PageStart::After { key_ref, limit } => {
            (0, *limit, filtered(org_id, f, now, fts).filter(keys::key_ref.gt(key_ref)))
        }
    };
    let mut rows: Vec<KeyRow> = query.order(keys::key_ref).limit(i64::from(limit) + 1).load(conn)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = rows.last().filter(|_| more).map(|last| encode_cursor(&last.key_ref));
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut doors = super::doors::of_keys(conn, org_id, &ids)?;
    let mut handovers = super::handover::of_keys(conn, org_id, &ids)?;
    Ok(Page {
        items: rows
            .into_iter()
            .map(|r| {
                let door_ids = doors.remove(&r.id).unwrap_or_default();
                let handover = handovers.remove(&r.id);
                r.into_key(now, door_ids).map(|key| Key { handover, ..key })
            })
            .collect::<StoreResult<_>>()?,
        total: crate::repo::count_i32(total),
        total_capped,
        page,
        limit,
        next_cursor,
    })
}

/// The total from the maintained counts, when the filter is one they answer.
fn exact_total(conn: &mut AnyConnection, org_id: &str, f: &KeyFilter, now: NaiveDateTime) -> StoreResult<Option<i64>> {
    if f.search.is_some()
        || f.key_type.is_some()
        || f.security_level.is_some()
        || f.holder_id.is_some()
        || f.firm_id.is_some()
        || f.door_id.is_some()
        || f.unacknowledged.is_some()
    {
        return Ok(None);
    }
    let development_id = f.development_id.as_deref();
    match (f.overdue, f.status) {
        (None, status) => {
            let by_status = counts::keys_by_status(conn, org_id, development_id)?;
            let wanted = |s: &str| status.is_none_or(|status| status.as_str() == s);
            Ok(Some(by_status.iter().filter(|(s, _)| wanted(s)).map(|(_, n)| n).sum()))
        }
        (Some(true), Some(status)) if status != KeyStatus::Issued => Ok(Some(0)),
        (Some(true), _) => Ok(Some(counts::overdue(conn, org_id, development_id, now)?)),
        (Some(false), _) => Ok(None),
    }
}

/// `keys.exportCsv`: the keys that match, ordered by ref, at most `max + 1` of them (one
/// more tells the caller the export is over its limit). One query through the same
/// indexes as [`list`], no total; `doorIds` are left empty (the file has no door column).
pub fn export(conn: &mut AnyConnection, org_id: &str, f: &KeyFilter, max: usize) -> StoreResult<Vec<Key>> {
    let now = time::now();
    let fts = matches!(conn, AnyConnection::Sqlite(_));
    let rows: Vec<KeyRow> = filtered(org_id, f, now, fts).order(keys::key_ref).limit(max as i64 + 1).load(conn)?;
    rows.into_iter().map(|r| r.into_key(now, Vec::new())).collect()
}

/// The organisation's key with this ref (normalised), if any: how a CSV import matches a
/// row (refs are unique in an organisation).
pub fn by_ref(conn: &mut AnyConnection, org_id: &str, key_ref: &str) -> StoreResult<Option<Key>> {
    let row: Option<KeyRow> =
        keys::table.filter(keys::org_id.eq(org_id)).filter(keys::key_ref.eq(key_ref)).first(conn).optional()?;
    let now = time::now();
    row.map(|r| r.into_key(now, Vec::new())).transpose()
}
