//! The key register: listing and search, refs, creation and edits, and the guarded
//! status transitions with their history.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use keyward_domain::key_ref::{format_key_ref, split_numbered};
use keyward_domain::{
    Actor, Error, FieldChange, Key, KeyMovement, KeyStatus, Page, PageRequest, Transition,
    entities::diff,
    entities::{KeyType, SecurityLevel},
};

use super::audit::{self, NewEvent};
use super::counts;
use crate::connection::{AnyConnection, MultiBackend};
use crate::error::{StoreError, StoreResult, is_foreign_key_violation, is_unique_violation};
use crate::schema::{developments, key_movements, keys};
use crate::time;

/// How often a write retries after losing a race to another writer of the same key
/// (PostgreSQL only: SQLite's write transactions never interleave).
const MAX_ATTEMPTS: usize = 8;

#[derive(Insertable, Queryable, AsChangeset, Clone, Debug)]
#[diesel(table_name = keys, treat_none_as_null = true)]
struct KeyRow {
    id: String,
    org_id: String,
    development_id: String,
    key_ref: String,
    ref_prefix: Option<String>,
    ref_number: Option<i64>,
    key_type: String,
    label: String,
    status: String,
    notes: Option<String>,
    issued_to: Option<String>,
    issued_to_phone: Option<String>,
    issued_at: Option<NaiveDateTime>,
    issued_by: Option<String>,
    purpose: Option<String>,
    expected_return_at: Option<NaiveDateTime>,
    security_level: String,
    brand: Option<String>,
    key_number: Option<String>,
    quantity: i32,
    access_restrictions: Option<String>,
    emergency_contact: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    last_status_change_at: Option<NaiveDateTime>,
    last_status_change_by: Option<String>,
    version: i32,
    search_text: String,
    holder_id: Option<String>,
    return_requested_at: Option<NaiveDateTime>,
}

impl KeyRow {
    fn status(&self) -> StoreResult<KeyStatus> {
        KeyStatus::parse(&self.status)
            .ok_or_else(|| Error::Internal(format!("unknown key status {:?} in the database", self.status)).into())
    }

    fn facts(&self) -> counts::KeyFacts<'_> {
        counts::KeyFacts {
            development_id: &self.development_id,
            status: &self.status,
            expected_return_at: self.expected_return_at,
        }
    }

    fn set_key_ref(&mut self, key_ref: String) {
        let numbered = split_numbered(&key_ref).map(|(prefix, n)| (prefix.to_owned(), n));
        (self.ref_prefix, self.ref_number) = numbered.unzip();
        self.key_ref = key_ref;
    }

    fn refresh_search_text(&mut self) {
        self.search_text = search_text(&self.key_ref, &self.label, self.issued_to.as_deref());
    }

    fn into_key(self, now: NaiveDateTime) -> StoreResult<Key> {
        let status = self.status()?;
        let parse_err =
            |what: &str, v: &str| StoreError::from(Error::Internal(format!("unknown {what} {v:?} in the database")));
        Ok(Key {
            overdue: status == KeyStatus::Issued && self.expected_return_at.is_some_and(|at| at < now),
            key_type: KeyType::parse(&self.key_type).ok_or_else(|| parse_err("key type", &self.key_type))?,
            security_level: SecurityLevel::parse(&self.security_level)
                .ok_or_else(|| parse_err("security level", &self.security_level))?,
            status,
            id: self.id,
            development_id: self.development_id,
            key_ref: self.key_ref,
            label: self.label,
            notes: self.notes,
            issued_to: self.issued_to,
            issued_to_phone: self.issued_to_phone,
            issued_at: self.issued_at.map(time::from_db),
            issued_by: self.issued_by,
            purpose: self.purpose,
            expected_return_at: self.expected_return_at.map(time::from_db),
            brand: self.brand,
            key_number: self.key_number,
            quantity: self.quantity,
            access_restrictions: self.access_restrictions,
            emergency_contact: self.emergency_contact,
            created_at: time::from_db(self.created_at),
            updated_at: time::from_db(self.updated_at),
            last_status_change_at: self.last_status_change_at.map(time::from_db),
            last_status_change_by: self.last_status_change_by,
            version: self.version,
        })
    }
}

/// The lower-cased text that a key search matches (`keys.search_text`); a line break keeps
/// a match from spanning two fields (searches cannot contain control characters).
pub fn search_text(key_ref: &str, label: &str, issued_to: Option<&str>) -> String {
    format!("{key_ref}\n{label}\n{}", issued_to.unwrap_or("")).to_lowercase()
}

fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<KeyRow> {
    Ok(keys::table.filter(keys::org_id.eq(org_id)).filter(keys::id.eq(id)).first(conn)?)
}

pub fn get(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Key> {
    find(conn, org_id, id)?.into_key(time::now())
}

#[derive(Debug, Default, Clone)]
pub struct KeyFilter {
    pub search: Option<String>,
    pub development_id: Option<String>,
    pub status: Option<KeyStatus>,
    pub key_type: Option<KeyType>,
    pub security_level: Option<SecurityLevel>,
    pub overdue: Option<bool>,
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
            q = q.filter(keys::search_text.like(super::like_contains(search)).escape('\\'));
        }
    }
    if let Some(v) = &f.development_id {
        q = q.filter(keys::development_id.eq(v));
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
                let total = super::count_i32(total);
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
    Ok(Page {
        items: rows.into_iter().map(|r| r.into_key(now)).collect::<StoreResult<_>>()?,
        total: super::count_i32(total),
        total_capped,
        page,
        limit,
        next_cursor,
    })
}

/// The total from the maintained counts, when the filter is one they answer.
fn exact_total(conn: &mut AnyConnection, org_id: &str, f: &KeyFilter, now: NaiveDateTime) -> StoreResult<Option<i64>> {
    if f.search.is_some() || f.key_type.is_some() || f.security_level.is_some() {
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

/// Newest first.
pub fn history(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Vec<KeyMovement>> {
    find(conn, org_id, id)?;
    let rows: Vec<MovementRow> = key_movements::table
        .filter(key_movements::org_id.eq(org_id))
        .filter(key_movements::key_id.eq(id))
        .order((key_movements::at.desc(), key_movements::id.desc()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|m| KeyMovement {
            at: time::from_db(m.at),
            action: m.action,
            actor_name: m.actor_name,
            issued_to: m.issued_to,
            purpose: m.purpose,
            expected_return_at: m.expected_return_at.map(time::from_db),
            notes: m.notes,
        })
        .collect())
}

/// The lowest number ≥ 1 that no key ref `PREFIX-N` of the organisation uses.
///
/// Starts at the prefix's floor (every number below it is taken, `key_ref_floors`),
/// walks the (org_id, ref_prefix, ref_number) index in ascending order, a chunk at a
/// time, and stops at the first gap: it reads only the numbers from the floor to the
/// answer, usually none. (A
/// NOT EXISTS anti-join says the same in one statement, but its plan depends on table
/// statistics; on a freshly filled PostgreSQL table it went quadratic.)
fn lowest_free_number(conn: &mut AnyConnection, org_id: &str, prefix: &str) -> StoreResult<i64> {
    const CHUNK: i64 = 1024;
    let mut candidate = counts::ref_floor(conn, org_id, prefix)?;
    loop {
        let numbers: Vec<i64> = keys::table
            .filter(keys::org_id.eq(org_id))
            .filter(keys::ref_prefix.eq(prefix))
            .filter(keys::ref_number.ge(candidate))
            .order(keys::ref_number)
            .select(keys::ref_number.assume_not_null())
            .limit(CHUNK)
            .load(conn)?;
        for &n in &numbers {
            match n.cmp(&candidate) {
                std::cmp::Ordering::Less => {} // the same number twice (OP-1 and OP-001)
                std::cmp::Ordering::Equal => candidate += 1,
                std::cmp::Ordering::Greater => return Ok(candidate),
            }
        }
        if (numbers.len() as i64) < CHUNK {
            return Ok(candidate);
        }
    }
}

fn development_prefix(conn: &mut AnyConnection, org_id: &str, development_id: &str) -> StoreResult<String> {
    developments::table
        .filter(developments::org_id.eq(org_id))
        .filter(developments::id.eq(development_id))
        .select(developments::key_prefix)
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::NotFound.into())
}

pub fn suggest_ref(conn: &mut AnyConnection, org_id: &str, development_id: &str) -> StoreResult<String> {
    let prefix = development_prefix(conn, org_id, development_id)?;
    Ok(format_key_ref(&prefix, lowest_free_number(conn, org_id, &prefix)?))
}

/// The descriptive fields of a key, validated. Optional texts are `None` when empty.
#[derive(Debug, Clone)]
pub struct KeyFields {
    pub key_type: KeyType,
    pub label: String,
    pub notes: Option<String>,
    pub security_level: SecurityLevel,
    pub brand: Option<String>,
    pub key_number: Option<String>,
    pub quantity: i32,
    pub access_restrictions: Option<String>,
    pub emergency_contact: Option<String>,
}

pub struct NewKey {
    pub development_id: String,
    /// Normalised; `None` assigns the development's next free ref.
    pub key_ref: Option<String>,
    pub fields: KeyFields,
}

pub fn create(conn: &mut AnyConnection, actor: &Actor, new: NewKey) -> StoreResult<Key> {
    // The organisation's lock first (it also serialises key-ref writers, so that a
    // suggested ref cannot be taken between choosing and inserting it).
    super::lock_organisation(conn, &actor.org_id)?;
    let prefix = development_prefix(conn, &actor.org_id, &new.development_id)?;
    let key_ref = match new.key_ref {
        Some(key_ref) => key_ref,
        None => format_key_ref(&prefix, lowest_free_number(conn, &actor.org_id, &prefix)?),
    };
    let now = time::now();
    let f = new.fields;
    let mut row = KeyRow {
        id: time::new_id(),
        org_id: actor.org_id.clone(),
        development_id: new.development_id,
        key_ref: String::new(),
        ref_prefix: None,
        ref_number: None,
        key_type: f.key_type.as_str().to_owned(),
        label: f.label,
        status: KeyStatus::InStock.as_str().to_owned(),
        notes: f.notes,
        issued_to: None,
        issued_to_phone: None,
        issued_at: None,
        issued_by: None,
        purpose: None,
        expected_return_at: None,
        security_level: f.security_level.as_str().to_owned(),
        brand: f.brand,
        key_number: f.key_number,
        quantity: f.quantity,
        access_restrictions: f.access_restrictions,
        emergency_contact: f.emergency_contact,
        created_at: now,
        updated_at: now,
        last_status_change_at: Some(now),
        last_status_change_by: Some(actor.name.clone()),
        version: 1,
        search_text: String::new(),
        holder_id: None,
        return_requested_at: None,
    };
    row.set_key_ref(key_ref);
    row.refresh_search_text();
    diesel::insert_into(keys::table).values(&row).execute(conn).map_err(|e| key_ref_taken(e.into(), &row.key_ref))?;
    derived_changed(conn, &actor.org_id, None, Some(&row))?;
    record_movement(conn, actor, &row, "created", None)?;
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "key.created",
            entity_type: "key",
            entity_id: &row.id,
            summary: format!("Key {} ({}) created", row.key_ref, row.label),
            changes: vec![
                FieldChange::new("keyRef", None::<&str>, Some(&row.key_ref)),
                FieldChange::new("label", None::<&str>, Some(&row.label)),
                FieldChange::new("keyType", None::<&str>, Some(&row.key_type)),
                FieldChange::new("status", None::<&str>, Some(&row.status)),
            ],
        },
    )?;
    row.into_key(now)
}

/// The contract's answer to a constraint the database enforced: the ref is taken, or
/// the development was deleted meanwhile (PostgreSQL).
fn key_ref_taken(e: StoreError, key_ref: &str) -> StoreError {
    if is_unique_violation(&e) {
        Error::KeyRefTaken(key_ref.to_owned()).into()
    } else if is_foreign_key_violation(&e) {
        Error::NotFound.into()
    } else {
        e
    }
}

/// Changes to a key's fields; `None` leaves a field as it is. For the optional texts,
/// `Some(None)` clears the field.
#[derive(Debug, Default, Clone)]
pub struct KeyPatch {
    pub development_id: Option<String>,
    pub key_ref: Option<String>,
    pub key_type: Option<KeyType>,
    pub label: Option<String>,
    pub notes: Option<Option<String>>,
    pub security_level: Option<SecurityLevel>,
    pub brand: Option<Option<String>>,
    pub key_number: Option<Option<String>>,
    pub quantity: Option<i32>,
    pub access_restrictions: Option<Option<String>>,
    pub emergency_contact: Option<Option<String>>,
}

pub fn update(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    expected_version: Option<i32>,
    patch: KeyPatch,
) -> StoreResult<Key> {
    if let Some(development_id) = &patch.development_id {
        development_prefix(conn, &actor.org_id, development_id)?;
    }
    // `with_retries` takes the organisation's lock, which also serialises key-ref writers.
    with_retries(conn, actor, id, |old, _| {
        if let Some(expected) = expected_version
            && expected != old.version
        {
            return Err(Error::VersionConflict { current: old.version }.into());
        }
        let mut new = old.clone();
        let p = patch.clone();
        if let Some(v) = p.development_id {
            new.development_id = v;
        }
        if let Some(v) = p.key_ref {
            new.set_key_ref(v);
        }
        if let Some(v) = p.key_type {
            new.key_type = v.as_str().to_owned();
        }
        if let Some(v) = p.label {
            new.label = v;
        }
        if let Some(v) = p.security_level {
            new.security_level = v.as_str().to_owned();
        }
        if let Some(v) = p.quantity {
            new.quantity = v;
        }
        new.notes = p.notes.unwrap_or(new.notes);
        new.brand = p.brand.unwrap_or(new.brand);
        new.key_number = p.key_number.unwrap_or(new.key_number);
        new.access_restrictions = p.access_restrictions.unwrap_or(new.access_restrictions);
        new.emergency_contact = p.emergency_contact.unwrap_or(new.emergency_contact);

        let mut changes = Vec::new();
        diff(&mut changes, "developmentId", &Some(&old.development_id), &Some(&new.development_id));
        diff(&mut changes, "keyRef", &Some(&old.key_ref), &Some(&new.key_ref));
        diff(&mut changes, "keyType", &Some(&old.key_type), &Some(&new.key_type));
        diff(&mut changes, "label", &Some(&old.label), &Some(&new.label));
        diff(&mut changes, "notes", &old.notes, &new.notes);
        diff(&mut changes, "securityLevel", &Some(&old.security_level), &Some(&new.security_level));
        diff(&mut changes, "brand", &old.brand, &new.brand);
        diff(&mut changes, "keyNumber", &old.key_number, &new.key_number);
        diff(&mut changes, "quantity", &Some(old.quantity), &Some(new.quantity));
        diff(&mut changes, "accessRestrictions", &old.access_restrictions, &new.access_restrictions);
        diff(&mut changes, "emergencyContact", &old.emergency_contact, &new.emergency_contact);
        let summary = format!("Key {} updated", new.key_ref);
        Ok(Planned { new, changes, action: "updated", summary, movement: None })
    })
}

/// What a transition records beyond the status: the holder when issuing, a note always.
#[derive(Debug, Default, Clone)]
pub struct TransitionDetails {
    pub issued_to: Option<String>,
    pub issued_to_phone: Option<String>,
    pub purpose: Option<String>,
    pub expected_return_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
}

/// Moves a key from one status to another, if the contract's table allows it from the
/// key's current status; otherwise INVALID_TRANSITION and nothing changes.
pub fn transition(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    transition: Transition,
    details: TransitionDetails,
) -> StoreResult<Key> {
    with_retries(conn, actor, id, |old, now| {
        let current = old.status()?;
        if !transition.allows(current) {
            return Err(Error::InvalidTransition { current }.into());
        }
        let mut new = old.clone();
        new.status = transition.to().as_str().to_owned();
        new.last_status_change_at = Some(now);
        new.last_status_change_by = Some(actor.name.clone());
        if transition == Transition::Issue {
            new.issued_to = details.issued_to.clone();
            new.issued_to_phone = details.issued_to_phone.clone();
            new.purpose = details.purpose.clone();
            new.expected_return_at = details.expected_return_at.map(time::to_db);
            new.issued_at = Some(now);
            new.issued_by = Some(actor.name.clone());
        } else if transition.clears_holder() {
            new.issued_to = None;
            new.issued_to_phone = None;
            new.purpose = None;
            new.expected_return_at = None;
            new.issued_at = None;
            new.issued_by = None;
        }
        let mut changes = vec![FieldChange::new("status", Some(&old.status), Some(&new.status))];
        diff(&mut changes, "issuedTo", &old.issued_to, &new.issued_to);
        diff(&mut changes, "issuedToPhone", &old.issued_to_phone, &new.issued_to_phone);
        diff(&mut changes, "purpose", &old.purpose, &new.purpose);
        let at = |v: &Option<NaiveDateTime>| {
            v.map(|t| time::from_db(t).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        };
        diff(&mut changes, "expectedReturnAt", &at(&old.expected_return_at), &at(&new.expected_return_at));
        let summary = match (&new.issued_to, transition) {
            (Some(to), Transition::Issue) => format!("Key {} issued to {to}", new.key_ref),
            _ => format!("Key {} {}", new.key_ref, transition.action().replace('_', " ")),
        };
        Ok(Planned { new, changes, action: transition.action(), summary, movement: Some(details.notes.clone()) })
    })
}

/// A change worked out from the key as it was read.
struct Planned {
    new: KeyRow,
    changes: Vec<FieldChange>,
    /// The verb of the audit action `key.<action>` and of the history movement.
    action: &'static str,
    summary: String,
    /// `Some(notes)` records a movement in the key's history.
    movement: Option<Option<String>>,
}

/// Reads the key, plans the change, and writes it with one UPDATE guarded by the version
/// that was read. If another writer got there first (only possible on PostgreSQL), the
/// UPDATE matches nothing, and the change is planned again from the key as it is now —
/// so a transition is judged against the real current status and the audit event shows
/// exactly what changed.
fn with_retries(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    mut plan: impl FnMut(&KeyRow, NaiveDateTime) -> StoreResult<Planned>,
) -> StoreResult<Key> {
    super::lock_organisation(conn, &actor.org_id)?;
    for _ in 0..MAX_ATTEMPTS {
        let old = find(conn, &actor.org_id, id)?;
        // One instant for the whole change: updatedAt, the status change, the history.
        let now = time::now();
        let Planned { mut new, changes, action, summary, movement } = plan(&old, now)?;
        if changes.is_empty() {
            return old.into_key(now);
        }
        new.version = old.version + 1;
        new.updated_at = now;
        new.refresh_search_text();
        let written: Option<KeyRow> = diesel::update(
            keys::table
                .filter(keys::org_id.eq(&actor.org_id))
                .filter(keys::id.eq(id))
                .filter(keys::version.eq(old.version)),
        )
        .set(&new)
        .returning(keys::all_columns)
        .get_result(conn)
        .optional()
        .map_err(|e| key_ref_taken(e.into(), &new.key_ref))?;
        let Some(written) = written else { continue };
        derived_changed(conn, &actor.org_id, Some(&old), Some(&written))?;
        if let Some(notes) = movement {
            record_movement(conn, actor, &written, action, notes)?;
        }
        audit::record(
            conn,
            actor,
            NewEvent { action: &format!("key.{action}"), entity_type: "key", entity_id: id, summary, changes },
        )?;
        return written.into_key(now);
    }
    Err(Error::Unavailable.into())
}

/// Keeps the counts and the ref floor in step with a key that was created (`old` is
/// `None`), changed, or deleted (`new` is `None`). Called under the organisation's lock.
fn derived_changed(
    conn: &mut AnyConnection,
    org_id: &str,
    old: Option<&KeyRow>,
    new: Option<&KeyRow>,
) -> StoreResult<()> {
    counts::key_changed(conn, org_id, old.map(KeyRow::facts), new.map(KeyRow::facts))?;
    let numbered = |row: Option<&KeyRow>| row.and_then(|r| Some((r.ref_prefix.clone()?, r.ref_number?)));
    let (old_ref, new_ref) = (numbered(old), numbered(new));
    if old_ref == new_ref {
        return Ok(());
    }
    if let Some((prefix, number)) = old_ref.filter(|(_, n)| *n >= 1) {
        counts::ref_number_freed(conn, org_id, &prefix, number)?;
    }
    if let Some((prefix, number)) = new_ref
        && number == counts::ref_floor(conn, org_id, &prefix)?
    {
        let floor = lowest_free_number(conn, org_id, &prefix)?;
        counts::set_ref_floor(conn, org_id, &prefix, floor)?;
    }
    Ok(())
}

#[derive(Insertable, Queryable)]
#[diesel(table_name = key_movements)]
struct MovementRow {
    id: String,
    org_id: String,
    key_id: String,
    at: NaiveDateTime,
    action: String,
    actor_name: String,
    issued_to: Option<String>,
    purpose: Option<String>,
    expected_return_at: Option<NaiveDateTime>,
    notes: Option<String>,
    holder_id: Option<String>,
}

fn record_movement(
    conn: &mut AnyConnection,
    actor: &Actor,
    key: &KeyRow,
    action: &str,
    notes: Option<String>,
) -> StoreResult<()> {
    let row = MovementRow {
        id: time::new_id(),
        org_id: key.org_id.clone(),
        key_id: key.id.clone(),
        at: key.updated_at,
        action: action.to_owned(),
        actor_name: actor.name.clone(),
        issued_to: key.issued_to.clone(),
        purpose: key.purpose.clone(),
        expected_return_at: key.expected_return_at,
        notes,
        holder_id: key.holder_id.clone(),
    };
    diesel::insert_into(key_movements::table).values(&row).execute(conn)?;
    Ok(())
}

/// Deletes a key that nobody holds; an issued key is INVALID_TRANSITION.
pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<()> {
    super::lock_organisation(conn, &actor.org_id)?;
    for _ in 0..MAX_ATTEMPTS {
        let old = find(conn, &actor.org_id, id)?;
        let current = old.status()?;
        if !current.can_delete() {
            return Err(Error::InvalidTransition { current }.into());
        }
        let deleted = diesel::delete(
            keys::table
                .filter(keys::org_id.eq(&actor.org_id))
                .filter(keys::id.eq(id))
                .filter(keys::version.eq(old.version)),
        )
        .execute(conn)?;
        if deleted == 0 {
            continue;
        }
        derived_changed(conn, &actor.org_id, Some(&old), None)?;
        audit::record(
            conn,
            actor,
            NewEvent {
                action: "key.deleted",
                entity_type: "key",
                entity_id: id,
                summary: format!("Key {} ({}) deleted", old.key_ref, old.label),
                changes: vec![FieldChange::new("keyRef", Some(&old.key_ref), None::<&str>)],
            },
        )?;
        return Ok(());
    }
    Err(Error::Unavailable.into())
}
