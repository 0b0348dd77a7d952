//! What happens to a send afterwards: the stale-pending sweep and delivery reports.

use std::time::Duration;

use chrono::TimeDelta;
use diesel::prelude::*;

use super::sends::{Attempt, Author, record_outcome};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::sms_messages;
use crate::time;

/// A stored send, as the sweep and delivery reports read it back.
#[derive(Queryable, Selectable)]
#[diesel(table_name = sms_messages)]
struct StoredSend {
    id: String,
    org_id: String,
    status: String,
    target_type: String,
    target_id: String,
    recipient_name: String,
    to_e164: String,
    segments: i32,
    encoding: String,
}

impl StoredSend {
    /// What the audit event of a later outcome says about the send.
    fn attempt(&self) -> Attempt {
        Attempt {
            target_type: match self.target_type.as_str() {
                "key" => "key",
                "grant" => "grant",
                _ => "accessCode",
            },
            target_id: self.target_id.clone(),
            target_name: self.target_id.clone(),
            recipient_name: self.recipient_name.clone(),
            to_e164: self.to_e164.clone(),
            idempotency_key: None,
            segments: self.segments,
            encoding: if self.encoding == "UCS-2" { "UCS-2" } else { "GSM-7" },
            exposure: None,
            doorcodes: Vec::new(),
        }
    }
}

/// Marks `pending` rows older than `age` as `unknown` (the server stopped while sending,
/// or the provider never answered), each with an audit event. They are never re-sent:
/// the provider may have received them.
pub fn mark_stale_pending(conn: &mut AnyConnection, age: Duration) -> StoreResult<usize> {
    let cutoff = time::now() - TimeDelta::from_std(age).unwrap_or(TimeDelta::hours(1));
    let stale: Vec<StoredSend> = sms_messages::table
        .filter(sms_messages::status.eq("pending"))
        .filter(sms_messages::created_at.lt(cutoff))
        // One order for every node, so that two sweeps cannot deadlock on PostgreSQL:
        // organisations in id order, each locked before its messages are touched.
        .order((sms_messages::org_id, sms_messages::id))
        .select(StoredSend::as_select())
        .load(conn)?;
    let mut marked = 0;
    let mut locked: Option<String> = None;
    for row in stale {
        if locked.as_deref() != Some(row.org_id.as_str()) {
            crate::repo::lock_organisation(conn, &row.org_id)?;
            locked = Some(row.org_id.clone());
        }
        let updated = diesel::update(sms_messages::table.find(&row.id).filter(sms_messages::status.eq("pending")))
            .set((sms_messages::status.eq("unknown"), sms_messages::updated_at.eq(time::now())))
            .execute(conn)?;
        if updated == 0 {
            continue;
        }
        marked += 1;
        let attempt = row.attempt();
        record_outcome(
            conn,
            Author::System(&row.org_id, "keyward (send interrupted)"),
            &row.id,
            &attempt,
            "pending",
            "unknown",
            None,
            None,
            0,
        )?;
    }
    Ok(marked)
}

/// How far along a message is: a report may only move it forward (reports can arrive out
/// of order, and twice).
fn progress(status: &str) -> u8 {
    match status {
        "pending" | "unknown" => 0,
        "sent" => 1,
        "delivered" | "undelivered" | "failed" => 2,
        _ => 0,
    }
}

/// Applies Twilio's delivery report for one of the organisation's messages, if it moves
/// the message forward; records it in the audit log. Returns whether anything changed.
pub fn apply_report(
    conn: &mut AnyConnection,
    org_id: &str,
    provider_message_id: &str,
    provider_status: &str,
    error_code: Option<i32>,
) -> StoreResult<bool> {
    crate::repo::lock_organisation(conn, org_id)?;
    let status = match provider_status {
        "delivered" | "undelivered" | "failed" => provider_status,
        "queued" | "sending" | "sent" | "accepted" | "scheduled" => "sent",
        _ => return Ok(false),
    };
    let found: Option<StoredSend> = sms_messages::table
        .filter(sms_messages::org_id.eq(org_id))
        .filter(sms_messages::provider_message_id.eq(provider_message_id))
        .select(StoredSend::as_select())
        .first(conn)
        .optional()?;
    let Some(sent) = found else { return Ok(false) };
    let current = sent.status.clone();
    if progress(status) <= progress(&current) {
        return Ok(false);
    }
    let updated = diesel::update(sms_messages::table.find(&sent.id).filter(sms_messages::status.eq(&current)))
        .set((
            sms_messages::status.eq(status),
            sms_messages::provider_status.eq(provider_status),
            sms_messages::provider_error_code.eq(error_code),
            sms_messages::updated_at.eq(time::now()),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Ok(false); // another report got there first
    }
    let attempt = sent.attempt();
    record_outcome(conn, Author::System(org_id, "Twilio"), &sent.id, &attempt, &current, status, None, error_code, 0)?;
    Ok(true)
}
