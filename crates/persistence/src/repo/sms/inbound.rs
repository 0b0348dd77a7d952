//! Texts to the organisation's number (issue 13 §3): which organisations a text may be
//! for, what a holder's text does (`answer`), and the numbers that sent STOP (no reminder
//! or escalation goes to them until they send START).

use diesel::prelude::*;
use keyward_domain::inbound::{Command, ExtendedKey, Outcome, masked_phone};
use keyward_domain::{Actor, Error, FieldChange};

use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::repo::audit::{self, NewEvent};
use crate::repo::keys::{self, HeldKey};
use crate::repo::reminders;
use crate::schema::{sms_opt_outs, sms_settings};
use crate::time;

/// The organisations whose SMS settings are of Twilio account `account_sid` and send from
/// `to` (or through `messaging_service_sid`): the candidates a text to `to` is for. The
/// caller keeps the one whose auth token verifies the signature (decision 150).
pub fn organisations_for(
    conn: &mut AnyConnection,
    account_sid: &str,
    to: &str,
    messaging_service_sid: Option<&str>,
) -> StoreResult<Vec<String>> {
    let mut orgs: Vec<String> = sms_settings::table
        .filter(sms_settings::from_number.eq(to))
        .filter(sms_settings::account_sid.eq(account_sid))
        .select(sms_settings::org_id)
        .load(conn)?;
    if let Some(service) = messaging_service_sid {
        let by_service: Vec<String> = sms_settings::table
            .filter(sms_settings::messaging_service_sid.eq(service))
            .filter(sms_settings::account_sid.eq(account_sid))
            .select(sms_settings::org_id)
            .load(conn)?;
        orgs.extend(by_service);
    }
    orgs.sort();
    orgs.dedup();
    Ok(orgs)
}

/// Does what a text from `from` (E.164) asks of the organisation, inside the caller's
/// write transaction: STOP / START, a claimed return, an extension (by the phone's actor).
pub fn answer(conn: &mut AnyConnection, org_id: &str, from: &str, command: Command) -> StoreResult<Outcome> {
    match command {
        Command::Stop => return set_opt_out(conn, org_id, from, true).map(|()| Outcome::Silent),
        Command::Start => return set_opt_out(conn, org_id, from, false).map(|()| Outcome::Silent),
        Command::TwilioHelp => return Ok(Outcome::Silent),
        _ => {}
    }
    let held = keys::held_by_phone(conn, org_id, from)?;
    if held.is_empty() {
        return Ok(Outcome::NoKeys);
    }
    let actor = Actor::phone(org_id, from);
    let not_yours = |asked: Option<String>| Outcome::NotYours {
        asked: asked.unwrap_or_default(),
        yours: held.iter().map(|k| k.key_ref.clone()).collect(),
    };
    Ok(match command {
        Command::Returned { key_ref } => {
            let Some(chosen) = chosen(&held, key_ref.as_deref()) else { return Ok(not_yours(key_ref)) };
            for key in &chosen {
                keys::claim_return(conn, &actor, &key.id)?;
            }
            Outcome::Claimed { refs: chosen.into_iter().map(|k| k.key_ref).collect() }
        }
        Command::Extend { days, key_ref } => {
            let max = reminders::settings(conn, org_id)?.max_extend_days;
            if !(1..=i64::from(max)).contains(&days) {
                return Ok(Outcome::TooManyDays { max });
            }
            let Some(chosen) = chosen(&held, key_ref.as_deref()) else { return Ok(not_yours(key_ref)) };
            let mut extended = Vec::new();
            for key in chosen {
                let due_at = keys::extend(conn, &actor, &key.id, days)?
                    .expected_return_at
                    .ok_or_else(|| Error::Internal("an extended key has no due time".to_owned()))?;
                extended.push(ExtendedKey { key_ref: key.key_ref, due_at, zone: reminders::zone_of(&key.time_zone) });
            }
            Outcome::Extended { keys: extended }
        }
        _ => Outcome::Help,
    })
}

/// The keys a command names: all of them, or the one with `key_ref` (`None`: not theirs).
fn chosen(held: &[HeldKey], key_ref: Option<&str>) -> Option<Vec<HeldKey>> {
    match key_ref {
        None => Some(held.to_vec()),
        Some(key_ref) => held.iter().find(|k| k.key_ref == key_ref).map(|k| vec![k.clone()]),
    }
}

/// Whether `phone` (E.164) sent STOP to the organisation and not START since.
pub fn opted_out(conn: &mut AnyConnection, org_id: &str, phone: &str) -> StoreResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(sms_opt_outs::table.find((org_id, phone)).select(sms_opt_outs::phone)))
        .get_result(conn)?)
}

/// Records STOP (`out`) or START from `phone`; an audit event when it changed something.
pub fn set_opt_out(conn: &mut AnyConnection, org_id: &str, phone: &str, out: bool) -> StoreResult<()> {
    crate::repo::lock_organisation(conn, org_id)?;
    let was_out = opted_out(conn, org_id, phone)?;
    if was_out == out {
        return Ok(());
    }
    if out {
        diesel::insert_into(sms_opt_outs::table)
            .values((
                sms_opt_outs::org_id.eq(org_id),
                sms_opt_outs::phone.eq(phone),
                sms_opt_outs::opted_out_at.eq(time::now()),
            ))
            .execute(conn)?;
    } else {
        diesel::delete(sms_opt_outs::table.find((org_id, phone))).execute(conn)?;
    }
    let (action, summary) = if out {
        ("sms.optedOut", format!("{} texted STOP: no more reminders to it", masked_phone(phone)))
    } else {
        ("sms.optedIn", format!("{} texted START: reminders to it again", masked_phone(phone)))
    };
    let actor = Actor::phone(org_id, phone);
    audit::record_system(
        conn,
        org_id,
        &actor.name,
        NewEvent {
            action,
            entity_type: "organisation",
            entity_id: org_id,
            summary,
            changes: vec![FieldChange::new("optedOut", Some(&was_out.to_string()), Some(&out.to_string()))],
        },
    )
}
