//! Firms: the companies whose people hold keys (contractors, cleaners…).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::{Actor, Error, FieldChange, Firm, Page, PageRequest, entities::diff};

use super::people::{Listed, directory_search_text, guard_version, record};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::firms;
use crate::time;

/// The entity type of a firm's audit events, and how a summary names one.
const FIRM: (&str, &str) = ("firm", "Firm");

#[derive(Insertable, Queryable, AsChangeset, Clone, Debug)]
#[diesel(table_name = firms, treat_none_as_null = true)]
struct FirmRow {
    id: String,
    org_id: String,
    name: String,
    phone: Option<String>,
    email: Option<String>,
    notes: Option<String>,
    archived_at: Option<NaiveDateTime>,
    offboarded_at: Option<NaiveDateTime>,
    offboard_reason: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
    search_text: String,
}

impl From<FirmRow> for Firm {
    fn from(r: FirmRow) -> Firm {
        Firm {
            id: r.id,
            name: r.name,
            phone: r.phone,
            email: r.email,
            notes: r.notes,
            archived: r.archived_at.is_some(),
            archived_at: r.archived_at.map(time::from_db),
            created_at: time::from_db(r.created_at),
            updated_at: time::from_db(r.updated_at),
            version: r.version,
            offboarding: None,
        }
    }
}

impl FirmRow {
    /// The firm as a single-entity answer shows it: with the checklist once offboarded.
    fn answer(self, conn: &mut AnyConnection) -> StoreResult<Firm> {
        let (org_id, offboarded) = (self.org_id.clone(), self.offboarded_at.is_some());
        let mut firm = Firm::from(self);
        if offboarded {
            firm.offboarding = super::offboarding::firm_checklist(conn, &org_id, &firm.id)?;
        }
        Ok(firm)
    }
}

fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<FirmRow> {
    Ok(firms::table.filter(firms::org_id.eq(org_id)).filter(firms::id.eq(id)).first(conn)?)
}

/// A firm, with the checklist (`offboarding`) once offboarded.
pub fn get(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Firm> {
    find(conn, org_id, id)?.answer(conn)
}

/// A firm a person may be given: of the organisation (else NOT_FOUND) and not archived
/// (else INVALID_INPUT on `firmId`).
pub(crate) fn usable(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<()> {
    let archived_at: Option<NaiveDateTime> = firms::table
        .filter(firms::org_id.eq(org_id))
        .filter(firms::id.eq(id))
        .select(firms::archived_at)
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound)?;
    if archived_at.is_some() {
        return Err(Error::invalid("firmId", "the firm is archived").into());
    }
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct FirmFilter {
    pub search: Option<String>,
    pub archived: bool,
}

/// A page of firms ordered by name then id.
pub fn list(conn: &mut AnyConnection, org_id: &str, f: &FirmFilter, page: PageRequest) -> StoreResult<Page<Firm>> {
    let filtered = || {
        let mut q = firms::table.filter(firms::org_id.eq(org_id)).into_boxed();
        q = if f.archived {
            q.filter(firms::archived_at.is_not_null())
        } else {
            q.filter(firms::archived_at.is_null())
        };
        if let Some(search) = &f.search {
            q = q.filter(firms::search_text.like(super::like_contains(search)).escape('\\'));
        }
        q
    };
    let counted: Vec<String> = filtered().select(firms::id).limit(Listed::CAP + 1).load(conn)?;
    let rows: Vec<FirmRow> =
        filtered().order((firms::name, firms::id)).limit(i64::from(page.limit)).offset(page.offset()).load(conn)?;
    Ok(Listed::page(rows.into_iter().map(Into::into).collect(), counted.len(), page))
}

/// A new firm's fields, validated (the phone normalised to E.164, the email lower-cased).
#[derive(Debug, Clone)]
pub struct FirmFields {
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub notes: Option<String>,
}

pub fn create(conn: &mut AnyConnection, actor: &Actor, f: FirmFields) -> StoreResult<Firm> {
    super::lock_organisation(conn, &actor.org_id)?;
    let now = time::now();
    let row = FirmRow {
        id: time::new_id(),
        org_id: actor.org_id.clone(),
        search_text: directory_search_text(&f.name, f.phone.as_deref(), f.email.as_deref()),
        name: f.name,
        phone: f.phone,
        email: f.email,
        notes: f.notes,
        archived_at: None,
        offboarded_at: None,
        offboard_reason: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    diesel::insert_into(firms::table).values(&row).execute(conn)?;
    let mut changes = vec![FieldChange::new("name", None::<&str>, Some(&row.name))];
    diff(&mut changes, "phone", &None, &row.phone);
    diff(&mut changes, "email", &None, &row.email);
    record(conn, actor, FIRM, (&row.id, &row.name), "created", changes)?;
    Ok(row.into())
}

/// Changes to a firm; `None` leaves a field, `Some(None)` clears an optional one.
#[derive(Debug, Default, Clone)]
pub struct FirmPatch {
    pub name: Option<String>,
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub notes: Option<Option<String>>,
}

pub fn update(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    expected_version: Option<i32>,
    p: FirmPatch,
) -> StoreResult<Firm> {
    super::lock_organisation(conn, &actor.org_id)?;
    let old = find(conn, &actor.org_id, id)?;
    guard_version(expected_version, old.version)?;
    let mut new = old.clone();
    new.name = p.name.unwrap_or(new.name);
    new.phone = p.phone.unwrap_or(new.phone);
    new.email = p.email.unwrap_or(new.email);
    new.notes = p.notes.unwrap_or(new.notes);
    let mut changes = Vec::new();
    diff(&mut changes, "name", &Some(&old.name), &Some(&new.name));
    diff(&mut changes, "phone", &old.phone, &new.phone);
    diff(&mut changes, "email", &old.email, &new.email);
    diff(&mut changes, "notes", &old.notes, &new.notes);
    if changes.is_empty() {
        return old.answer(conn);
    }
    write(conn, actor, old, new, "updated", changes)
}

/// Archives a firm (its people stay as they are); archiving an archived firm changes nothing.
pub fn archive(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<Firm> {
    super::lock_organisation(conn, &actor.org_id)?;
    let old = find(conn, &actor.org_id, id)?;
    if old.archived_at.is_some() {
        return old.answer(conn);
    }
    let mut new = old.clone();
    new.archived_at = Some(time::now());
    let changes = vec![FieldChange::new("archived", Some("false"), Some("true"))];
    write(conn, actor, old, new, "archived", changes)
}

/// Writes a planned change (under the organisation's lock, so the version cannot move)
/// with its audit event `firm.<action>`.
fn write(
    conn: &mut AnyConnection,
    actor: &Actor,
    old: FirmRow,
    mut new: FirmRow,
    action: &str,
    changes: Vec<FieldChange>,
) -> StoreResult<Firm> {
    new.version = old.version + 1;
    new.updated_at = time::now();
    new.search_text = directory_search_text(&new.name, new.phone.as_deref(), new.email.as_deref());
    diesel::update(firms::table.filter(firms::org_id.eq(&actor.org_id)).filter(firms::id.eq(&old.id)))
        .set(&new)
        .execute(conn)?;
    record(conn, actor, FIRM, (&new.id, &new.name), action, changes)?;
    new.answer(conn)
}
