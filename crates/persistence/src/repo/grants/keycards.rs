//! Keycards (issue 12 §3, decision 105): a `card` key of the register, `in_stock` in the
//! grant's development and nobody's active keycard, issued to a person of the grant
//! through the register's own transition (`keys::issue`), so the key's history, its audit
//! event and the summary counts say what happened. Always under the organisation's lock
//! (the caller's transaction took it), so two allocations never pick the same card.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::doorcode::AllocationPolicy;
use keyward_domain::entities::KeyType;
use keyward_domain::grant::{CredentialEndReason, CredentialStatus, Grant, Keycard, KeycardRequest, OldCard};
use keyward_domain::{Actor, BlastRadius, Error, FieldChange, KeyStatus, Transition};

use super::{assemble_one, credential_state, find};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::repo::audit::{self, NewEvent};
use crate::repo::keys::{self, TransitionDetails};
use crate::schema::{keycards, keys as key_table};
use crate::time;

/// A free card of the development: `ref` itself, or (`None`) the first free card by ref.
/// One indexed read (`keys_org_development_type_status_ref`, LIMIT 1), each candidate
/// checked against `keycards_active_key`.
fn free_card(
    conn: &mut AnyConnection,
    org_id: &str,
    development_id: &str,
    key_ref: Option<&str>,
) -> StoreResult<Option<String>> {
    let active = keycards::table
        .filter(keycards::key_id.eq(key_table::id))
        .filter(keycards::status.eq(CredentialStatus::Active.as_str()));
    let mut q = key_table::table
        .filter(key_table::org_id.eq(org_id))
        .filter(key_table::development_id.eq(development_id))
        .filter(key_table::key_type.eq(KeyType::Card.as_str()))
        .filter(key_table::status.eq(KeyStatus::InStock.as_str()))
        .filter(diesel::dsl::not(diesel::dsl::exists(active)))
        .into_boxed();
    if let Some(key_ref) = key_ref {
        q = q.filter(key_table::key_ref.eq(key_ref));
    }
    Ok(q.order(key_table::key_ref).select(key_table::id).first(conn).optional()?)
}

/// Chooses a card by the request's policy and issues it to the person: an active
/// keycard. `strict` with a card that is not free, or no free card at all, is
/// KEYCARD_UNAVAILABLE, and the caller's transaction changes nothing.
pub(super) fn allocate(
    conn: &mut AnyConnection,
    actor: &Actor,
    development_id: &str,
    grant: (&str, &str),
    person_id: &str,
    request: &KeycardRequest,
    now: NaiveDateTime,
) -> StoreResult<()> {
    let org_id = actor.org_id.as_str();
    let (grant_id, grant_name) = grant;
    let asked = match (&request.key_ref, request.policy) {
        (Some(key_ref), AllocationPolicy::Preferred | AllocationPolicy::Strict) => {
            free_card(conn, org_id, development_id, Some(key_ref))?
        }
        _ => None,
    };
    let key_id = match asked {
        Some(key_id) => key_id,
        None if request.policy == AllocationPolicy::Strict => {
            return Err(Error::KeycardUnavailable { key_ref: request.key_ref.clone() }.into());
        }
        None => match free_card(conn, org_id, development_id, None)? {
            Some(key_id) => key_id,
            None => return Err(Error::KeycardUnavailable { key_ref: None }.into()),
        },
    };
    let details = TransitionDetails {
        holder_id: Some(person_id.to_owned()),
        purpose: Some(format!("Keycard of grant {grant_name}")),
        ..TransitionDetails::default()
    };
    keys::issue(conn, actor, &key_id, details)?;
    diesel::insert_into(keycards::table)
        .values((
            keycards::id.eq(time::new_id()),
            keycards::org_id.eq(org_id),
            keycards::grant_id.eq(grant_id),
            keycards::person_id.eq(person_id),
            keycards::key_id.eq(&key_id),
            keycards::status.eq(CredentialStatus::Active.as_str()),
            keycards::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Queryable)]
struct KeycardRow {
    id: String,
    grant_id: String,
    person_id: String,
    key_id: String,
    key_ref: String,
    status: String,
    end_reason: Option<String>,
    created_at: NaiveDateTime,
    ended_at: Option<NaiveDateTime>,
}

impl KeycardRow {
    fn into_keycard(self) -> StoreResult<Keycard> {
        let (status, end_reason) = credential_state("keycard", &self.status, self.end_reason.as_deref())?;
        Ok(Keycard {
            status,
            end_reason,
            id: self.id,
            grant_id: self.grant_id,
            person_id: self.person_id,
            key_id: self.key_id,
            key_ref: self.key_ref,
            created_at: time::from_db(self.created_at),
            ended_at: self.ended_at.map(time::from_db),
        })
    }
}

/// Ends the grant's active keycards, of these people only (`None`: everyone's), with
/// `reason`, and asks their cards back (`returnRequested`, the version moves, as
/// offboarding does): the card stays issued to the person until it is returned, so the
/// register still says who has it (decision 106). Answers how many ended.
pub(super) fn end_active(
    conn: &mut AnyConnection,
    org_id: &str,
    grant_id: &str,
    people: Option<&[String]>,
    reason: CredentialEndReason,
    now: NaiveDateTime,
) -> StoreResult<usize> {
    let mut active = keycards::table
        .filter(keycards::org_id.eq(org_id))
        .filter(keycards::grant_id.eq(grant_id))
        .filter(keycards::status.eq(CredentialStatus::Active.as_str()))
        .select((keycards::id, keycards::key_id))
        .into_boxed();
    if let Some(people) = people {
        active = active.filter(keycards::person_id.eq_any(people));
    }
    let (ids, cards): (Vec<String>, Vec<String>) = active.load::<(String, String)>(conn)?.into_iter().unzip();
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::update(keycards::table.filter(keycards::id.eq_any(&ids)))
        .set((
            keycards::status.eq(CredentialStatus::Ended.as_str()),
            keycards::end_reason.eq(reason.as_str()),
            keycards::ended_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(
        key_table::table
            .filter(key_table::org_id.eq(org_id))
            .filter(key_table::id.eq_any(&cards))
            .filter(key_table::status.eq(KeyStatus::Issued.as_str()))
            .filter(key_table::return_requested_at.is_null()),
    )
    .set((key_table::return_requested_at.eq(Some(now)), key_table::version.eq(key_table::version + 1)))
    .execute(conn)?;
    Ok(ids.len())
}

/// The active keycards of these grants, with their cards' refs: one read by the grants'
/// ids (`keycards_org_grant_person`), joined to the keys by primary key.
pub(super) fn active_of(conn: &mut AnyConnection, org_id: &str, grant_ids: &[&str]) -> StoreResult<Vec<Keycard>> {
    let rows: Vec<KeycardRow> = keycards::table
        .inner_join(key_table::table)
        .filter(keycards::org_id.eq(org_id))
        .filter(crate::repo::any_of(conn, keycards::grant_id, grant_ids))
        .filter(keycards::status.eq(CredentialStatus::Active.as_str()))
        .order((keycards::grant_id, keycards::person_id, keycards::id))
        .select((
            keycards::id,
            keycards::grant_id,
            keycards::person_id,
            keycards::key_id,
            key_table::key_ref,
            keycards::status,
            keycards::end_reason,
            keycards::created_at,
            keycards::ended_at,
        ))
        .load(conn)?;
    rows.into_iter().map(KeycardRow::into_keycard).collect()
}

/// `grants.replaceKeycard`: the person's active keycard under the grant ends (`replaced`),
/// its card is marked lost or returned through the register's transition (left as it is
/// if it already is), and another card is allocated by `request`; one transaction, under
/// the organisation's lock. A card marked lost is marked as `keys.markLost` marks a key
/// (`keys::mark_lost`: the codes at its doors due, its links flagged), and the answer
/// has its blast radius (also when it already was lost; decision 147). A person without
/// an active keycard is INVALID_INPUT `personId`; no free card is KEYCARD_UNAVAILABLE
/// and nothing changes.
pub fn replace(
    conn: &mut AnyConnection,
    actor: &Actor,
    grant_id: &str,
    person_id: &str,
    old_card: OldCard,
    request: &KeycardRequest,
) -> StoreResult<(Grant, Option<BlastRadius>)> {
    let org_id = actor.org_id.as_str();
    crate::repo::lock_organisation(conn, org_id)?;
    let grant = find(conn, org_id, grant_id)?;
    crate::repo::people::person_ref(conn, org_id, person_id)?;
    let current: Option<(String, String, String)> = keycards::table
        .inner_join(key_table::table)
        .filter(keycards::org_id.eq(org_id))
        .filter(keycards::grant_id.eq(grant_id))
        .filter(keycards::person_id.eq(person_id))
        .filter(keycards::status.eq(CredentialStatus::Active.as_str()))
        .select((keycards::id, keycards::key_id, key_table::key_ref))
        .first(conn)
        .optional()?;
    let Some((keycard_id, old_key_id, old_key_ref)) = current else {
        return Err(Error::invalid("personId", "has no keycard under this grant").into());
    };
    let now = time::now();
    diesel::update(keycards::table.filter(keycards::id.eq(&keycard_id)))
        .set((
            keycards::status.eq(CredentialStatus::Ended.as_str()),
            keycards::end_reason.eq(CredentialEndReason::Replaced.as_str()),
            keycards::ended_at.eq(now),
        ))
        .execute(conn)?;
    let already = keys::get(conn, org_id, &old_key_id)?.status;
    let details = || TransitionDetails { notes: Some("Keycard replaced".to_owned()), ..TransitionDetails::default() };
    let blast_radius = match old_card {
        OldCard::Lost if already == KeyStatus::Lost => Some(keys::blast_radius(conn, org_id, &old_key_id)?),
        OldCard::Lost => Some(keys::mark_lost(conn, actor, &old_key_id, details())?.1),
        OldCard::Returned if already == Transition::Return.to() => None,
        OldCard::Returned => {
            keys::transition(conn, actor, &old_key_id, Transition::Return, details())?;
            None
        }
    };
    allocate(conn, actor, &grant.development_id, (&grant.id, &grant.name), person_id, request, now)?;
    let assembled = assemble_one(conn, grant)?;
    let new_key_ref = assembled
        .keycards
        .iter()
        .find(|card| card.person_id == person_id)
        .map(|card| card.key_ref.clone())
        .unwrap_or_default();
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "grant.keycardReplaced",
            entity_type: "grant",
            entity_id: grant_id,
            summary: format!("Keycard {old_key_ref} of grant {} replaced by {new_key_ref}", assembled.name),
            changes: vec![
                FieldChange::new("personId", None::<&str>, Some(person_id)),
                FieldChange::new("keyRef", Some(&old_key_ref), Some(&new_key_ref)),
                FieldChange::new("oldCard", None::<&str>, Some(old_card.as_str())),
            ],
        },
    )?;
    Ok((assembled, blast_radius))
}
