//! Access grants (issue 12 §3, §4): doors of a development given to people for an access
//! period on a weekly schedule per door (`grant_doors.schedule`, the wire's windows as
//! JSON), the people's doorcodes (`write`), and `access.check` (`check`).

mod check;
pub mod credentials;
mod edit;
mod keycards;
mod write;

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::doorcode::AllocationPolicy;
use keyward_domain::grant::{CredentialEndReason, CredentialStatus, Doorcode, Grant, GrantDoor, GrantStatus, Keycard};
use keyward_domain::schedule::{Schedule, ScheduleWindow};
use keyward_domain::{Error, Page, PageRequest};

pub use check::check;
pub use edit::{GrantPatch, add_people, end, remove_people, update};
pub use keycards::replace as replace_keycard;
pub use write::{NewGrant, create};

use super::people::Listed;
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::{doorcodes, grant_doors, grant_people, grants};
use crate::time;

#[derive(Insertable, Queryable, AsChangeset, Clone, Debug)]
#[diesel(table_name = grants, treat_none_as_null = true)]
struct GrantRow {
    id: String,
    org_id: String,
    development_id: String,
    name: String,
    starts_at: NaiveDateTime,
    ends_at: Option<NaiveDateTime>,
    doorcode_policy: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
    status: String,
    ended_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Clone, Debug)]
struct DoorcodeRow {
    id: String,
    grant_id: String,
    person_id: String,
    door_id: String,
    status: String,
    end_reason: Option<String>,
    created_at: NaiveDateTime,
    ended_at: Option<NaiveDateTime>,
}

pub(crate) fn corrupt(what: &str, value: &str) -> Error {
    Error::Internal(format!("unknown {what} {value:?} in the database"))
}

/// A stored schedule (`grant_doors.schedule`).
fn schedule_of(json: &str) -> StoreResult<Schedule> {
    let windows: Vec<ScheduleWindow> =
        serde_json::from_str(json).map_err(|e| Error::Internal(format!("a stored schedule is not JSON: {e}")))?;
    Ok(Schedule::parse("schedule", &windows)?)
}

fn schedule_json(schedule: &Schedule) -> String {
    serde_json::to_string(&schedule.windows()).unwrap_or_else(|_| "[]".to_owned())
}

/// A stored credential's status and end reason (`what`: "doorcode", "keycard").
fn credential_state(
    what: &str,
    status: &str,
    end_reason: Option<&str>,
) -> StoreResult<(CredentialStatus, Option<CredentialEndReason>)> {
    let status = CredentialStatus::parse(status).ok_or_else(|| corrupt(&format!("{what} status"), status))?;
    let end_reason = match end_reason {
        None => None,
        Some(reason) => {
            Some(CredentialEndReason::parse(reason).ok_or_else(|| corrupt(&format!("{what} end reason"), reason))?)
        }
    };
    Ok((status, end_reason))
}

impl DoorcodeRow {
    fn into_doorcode(self) -> StoreResult<Doorcode> {
        let (status, end_reason) = credential_state("doorcode", &self.status, self.end_reason.as_deref())?;
        Ok(Doorcode {
            status,
            end_reason,
            id: self.id,
            grant_id: self.grant_id,
            person_id: self.person_id,
            door_id: self.door_id,
            created_at: time::from_db(self.created_at),
            ended_at: self.ended_at.map(time::from_db),
        })
    }
}

const DOORCODE_COLUMNS: (
    doorcodes::id,
    doorcodes::grant_id,
    doorcodes::person_id,
    doorcodes::door_id,
    doorcodes::status,
    doorcodes::end_reason,
    doorcodes::created_at,
    doorcodes::ended_at,
) = (
    doorcodes::id,
    doorcodes::grant_id,
    doorcodes::person_id,
    doorcodes::door_id,
    doorcodes::status,
    doorcodes::end_reason,
    doorcodes::created_at,
    doorcodes::ended_at,
);

/// Grant rows with their doors, people, active doorcodes and active keycards: four reads
/// for all the rows together (by the grants' primary key prefix), so a page costs the
/// same four queries whatever its length.
fn assemble(conn: &mut AnyConnection, org_id: &str, rows: Vec<GrantRow>) -> StoreResult<Vec<Grant>> {
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    let door_rows: Vec<(String, String, String)> = grant_doors::table
        .filter(crate::repo::any_of(conn, grant_doors::grant_id, &ids))
        .order((grant_doors::grant_id, grant_doors::door_id))
        .select((grant_doors::grant_id, grant_doors::door_id, grant_doors::schedule))
        .load(conn)?;
    let mut doors: HashMap<String, Vec<GrantDoor>> = HashMap::new();
    for (grant_id, door_id, json) in door_rows {
        doors.entry(grant_id).or_default().push(GrantDoor { door_id, schedule: schedule_of(&json)?.windows() });
    }
    let people_rows: Vec<(String, String)> = grant_people::table
        .filter(crate::repo::any_of(conn, grant_people::grant_id, &ids))
        .order((grant_people::grant_id, grant_people::person_id))
        .select((grant_people::grant_id, grant_people::person_id))
        .load(conn)?;
    let mut people: HashMap<String, Vec<String>> = HashMap::new();
    for (grant_id, person_id) in people_rows {
        people.entry(grant_id).or_default().push(person_id);
    }
    let code_rows: Vec<DoorcodeRow> = doorcodes::table
        .filter(doorcodes::org_id.eq(org_id))
        .filter(crate::repo::any_of(conn, doorcodes::grant_id, &ids))
        .filter(doorcodes::status.eq(CredentialStatus::Active.as_str()))
        .order((doorcodes::grant_id, doorcodes::person_id, doorcodes::door_id))
        .select(DOORCODE_COLUMNS)
        .load(conn)?;
    let mut codes: HashMap<String, Vec<Doorcode>> = HashMap::new();
    for row in code_rows {
        let code = row.into_doorcode()?;
        codes.entry(code.grant_id.clone()).or_default().push(code);
    }
    let mut cards: HashMap<String, Vec<Keycard>> = HashMap::new();
    for card in keycards::active_of(conn, org_id, &ids)? {
        cards.entry(card.grant_id.clone()).or_default().push(card);
    }
    rows.into_iter()
        .map(|row| {
            let doorcode_policy = match &row.doorcode_policy {
                None => None,
                Some(policy) => {
                    Some(AllocationPolicy::parse(policy).ok_or_else(|| corrupt("doorcode policy", policy))?)
                }
            };
            Ok(Grant {
                doors: doors.remove(&row.id).unwrap_or_default(),
                person_ids: people.remove(&row.id).unwrap_or_default(),
                doorcodes: codes.remove(&row.id).unwrap_or_default(),
                keycards: cards.remove(&row.id).unwrap_or_default(),
                id: row.id,
                development_id: row.development_id,
                name: row.name,
                starts_at: time::from_db(row.starts_at),
                ends_at: row.ends_at.map(time::from_db),
                doorcode_policy,
                status: GrantStatus::parse(&row.status).ok_or_else(|| corrupt("grant status", &row.status))?,
                ended_at: row.ended_at.map(time::from_db),
                created_at: time::from_db(row.created_at),
                updated_at: time::from_db(row.updated_at),
                version: row.version,
            })
        })
        .collect()
}

/// One grant row with its doors, people, active doorcodes and active keycards.
fn assemble_one(conn: &mut AnyConnection, row: GrantRow) -> StoreResult<Grant> {
    let org_id = row.org_id.clone();
    let mut grants = assemble(conn, &org_id, vec![row])?;
    Ok(grants.remove(0))
}

fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<GrantRow> {
    Ok(grants::table.filter(grants::org_id.eq(org_id)).filter(grants::id.eq(id)).first(conn)?)
}

pub fn get(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Grant> {
    let row = find(conn, org_id, id)?;
    assemble_one(conn, row)
}

#[derive(Debug, Default, Clone)]
pub struct GrantFilter {
    pub development_id: Option<String>,
    /// Grants given to this person.
    pub person_id: Option<String>,
}

/// A page of grants ordered by name then id.
pub fn list(conn: &mut AnyConnection, org_id: &str, f: &GrantFilter, page: PageRequest) -> StoreResult<Page<Grant>> {
    let filtered = || {
        let mut q = grants::table.filter(grants::org_id.eq(org_id)).into_boxed();
        if let Some(development_id) = &f.development_id {
            q = q.filter(grants::development_id.eq(development_id));
        }
        if let Some(person_id) = &f.person_id {
            let given = grant_people::table
                .filter(grant_people::org_id.eq(org_id))
                .filter(grant_people::person_id.eq(person_id))
                .select(grant_people::grant_id);
            q = q.filter(grants::id.eq_any(given));
        }
        q
    };
    let counted: Vec<String> = filtered().select(grants::id).limit(Listed::CAP + 1).load(conn)?;
    let rows: Vec<GrantRow> =
        filtered().order((grants::name, grants::id)).limit(i64::from(page.limit)).offset(page.offset()).load(conn)?;
    let items = assemble(conn, org_id, rows)?;
    Ok(Listed::page(items, counted.len(), page))
}
