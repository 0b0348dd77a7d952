//! The key-holder directory: people and the firms they work for.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::{Actor, Error, FieldChange, Page, PageRequest, Person, PersonKind, entities::diff};

use super::audit::{self, NewEvent};
use crate::connection::{AnyConnection, MultiBackend};
use crate::error::{StoreError, StoreResult, is_foreign_key_violation};
use crate::schema::{developments, people, users};
use crate::time;

/// What other areas need of a person: who they are, how to reach them, and whether they
/// are still in the directory.
#[derive(Debug, Clone, Queryable)]
pub struct PersonRef {
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    pub user_id: Option<String>,
    pub archived_at: Option<NaiveDateTime>,
}

impl PersonRef {
    pub fn archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

/// A person of the organisation; another organisation's person is NOT_FOUND, as a
/// missing one.
pub fn person_ref(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<PersonRef> {
    people::table
        .filter(people::org_id.eq(org_id))
        .filter(people::id.eq(id))
        .select((people::id, people::name, people::phone, people::user_id, people::archived_at))
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::NotFound.into())
}

/// The lower-cased text a directory search matches: name, phone and email, one a line.
pub(crate) fn directory_search_text(name: &str, phone: Option<&str>, email: Option<&str>) -> String {
    format!("{name}\n{}\n{}", phone.unwrap_or(""), email.unwrap_or("")).to_lowercase()
}

/// VERSION_CONFLICT when the caller read another version than the current one.
pub(crate) fn guard_version(expected: Option<i32>, current: i32) -> StoreResult<()> {
    match expected {
        Some(expected) if expected != current => Err(Error::VersionConflict { current }.into()),
        _ => Ok(()),
    }
}

/// The directory's lists: totals counted up to [`Listed::CAP`], pages by number.
pub(crate) struct Listed;

impl Listed {
    /// Beyond this many matches the total says `totalCapped`.
    pub(crate) const CAP: i64 = super::keys::TOTAL_CAP;

    pub(crate) fn page<T>(items: Vec<T>, counted: usize, request: PageRequest) -> Page<T> {
        let capped = counted as i64 > Self::CAP;
        let total = super::count_i32((counted as i64).min(Self::CAP));
        Page { total_capped: capped, ..Page::counted(items, total, request) }
    }
}

/// The entity type of a person's audit events, and how a summary names one.
const PERSON: (&str, &str) = ("person", "Person");

#[derive(Insertable, Queryable, AsChangeset, Clone, Debug)]
#[diesel(table_name = people, treat_none_as_null = true)]
struct PersonRow {
    id: String,
    org_id: String,
    name: String,
    kind: String,
    phone: Option<String>,
    email: Option<String>,
    firm_id: Option<String>,
    development_id: Option<String>,
    user_id: Option<String>,
    notes: Option<String>,
    archived_at: Option<NaiveDateTime>,
    offboarded_at: Option<NaiveDateTime>,
    offboard_reason: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
    search_text: String,
}

impl PersonRow {
    fn into_person(self) -> StoreResult<Person> {
        let kind = PersonKind::parse(&self.kind)
            .ok_or_else(|| Error::Internal(format!("unknown person kind {:?} in the database", self.kind)))?;
        Ok(Person {
            id: self.id,
            name: self.name,
            kind,
            phone: self.phone,
            email: self.email,
            firm_id: self.firm_id,
            development_id: self.development_id,
            user_id: self.user_id,
            notes: self.notes,
            archived: self.archived_at.is_some(),
            archived_at: self.archived_at.map(time::from_db),
            created_at: time::from_db(self.created_at),
            updated_at: time::from_db(self.updated_at),
            version: self.version,
            offboarding: None,
        })
    }

    /// The person as a single-entity answer shows them: with the checklist once offboarded.
    fn answer(self, conn: &mut AnyConnection) -> StoreResult<Person> {
        let (org_id, offboarded) = (self.org_id.clone(), self.offboarded_at.is_some());
        let mut person = self.into_person()?;
        if offboarded {
            person.offboarding = super::offboarding::person_checklist(conn, &org_id, &person.id)?;
        }
        Ok(person)
    }
}

fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<PersonRow> {
    Ok(people::table.filter(people::org_id.eq(org_id)).filter(people::id.eq(id)).first(conn)?)
}

/// A person, with the checklist (`offboarding`) once offboarded.
pub fn get(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Person> {
    find(conn, org_id, id)?.answer(conn)
}

#[derive(Debug, Default, Clone)]
pub struct PersonFilter {
    pub search: Option<String>,
    pub kind: Option<PersonKind>,
    pub firm_id: Option<String>,
    pub development_id: Option<String>,
    pub archived: bool,
}

fn filtered<'a>(org_id: &'a str, f: &'a PersonFilter) -> people::BoxedQuery<'a, MultiBackend> {
    let mut q = people::table.filter(people::org_id.eq(org_id)).into_boxed();
    q = if f.archived { q.filter(people::archived_at.is_not_null()) } else { q.filter(people::archived_at.is_null()) };
    if let Some(search) = &f.search {
        q = q.filter(people::search_text.like(super::like_contains(search)).escape('\\'));
    }
    if let Some(kind) = f.kind {
        q = q.filter(people::kind.eq(kind.as_str()));
    }
    if let Some(firm_id) = &f.firm_id {
        q = q.filter(people::firm_id.eq(firm_id));
    }
    if let Some(development_id) = &f.development_id {
        q = q.filter(people::development_id.eq(development_id));
    }
    q
}

/// A page of people ordered by name then id.
pub fn list(conn: &mut AnyConnection, org_id: &str, f: &PersonFilter, page: PageRequest) -> StoreResult<Page<Person>> {
    let counted: Vec<String> = filtered(org_id, f).select(people::id).limit(Listed::CAP + 1).load(conn)?;
    let rows: Vec<PersonRow> = filtered(org_id, f)
        .order((people::name, people::id))
        .limit(i64::from(page.limit))
        .offset(page.offset())
        .load(conn)?;
    let items = rows.into_iter().map(PersonRow::into_person).collect::<StoreResult<_>>()?;
    Ok(Listed::page(items, counted.len(), page))
}

/// `people.exportCsv`: the people that match, ordered by name then id, at most `max + 1`
/// (one more tells the caller the export is over its limit); one query, no total.
pub fn export(conn: &mut AnyConnection, org_id: &str, f: &PersonFilter, max: usize) -> StoreResult<Vec<Person>> {
    let rows: Vec<PersonRow> =
        filtered(org_id, f).order((people::name, people::id)).limit(max as i64 + 1).load(conn)?;
    rows.into_iter().map(PersonRow::into_person).collect()
}

/// A person's fields, validated (the phone normalised to E.164, the email lower-cased).
#[derive(Debug, Clone)]
pub struct PersonFields {
    pub name: String,
    pub kind: PersonKind,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub firm_id: Option<String>,
    pub development_id: Option<String>,
    pub user_id: Option<String>,
    pub notes: Option<String>,
}

/// The references a person's fields make must be of the organisation (else NOT_FOUND); a
/// firm must not be archived. Only the references that changed are checked.
fn check_references(
    conn: &mut AnyConnection,
    org_id: &str,
    firm_id: Option<&str>,
    development_id: Option<&str>,
    user_id: Option<&str>,
) -> StoreResult<()> {
    if let Some(firm_id) = firm_id {
        super::firms::usable(conn, org_id, firm_id)?;
    }
    if let Some(id) = development_id {
        let exists: bool = diesel::select(diesel::dsl::exists(
            developments::table.filter(developments::org_id.eq(org_id)).filter(developments::id.eq(id)),
        ))
        .get_result(conn)?;
        if !exists {
            return Err(Error::NotFound.into());
        }
    }
    if let Some(id) = user_id {
        let exists: bool =
            diesel::select(diesel::dsl::exists(users::table.filter(users::org_id.eq(org_id)).filter(users::id.eq(id))))
                .get_result(conn)?;
        if !exists {
            return Err(Error::NotFound.into());
        }
    }
    Ok(())
}

pub fn create(conn: &mut AnyConnection, actor: &Actor, f: PersonFields) -> StoreResult<Person> {
    super::lock_organisation(conn, &actor.org_id)?;
    check_references(conn, &actor.org_id, f.firm_id.as_deref(), f.development_id.as_deref(), f.user_id.as_deref())?;
    let now = time::now();
    let row = PersonRow {
        id: time::new_id(),
        org_id: actor.org_id.clone(),
        search_text: directory_search_text(&f.name, f.phone.as_deref(), f.email.as_deref()),
        name: f.name,
        kind: f.kind.as_str().to_owned(),
        phone: f.phone,
        email: f.email,
        firm_id: f.firm_id,
        development_id: f.development_id,
        user_id: f.user_id,
        notes: f.notes,
        archived_at: None,
        offboarded_at: None,
        offboard_reason: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    diesel::insert_into(people::table).values(&row).execute(conn).map_err(referenced_meanwhile)?;
    let mut changes = vec![
        FieldChange::new("name", None::<&str>, Some(&row.name)),
        FieldChange::new("kind", None::<&str>, Some(&row.kind)),
    ];
    for (field, value) in [
        ("phone", &row.phone),
        ("email", &row.email),
        ("firmId", &row.firm_id),
        ("developmentId", &row.development_id),
        ("userId", &row.user_id),
    ] {
        diff(&mut changes, field, &None, value);
    }
    record(conn, actor, PERSON, (&row.id, &row.name), "created", changes)?;
    row.into_person()
}

/// A development deleted by a concurrent call (PostgreSQL) is NOT_FOUND, as if it had
/// been gone when the person was read.
fn referenced_meanwhile(e: diesel::result::Error) -> StoreError {
    let e = StoreError::from(e);
    if is_foreign_key_violation(&e) { Error::NotFound.into() } else { e }
}

/// Changes to a person; `None` leaves a field, `Some(None)` clears an optional one.
#[derive(Debug, Default, Clone)]
pub struct PersonPatch {
    pub name: Option<String>,
    pub kind: Option<PersonKind>,
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub firm_id: Option<Option<String>>,
    pub development_id: Option<Option<String>>,
    pub user_id: Option<Option<String>>,
    pub notes: Option<Option<String>>,
}

pub fn update(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    expected_version: Option<i32>,
    p: PersonPatch,
) -> StoreResult<Person> {
    super::lock_organisation(conn, &actor.org_id)?;
    let old = find(conn, &actor.org_id, id)?;
    guard_version(expected_version, old.version)?;
    fn changed(v: &Option<Option<String>>) -> Option<&str> {
        v.as_ref().and_then(|v| v.as_deref())
    }
    check_references(conn, &actor.org_id, changed(&p.firm_id), changed(&p.development_id), changed(&p.user_id))?;
    let mut new = old.clone();
    new.name = p.name.unwrap_or(new.name);
    if let Some(kind) = p.kind {
        new.kind = kind.as_str().to_owned();
    }
    new.phone = p.phone.unwrap_or(new.phone);
    new.email = p.email.unwrap_or(new.email);
    new.firm_id = p.firm_id.unwrap_or(new.firm_id);
    new.development_id = p.development_id.unwrap_or(new.development_id);
    new.user_id = p.user_id.unwrap_or(new.user_id);
    new.notes = p.notes.unwrap_or(new.notes);
    let mut changes = Vec::new();
    diff(&mut changes, "name", &Some(&old.name), &Some(&new.name));
    diff(&mut changes, "kind", &Some(&old.kind), &Some(&new.kind));
    diff(&mut changes, "phone", &old.phone, &new.phone);
    diff(&mut changes, "email", &old.email, &new.email);
    diff(&mut changes, "firmId", &old.firm_id, &new.firm_id);
    diff(&mut changes, "developmentId", &old.development_id, &new.development_id);
    diff(&mut changes, "userId", &old.user_id, &new.user_id);
    diff(&mut changes, "notes", &old.notes, &new.notes);
    if changes.is_empty() {
        return old.answer(conn);
    }
    write(conn, actor, old, new, "updated", changes)
}

/// Archives a person: they can no longer be issued a key. The keys they hold stay with
/// them (offboarding asks for them back). Archiving an archived person changes nothing.
pub fn archive(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<Person> {
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
/// with its audit event `person.<action>`.
fn write(
    conn: &mut AnyConnection,
    actor: &Actor,
    old: PersonRow,
    mut new: PersonRow,
    action: &str,
    changes: Vec<FieldChange>,
) -> StoreResult<Person> {
    new.version = old.version + 1;
    new.updated_at = time::now();
    new.search_text = directory_search_text(&new.name, new.phone.as_deref(), new.email.as_deref());
    diesel::update(people::table.filter(people::org_id.eq(&actor.org_id)).filter(people::id.eq(&old.id)))
        .set(&new)
        .execute(conn)
        .map_err(referenced_meanwhile)?;
    record(conn, actor, PERSON, (&new.id, &new.name), action, changes)?;
    new.answer(conn)
}

/// The audit event `<entity_type>.<action>` of a person or firm.
pub(crate) fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    (entity_type, label): (&str, &str),
    (id, name): (&str, &str),
    action: &str,
    changes: Vec<FieldChange>,
) -> StoreResult<()> {
    audit::record(
        conn,
        actor,
        NewEvent {
            action: &format!("{entity_type}.{action}"),
            entity_type,
            entity_id: id,
            summary: format!("{label} {name} {action}"),
            changes,
        },
    )
}

/// Whether a development still has people (residents) pointing at it, archived or not.
pub(crate) fn any_in_development(conn: &mut AnyConnection, org_id: &str, development_id: &str) -> StoreResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        people::table.filter(people::org_id.eq(org_id)).filter(people::development_id.eq(development_id)),
    ))
    .get_result(conn)?)
}
