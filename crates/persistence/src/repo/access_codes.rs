//! The access-code register. Values are sealed at rest ([`Sealer`]); the caller says
//! whether this reader may see them.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use keyward_domain::entities::{CodeStatus, CodeType};
use keyward_domain::{
    AccessCode, AccessCodeChange, Actor, Error, FieldChange, Page, PageRequest, Secret, entities::diff,
};

use super::audit::{self, NewEvent};
use crate::connection::{AnyConnection, MultiBackend};
use crate::error::{StoreError, StoreResult, is_foreign_key_violation};
use crate::schema::{access_codes, audit_events, developments};
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
    Values,
    Nothing,
}

impl CodeRow {
    fn into_code(self, sealer: &Sealer, reveal: Reveal, today: NaiveDate) -> StoreResult<AccessCode> {
        let bad =
            |what: &str, v: &str| StoreError::from(Error::Internal(format!("unknown {what} {v:?} in the database")));
        Ok(AccessCode {
            code: match reveal {
                Reveal::Values => Some(Secret::from(sealer.open(&self.code_sealed)?)),
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
        })
    }
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
    find(conn, org_id, id)?.into_code(sealer, reveal, today())
}

#[derive(Debug, Default, Clone)]
pub struct CodeFilter {
    /// Substring of the label, or the exact code value (so a [`Secret`]).
    pub search: Option<Secret>,
    pub development_id: Option<String>,
    pub code_type: Option<CodeType>,
    pub status: Option<CodeStatus>,
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
    if let Some(v) = f.code_type {
        q = q.filter(access_codes::code_type.eq(v.as_str()));
    }
    if let Some(v) = f.status {
        q = q.filter(access_codes::status.eq(v.as_str()));
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
    // Only readers who may see values can search by value: for the others a match would
    // confirm a guessed code.
    let lookup = match reveal {
        Reveal::Values => f.search.as_ref().map(|s| sealer.lookup(s.expose())),
        Reveal::Nothing => None,
    };
    let total: i64 = filtered(org_id, f, lookup.clone()).count().get_result(conn)?;
    let rows: Vec<CodeRow> = filtered(org_id, f, lookup)
        .order((access_codes::label, access_codes::id))
        .limit(i64::from(page.limit))
        .offset(page.offset())
        .load(conn)?;
    let today = today();
    Ok(Page::counted(
        rows.into_iter().map(|r| r.into_code(sealer, reveal, today)).collect::<StoreResult<_>>()?,
        super::count_i32(total),
        page,
    ))
}

/// A new code, validated.
pub struct NewCode {
    pub development_id: String,
    pub code_type: CodeType,
    pub label: String,
    pub code: Secret,
    pub status: CodeStatus,
    pub expires_on: Option<NaiveDate>,
    pub notes: Option<String>,
}

fn development_exists(conn: &mut AnyConnection, org_id: &str, development_id: &str) -> StoreResult<()> {
    let exists: bool = diesel::select(diesel::dsl::exists(
        developments::table.filter(developments::org_id.eq(org_id)).filter(developments::id.eq(development_id)),
    ))
    .get_result(conn)?;
    if exists { Ok(()) } else { Err(Error::NotFound.into()) }
}

pub fn create(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    reveal: Reveal,
    actor: &Actor,
    new: NewCode,
) -> StoreResult<AccessCode> {
    super::lock_organisation(conn, &actor.org_id)?;
    development_exists(conn, &actor.org_id, &new.development_id)?;
    let now = time::now();
    let row = CodeRow {
        id: time::new_id(),
        org_id: actor.org_id.clone(),
        development_id: new.development_id,
        code_type: new.code_type.as_str().to_owned(),
        search_text: new.label.to_lowercase(),
        label: new.label,
        code_sealed: sealer.seal(new.code.expose()),
        code_lookup: sealer.lookup(new.code.expose()),
        status: new.status.as_str().to_owned(),
        expires_on: new.expires_on,
        notes: new.notes,
        created_at: now,
        updated_at: now,
        version: 1,
        value_version: 1,
        rotate_by: None,
        rotation_flagged_at: None,
    };
    diesel::insert_into(access_codes::table).values(&row).execute(conn).map_err(|e| {
        let e = StoreError::from(e);
        // The development was deleted by a concurrent call.
        if is_foreign_key_violation(&e) { Error::NotFound.into() } else { e }
    })?;
    super::counts::code_changed(conn, &actor.org_id, &row.development_id, 1)?;
    let mut changes = vec![
        FieldChange::new("label", None::<&str>, Some(&row.label)),
        FieldChange::new("codeType", None::<&str>, Some(&row.code_type)),
        FieldChange::new("code", None::<&str>, Some("***")),
        FieldChange::new("status", None::<&str>, Some(&row.status)),
    ];
    diff(&mut changes, "expiresOn", &None, &row.expires_on);
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "accessCode.created",
            entity_type: ENTITY,
            entity_id: &row.id,
            summary: format!("Access code {} created", row.label),
            changes,
        },
    )?;
    row.into_code(sealer, reveal, today())
}

/// Changes to a code; `None` leaves a field as it is, `Some(None)` clears an optional one.
#[derive(Debug, Default, Clone)]
pub struct CodePatch {
    pub code_type: Option<CodeType>,
    pub label: Option<String>,
    pub code: Option<Secret>,
    pub status: Option<CodeStatus>,
    pub expires_on: Option<Option<NaiveDate>>,
    pub notes: Option<Option<String>>,
}

/// Updates a code with one UPDATE guarded by the version read, like keys.
pub fn update(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    reveal: Reveal,
    actor: &Actor,
    id: &str,
    expected_version: Option<i32>,
    patch: CodePatch,
) -> StoreResult<AccessCode> {
    super::lock_organisation(conn, &actor.org_id)?;
    for _ in 0..MAX_ATTEMPTS {
        let old = find(conn, &actor.org_id, id)?;
        if let Some(expected) = expected_version
            && expected != old.version
        {
            return Err(Error::VersionConflict { current: old.version }.into());
        }
        let mut new = old.clone();
        let p = patch.clone();
        if let Some(v) = p.code_type {
            new.code_type = v.as_str().to_owned();
        }
        if let Some(v) = p.label {
            new.search_text = v.to_lowercase();
            new.label = v;
        }
        if let Some(v) = p.status {
            new.status = v.as_str().to_owned();
        }
        new.expires_on = p.expires_on.unwrap_or(new.expires_on);
        new.notes = p.notes.unwrap_or(new.notes);

        let mut changes = Vec::new();
        diff(&mut changes, "codeType", &Some(&old.code_type), &Some(&new.code_type));
        diff(&mut changes, "label", &Some(&old.label), &Some(&new.label));
        if let Some(code) = &p.code
            && Secret::from(sealer.open(&old.code_sealed)?) != *code
        {
            new.code_sealed = sealer.seal(code.expose());
            new.code_lookup = sealer.lookup(code.expose());
            changes.push(FieldChange::new("code", Some("***"), Some("***")));
        }
        diff(&mut changes, "status", &Some(&old.status), &Some(&new.status));
        diff(&mut changes, "expiresOn", &old.expires_on, &new.expires_on);
        diff(&mut changes, "notes", &old.notes, &new.notes);
        if changes.is_empty() {
            return old.into_code(sealer, reveal, today());
        }
        new.version = old.version + 1;
        new.updated_at = time::now();
        let written: Option<CodeRow> = diesel::update(
            access_codes::table
                .filter(access_codes::org_id.eq(&actor.org_id))
                .filter(access_codes::id.eq(id))
                .filter(access_codes::version.eq(old.version)),
        )
        .set(&new)
        .returning(access_codes::all_columns)
        .get_result(conn)
        .optional()
        .map_err(|e| {
            let e = StoreError::from(e);
            if is_foreign_key_violation(&e) { Error::NotFound.into() } else { e }
        })?;
        let Some(written) = written else { continue };
        audit::record(
            conn,
            actor,
            NewEvent {
                action: "accessCode.updated",
                entity_type: ENTITY,
                entity_id: id,
                summary: describe(&new.label, &changes),
                changes,
            },
        )?;
        return written.into_code(sealer, reveal, today());
    }
    Err(Error::Unavailable.into())
}

/// "Main gate: code changed; status active → inactive". Never a code value.
fn describe(label: &str, changes: &[FieldChange]) -> String {
    let parts: Vec<String> = changes
        .iter()
        .map(|c| match (c.field.as_str(), &c.from, &c.to) {
            ("code", _, _) => "code changed".to_owned(),
            (field, Some(from), Some(to)) => format!("{field} {from} → {to}"),
            (field, None, Some(to)) => format!("{field} set to {to}"),
            (field, _, None) => format!("{field} cleared"),
        })
        .collect();
    format!("{label}: {}", parts.join("; "))
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
