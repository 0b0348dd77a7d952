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
use super::grams::{self, WINDOW};
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

impl KeyFilter {
    /// The search, lower-cased, when it is long enough for the trigrams ([`WINDOW`]).
    fn windowed_search(&self) -> Option<String> {
        self.search.as_deref().filter(|s| s.chars().count() >= WINDOW).map(str::to_lowercase)
    }

    /// Whether the search is the only condition (every field named, so that a new one
    /// cannot be forgotten here).
    fn search_alone(&self) -> bool {
        let KeyFilter {
            search: _,
            development_id,
            status,
            key_type,
            security_level,
            overdue,
            holder_id,
            firm_id,
            door_id,
            unacknowledged,
        } = self;
        development_id.is_none()
            && status.is_none()
            && key_type.is_none()
            && security_level.is_none()
            && overdue.is_none()
            && holder_id.is_none()
            && firm_id.is_none()
            && door_id.is_none()
            && unacknowledged.is_none()
    }
}

/// How far a total is counted when the maintained counts cannot give it (a search, or a
/// filter on key type, security level or `overdue: false`): beyond it the answer says
/// `totalCapped`.
pub const TOTAL_CAP: i64 = 1000;

/// How a search of [`WINDOW`] characters or more finds its candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Narrow {
    /// Through the organisation's trigram index (module `grams`): worth it when the
    /// organisation has at most [`TOTAL_CAP`] matches, which are then read and sorted.
    /// The query reads at most `wanted` rows: when the search is its only condition, past
    /// that many matches in the keys' heads (PostgreSQL's `key_search`) the rest are not
    /// looked up ([`GramsMatch`]).
    Grams { backend: Backend, wanted: i64 },
    /// Walking the organisation in ref order, `LIKE` deciding row by row: cheaper when
    /// matches are many (one comes every few rows, and the page stops early).
    Walk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Postgres,
    Sqlite,
}

impl Narrow {
    /// Through the trigrams, for a query that reads at most `wanted` rows.
    fn grams(conn: &AnyConnection, wanted: i64) -> Narrow {
        let backend = match conn {
            AnyConnection::Pg(_) => Backend::Postgres,
            AnyConnection::Sqlite(_) => Backend::Sqlite,
        };
        Narrow::Grams { backend, wanted }
    }
}

/// The organisation's condition and a search's trigram narrowing (module `grams`), as
/// one condition diesel prepares once and keeps (a `sql()` literal is never kept:
/// PostgreSQL parsed and planned the search again on every call).
///
/// The organisation's condition stays (a hash may be shared by two organisations), in a
/// form no index answers: the planner would otherwise intersect the organisation's whole
/// index range with the few candidates the trigram index gives (PostgreSQL's `|| ''`,
/// SQLite's unary `+`).
///
/// On PostgreSQL a key is a candidate when its holder's windows (`keys_org_holder_grams`)
/// or its head's (`key_search`, migration `key_search`) hold the search's. The heads that
/// match come as an array the planner ORs with the holders' bitmap (one heap scan of
/// `keys`); they are matched with `LIKE` there. When the search is the filter's only
/// condition, at most `wanted` of them are taken, since the query reads no more rows than
/// that; with other conditions every one is, since those decide outside the array which
/// heads count.
#[derive(Debug, Clone)]
struct GramsMatch {
    backend: Backend,
    org_id: String,
    /// PostgreSQL: the lower-cased search; SQLite: its FTS5 query.
    terms: String,
    /// PostgreSQL: the search as a `LIKE` pattern.
    like: String,
    /// How many matching heads to take; `None`: all of them.
    wanted: Option<i64>,
}

impl GramsMatch {
    fn new(backend: Backend, wanted: Option<i64>, org_id: &str, search: &str) -> GramsMatch {
        let terms = match backend {
            Backend::Postgres => search.to_owned(),
            Backend::Sqlite => grams::sqlite_match(org_id, search),
        };
        let like = crate::repo::like_contains(search);
        GramsMatch { backend, org_id: org_id.to_owned(), terms, like, wanted }
    }
}

impl diesel::Expression for GramsMatch {
    type SqlType = diesel::sql_types::Bool;
}

impl<QS> diesel::AppearsOnTable<QS> for GramsMatch {}

impl<QS> diesel::SelectableExpression<QS> for GramsMatch {}

impl<GB> diesel::expression::ValidGrouping<GB> for GramsMatch {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl diesel::query_builder::QueryId for GramsMatch {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<MultiBackend> for GramsMatch {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Text};
        match self.backend {
            Backend::Postgres => {
                out.push_sql("(keys.org_id || '' = ");
                out.push_bind_param::<Text, _>(&self.org_id)?;
                out.push_sql(
                    " AND ((keys.issued_to IS NOT NULL \
                     AND keyward_search_grams(keys.org_id, keyward_search_holder(keys.search_text)) \
                     @> keyward_search_grams(",
                );
                out.push_bind_param::<Text, _>(&self.org_id)?;
                out.push_sql(", ");
                out.push_bind_param::<Text, _>(&self.terms)?;
                out.push_sql(
                    ")) OR keys.id = ANY(ARRAY(SELECT key_search.key_id FROM key_search \
                     WHERE keyward_search_grams(key_search.org_id, key_search.head) @> keyward_search_grams(",
                );
                out.push_bind_param::<Text, _>(&self.org_id)?;
                out.push_sql(", ");
                out.push_bind_param::<Text, _>(&self.terms)?;
                out.push_sql(") AND key_search.org_id = ");
                out.push_bind_param::<Text, _>(&self.org_id)?;
                out.push_sql(" AND key_search.head LIKE ");
                out.push_bind_param::<Text, _>(&self.like)?;
                out.push_sql(" ESCAPE '\\'");
                if let Some(wanted) = &self.wanted {
                    out.push_sql(" LIMIT ");
                    out.push_bind_param::<BigInt, _>(wanted)?;
                }
                out.push_sql("))))");
            }
            Backend::Sqlite => {
                // Heads by their grams (keys_search_id), or keys issued to a name whose
                // grams match (holder_names, then keys_org_issued_to): decision 187.
                out.push_sql("(+keys.org_id = ");
                out.push_bind_param::<Text, _>(&self.org_id)?;
                out.push_sql(" AND (keys.search_id IN (SELECT rowid FROM keys_grams WHERE keys_grams MATCH ");
                out.push_bind_param::<Text, _>(&self.terms)?;
                out.push_sql(") OR (keys.org_id = ");
                out.push_bind_param::<Text, _>(&self.org_id)?;
                out.push_sql(
                    " AND keys.issued_to IN (SELECT holder_names.name FROM holder_names \
                     WHERE holder_names.id IN (SELECT rowid FROM holder_grams WHERE holder_grams MATCH ",
                );
                out.push_bind_param::<Text, _>(&self.terms)?;
                // `+`: the names by the ids FTS5 gives, not the organisation's names.
                out.push_sql(") AND +holder_names.org_id = ");
                out.push_bind_param::<Text, _>(&self.org_id)?;
                out.push_sql("))))");
            }
        }
        Ok(())
    }
}

/// The organisation's keys that match the filter.
fn filtered<'a>(
    org_id: &'a str,
    f: &'a KeyFilter,
    now: NaiveDateTime,
    narrow: Narrow,
) -> keys::BoxedQuery<'a, MultiBackend> {
    let search = f.windowed_search();
    let q = keys::table.into_boxed();
    let mut q = match (narrow, search) {
        (Narrow::Grams { backend, wanted }, Some(search)) => {
            q.filter(GramsMatch::new(backend, f.search_alone().then_some(wanted), org_id, &search))
        }
        _ => q.filter(keys::org_id.eq(org_id)),
    };
    if let Some(search) = &f.search {
        if search.chars().count() < WINDOW {
            // Key refs are upper-case ASCII; U+10FFFF sorts after every character.
            let prefix = search.to_uppercase();
            q = q.filter(keys::key_ref.ge(prefix.clone())).filter(keys::key_ref.lt(format!("{prefix}\u{10FFFF}")));
        } else {
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
    let narrow = Narrow::grams(conn, TOTAL_CAP + 1);
    let (total, total_capped, matched) = match exact_total(conn, org_id, f, now)? {
        Some(total) => (total, false, None),
        None => {
            // The refs of the matches, up to the cap, in one scan: when they are all there
            // (at most the cap), they are the count and the page's refs at once.
            let refs: Vec<String> = match (&mut *conn, f.windowed_search().filter(|_| f.search_alone())) {
                (AnyConnection::Sqlite(c), Some(search)) => grams::sqlite_refs(c, org_id, &search, TOTAL_CAP + 1)?,
                _ => filtered(org_id, f, now, narrow).select(keys::key_ref).limit(TOTAL_CAP + 1).load(conn)?,
            };
            let counted = refs.len() as i64;
            let capped = counted > TOTAL_CAP;
            (counted.min(TOTAL_CAP), capped, (!capped).then_some(refs))
        }
    };
    let (page, limit) = match &start {
        PageStart::Number(page) => (page.page, page.limit),
        PageStart::After { limit, .. } => (0, *limit),
    };
    let empty = || Page {
        items: Vec::new(),
        total: crate::repo::count_i32(total),
        total_capped,
        page,
        limit,
        next_cursor: None,
    };
    // Past the end of an exact total: nothing to read.
    if let PageStart::Number(p) = &start
        && !total_capped
        && p.offset() >= total
    {
        return Ok(empty());
    }
    let mut rows: Vec<KeyRow> = match matched {
        Some(mut refs) => {
            // Every match's ref is here: the page is a slice of them in ref order, read by
            // `(org_id, key_ref)`.
            refs.sort_unstable();
            let first = match &start {
                PageStart::Number(p) => usize::try_from(p.offset()).unwrap_or(usize::MAX),
                PageStart::After { key_ref, .. } => refs.partition_point(|r| r <= key_ref),
            };
            let wanted: Vec<String> = refs.into_iter().skip(first).take(limit as usize + 1).collect();
            if wanted.is_empty() {
                return Ok(empty());
            }
            let wanted = crate::repo::any_of(conn, keys::key_ref, &wanted);
            keys::table.filter(keys::org_id.eq(org_id)).filter(wanted).order(keys::key_ref).load(conn)?
        }
        None => {
            // Over 1,000 matches (or a filter without a search): the page is cheaper
            // walking the organisation in ref order, where matches come often, than
            // sorting every match (decisions 38, 173).
            let query = match &start {
                PageStart::Number(page) if page.offset() == 0 => filtered(org_id, f, now, Narrow::Walk),
                PageStart::Number(page) => {
                    // Skip to the page's first ref reading only the index (the rows
                    // skipped are not fetched; on an interleaved table each would be a
                    // page read), then read the page from there.
                    let first: Option<String> = filtered(org_id, f, now, Narrow::Walk)
                        .select(keys::key_ref)
                        .order(keys::key_ref)
                        .offset(page.offset())
                        .first(conn)
                        .optional()?;
                    let Some(first) = first else { return Ok(empty()) };
                    filtered(org_id, f, now, Narrow::Walk).filter(keys::key_ref.ge(first))
                }
                PageStart::After { key_ref, .. } => {
                    filtered(org_id, f, now, Narrow::Walk).filter(keys::key_ref.gt(key_ref))
                }
            };
            query.order(keys::key_ref).limit(i64::from(limit) + 1).load(conn)?
        }
    };
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
    // Every match is read anyway (up to `max`): found through the trigrams, then sorted.
    let rows: Vec<KeyRow> = filtered(org_id, f, now, Narrow::grams(conn, max as i64 + 1))
        .order(keys::key_ref)
        .limit(max as i64 + 1)
        .load(conn)?;
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
