//! The reminder jobs (issue 13 §2): the sweep that starts overdue keys' steps, and each
//! step, which texts the holder (a reminder) or the escalation's users and number through
//! the shared SMS pipeline, then records what it sent.
//!
//! A step is safe to run again: the key is read in its cycle first (returned, extended or
//! issued again: nothing to do), each message's idempotency key is `job:<id>:<step>:<n>`
//! (a run repeated after a lost lease finds the first attempt's send and texts nobody
//! again: decision 118), and the record is a no-op when the step is already recorded.

use std::sync::Arc;

use keyward_domain::inbound::masked_phone;
use keyward_domain::reminders::Step;
use keyward_domain::{Actor, Error};
use keyward_persistence::repo::jobs::Claimed;
use keyward_persistence::repo::overdue_digest;
use keyward_persistence::repo::reminders::{self, ACTOR_NAME, StepKey, StepReached, StepSubject};
use keyward_persistence::repo::sms::{self as sms_repo, Attempt};
use keyward_persistence::time;
use keyward_sms::phone;

use crate::{App, sms_pipeline};

/// Starts the steps of every organisation's newly overdue keys.
pub async fn sweep(app: &App) -> Result<String, String> {
    let orgs = app.db.run(reminders::enabled).await.map_err(|e| e.to_string())?;
    let mut started = 0;
    for (org_id, settings) in orgs {
        started += app.db.write(move |c| reminders::sweep(c, &org_id, &settings)).await.map_err(|e| e.to_string())?;
    }
    Ok(format!("{started} overdue keys started their reminders"))
}

/// Runs one step.
pub async fn step(app: &Arc<App>, job: &Claimed) -> Result<String, String> {
    let subject = StepSubject::parse(&job.subject).ok_or_else(|| format!("not a step: {}", job.subject))?;
    let org_id = job.org_id.clone().ok_or("a reminder step without an organisation")?;
    let (org, read_subject) = (org_id.clone(), subject.clone());
    let (settings, key) = app
        .db
        .run(move |c| Ok((reminders::settings(c, &org)?, reminders::step_key(c, &org, &read_subject)?)))
        .await
        .map_err(|e| e.to_string())?;
    let Some(key) = key else { return Ok("the key was returned or its due time changed: nothing sent".to_owned()) };
    if !settings.enabled {
        return Ok("reminders are off: nothing sent".to_owned());
    }
    if matches!(subject.step, Step::Reminder(n) if n > settings.max_reminders) {
        return Ok("past the maximum of reminders: nothing sent".to_owned());
    }
    let now = time::now_utc();
    if let Some(quiet) = settings.quiet_hours.as_ref().filter(|q| q.is_quiet_at(key.zone, now)) {
        // Quiet hours set after the step was planned: it runs again when they end.
        let (org, later, run_at) = (org_id.clone(), subject.clone(), time::to_db(quiet.end_from(key.zone, now)));
        app.db.write(move |c| reminders::put_off(c, &org, &later, run_at)).await.map_err(|e| e.to_string())?;
        return Ok("in quiet hours: put off to their end".to_owned());
    }

    let recipients = match subject.step {
        Step::Reminder(_) => match &key.holder_phone {
            Some(phone) => vec![(key.issued_to.clone().unwrap_or_else(|| "the holder".to_owned()), phone.clone())],
            None => return Ok("the holder has no phone: nothing sent".to_owned()),
        },
        Step::Escalation => {
            let (org, ids) = (org_id.clone(), settings.escalate_to_user_ids.clone());
            let mut to = app.db.run(move |c| reminders::user_phones(c, &org, &ids)).await.map_err(|e| e.to_string())?;
            to.extend(settings.escalate_phone.clone().map(|phone| ("escalation number".to_owned(), phone)));
            to
        }
    };
    let body = message(&key, &subject);
    let (mut sent_to, mut opted_out) = (Vec::new(), Vec::new());
    for (n, (name, number)) in recipients.into_iter().enumerate() {
        let Ok(to_e164) = phone::normalise(&number, app.sms.default_region) else {
            tracing::warn!(job = %job.id, "a reminder recipient's phone is not a valid number: skipped");
            continue;
        };
        let (org, number) = (org_id.clone(), to_e164.clone());
        if app.db.run(move |c| sms_repo::opted_out(c, &org, &number)).await.map_err(|e| e.to_string())? {
            tracing::info!(job = %job.id, "a reminder recipient texted STOP: skipped");
            opted_out.push(masked_phone(&to_e164));
            continue;
        }
        let idempotency_key = Some(format!("job:{}:{}:{n}", job.id, subject.step.as_text()));
        let attempt = Attempt {
            target_name: key.key_ref.clone(),
            ..Attempt::new("key", subject.key_id.clone(), name, to_e164, idempotency_key)
        };
        let (org, sealer) = (org_id.clone(), app.sealer.clone());
        let account = app
            .db
            .run(move |c| {
                Ok(sms_repo::account(c, &sealer, &org)?.ok_or(Error::SmsNotConfigured { provider_code: None })?)
            })
            .await
            .map_err(|e| e.to_string())?;
        let actor = Actor::system(&org_id, ACTOR_NAME);
        let to = attempt.to_e164.clone();
        let recorded = sms_pipeline::send(Arc::clone(app), actor, attempt, body.clone(), account, "body")
            .await
            .map_err(|e| format!("the SMS to recipient {n} was not sent: {e}"))?;
        // Refused or not reached: not sent, and not tried again under the same key (the
        // record answers every replay); the next step still comes.
        if matches!(recorded.status.as_str(), "rejected" | "unavailable") {
            tracing::warn!(job = %job.id, status = %recorded.status, "a reminder SMS was not sent");
        } else {
            sent_to.push(to);
        }
    }
    // Skipped for STOP only when no one else was reached: the step passes, the next comes.
    let reached = match (sent_to.is_empty(), opted_out.is_empty()) {
        (false, _) => StepReached::SentTo(sent_to.join(", ")),
        (true, false) => StepReached::OptedOut(opted_out.join(", ")),
        (true, true) => return Ok("no recipient reached: nothing recorded".to_owned()),
    };
    let (org, zone, skipped) = (org_id.clone(), key.zone, matches!(reached, StepReached::OptedOut(_)));
    let recorded = app
        .db
        .write(move |c| reminders::record_step(c, &org, &subject, &settings, zone, &reached))
        .await
        .map_err(|e| e.to_string())?;
    Ok(match (recorded, skipped) {
        (true, false) => "sent and recorded".to_owned(),
        (true, true) => "not sent: the number texted STOP; recorded as skipped".to_owned(),
        (false, _) => "done before: already recorded".to_owned(),
    })
}

/// What a holder (a reminder) or the escalation's recipients receive; no code, no secret.
/// The due time is on the development's wall clock.
fn message(key: &StepKey, subject: &StepSubject) -> String {
    let label = if key.label.is_empty() { String::new() } else { format!(" ({})", key.label) };
    let due = time::from_db(subject.due_at).with_timezone(&key.zone).format("%-d %b %H:%M");
    let (development, key_ref) = (&key.development_name, &key.key_ref);
    match subject.step {
        Step::Reminder(_) => {
            format!("{development}: key {key_ref}{label} was due back {due}. Please return it as soon as you can.")
        }
        Step::Escalation => {
            let holder = key.issued_to.as_deref().unwrap_or("someone");
            format!("{development}: key {key_ref}{label} issued to {holder} was due back {due} and is not back.")
        }
    }
}

/// The daily digest of every organisation with reminders on (decision 171): `job`'s
/// subject is the day's slot; an organisation that has its digest since then is skipped.
pub async fn digest(app: &App, job: &Claimed) -> Result<String, String> {
    let slot = chrono::DateTime::parse_from_rfc3339(&job.subject).map_err(|e| format!("not a slot: {e}"))?;
    let since = slot.naive_utc();
    let orgs = app.db.run(reminders::enabled).await.map_err(|e| e.to_string())?;
    let mut recorded = 0;
    for (org_id, _) in orgs {
        let counted =
            app.db.write(move |c| overdue_digest::record(c, &org_id, since)).await.map_err(|e| e.to_string())?;
        recorded += usize::from(counted.is_some());
    }
    Ok(format!("{recorded} organisations' overdue digests recorded"))
}
