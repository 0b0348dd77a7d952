//! The daily overdue digest (issue 13 §2): once a day an organisation with reminders on
//! and keys overdue records one `overdue.digest` audit event, attributed to keyward's
//! reminders, which raises the `overdue.digest` webhook event (decision 171).
//!
//! At most one digest per organisation and day, even when the job runs again after a
//! node died under its lease: the check for an earlier digest since the day's slot and the
//! new event are one transaction, under the organisation's lock that every audit event
//! takes (the `audit_org_action` index answers the check).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::{FieldChange, PageRequest};

use super::audit::{self, NewEvent};
use super::reminders::{self, ACTOR_NAME};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::audit_events;

/// The audit action, and the webhook event it raises.
pub const ACTION: &str = "overdue.digest";

/// Keys named in the digest's summary; `reports.overdue` has them all.
const NAMED: i32 = 10;

/// Records the organisation's digest for the day whose slot began at `since`, unless it
/// has one or has no key overdue; answers how many keys it counted.
pub fn record(conn: &mut AnyConnection, org_id: &str, since: NaiveDateTime) -> StoreResult<Option<i32>> {
    super::lock_organisation(conn, org_id)?;
    let done: i64 = audit_events::table
        .filter(audit_events::org_id.eq(org_id))
        .filter(audit_events::action.eq(ACTION))
        .filter(audit_events::at.ge(since))
        .count()
        .get_result(conn)?;
    if done > 0 {
        return Ok(None);
    }
    let page = PageRequest { page: 1, limit: NAMED };
    let overdue = reminders::overdue(conn, org_id, None, page)?;
    if overdue.total == 0 {
        return Ok(None);
    }
    let named: Vec<String> = overdue
        .items
        .iter()
        .map(|k| format!("{} {} ({}, {} h)", k.key_ref, k.label, k.development_name, k.overdue_minutes / 60))
        .collect();
    let more = overdue.total - i32::try_from(named.len()).unwrap_or(NAMED);
    let mut summary =
        format!("{} {} overdue: {}", overdue.total, if overdue.total == 1 { "key" } else { "keys" }, named.join("; "));
    if more > 0 {
        summary.push_str(&format!("; and {more} more"));
    }
    let changes =
        vec![FieldChange { field: "overdueKeys".to_owned(), from: None, to: Some(overdue.total.to_string()) }];
    let event = NewEvent { action: ACTION, entity_type: "organisation", entity_id: org_id, summary, changes };
    audit::record_system(conn, org_id, ACTOR_NAME, event)?;
    Ok(Some(overdue.total))
}
