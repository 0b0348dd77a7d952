//! Overdue reminders (issue 13 §2): the organisation's settings, the sweep that starts an
//! overdue key's steps, what a step needs to know, its record, and `reports.overdue`.
//!
//! An overdue key's steps belong to a *cycle*: one issue (`issued_at`) and one due time
//! (`expected_return_at`). `key_reminders` holds the cycle's progress (reminders sent,
//! escalated); a key returned, extended or issued again is in another cycle, so the old
//! cycle's steps find nothing to do and the sweep starts a new one. Each step is a job
//! whose subject names the key, the cycle and the step ([`StepSubject`]): `UNIQUE (kind,
//! subject)` makes a second sweep's or a second node's enqueue a no-op (decision 116).

use chrono::{NaiveDateTime, TimeDelta};
use chrono_tz::Tz;
use diesel::prelude::*;
use keyward_domain::entities::diff;
use keyward_domain::jobs::JobKind;
use keyward_domain::reminders::{OverdueKey, QuietHours, ReminderSettings, Step, outside_quiet_hours};
use keyward_domain::{Actor, Error, FieldChange, KeyStatus, Page, PageRequest, schedule};

use super::audit::{self, NewEvent};
use super::jobs;
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::{developments, key_reminders, keys, people, reminder_settings, users};
use crate::time;

/// Who reminders are attributed to in the key's history and the audit log.
pub const ACTOR_NAME: &str = "keyward reminders";

/// At most this many keys start their steps per organisation and sweep; the rest the next
/// minute.
const SWEEP_BATCH: i64 = 200;

/// The stored settings, as read back.
#[derive(Queryable, Selectable)]
#[diesel(table_name = reminder_settings)]
struct SettingsRow {
    enabled: bool,
    first_after_minutes: i32,
    repeat_every_hours: i32,
    max_reminders: i32,
    escalate_after_hours: i32,
    escalate_to_user_ids: String,
    escalate_phone: Option<String>,
    quiet_start: Option<String>,
    quiet_end: Option<String>,
    max_extend_days: i32,
}

/// The organisation's settings, the defaults (off) when it never saved any.
pub fn settings(conn: &mut AnyConnection, org_id: &str) -> StoreResult<ReminderSettings> {
    let row: Option<SettingsRow> =
        reminder_settings::table.find(org_id).select(SettingsRow::as_select()).first(conn).optional()?;
    Ok(row.map(from_row).unwrap_or_default())
}

fn from_row(row: SettingsRow) -> ReminderSettings {
    ReminderSettings {
        enabled: row.enabled,
        first_after_minutes: row.first_after_minutes,
        repeat_every_hours: row.repeat_every_hours,
        max_reminders: row.max_reminders,
        escalate_after_hours: row.escalate_after_hours,
        escalate_to_user_ids: serde_json::from_str(&row.escalate_to_user_ids).unwrap_or_default(),
        escalate_phone: row.escalate_phone,
        quiet_hours: row.quiet_start.zip(row.quiet_end).map(|(start, end)| QuietHours { start, end }),
        max_extend_days: row.max_extend_days,
    }
}

/// Saves validated settings (the users are checked here: of the organisation, enabled,
/// with a phone in the directory); one audit event when something changed.
pub fn save(conn: &mut AnyConnection, actor: &Actor, new: ReminderSettings) -> StoreResult<ReminderSettings> {
    super::lock_organisation(conn, &actor.org_id)?;
    for user_id in &new.escalate_to_user_ids {
        let user: Option<bool> = users::table
            .filter(users::org_id.eq(&actor.org_id))
            .filter(users::id.eq(user_id))
            .select(users::disabled)
            .first(conn)
            .optional()?;
        match user {
            None => return Err(Error::invalid("escalateToUserIds", format!("no user {user_id}")).into()),
            Some(true) => return Err(Error::invalid("escalateToUserIds", format!("user {user_id} is disabled")).into()),
            Some(false) => {}
        }
        if user_phones(conn, &actor.org_id, std::slice::from_ref(user_id))?.is_empty() {
            return Err(Error::invalid(
                "escalateToUserIds",
                format!("user {user_id} has no phone: link a person with a phone to them in the directory"),
            )
            .into());
        }
    }
    let old = settings(conn, &actor.org_id)?;
    let changes = changes(&old, &new);
    if changes.is_empty() {
        return Ok(old);
    }
    let now = time::now();
    let user_ids = serde_json::to_string(&new.escalate_to_user_ids).unwrap_or_else(|_| "[]".to_owned());
    let (quiet_start, quiet_end) = match &new.quiet_hours {
        Some(q) => (Some(q.start.clone()), Some(q.end.clone())),
        None => (None, None),
    };
    diesel::delete(reminder_settings::table.find(&actor.org_id)).execute(conn)?;
    diesel::insert_into(reminder_settings::table)
        .values((
            reminder_settings::org_id.eq(&actor.org_id),
            reminder_settings::enabled.eq(new.enabled),
            reminder_settings::first_after_minutes.eq(new.first_after_minutes),
            reminder_settings::repeat_every_hours.eq(new.repeat_every_hours),
            reminder_settings::max_reminders.eq(new.max_reminders),
            reminder_settings::escalate_after_hours.eq(new.escalate_after_hours),
            reminder_settings::escalate_to_user_ids.eq(user_ids),
            reminder_settings::escalate_phone.eq(&new.escalate_phone),
            reminder_settings::quiet_start.eq(quiet_start),
            reminder_settings::quiet_end.eq(quiet_end),
            reminder_settings::max_extend_days.eq(new.max_extend_days),
            reminder_settings::updated_at.eq(now),
        ))
        .execute(conn)?;
    let summary = match (old.enabled, new.enabled) {
        (false, true) => "Overdue reminders turned on",
        (true, false) => "Overdue reminders turned off",
        _ => "Overdue reminder settings updated",
    };
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "organisation.remindersUpdated",
            entity_type: "organisation",
            entity_id: &actor.org_id,
            summary: summary.to_owned(),
            changes,
        },
    )?;
    Ok(new)
}

fn changes(old: &ReminderSettings, new: &ReminderSettings) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let quiet = |q: &Option<QuietHours>| q.as_ref().map(|q| format!("{}-{}", q.start, q.end));
    let users = |ids: &[String]| Some(ids.join(", ")).filter(|s| !s.is_empty());
    diff(&mut changes, "enabled", &Some(old.enabled), &Some(new.enabled));
    diff(&mut changes, "firstAfterMinutes", &Some(old.first_after_minutes), &Some(new.first_after_minutes));
    diff(&mut changes, "repeatEveryHours", &Some(old.repeat_every_hours), &Some(new.repeat_every_hours));
    diff(&mut changes, "maxReminders", &Some(old.max_reminders), &Some(new.max_reminders));
    diff(&mut changes, "escalateAfterHours", &Some(old.escalate_after_hours), &Some(new.escalate_after_hours));
    diff(&mut changes, "escalateToUserIds", &users(&old.escalate_to_user_ids), &users(&new.escalate_to_user_ids));
    diff(&mut changes, "escalatePhone", &old.escalate_phone, &new.escalate_phone);
    diff(&mut changes, "quietHours", &quiet(&old.quiet_hours), &quiet(&new.quiet_hours));
    diff(&mut changes, "maxExtendDays", &Some(old.max_extend_days), &Some(new.max_extend_days));
    changes
}

/// The organisations with reminders on, and their settings (the sweep's list).
pub fn enabled(conn: &mut AnyConnection) -> StoreResult<Vec<(String, ReminderSettings)>> {
    let rows: Vec<(String, SettingsRow)> = reminder_settings::table
        .filter(reminder_settings::enabled.eq(true))
        .order(reminder_settings::org_id)
        .select((reminder_settings::org_id, SettingsRow::as_select()))
        .load(conn)?;
    Ok(rows.into_iter().map(|(org, row)| (org, from_row(row))).collect())
}

/// A step's job subject: `key:<id>:<issued µs>.<due µs>:step:<step>`, and, for a step
/// put off by quiet hours that came into force after it was planned, `:after:<µs>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSubject {
    pub key_id: String,
    pub issued_at: NaiveDateTime,
    pub due_at: NaiveDateTime,
    pub step: Step,
}

impl StepSubject {
    pub fn text(&self) -> String {
        let micros = |at: NaiveDateTime| at.and_utc().timestamp_micros();
        format!("key:{}:{}.{}:step:{}", self.key_id, micros(self.issued_at), micros(self.due_at), self.step.as_text())
    }

    pub fn parse(subject: &str) -> Option<StepSubject> {
        let mut parts = subject.split(':');
        let (Some("key"), Some(key_id), Some(cycle), Some("step"), Some(step)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let (issued, due) = cycle.split_once('.')?;
        let at = |micros: &str| chrono::DateTime::from_timestamp_micros(micros.parse().ok()?).map(|at| at.naive_utc());
        Some(StepSubject {
            key_id: key_id.to_owned(),
            issued_at: at(issued)?,
            due_at: at(due)?,
            step: Step::parse(step)?,
        })
    }
}

/// A key the sweep found: id, issued at, due at, `issuedToPhone`, the person's phone, the
/// development's zone.
type SweptKey = (String, Option<NaiveDateTime>, Option<NaiveDateTime>, Option<String>, Option<String>, String);

/// Starts the steps of the organisation's keys that became overdue by `firstAfterMinutes`
/// and have no cycle yet (through the index on `(org_id, status, expected_return_at)`):
/// their `key_reminders` row and one job per first step. Returns how many keys started.
pub fn sweep(conn: &mut AnyConnection, org_id: &str, settings: &ReminderSettings) -> StoreResult<usize> {
    let now = time::now();
    let threshold = now - TimeDelta::minutes(i64::from(settings.first_after_minutes));
    let found: Vec<SweptKey> = keys::table
        .inner_join(developments::table)
        .left_join(people::table)
        .left_join(key_reminders::table)
        .filter(keys::org_id.eq(org_id))
        .filter(keys::status.eq(KeyStatus::Issued.as_str()))
        .filter(keys::expected_return_at.le(threshold))
        .filter(keys::issued_at.is_not_null())
        .filter(
            key_reminders::key_id
                .nullable()
                .is_null()
                .or(key_reminders::due_at.nullable().ne(keys::expected_return_at))
                .or(key_reminders::issued_at.nullable().ne(keys::issued_at)),
        )
        .order((keys::expected_return_at, keys::id))
        .select((
            keys::id,
            keys::issued_at,
            keys::expected_return_at,
            keys::issued_to_phone,
            people::phone.nullable(),
            developments::time_zone,
        ))
        .limit(SWEEP_BATCH)
        .load(conn)?;
    let started = found.len();
    for (key_id, issued_at, due_at, issued_to_phone, person_phone, zone) in found {
        let (Some(issued_at), Some(due_at)) = (issued_at, due_at) else { continue };
        let zone = zone_of(&zone);
        diesel::delete(key_reminders::table.find(&key_id)).execute(conn)?;
        diesel::insert_into(key_reminders::table)
            .values((
                key_reminders::key_id.eq(&key_id),
                key_reminders::org_id.eq(org_id),
                key_reminders::issued_at.eq(issued_at),
                key_reminders::due_at.eq(due_at),
                key_reminders::reminders_sent.eq(0),
                key_reminders::updated_at.eq(now),
            ))
            .execute(conn)?;
        let has_phone = phone_of(person_phone, issued_to_phone).is_some();
        for step in settings.first_steps(has_phone) {
            let planned = step.planned_at(settings, time::from_db(due_at), has_phone);
            let run_at = outside_quiet_hours(settings.quiet_hours.as_ref(), zone, planned);
            let subject = StepSubject { key_id: key_id.clone(), issued_at, due_at, step };
            jobs::enqueue(conn, JobKind::ReminderStep, Some(org_id), &subject.text(), time::to_db(run_at))?;
        }
    }
    Ok(started)
}

/// The development's zone; a name the database should never hold falls back to London.
pub(crate) fn zone_of(name: &str) -> Tz {
    schedule::time_zone("timeZone", name).unwrap_or(chrono_tz::Europe::London)
}

fn phone_of(person_phone: Option<String>, issued_to_phone: Option<String>) -> Option<String> {
    person_phone.or(issued_to_phone).filter(|p| !p.trim().is_empty())
}

/// What a step needs about its key, while the key is still in the step's cycle.
#[derive(Debug, Clone)]
pub struct StepKey {
    pub key_ref: String,
    pub label: String,
    pub development_name: String,
    pub zone: Tz,
    pub issued_to: Option<String>,
    /// The person's phone, else `issuedToPhone`.
    pub holder_phone: Option<String>,
}

/// The key of `subject` if it is still issued in the subject's cycle; `None` when it was
/// returned, extended, issued again or deleted since (the step has nothing to do).
pub fn step_key(conn: &mut AnyConnection, org_id: &str, subject: &StepSubject) -> StoreResult<Option<StepKey>> {
    type Row = (
        String,
        String,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        String,
    );
    let row: Option<Row> = keys::table
        .inner_join(developments::table)
        .left_join(people::table)
        .filter(keys::org_id.eq(org_id))
        .filter(keys::id.eq(&subject.key_id))
        .select((
            keys::key_ref,
            keys::label,
            keys::issued_at,
            keys::expected_return_at,
            keys::status,
            keys::issued_to,
            keys::issued_to_phone,
            people::phone.nullable(),
            developments::name,
            developments::time_zone,
        ))
        .first(conn)
        .optional()?;
    let Some((
        key_ref,
        label,
        issued_at,
        due_at,
        status,
        issued_to,
        issued_to_phone,
        person_phone,
        development_name,
        zone,
    )) = row
    else {
        return Ok(None);
    };
    let in_cycle =
        status == KeyStatus::Issued.as_str() && issued_at == Some(subject.issued_at) && due_at == Some(subject.due_at);
    Ok(in_cycle.then(|| StepKey {
        key_ref,
        label,
        development_name,
        zone: zone_of(&zone),
        issued_to,
        holder_phone: phone_of(person_phone, issued_to_phone),
    }))
}

/// The escalation users' names and phones (the phone of a person of the directory linked
/// to each user, not archived); users without one are left out.
pub fn user_phones(conn: &mut AnyConnection, org_id: &str, user_ids: &[String]) -> StoreResult<Vec<(String, String)>> {
    let rows: Vec<(String, Option<String>)> = people::table
        .inner_join(users::table.on(people::user_id.eq(users::id.nullable())))
        .filter(people::org_id.eq(org_id))
        .filter(users::org_id.eq(org_id))
        .filter(people::user_id.eq_any(user_ids))
        .filter(people::archived_at.is_null())
        .filter(users::disabled.eq(false))
        .order((users::name, users::id))
        .select((users::name, people::phone))
        .load(conn)?;
    let mut phones: Vec<(String, String)> =
        rows.into_iter().filter_map(|(name, phone)| Some((name, phone.filter(|p| !p.trim().is_empty())?))).collect();
    phones.dedup_by(|a, b| a.1 == b.1);
    Ok(phones)
}

/// Who a step reached: the numbers it was sent to, or the (masked) numbers it was not
/// sent to because they texted STOP (the step still counts as passed, and the next one
/// comes: decision 153).
#[derive(Debug, Clone)]
pub enum StepReached {
    SentTo(String),
    OptedOut(String),
}

/// Records a step that was sent (or skipped for an opt-out): the cycle's progress, a
/// movement in the key's history, an audit event, and the next reminder's job.
/// Idempotent: a step already recorded (a job run again) changes nothing and answers
/// `false`.
pub fn record_step(
    conn: &mut AnyConnection,
    org_id: &str,
    subject: &StepSubject,
    settings: &ReminderSettings,
    zone: Tz,
    reached: &StepReached,
) -> StoreResult<bool> {
    super::lock_organisation(conn, org_id)?;
    let progress: Option<(NaiveDateTime, NaiveDateTime, i32, Option<NaiveDateTime>)> = key_reminders::table
        .find(&subject.key_id)
        .filter(key_reminders::org_id.eq(org_id))
        .select((
            key_reminders::issued_at,
            key_reminders::due_at,
            key_reminders::reminders_sent,
            key_reminders::escalated_at,
        ))
        .first(conn)
        .optional()?;
    let Some((issued_at, due_at, sent, escalated_at)) = progress else { return Ok(false) };
    if (issued_at, due_at) != (subject.issued_at, subject.due_at) {
        return Ok(false);
    }
    let now = time::now();
    let row = key_reminders::table.find(&subject.key_id);
    let (action, audit_action, note) = match subject.step {
        Step::Reminder(n) if sent >= n => return Ok(false),
        Step::Reminder(n) => {
            diesel::update(row)
                .set((
                    key_reminders::reminders_sent.eq(n),
                    key_reminders::last_reminder_at.eq(now),
                    key_reminders::updated_at.eq(now),
                ))
                .execute(conn)?;
            let max = settings.max_reminders;
            match reached {
                StepReached::SentTo(to) => {
                    ("reminder_sent", "key.reminderSent", format!("Reminder {n} of {max} sent to {to}"))
                }
                StepReached::OptedOut(to) => (
                    "reminder_skipped",
                    "key.reminderSkipped",
                    format!("Reminder {n} of {max} not sent: {to} texted STOP"),
                ),
            }
        }
        Step::Escalation if escalated_at.is_some() => return Ok(false),
        Step::Escalation => {
            diesel::update(row)
                .set((key_reminders::escalated_at.eq(now), key_reminders::updated_at.eq(now)))
                .execute(conn)?;
            match reached {
                StepReached::SentTo(to) => ("escalated", "key.escalated", format!("Overdue: escalated to {to}")),
                StepReached::OptedOut(to) => (
                    "escalation_skipped",
                    "key.escalationSkipped",
                    format!("Overdue: escalation not sent: {to} texted STOP"),
                ),
            }
        }
    };
    let key_ref: String = keys::table
        .filter(keys::org_id.eq(org_id))
        .filter(keys::id.eq(&subject.key_id))
        .select(keys::key_ref)
        .first(conn)?;
    super::keys::record_note(conn, org_id, &subject.key_id, ACTOR_NAME, action, note.clone())?;
    audit::record_system(
        conn,
        org_id,
        ACTOR_NAME,
        NewEvent {
            action: audit_action,
            entity_type: "key",
            entity_id: &subject.key_id,
            summary: format!("Key {key_ref}: {note}"),
            changes: vec![FieldChange::new("step", None::<&str>, Some(subject.step.as_text()))],
        },
    )?;
    if let Some(next) = settings.next_after(subject.step) {
        let run_at = settings.next_run_at(next, time::from_db(subject.due_at), time::from_db(now), zone);
        let next = StepSubject { step: next, ..subject.clone() };
        jobs::enqueue(conn, JobKind::ReminderStep, Some(org_id), &next.text(), time::to_db(run_at))?;
    }
    Ok(true)
}

/// Enqueues `subject`'s step again at `run_at` (the end of quiet hours that came into
/// force after it was planned), under its own subject.
pub fn put_off(
    conn: &mut AnyConnection,
    org_id: &str,
    subject: &StepSubject,
    run_at: NaiveDateTime,
) -> StoreResult<bool> {
    let text = format!("{}:after:{}", subject.text(), run_at.and_utc().timestamp_micros());
    jobs::enqueue(conn, JobKind::ReminderStep, Some(org_id), &text, run_at)
}

type OverdueRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<i32>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

/// `reports.overdue`: the issued keys past their due time, most overdue first (through
/// the indexes on `(org_id[, development_id], status, expected_return_at)`), with their
/// cycle's reminders.
pub fn overdue(
    conn: &mut AnyConnection,
    org_id: &str,
    development_id: Option<&str>,
    page: PageRequest,
) -> StoreResult<Page<OverdueKey>> {
    let now = time::now();
    if let Some(development_id) = development_id {
        super::developments::get(conn, org_id, development_id)?;
    }
    let filtered = || {
        let mut q = keys::table
            .inner_join(developments::table)
            .left_join(key_reminders::table)
            .filter(keys::org_id.eq(org_id))
            .filter(keys::status.eq(KeyStatus::Issued.as_str()))
            .filter(keys::expected_return_at.lt(now))
            .into_boxed();
        if let Some(development_id) = development_id {
            q = q.filter(keys::development_id.eq(development_id.to_owned()));
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let rows: Vec<OverdueRow> = filtered()
        .order((keys::expected_return_at, keys::id))
        .limit(i64::from(page.limit))
        .offset(page.offset())
        .select((
            keys::id,
            keys::key_ref,
            keys::label,
            keys::development_id,
            developments::name,
            keys::issued_to,
            keys::holder_id,
            keys::issued_at,
            keys::expected_return_at,
            key_reminders::issued_at.nullable(),
            key_reminders::due_at.nullable(),
            key_reminders::reminders_sent.nullable(),
            key_reminders::last_reminder_at.nullable(),
            key_reminders::escalated_at.nullable(),
        ))
        .load(conn)?;
    let items = rows
        .into_iter()
        .filter_map(|row| {
            let (key_id, key_ref, label, development_id, development_name, issued_to, holder_id, issued_at, due_at) =
                (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8?);
            // The progress counts only for the key's current cycle.
            let current = row.9 == issued_at && row.10 == Some(due_at);
            let (sent, last, escalated_at) =
                if current { (row.11.unwrap_or(0), row.12, row.13) } else { (0, None, None) };
            Some(OverdueKey {
                key_id,
                key_ref,
                label,
                development_id,
                development_name,
                issued_to,
                holder_id,
                expected_return_at: time::from_db(due_at),
                overdue_minutes: super::count_i32((now - due_at).num_minutes()),
                reminders_sent: sent,
                last_reminder_at: last.map(time::from_db),
                escalated: escalated_at.is_some(),
                escalated_at: escalated_at.map(time::from_db),
            })
        })
        .collect();
    Ok(Page::counted(items, super::count_i32(total), page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_subject_reads_back() {
        let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap().naive_utc();
        let subject = StepSubject {
            key_id: "0193-abc".to_owned(),
            issued_at: at("2027-01-01T10:00:00.123456Z"),
            due_at: at("2027-01-02T10:00:00Z"),
            step: Step::Reminder(2),
        };
        assert_eq!(StepSubject::parse(&subject.text()), Some(subject.clone()));
        let put_off = format!("{}:after:1", subject.text());
        assert_eq!(StepSubject::parse(&put_off), Some(subject));
        assert_eq!(StepSubject::parse("2030-01-01T00:00:00+00:00"), None);
        assert_eq!(StepSubject::parse("key:x:1.2:step:none"), None);
    }
}
