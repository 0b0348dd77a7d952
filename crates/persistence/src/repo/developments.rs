//! Developments: the sites whose keys and codes are registered together.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::{Actor, Development, Error, FieldChange, entities::diff, key_audit};

use super::audit::{self, NewEvent};
use crate::connection::{AnyConnection, MultiBackend};
use crate::error::{StoreError, StoreResult, is_foreign_key_violation};
use crate::schema::{developments, keys};
use crate::time;

#[derive(Insertable, Queryable, Clone)]
#[diesel(table_name = developments)]
struct DevelopmentRow {
    id: String,
    org_id: String,
    name: String,
    key_prefix: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    time_zone: String,
    audit_interval_days: Option<i32>,
    last_audit_at: Option<NaiveDateTime>,
    audit_due_at: Option<NaiveDateTime>,
}

impl From<DevelopmentRow> for Development {
    fn from(row: DevelopmentRow) -> Self {
        Development {
            id: row.id,
            name: row.name,
            key_prefix: row.key_prefix,
            time_zone: row.time_zone,
            audit_interval_days: row.audit_interval_days,
            last_audit_at: row.last_audit_at.map(time::from_db),
            audit_due_at: row.audit_due_at.map(time::from_db),
            created_at: time::from_db(row.created_at),
            updated_at: time::from_db(row.updated_at),
        }
    }
}

impl DevelopmentRow {
    /// When its next key audit is due, from its schedule (decision 159).
    fn due_at(&self) -> Option<NaiveDateTime> {
        key_audit::audit_due_at(
            self.audit_interval_days,
            self.last_audit_at.map(time::from_db),
            time::from_db(self.created_at),
        )
        .map(time::to_db)
    }
}

/// `audits.complete`: the development's last audit is now, and its next one is due an
/// interval later (if it has a schedule).
pub(crate) fn audit_completed(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<()> {
    let mut row = find(conn, org_id, id)?;
    row.last_audit_at = Some(time::now());
    let due = row.due_at();
    diesel::update(developments::table.filter(developments::org_id.eq(org_id)).filter(developments::id.eq(id)))
        .set((developments::last_audit_at.eq(row.last_audit_at), developments::audit_due_at.eq(due)))
        .execute(conn)?;
    Ok(())
}

/// The developments whose audit is overdue (`audit_due_at` before `now`): a range of
/// `developments_org_audit_due`, O(developments).
pub(crate) fn audits_due<'a>(
    org_id: &'a str,
    development_id: Option<&'a str>,
    now: NaiveDateTime,
) -> developments::BoxedQuery<'a, MultiBackend> {
    let q = developments::table.filter(developments::org_id.eq(org_id)).filter(developments::audit_due_at.lt(now));
    super::of_development!(q.into_boxed(), developments::id, development_id)
}

fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<DevelopmentRow> {
    Ok(developments::table.filter(developments::org_id.eq(org_id)).filter(developments::id.eq(id)).first(conn)?)
}

pub fn get(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Development> {
    find(conn, org_id, id).map(Into::into)
}

/// The organisation's developments, ordered by name.
pub fn list(conn: &mut AnyConnection, org_id: &str) -> StoreResult<Vec<Development>> {
    let rows: Vec<DevelopmentRow> = developments::table
        .filter(developments::org_id.eq(org_id))
        .order((developments::name, developments::id))
        .load(conn)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// A development's fields, validated (`time_zone` an IANA name, `audit_interval_days`
/// in range).
#[derive(Debug, Clone)]
pub struct DevelopmentFields {
    pub name: String,
    pub key_prefix: String,
    pub time_zone: String,
    pub audit_interval_days: Option<i32>,
}

pub fn create(conn: &mut AnyConnection, actor: &Actor, f: DevelopmentFields) -> StoreResult<Development> {
    let DevelopmentFields { name, key_prefix, time_zone, audit_interval_days } = f;
    super::lock_organisation(conn, &actor.org_id)?;
    let now = time::now();
    let row = DevelopmentRow {
        id: time::new_id(),
        org_id: actor.org_id.clone(),
        name,
        key_prefix,
        created_at: now,
        updated_at: now,
        time_zone,
        audit_interval_days,
        last_audit_at: None,
        audit_due_at: None,
    };
    let row = DevelopmentRow { audit_due_at: row.due_at(), ..row };
    diesel::insert_into(developments::table).values(&row).execute(conn)?;
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "development.created",
            entity_type: "development",
            entity_id: &row.id,
            summary: format!("Development {} created", row.name),
            changes: vec![
                FieldChange::new("name", None::<&str>, Some(&row.name)),
                FieldChange::new("keyPrefix", None::<&str>, Some(&row.key_prefix)),
                FieldChange::new("timeZone", None::<&str>, Some(&row.time_zone)),
                FieldChange::new("auditIntervalDays", None::<i32>, row.audit_interval_days),
            ],
        },
    )?;
    Ok(row.into())
}

/// Changes to a development; `None` leaves a field.
#[derive(Debug, Default, Clone)]
pub struct DevelopmentPatch {
    pub name: Option<String>,
    pub key_prefix: Option<String>,
    pub time_zone: Option<String>,
    /// `Some(None)` removes the schedule.
    pub audit_interval_days: Option<Option<i32>>,
}

pub fn update(conn: &mut AnyConnection, actor: &Actor, id: &str, p: DevelopmentPatch) -> StoreResult<Development> {
    super::lock_organisation(conn, &actor.org_id)?;
    let old = find(conn, &actor.org_id, id)?;
    let mut new = old.clone();
    new.name = p.name.unwrap_or(new.name);
    new.key_prefix = p.key_prefix.unwrap_or(new.key_prefix);
    new.time_zone = p.time_zone.unwrap_or(new.time_zone);
    new.audit_interval_days = p.audit_interval_days.unwrap_or(new.audit_interval_days);
    new.audit_due_at = new.due_at();
    let mut changes = Vec::new();
    diff(&mut changes, "name", &Some(&old.name), &Some(&new.name));
    diff(&mut changes, "keyPrefix", &Some(&old.key_prefix), &Some(&new.key_prefix));
    diff(&mut changes, "timeZone", &Some(&old.time_zone), &Some(&new.time_zone));
    diff(&mut changes, "auditIntervalDays", &old.audit_interval_days, &new.audit_interval_days);
    if changes.is_empty() {
        return Ok(old.into());
    }
    new.updated_at = time::now();
    let updated = diesel::update(
        developments::table.filter(developments::org_id.eq(&actor.org_id)).filter(developments::id.eq(id)),
    )
    .set((
        developments::name.eq(&new.name),
        developments::key_prefix.eq(&new.key_prefix),
        developments::time_zone.eq(&new.time_zone),
        developments::audit_interval_days.eq(new.audit_interval_days),
        developments::audit_due_at.eq(new.audit_due_at),
        developments::updated_at.eq(new.updated_at),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Err(Error::NotFound.into()); // deleted meanwhile (PostgreSQL)
    }
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "development.updated",
            entity_type: "development",
            entity_id: id,
            summary: format!("Development {} updated", new.name),
            changes,
        },
    )?;
    Ok(new.into())
}

/// Deletes an empty development; one that still has keys, codes, doors or people
/// (residents, archived or not) is DEVELOPMENT_NOT_EMPTY (decisions 47, 70).
pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<()> {
    super::lock_organisation(conn, &actor.org_id)?;
    let row = find(conn, &actor.org_id, id)?;
    let has_keys: bool = diesel::select(diesel::dsl::exists(
        keys::table.filter(keys::org_id.eq(&actor.org_id)).filter(keys::development_id.eq(id)),
    ))
    .get_result(conn)?;
    if has_keys
        || super::access_codes::any_in_development(conn, &actor.org_id, id)?
        || super::people::any_in_development(conn, &actor.org_id, id)?
        || super::doors::any_in_development(conn, &actor.org_id, id)?
    {
        return Err(Error::DevelopmentNotEmpty.into());
    }
    let deleted = diesel::delete(
        developments::table.filter(developments::org_id.eq(&actor.org_id)).filter(developments::id.eq(id)),
    )
    .execute(conn)
    .map_err(|e| {
        let e = StoreError::from(e);
        // A key, code, door or resident was added by a concurrent call (PostgreSQL).
        if is_foreign_key_violation(&e) { Error::DevelopmentNotEmpty.into() } else { e }
    })?;
    if deleted == 0 {
        return Err(Error::NotFound.into()); // another call deleted it first
    }
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "development.deleted",
            entity_type: "development",
            entity_id: id,
            summary: format!("Development {} deleted", row.name),
            changes: vec![FieldChange::new("name", Some(&row.name), None::<&str>)],
        },
    )?;
    Ok(())
}
