//! The guarded status transitions (the contract's table, `Transition`).

use chrono::{DateTime, NaiveDateTime, Utc};
use keyward_domain::{Actor, Error, FieldChange, Key, Transition, entities::diff};

use super::write::{Planned, with_retries};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::repo::people;
use crate::time;

/// What a transition records beyond the status: the holder when issuing, a note always.
#[derive(Debug, Default, Clone)]
pub struct TransitionDetails {
    /// The person of the directory the key is issued to (checked by the caller, in the
    /// same transaction).
    pub holder_id: Option<String>,
    pub issued_to: Option<String>,
    pub issued_to_phone: Option<String>,
    /// `issued_to_phone` in E.164 (normalised by the caller), how a holder's text finds
    /// the key; with a person and no phone given, the person's (already E.164).
    pub holder_phone: Option<String>,
    pub purpose: Option<String>,
    pub expected_return_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
}

/// Issues a key: to a person of the directory (`holder_id`: of the organisation, else
/// NOT_FOUND; not archived, else PERSON_ARCHIVED; `issued_to` and `issued_to_phone`
/// default from the person), or by name only.
///
/// The person is read under the organisation's lock, which `people::archive` takes too:
/// an archive that committed first is seen here (PERSON_ARCHIVED), and one that comes
/// later archives a person who holds this key (decision 50). Never an archived person
/// newly holding a key.
pub fn issue(conn: &mut AnyConnection, actor: &Actor, id: &str, mut details: TransitionDetails) -> StoreResult<Key> {
    if let Some(holder_id) = &details.holder_id {
        crate::repo::lock_organisation(conn, &actor.org_id)?;
        let person = people::person_ref(conn, &actor.org_id, holder_id)?;
        if person.archived() {
            return Err(Error::PersonArchived.into());
        }
        details.issued_to.get_or_insert(person.name);
        if details.issued_to_phone.is_none() {
            details.holder_phone.clone_from(&person.phone);
            details.issued_to_phone = person.phone;
        }
    }
    transition(conn, actor, id, Transition::Issue, details)
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
    // The acknowledgement asked belongs to the holding, which every transition from
    // `issued` ends (`derived_changed` deletes it); an issue that asks for one records
    // its own after this.
    with_retries(conn, actor, id, |old, now| {
        let current = old.status()?;
        if !transition.allows(current) {
            return Err(Error::InvalidTransition { current }.into());
        }
        let mut new = old.clone();
        new.status = transition.to().as_str().to_owned();
        new.last_status_change_at = Some(now);
        new.last_status_change_by = Some(actor.name.clone());
        // Every transition ends (or starts) a holding: a request to give the key back
        // belongs to the holding it was made in.
        new.return_requested_at = None;
        // A holder's RETURNED is confirmed (or overtaken) by any status change.
        new.return_claimed_at = None;
        if transition == Transition::Issue {
            new.holder_id = details.holder_id.clone();
            new.issued_to = details.issued_to.clone();
            new.issued_to_phone = details.issued_to_phone.clone();
            new.holder_phone = details.holder_phone.clone();
            new.purpose = details.purpose.clone();
            new.expected_return_at = details.expected_return_at.map(time::to_db);
            new.issued_at = Some(now);
            new.issued_by = Some(actor.name.clone());
        } else if transition.clears_holder() {
            new.holder_id = None;
            new.issued_to = None;
            new.issued_to_phone = None;
            new.holder_phone = None;
            new.purpose = None;
            new.expected_return_at = None;
            new.issued_at = None;
            new.issued_by = None;
        }
        let mut changes = vec![FieldChange::new("status", Some(&old.status), Some(&new.status))];
        diff(&mut changes, "holderId", &old.holder_id, &new.holder_id);
        diff(&mut changes, "issuedTo", &old.issued_to, &new.issued_to);
        diff(&mut changes, "issuedToPhone", &old.issued_to_phone, &new.issued_to_phone);
        diff(&mut changes, "purpose", &old.purpose, &new.purpose);
        let at = |v: &Option<NaiveDateTime>| v.map(super::stamp);
        diff(&mut changes, "expectedReturnAt", &at(&old.expected_return_at), &at(&new.expected_return_at));
        diff(&mut changes, "returnClaimedAt", &at(&old.return_claimed_at), &at(&new.return_claimed_at));
        let summary = match (&new.issued_to, transition) {
            (Some(to), Transition::Issue) => format!("Key {} issued to {to}", new.key_ref),
            _ => format!("Key {} {}", new.key_ref, transition.action().replace('_', " ")),
        };
        Ok(Planned { new, changes, action: transition.action(), summary, movement: Some(details.notes.clone()) })
    })
}
