//! Overdue reminders with escalation (issue 13 §2): the organisation's settings, the steps
//! a key that is not back goes through, when each is due, and quiet hours. The jobs that
//! send them are in `keyward_rpc::jobs`; the tables in `keyward_persistence::repo::reminders`.
//!
//! A key issued with `expectedReturnAt` that passes it by `firstAfterMinutes` gets
//! `Reminder(1)`, then one every `repeatEveryHours` up to `maxReminders`; after
//! `escalateAfterHours` (or at once, when the holder has no phone) the `Escalation` goes to
//! the chosen users and/or number. Every instant that falls in the quiet hours of the
//! development's wall clock moves to their end (decision 131).

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::schedule::{DayOfWeek, Schedule, ScheduleWindow};
use crate::{Error, Result};

/// At most this many reminders per overdue key.
pub const MAX_REMINDERS: i32 = 10;
/// A holder's `EXTEND n` may ask for at most this many days, whatever the policy.
pub const MAX_EXTEND_DAYS: i32 = 90;
/// At most this many users to escalate to.
pub const MAX_ESCALATION_USERS: usize = 10;

/// The organisation's overdue-reminder settings (`settings.getReminders`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ReminderSettings {
    /// Off by default: nothing is sent until the owner turns it on.
    pub enabled: bool,
    /// The first reminder, this many minutes after `expectedReturnAt` (0 to 10080; default 60).
    pub first_after_minutes: i32,
    /// The next reminders, every this many hours (1 to 168; default 24).
    pub repeat_every_hours: i32,
    /// At most this many reminders to the holder (0 to 10; default 3).
    pub max_reminders: i32,
    /// The escalation, this many hours after `expectedReturnAt` (1 to 720; default 48).
    pub escalate_after_hours: i32,
    /// Users told on escalation, by the phone of the person linked to them in the directory.
    pub escalate_to_user_ids: Vec<String>,
    /// A number told on escalation (E.164).
    pub escalate_phone: Option<String>,
    /// Nothing is sent in these hours of the development's wall clock; what falls in them
    /// is sent when they end.
    pub quiet_hours: Option<QuietHours>,
    /// A holder may text `EXTEND n` for 1 to this many days (1 to 90; default 7).
    pub max_extend_days: i32,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        ReminderSettings {
            enabled: false,
            first_after_minutes: 60,
            repeat_every_hours: 24,
            max_reminders: 3,
            escalate_after_hours: 48,
            escalate_to_user_ids: Vec::new(),
            escalate_phone: None,
            quiet_hours: None,
            max_extend_days: 7,
        }
    }
}

/// Quiet hours: `start` to `end`, `HH:MM` on the development's wall clock; `22:00` to
/// `08:00` spans midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

/// Checks a number of the settings against its bounds; the error names `field`.
pub fn bounded(field: &str, value: i32, min: i32, max: i32) -> Result<i32> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(field, format!("must be between {min} and {max}")))
    }
}

impl QuietHours {
    /// Validates `HH:MM` times (`00:00` to `23:59`), different from each other.
    pub fn new(start: &str, end: &str) -> Result<QuietHours> {
        let start_minutes = minutes("quietHours.start", start)?;
        let end_minutes = minutes("quietHours.end", end)?;
        if start_minutes == end_minutes {
            return Err(Error::invalid("quietHours.end", "must differ from start"));
        }
        Ok(QuietHours { start: hhmm(start_minutes), end: hhmm(end_minutes) })
    }

    /// The hours outside the quiet ones, as a weekly schedule (every day).
    fn sending_hours(&self) -> Schedule {
        let (start, end) = (self.start.clone(), self.end.clone());
        let window = |start: String, end: String| ScheduleWindow { days: DayOfWeek::ALL.to_vec(), start, end };
        let mut windows = Vec::new();
        if start < end {
            if start != "00:00" {
                windows.push(window("00:00".to_owned(), start));
            }
            windows.push(window(end, "24:00".to_owned()));
        } else {
            windows.push(window(end, start));
        }
        Schedule::parse("quietHours", &windows).unwrap_or_default()
    }

    /// Whether `at` falls in the quiet hours of `zone`'s wall clock.
    pub fn is_quiet_at(&self, zone: Tz, at: DateTime<Utc>) -> bool {
        !self.sending_hours().is_open_at(zone, at)
    }

    /// `at`, or the end of the quiet hours it falls in (on the wall clock of `zone`, so a
    /// daylight-saving change moves the instant, not the local time).
    pub fn end_from(&self, zone: Tz, at: DateTime<Utc>) -> DateTime<Utc> {
        self.sending_hours().next_open(zone, at, at + TimeDelta::days(2)).unwrap_or(at)
    }
}

/// `at` moved out of the quiet hours, if there are any.
pub fn outside_quiet_hours(quiet: Option<&QuietHours>, zone: Tz, at: DateTime<Utc>) -> DateTime<Utc> {
    quiet.map_or(at, |quiet| quiet.end_from(zone, at))
}

fn minutes(field: &str, text: &str) -> Result<u16> {
    let refuse = || Error::invalid(field, "must be a time HH:MM between 00:00 and 23:59");
    let (h, m) = text.split_once(':').ok_or_else(refuse)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(refuse());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| refuse())?, m.parse().map_err(|_| refuse())?);
    if h > 23 || m > 59 {
        return Err(refuse());
    }
    Ok(h * 60 + m)
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// An overdue key in `reports.overdue`: issued, past its `expectedReturnAt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OverdueKey {
    pub key_id: String,
    pub key_ref: String,
    pub label: String,
    pub development_id: String,
    pub development_name: String,
    /// The holder's name as issued.
    pub issued_to: Option<String>,
    /// The person of the directory holding it, if any.
    pub holder_id: Option<String>,
    pub expected_return_at: DateTime<Utc>,
    /// Whole minutes since `expectedReturnAt`.
    pub overdue_minutes: i32,
    /// Reminders sent for this issue and due time.
    pub reminders_sent: i32,
    pub last_reminder_at: Option<DateTime<Utc>>,
    pub escalated: bool,
    pub escalated_at: Option<DateTime<Utc>>,
}

/// One step of an overdue key's reminders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The `n`-th reminder to the holder (from 1).
    Reminder(i32),
    /// The message to the escalation users and number.
    Escalation,
}

impl Step {
    /// The step as a job's subject and an idempotency key name it: `1`, `2`, …, `escalation`.
    pub fn as_text(self) -> String {
        match self {
            Step::Reminder(n) => n.to_string(),
            Step::Escalation => "escalation".to_owned(),
        }
    }

    pub fn parse(text: &str) -> Option<Step> {
        match text {
            "escalation" => Some(Step::Escalation),
            n => n.parse().ok().filter(|n| *n >= 1).map(Step::Reminder),
        }
    }

    /// When the step is planned, before quiet hours: reminder `n` at `due + first + (n-1)
    /// × repeat`; the escalation at `due + escalateAfter`, or with the first reminder's
    /// time when the holder has no phone.
    pub fn planned_at(self, settings: &ReminderSettings, due: DateTime<Utc>, holder_has_phone: bool) -> DateTime<Utc> {
        let first = due + TimeDelta::minutes(i64::from(settings.first_after_minutes));
        match self {
            Step::Reminder(n) => first + TimeDelta::hours(i64::from(settings.repeat_every_hours) * i64::from(n - 1)),
            Step::Escalation if !holder_has_phone => first,
            Step::Escalation => due + TimeDelta::hours(i64::from(settings.escalate_after_hours)),
        }
    }
}

impl ReminderSettings {
    /// Whether an escalation has anyone to go to.
    pub fn escalates(&self) -> bool {
        !self.escalate_to_user_ids.is_empty() || self.escalate_phone.is_some()
    }

    /// The steps an overdue key starts with: the first reminder (when the holder has a
    /// phone and reminders are wanted) and the escalation (when it has recipients).
    pub fn first_steps(&self, holder_has_phone: bool) -> Vec<Step> {
        let mut steps = Vec::new();
        if holder_has_phone && self.max_reminders >= 1 {
            steps.push(Step::Reminder(1));
        }
        if self.escalates() {
            steps.push(Step::Escalation);
        }
        steps
    }

    /// The step after `step` has been sent: the next reminder while under the maximum.
    pub fn next_after(&self, step: Step) -> Option<Step> {
        match step {
            Step::Reminder(n) if n < self.max_reminders => Some(Step::Reminder(n + 1)),
            _ => None,
        }
    }

    /// When the step after one sent at `sent_at` runs: its planned time, but never less
    /// than the repeat interval after the last one (a reminder held by quiet hours or a
    /// late start does not bring the next one forward); then out of quiet hours.
    pub fn next_run_at(&self, next: Step, due: DateTime<Utc>, sent_at: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        let planned = next.planned_at(self, due, true);
        let spaced = sent_at + TimeDelta::hours(i64::from(self.repeat_every_hours));
        outside_quiet_hours(self.quiet_hours.as_ref(), zone, planned.max(spaced))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const LONDON: Tz = chrono_tz::Europe::London;

    #[test]
    fn quiet_hours_are_checked_and_normalised() {
        assert_eq!(QuietHours::new("22:00", "08:00").unwrap().start, "22:00");
        assert_eq!(
            QuietHours::new("22:00", "22:00").unwrap_err(),
            Error::invalid("quietHours.end", "must differ from start")
        );
        for bad in ["24:00", "7:00", "07:60", "noon", "", "07:00:00"] {
            assert!(QuietHours::new(bad, "08:00").is_err(), "{bad}");
        }
        assert!(QuietHours::new("08:00", "24:00").is_err());
    }

    #[test]
    fn an_instant_in_quiet_hours_moves_to_their_end_on_the_wall_clock() {
        let night = QuietHours::new("22:00", "08:00").unwrap();
        // Winter: London is on UTC.
        assert_eq!(night.end_from(LONDON, at("2027-01-10T23:30:00Z")), at("2027-01-11T08:00:00Z"));
        assert_eq!(night.end_from(LONDON, at("2027-01-10T12:00:00Z")), at("2027-01-10T12:00:00Z"));
        assert!(night.is_quiet_at(LONDON, at("2027-01-10T07:59:00Z")));
        assert!(!night.is_quiet_at(LONDON, at("2027-01-10T08:00:00Z")));
        // The spring change (28 March 2027, 01:00 UTC): 08:00 is then 07:00 UTC.
        assert_eq!(night.end_from(LONDON, at("2027-03-28T00:30:00Z")), at("2027-03-28T07:00:00Z"));
        assert_eq!(night.end_from(LONDON, at("2027-03-28T03:00:00Z")), at("2027-03-28T07:00:00Z"));
        // Daytime quiet hours, and ones from midnight.
        let lunch = QuietHours::new("12:00", "13:30").unwrap();
        assert_eq!(lunch.end_from(LONDON, at("2027-01-10T12:10:00Z")), at("2027-01-10T13:30:00Z"));
        let small = QuietHours::new("00:00", "06:00").unwrap();
        assert_eq!(small.end_from(LONDON, at("2027-01-10T03:00:00Z")), at("2027-01-10T06:00:00Z"));
        assert_eq!(outside_quiet_hours(None, LONDON, at("2027-01-10T03:00:00Z")), at("2027-01-10T03:00:00Z"));
    }

    #[test]
    fn steps_are_planned_from_the_due_time() {
        let settings = ReminderSettings { escalate_phone: Some("+447400123456".to_owned()), ..Default::default() };
        let due = at("2027-01-10T10:00:00Z");
        assert_eq!(Step::Reminder(1).planned_at(&settings, due, true), at("2027-01-10T11:00:00Z"));
        assert_eq!(Step::Reminder(3).planned_at(&settings, due, true), at("2027-01-12T11:00:00Z"));
        assert_eq!(Step::Escalation.planned_at(&settings, due, true), at("2027-01-12T10:00:00Z"));
        assert_eq!(Step::Escalation.planned_at(&settings, due, false), at("2027-01-10T11:00:00Z"));
        assert_eq!(settings.first_steps(true), [Step::Reminder(1), Step::Escalation]);
        assert_eq!(settings.first_steps(false), [Step::Escalation]);
        assert_eq!(ReminderSettings::default().first_steps(false), []);
        assert_eq!(settings.next_after(Step::Reminder(2)), Some(Step::Reminder(3)));
        assert_eq!(settings.next_after(Step::Reminder(3)), None);
        assert_eq!(settings.next_after(Step::Escalation), None);
        // A reminder sent late does not bring the next one closer than the interval.
        let late = at("2027-01-11T09:00:00Z");
        assert_eq!(settings.next_run_at(Step::Reminder(2), due, late, LONDON), at("2027-01-12T09:00:00Z"));
    }

    #[test]
    fn steps_read_back_from_their_text() {
        for step in [Step::Reminder(1), Step::Reminder(10), Step::Escalation] {
            assert_eq!(Step::parse(&step.as_text()), Some(step));
        }
        assert_eq!(Step::parse("0"), None);
        assert_eq!(Step::parse("x"), None);
    }
}
