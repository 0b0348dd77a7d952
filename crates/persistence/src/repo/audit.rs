//! The audit log: written in the same transaction as the change it describes, read by
//! `audit.list`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use keyward_domain::{Actor, AuditEvent, FieldChange, Page, PageRequest};

use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::audit_events;
use crate::time;

/// What happened, to be recorded on behalf of an actor.
pub struct NewEvent<'a> {
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    pub summary: String,
    pub changes: Vec<FieldChange>,
}

#[derive(Insertable, Queryable)]
#[diesel(table_name = audit_events)]
struct EventRow {
    id: String,
    org_id: String,
    at: NaiveDateTime,
    actor_id: Option<String>,
    actor_name: String,
    action: String,
    entity_type: String,
    entity_id: String,
    summary: String,
    changes: String,
}

pub fn record(conn: &mut AnyConnection, actor: &Actor, event: NewEvent<'_>) -> StoreResult<()> {
    insert(conn, &actor.org_id, Some(&actor.user_id), &actor.name, event)
}

/// An event no user caused (Twilio's delivery report, the sweep of a crashed send):
/// `actorId` is null and `actorName` says who acted.
pub fn record_system(conn: &mut AnyConnection, org_id: &str, actor_name: &str, event: NewEvent<'_>) -> StoreResult<()> {
    insert(conn, org_id, None, actor_name, event)
}

fn insert(
    conn: &mut AnyConnection,
    org_id: &str,
    actor_id: Option<&str>,
    actor_name: &str,
    event: NewEvent<'_>,
) -> StoreResult<()> {
    let row = EventRow {
        id: time::new_id(),
        org_id: org_id.to_owned(),
        at: time::now(),
        actor_id: actor_id.map(str::to_owned),
        actor_name: actor_name.to_owned(),
        action: event.action.to_owned(),
        entity_type: event.entity_type.to_owned(),
        entity_id: event.entity_id.to_owned(),
        summary: event.summary,
        changes: serde_json::to_string(&event.changes).expect("field changes always serialise"),
    };
    diesel::insert_into(audit_events::table).values(&row).execute(conn)?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

fn filtered<'a>(org_id: &'a str, f: &'a AuditFilter) -> audit_events::BoxedQuery<'a, crate::connection::MultiBackend> {
    let mut q = audit_events::table.filter(audit_events::org_id.eq(org_id)).into_boxed();
    if let Some(v) = &f.entity_type {
        q = q.filter(audit_events::entity_type.eq(v));
    }
    if let Some(v) = &f.entity_id {
        q = q.filter(audit_events::entity_id.eq(v));
    }
    if let Some(v) = &f.actor_id {
        q = q.filter(audit_events::actor_id.eq(v));
    }
    if let Some(v) = &f.action {
        q = q.filter(audit_events::action.eq(v));
    }
    if let Some(v) = f.from {
        q = q.filter(audit_events::at.ge(time::to_db(v)));
    }
    if let Some(v) = f.to {
        q = q.filter(audit_events::at.lt(time::to_db(v)));
    }
    q
}

/// Newest first.
pub fn list(
    conn: &mut AnyConnection,
    org_id: &str,
    f: &AuditFilter,
    page: PageRequest,
) -> StoreResult<Page<AuditEvent>> {
    let total: i64 = filtered(org_id, f).count().get_result(conn)?;
    let rows: Vec<EventRow> = filtered(org_id, f)
        .order((audit_events::at.desc(), audit_events::id.desc()))
        .limit(i64::from(page.limit))
        .offset(page.offset())
        .load(conn)?;
    Ok(Page {
        items: rows.into_iter().map(into_event).collect(),
        total: super::count_i32(total),
        page: page.page,
        limit: page.limit,
    })
}

fn into_event(row: EventRow) -> AuditEvent {
    AuditEvent {
        id: row.id,
        at: time::from_db(row.at),
        actor_id: row.actor_id,
        actor_name: row.actor_name,
        action: row.action,
        entity_type: row.entity_type,
        entity_id: row.entity_id,
        summary: row.summary,
        // Written by `record` from the same type; an unreadable value would be a bug
        // worth seeing, but not worth failing the whole page over.
        changes: serde_json::from_str(&row.changes).unwrap_or_default(),
    }
}
