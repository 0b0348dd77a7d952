//! `access.check`: may a person go through a door at an instant? Reads the person's grants
//! at the door (`grant_people_org_person`, then `grant_doors` by primary key), evaluates
//! each in the door's development's time zone (decision 80), and names the grant and
//! doorcode that let them through, or why none does.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use keyward_domain::Error;
use keyward_domain::grant::{AccessCheck, CredentialStatus};
use keyward_domain::schedule::{self, AccessPeriod};

use super::schedule_of;
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::{developments, doorcodes, doors, grant_doors, grant_people, grants};
use crate::time;

pub fn check(
    conn: &mut AnyConnection,
    org_id: &str,
    person_id: &str,
    door_id: &str,
    at: DateTime<Utc>,
) -> StoreResult<AccessCheck> {
    crate::repo::people::person_ref(conn, org_id, person_id)?;
    let development_id: String = doors::table
        .filter(doors::org_id.eq(org_id))
        .filter(doors::id.eq(door_id))
        .select(doors::development_id)
        .first(conn)?;
    let zone = development_zone(conn, org_id, &development_id)?;
    let given: Vec<(String, chrono::NaiveDateTime, Option<chrono::NaiveDateTime>, String)> = grant_people::table
        .inner_join(grants::table)
        .inner_join(grant_doors::table.on(grant_doors::grant_id.eq(grant_people::grant_id)))
        .filter(grant_people::org_id.eq(org_id))
        .filter(grant_people::person_id.eq(person_id))
        .filter(grant_doors::door_id.eq(door_id))
        .order(grants::id)
        .select((grants::id, grants::starts_at, grants::ends_at, grant_doors::schedule))
        .load(conn)?;
    let verdicts = given
        .into_iter()
        .map(|(grant_id, starts_at, ends_at, json)| {
            let period = AccessPeriod { starts_at: time::from_db(starts_at), ends_at: ends_at.map(time::from_db) };
            let verdict = schedule_of(&json)?.allowed_at(zone, &period, at);
            Ok((grant_id, verdict))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let mut answer = AccessCheck {
        person_id: person_id.to_owned(),
        door_id: door_id.to_owned(),
        at,
        allowed: false,
        grant_id: None,
        doorcode_id: None,
        reason: None,
        next_allowed_at: None,
    };
    match schedule::decide(verdicts) {
        Ok(grant_id) => {
            answer.doorcode_id = doorcodes::table
                .filter(doorcodes::org_id.eq(org_id))
                .filter(doorcodes::grant_id.eq(&grant_id))
                .filter(doorcodes::person_id.eq(person_id))
                .filter(doorcodes::door_id.eq(door_id))
                .filter(doorcodes::status.eq(CredentialStatus::Active.as_str()))
                .select(doorcodes::id)
                .first(conn)
                .optional()?;
            answer.allowed = true;
            answer.grant_id = Some(grant_id);
        }
        Err(denied) => {
            answer.reason = Some(denied.reason);
            answer.next_allowed_at = denied.next_allowed_at;
        }
    }
    Ok(answer)
}

/// The time zone of a development, in which the schedules at its doors are read.
fn development_zone(conn: &mut AnyConnection, org_id: &str, development_id: &str) -> StoreResult<chrono_tz::Tz> {
    let name: String = developments::table
        .filter(developments::org_id.eq(org_id))
        .filter(developments::id.eq(development_id))
        .select(developments::time_zone)
        .first(conn)?;
    Ok(name.parse().map_err(|_| Error::Internal(format!("unknown time zone {name:?} in the database")))?)
}
