//! The key register: listing and search (`list`), refs (`refs`), creation and edits
//! (`write`), the guarded status transitions (`transition`), the history of movements
//! (`history`), the doors a key opens (`doors`) and what losing it exposes (`blast`).

mod blast;
mod by_sms;
mod doors;
mod grams;
mod handover;
mod history;
mod holder;
mod list;
mod refs;
mod transition;
mod write;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::key_ref::split_numbered;
use keyward_domain::{
    Error, Key, KeyStatus,
    entities::{KeyType, SecurityLevel},
};

pub(crate) use blast::exposed_code_ids;
pub use blast::{blast_radius, mark_lost, mark_lost_only};
pub use by_sms::{HeldKey, MAX_HELD, claim_return, extend, held_by_phone};
pub(crate) use doors::lost_links;
pub use doors::set_doors;
pub use grams::register_sqlite_functions;
pub use handover::{HandoverCode, begin_handover, confirm_handover};
pub use history::{history, record_note};
pub(crate) use holder::Movement;
pub use holder::{holder_at, holdings_at};
pub use list::{KeyFilter, PageStart, TOTAL_CAP, by_ref, decode_cursor, encode_cursor, export, list};
pub use refs::suggest_ref;
pub use transition::{TransitionDetails, issue, transition};
pub use write::{KeyFields, KeyPatch, NewKey, create, delete, update};

use super::counts;
use crate::connection::AnyConnection;
use crate::error::{StoreError, StoreResult};
use crate::schema::keys;
use crate::time;

/// How often a write retries after losing a race to another writer of the same key
/// (PostgreSQL only: SQLite's write transactions never interleave).
const MAX_ATTEMPTS: usize = 8;

#[derive(Insertable, Queryable, Clone, Debug)]
#[diesel(table_name = keys)]
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
    return_claimed_at: Option<NaiveDateTime>,
    holder_phone: Option<String>,
}

/// The SET list of a key's UPDATE from `$old` to `$new` (`KeyRow`s): the columns whose
/// value differs. SQLite rewrites only the indexes over columns the SET list names (a
/// return to the holder names `status` and the stamps, not the holder or the ref, and
/// skips their indexes); PostgreSQL decides by value and gains a shorter statement. `id`,
/// `org_id` and `created_at` never change.
macro_rules! key_change {
    ($old:expr, $new:expr) => {
        $crate::repo::keys::key_change!($old, $new; development_id, key_ref, ref_prefix, ref_number, key_type, label, status,
            notes, issued_to, issued_to_phone, issued_at, issued_by, purpose, expected_return_at,
            security_level, brand, key_number, quantity, access_restrictions, emergency_contact,
            updated_at, last_status_change_at, last_status_change_by, version, search_text,
            holder_id, return_requested_at, return_claimed_at, holder_phone)
    };
    ($old:expr, $new:expr; $($column:ident),*) => {{
        let (old, new): (&KeyRow, &KeyRow) = ($old, $new);
        ($((old.$column != new.$column).then(|| keys::$column.eq(&new.$column)),)*)
    }};
}
pub(crate) use key_change;

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

    fn into_key(self, now: NaiveDateTime, door_ids: Vec<String>) -> StoreResult<Key> {
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
            holder_id: self.holder_id,
            return_requested: self.return_requested_at.is_some(),
            issued_to_phone: self.issued_to_phone,
            return_claimed_at: self.return_claimed_at.map(time::from_db),
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
            door_ids,
            handover: None,
            version: self.version,
        })
    }
}

/// The lower-cased text that a key search matches (`keys.search_text`); a line break keeps
/// a match from spanning two fields (searches cannot contain control characters).
pub fn search_text(key_ref: &str, label: &str, issued_to: Option<&str>) -> String {
    format!("{key_ref}\n{label}\n{}", issued_to.unwrap_or("")).to_lowercase()
}

/// An instant as audit changes show it (RFC 3339, UTC).
fn stamp(at: NaiveDateTime) -> String {
    time::from_db(at).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<KeyRow> {
    Ok(keys::table.filter(keys::org_id.eq(org_id)).filter(keys::id.eq(id)).first(conn)?)
}

pub fn get(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Key> {
    let row = find(conn, org_id, id)?;
    answer(conn, row, time::now())
}

/// One key as the wire shows it, with the doors it opens and its handover.
fn answer(conn: &mut AnyConnection, row: KeyRow, now: NaiveDateTime) -> StoreResult<Key> {
    answer_in(conn, row, now, Holding::AsItWas)
}

/// Whether a key's holding is the one it had before the change being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holding {
    AsItWas,
    /// The status changed: the holding ended, or a new one began. A handover belongs to
    /// a holding and leaving `issued` deletes it, so a new holding has none yet (an
    /// issue that asks for one records it after the transition).
    New,
}

/// [`answer`], told whether the holding is new.
fn answer_in(conn: &mut AnyConnection, row: KeyRow, now: NaiveDateTime, holding: Holding) -> StoreResult<Key> {
    let door_ids = doors::of_key(conn, &row.org_id, &row.id)?;
    // Only an issued key can have a handover, so the others are not asked for theirs;
    // nor is a key whose holding has just begun.
    let issued = row.status == KeyStatus::Issued.as_str() && holding == Holding::AsItWas;
    let mut handovers = if issued { handover::of_keys(conn, &row.org_id, &[&row.id])? } else { Default::default() };
    let mut key = row.into_key(now, door_ids)?;
    key.handover = handovers.remove(&key.id);
    Ok(key)
}
