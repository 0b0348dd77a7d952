//! The guarded status transitions (the contract's table, `Transition`).

use chrono::{DateTime, NaiveDateTime, Utc};
use keyward_domain::{Actor, Error, FieldChange, Key, Transition, entities::diff};

use super::write::{Planned, with_retries};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::time;

/// What a transition records beyond the status: the holder when issuing, a note always.
#[derive(Debug, Default, Clone)]
pub struct TransitionDetails {
    pub issued_to: Option<String>,
    pub issued_to_phone: Option<String>,
    pub purpose: Option<String>,
    pub expected_return_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
}

/// Moves a key from one status to another, if the contract's table allows it from the
/// key's current status; otherwise INVALID_TRANSITION and nothing changes.
pub fn transition(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    transition: Transition,
    details: TransitionDetails,
) -> StoreResult<Key> {
    with_retries(conn, actor, id, |old, now| {
        let current = old.status()?;
        if !transition.allows(current) {
            return Err(Error::InvalidTransition { current }.into());
        }
        let mut new = old.clone();
        new.status = transition.to().as_str().to_owned();
        new.last_status_change_at = Some(now);
        new.last_status_change_by = Some(actor.name.clone());
        if transition == Transition::Issue {
            new.issued_to = details.issued_to.clone();
            new.issued_to_phone = details.issued_to_phone.clone();
            new.purpose = details.purpose.clone();
            new.expected_return_at = details.expected_return_at.map(time::to_db);
            new.issued_at = Some(now);
            new.issued_by = Some(actor.name.clone());
        } else if transition.clears_holder() {
            new.issued_to = None;
            new.issued_to_phone = None;
            new.purpose = None;
            new.expected_return_at = None;
            new.issued_at = None;
            new.issued_by = None;
        }
        let mut changes = vec![FieldChange::new("status", Some(&old.status), Some(&new.status))];
        diff(&mut changes, "issuedTo", &old.issued_to, &new.issued_to);
        diff(&mut changes, "issuedToPhone", &old.issued_to_phone, &new.issued_to_phone);
        diff(&mut changes, "purpose", &old.purpose, &new.purpose);
        let at = |v: &Option<NaiveDateTime>| {
            v.map(|t| time::from_db(t).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        };
        diff(&mut changes, "expectedReturnAt", &at(&old.expected_return_at), &at(&new.expected_return_at));
        let summary = match (&new.issued_to, transition) {
            (Some(to), Transition::Issue) => format!("Key {} issued to {to}", new.key_ref),
            _ => format!("Key {} {}", new.key_ref, transition.action().replace('_', " ")),
        };
        Ok(Planned { new, changes, action: transition.action(), summary, movement: Some(details.notes.clone()) })
    })
}
