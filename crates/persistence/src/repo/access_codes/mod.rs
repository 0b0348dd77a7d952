//! The access-code register. Values are sealed at rest ([`Sealer`]); the caller says
//! whether this reader may see them, and the organisation's `maskCodesInLists` may hide
//! them still ([`Reveal`]). Each value a code has had is numbered (`value_version`,
//! `access_code_values`): the exposure ledger ([`ledger`]) and the rotation reasons
//! ([`rotation`]) belong to one value.

mod doors;
pub mod ledger;
pub mod rotation;
mod write;

#[cfg(test)]
mod tests;

pub use write::{CodePatch, NewCode, create, update};

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use keyward_domain::RotationReason;
use keyward_domain::entities::{CodeStatus, CodeType};
use keyward_domain::{AccessCode, AccessCodeChange, Actor, Error, FieldChange, Page, PageRequest, Secret};

use super::audit::{self, NewEvent};
use crate::connection::{AnyConnection, MultiBackend};
use crate::error::{StoreError, StoreResult};
use crate::schema::{access_code_doors, access_codes, audit_events, organisations};
use crate::secrets::Sealer;
use crate::time;

pub const ENTITY: &str = "accessCode";
const MAX_ATTEMPTS: usize = 8;

#[derive(Insertable, Queryable, AsChangeset, Clone)]
#[diesel(table_name = access_codes, treat_none_as_null = true)]
struct CodeRow {
    id: String,
    org_id: String,
    development_id: String,
    code_type: String,
    label: String,
    code_sealed: String,
    code_lookup: String,
    status: String,
    expires_on: Option<NaiveDate>,
    notes: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
    search_text: String,
    value_version: i32,
    rotate_by: Option<NaiveDate>,
    rotation_flagged_at: Option<NaiveDateTime>,
}

/// Whether the reader sees code values (`code: null` otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reveal {
    /// The reader's role may see values: shown unless the organisation masks them in
    /// lists (`maskCodesInLists`).
    Values,
    Nothing,
    /// Whatever the setting: the SMS body and `keys.revealAccessCode` (which records it).
    Unmasked,
}

impl Reveal {
    /// What this reader sees in the organisation as it is set now.
    fn effective(self, conn: &mut AnyConnection, org_id: &str) -> StoreResult<Reveal> {
        Ok(match self {
            Reveal::Values if masked(conn, org_id)? => Reveal::Nothing,
            other => other,
        })
    }
}

/// The organisation's `maskCodesInLists`.
pub fn masked(conn: &mut AnyConnection, org_id: &str) -> StoreResult<bool> {
    Ok(organisations::table
        .find(org_id)
        .select(organisations::mask_codes_in_lists)
        .first::<bool>(conn)
        .optional()?
        .unwrap_or(false))
}

/// What a code answer carries beside its row.
#[derive(Default)]
struct Extras {
    reasons: Vec<RotationReason>,
    key_ids: Vec<String>,
    door_ids: Vec<String>,
}

impl CodeRow {
    fn rotation_due(&self, today: NaiveDate) -> bool {
        self.rotation_flagged_at.is_some() || self.rotate_by.is_some_and(|day| day <= today)
    }

    fn into_code(self, sealer: &Sealer, reveal: Reveal, today: NaiveDate, extras: Extras) -> StoreResult<AccessCode> {
        let bad =
            |what: &str, v: &str| StoreError::from(Error::Internal(format!("unknown {what} {v:?} in the database")));
        Ok(AccessCode {
            rotation_due: self.rotation_due(today),
            code: match reveal {
                Reveal::Values | Reveal::Unmasked => Some(Secret::from(sealer.open(&self.code_sealed)?)),
                Reveal::Nothing => None,
            },
            code_type: CodeType::parse(&self.code_type).ok_or_else(|| bad("code type", &self.code_type))?,
            status: CodeStatus::parse(&self.status).ok_or_else(|| bad("code status", &self.status))?,
            expired: self.expires_on.is_some_and(|last_day| last_day < today),
            id: self.id,
            development_id: self.development_id,
            label: self.label,
            expires_on: self.expires_on,
            notes: self.notes,
            created_at: time::from_db(self.created_at),
            updated_at: time::from_db(self.updated_at),
            version: self.version,
            value_version: self.value_version,
            rotate_by: self.rotate_by,
            rotation_reasons: extras.reasons,
            key_ids: extras.key_ids,
            door_ids: extras.door_ids,
        })
    }
}

/// The answers for `rows`, with their rotation reasons, linked keys and doors read in
/// three queries (not three per code).
fn answers(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    reveal: Reveal,
    rows: Vec<CodeRow>,
) -> StoreResult<Vec<AccessCode>> {
    let Some(first) = rows.first() else { return Ok(Vec::new()) };
    let reveal = reveal.effective(conn, &first.org_id)?;
    let today = today();
    let mut reasons = rotation::current_reasons(conn, &rows, today)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut key_ids: HashMap<String, Vec<String>> = rotation::linked_keys(conn, &first.org_id, &ids)?;
    let mut door_ids = doors::of_codes(conn, &first.org_id, &ids)?;
    rows.into_iter()
        .map(|r| {
            let extras = Extras {
                reasons: reasons.remove(&r.id).unwrap_or_default(),
                key_ids: key_ids.remove(&r.id).unwrap_or_default(),
                door_ids: door_ids.remove(&r.id).unwrap_or_default(),
            };
            r.into_code(sealer, reveal, today, extras)
        })
        .collect()
}

fn answer(conn: &mut AnyConnection, sealer: &Sealer, reveal: Reveal, row: CodeRow) -> StoreResult<AccessCode> {
    let mut all = answers(conn, sealer, reveal, vec![row])?;
    all.pop().ok_or_else(|| Error::Internal("a code answer went missing".to_owned()).into())
}

fn today() -> NaiveDate {
    time::now().date()
}

fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<CodeRow> {
    Ok(access_codes::table.filter(access_codes::org_id.eq(org_id)).filter(access_codes::id.eq(id)).first(conn)?)
}

pub fn get(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    reveal: Reveal,
    org_id: &str,
    id: &str,
) -> StoreResult<AccessCode> {
    let row = find(conn, org_id, id)?;
    answer(conn, sealer, reveal, row)
}

#[derive(Debug, Default, Clone)]
pub struct CodeFilter {
    /// Substring of the label, or the exact code value (so a [`Secret`]).
    pub search: Option<Secret>,
    pub development_id: Option<String>,
    pub code_type: Option<CodeType>,
    pub status: Option<CodeStatus>,
    /// `rotationDue`: a flagged value or a `rotateBy` day that has come.
    pub rotation_due: Option<bool>,
    /// Codes at this door (`access_code_doors_org_door`).
    pub door_id: Option<String>,
}

fn filtered<'a>(
    org_id: &'a str,
    f: &'a CodeFilter,
    lookup: Option<String>,
) -> access_codes::BoxedQuery<'a, MultiBackend> {
    let mut q = access_codes::table.filter(access_codes::org_id.eq(org_id)).into_boxed();
    if let Some(search) = &f.search {
        let label_matches = access_codes::search_text.like(super::like_contains(search.expose())).escape('\\');
        q = match lookup {
            Some(lookup) => q.filter(label_matches.or(access_codes::code_lookup.eq(lookup))),
            None => q.filter(label_matches),
        };
    }
    if let Some(v) = &f.development_id {
        q = q.filter(access_codes::development_id.eq(v));
    }
    if let Some(v) = &f.door_id {
        let at_door = access_code_doors::table
            .filter(access_code_doors::org_id.eq(org_id))
            .filter(access_code_doors::door_id.eq(v))
            .select(access_code_doors::code_id);
        q = q.filter(access_codes::id.eq_any(at_door));
    }
    if let Some(v) = f.code_type {
        q = q.filter(access_codes::code_type.eq(v.as_str()));
    }
    if let Some(v) = f.status {
        q = q.filter(access_codes::status.eq(v.as_str()));
    }
    if let Some(due) = f.rotation_due {
        let today = today();
        q = if due {
            q.filter(access_codes::rotation_flagged_at.is_not_null().or(access_codes::rotate_by.le(today)))
        } else {
            q.filter(access_codes::rotation_flagged_at.is_null())
                .filter(access_codes::rotate_by.is_null().or(access_codes::rotate_by.gt(today)))
        };
    }
    q
}

/// A page of codes ordered by label.
pub fn list(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    reveal: Reveal,
    org_id: &str,
    f: &CodeFilter,
    page: PageRequest,
) -> StoreResult<Page<AccessCode>> {
    let reveal = reveal.effective(conn, org_id)?;
    let lookup = search_lookup(sealer, reveal, f);
    let total: i64 = filtered(org_id, f, lookup.clone()).count().get_result(conn)?;
    let rows: Vec<CodeRow> = filtered(org_id, f, lookup)
        .order((access_codes::label, access_codes::id))
        .limit(i64::from(page.limit))
        .offset(page.offset())
        .load(conn)?;
    Ok(Page::counted(answers(conn, sealer, reveal, rows)?, super::count_i32(total), page))
}

/// The lookup of a search by value: only readers who see values can search by value (for
/// the others a match would confirm a guessed code).
fn search_lookup(sealer: &Sealer, reveal: Reveal, f: &CodeFilter) -> Option<String> {
    match reveal {
        Reveal::Values | Reveal::Unmasked => f.search.as_ref().map(|s| sealer.lookup(s.expose())),
        Reveal::Nothing => None,
    }
}

/// `keys.exportAccessCodesCsv`: the codes that match, ordered by label then id, at most
/// `max + 1` (one more tells the caller the export is over its limit); the page's three
/// extra queries as [`list`], no total. An export with the values goes through
/// [`ledger::export_revealed`], which records the reveals.
pub fn export(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    reveal: Reveal,
    org_id: &str,
    f: &CodeFilter,
    max: usize,
) -> StoreResult<Vec<AccessCode>> {
    let reveal = reveal.effective(conn, org_id)?;
    let lookup = search_lookup(sealer, reveal, f);
    let rows: Vec<CodeRow> =
        filtered(org_id, f, lookup).order((access_codes::label, access_codes::id)).limit(max as i64 + 1).load(conn)?;
    answers(conn, sealer, reveal, rows)
}

/// The organisation's code with this id, if any, without its value (a CSV import's match).
pub fn find_optional(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    org_id: &str,
    id: &str,
) -> StoreResult<Option<AccessCode>> {
    let row: Option<CodeRow> = access_codes::table
        .filter(access_codes::org_id.eq(org_id))
        .filter(access_codes::id.eq(id))
        .first(conn)
        .optional()?;
    row.map(|row| answer(conn, sealer, Reveal::Nothing, row)).transpose()
}

/// Deletes a code; guarded by the version read, so that of two concurrent deletes only
/// one succeeds (and is audited), the other answering NOT_FOUND.
pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<()> {
    super::lock_organisation(conn, &actor.org_id)?;
    for _ in 0..MAX_ATTEMPTS {
        let old = find(conn, &actor.org_id, id)?;
        let deleted = diesel::delete(
            access_codes::table
                .filter(access_codes::org_id.eq(&actor.org_id))
                .filter(access_codes::id.eq(id))
                .filter(access_codes::version.eq(old.version)),
        )
        .execute(conn)?;
        if deleted == 0 {
            continue; // changed or deleted meanwhile: look again
        }
        super::counts::code_changed(conn, &actor.org_id, &old.development_id, -1)?;
        audit::record(
            conn,
            actor,
            NewEvent {
                action: "accessCode.deleted",
                entity_type: ENTITY,
                entity_id: id,
                summary: format!("Access code {} deleted", old.label),
                changes: vec![FieldChange::new("label", Some(&old.label), None::<&str>)],
            },
        )?;
        return Ok(());
    }
    Err(Error::Unavailable.into())
}

/// Who changed what and when, newest first, from the audit log. Never a value.
pub fn history(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Vec<AccessCodeChange>> {
    find(conn, org_id, id)?;
    let rows: Vec<(NaiveDateTime, String, String)> = audit_events::table
        .filter(audit_events::org_id.eq(org_id))
        .filter(audit_events::entity_type.eq(ENTITY))
        .filter(audit_events::entity_id.eq(id))
        .order((audit_events::at.desc(), audit_events::id.desc()))
        .select((audit_events::at, audit_events::actor_name, audit_events::summary))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(at, actor_name, change)| AccessCodeChange { at: time::from_db(at), actor_name, change })
        .collect())
}

/// Whether a development has access codes (it cannot be deleted then).
pub fn any_in_development(conn: &mut AnyConnection, org_id: &str, development_id: &str) -> StoreResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        access_codes::table
            .filter(access_codes::org_id.eq(org_id))
            .filter(access_codes::development_id.eq(development_id)),
    ))
    .get_result(conn)?)
}
