//! Access grants' weekly schedules and access periods (issue 12 §3, §4): when a grant lets
//! its people through a door.
//!
//! A schedule is a list of windows, each a set of days of the week and a time of day
//! `[start, end)` read on the wall clock of the development's IANA time zone. An empty
//! schedule means "at any time" within the access period. Evaluation is by the wall clock
//! (decision 80): an instant is inside a window when the local date's weekday is one of
//! the window's days and the local time is in `[start, end)`. So on the spring change a
//! window's part that falls in the skipped hour never happens, and on the autumn change a
//! window over the repeated hour is open during both occurrences of it.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{Error, Result};

/// At most this many windows per door of a grant.
pub const MAX_WINDOWS: usize = 28;
/// How far ahead `out_of_schedule` looks for the next open instant.
pub const LOOKAHEAD_DAYS: i64 = 8;

text_enum! {
    /// A day of the week, as schedules name it.
    DayOfWeek {
        Mon = "mon",
        Tue = "tue",
        Wed = "wed",
        Thu = "thu",
        Fri = "fri",
        Sat = "sat",
        Sun = "sun",
    }
}

text_enum! {
    /// Why `access.check` refuses.
    DeniedReason {
        /// No grant of the person covers the door.
        NoGrant = "no_grant",
        /// A grant covers the door, but `at` is before its `startsAt` or at/after its `endsAt`.
        OutsideAccessPeriod = "outside_access_period",
        /// A grant covers the door in its access period, but not at this time of the week.
        OutOfSchedule = "out_of_schedule",
    }
}

/// One window of a weekly schedule as the wire carries it: `start` and `end` are `HH:MM`
/// on the development's wall clock, `end` may be `24:00` (end of the day). A window ends
/// on the day it starts; a night shift is two windows (`22:00`–`24:00`, `00:00`–`06:00`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleWindow {
    pub days: Vec<DayOfWeek>,
    pub start: String,
    pub end: String,
}

/// A validated weekly schedule; empty means "at any time".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    windows: Vec<Window>,
}

/// A grant's access period: from `starts_at` (included) to `ends_at` (excluded, if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessPeriod {
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// Why a door is closed to a person at an instant, and when it would next open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    pub reason: DeniedReason,
    /// The first instant, within [`LOOKAHEAD_DAYS`] of the asked instant (or of the
    /// period's start, when it is later), at which the door would open; `None` when it
    /// does not open in that time or the period is over.
    pub next_allowed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    /// Bit `n` for the day `n` days after Monday.
    days: u8,
    /// Minutes after midnight; `start < end <= 24 * 60`.
    start: u16,
    end: u16,
}

const DAY_MINUTES: u16 = 24 * 60;

impl Schedule {
    /// Validates the windows of the wire; errors name `field[N].days|start|end`.
    pub fn parse(field: &str, windows: &[ScheduleWindow]) -> Result<Schedule> {
        if windows.len() > MAX_WINDOWS {
            return Err(Error::invalid(field, format!("must have at most {MAX_WINDOWS} windows")));
        }
        let windows = windows
            .iter()
            .enumerate()
            .map(|(n, window)| {
                let field = format!("{field}[{n}]");
                if window.days.is_empty() {
                    return Err(Error::invalid(format!("{field}.days"), "must name at least one day"));
                }
                let days = window.days.iter().fold(0u8, |bits, day| bits | day_bit(*day));
                let start = parse_time(&format!("{field}.start"), &window.start, false)?;
                let end = parse_time(&format!("{field}.end"), &window.end, true)?;
                if start >= end {
                    return Err(Error::invalid(
                        format!("{field}.end"),
                        "must be after start (a window past midnight is two windows)",
                    ));
                }
                Ok(Window { days, start, end })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Schedule { windows })
    }

    /// The schedule as the wire shows it: days in week order, times as `HH:MM`.
    pub fn windows(&self) -> Vec<ScheduleWindow> {
        self.windows
            .iter()
            .map(|window| ScheduleWindow {
                days: DayOfWeek::ALL.iter().copied().filter(|day| window.days & day_bit(*day) != 0).collect(),
                start: format_time(window.start),
                end: format_time(window.end),
            })
            .collect()
    }

    /// The schedule in a few words for a person (an SMS): `any time`, or each window as
    /// its days (runs joined: `Mon-Fri`) and times, `Mon-Fri 09:00-17:00, Sat 10:00-12:00`.
    pub fn summary(&self) -> String {
        if self.is_always() {
            return "any time".to_owned();
        }
        let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let windows = self.windows.iter().map(|window| {
            let mut runs: Vec<String> = Vec::new();
            let mut day = 0;
            while day < 7 {
                if window.days & (1 << day) == 0 {
                    day += 1;
                    continue;
                }
                let first = day;
                while day + 1 < 7 && window.days & (1 << (day + 1)) != 0 {
                    day += 1;
                }
                runs.push(if first == day {
                    names[first].to_owned()
                } else {
                    format!("{}-{}", names[first], names[day])
                });
                day += 1;
            }
            format!("{} {}-{}", runs.join(","), format_time(window.start), format_time(window.end))
        });
        windows.collect::<Vec<_>>().join(", ")
    }

    pub fn is_always(&self) -> bool {
        self.windows.is_empty()
    }

    /// Whether the wall clock of `zone` at `at` is inside a window.
    pub fn is_open_at(&self, zone: Tz, at: DateTime<Utc>) -> bool {
        if self.is_always() {
            return true;
        }
        let local = at.with_timezone(&zone).naive_local();
        let weekday = day_bit_of(local.date());
        let second = local.time().num_seconds_from_midnight();
        self.windows.iter().any(|window| {
            window.days & weekday != 0 && second >= u32::from(window.start) * 60 && second < u32::from(window.end) * 60
        })
    }

    /// The first instant in `[from, until)` at which the schedule is open, if any.
    ///
    /// The schedule can only open where the wall clock reaches a window's start, or where
    /// it jumps (an offset change) into a window; those instants are the candidates.
    pub fn next_open(&self, zone: Tz, from: DateTime<Utc>, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if from >= until {
            return None;
        }
        if self.is_open_at(zone, from) {
            return Some(from);
        }
        let first_day = from.with_timezone(&zone).date_naive().pred_opt()?;
        let last_day = until.with_timezone(&zone).date_naive().succ_opt()?;
        let mut candidates = Vec::new();
        for day in first_day.iter_days().take_while(|day| *day <= last_day) {
            let weekday = day_bit_of(day);
            for window in self.windows.iter().filter(|window| window.days & weekday != 0) {
                let start = NaiveTime::from_num_seconds_from_midnight_opt(u32::from(window.start) * 60, 0)?;
                // A start in the spring gap has no instant: the offset change is the candidate.
                let local = zone.from_local_datetime(&day.and_time(start));
                candidates.extend(local.earliest().map(|at| at.with_timezone(&Utc)));
                candidates.extend(local.latest().map(|at| at.with_timezone(&Utc)));
            }
        }
        candidates.extend(offset_changes(zone, from, until));
        candidates.into_iter().filter(|at| *at > from && *at < until && self.is_open_at(zone, *at)).min()
    }

    /// Whether a grant with this schedule and `period` lets its people through at `at`.
    pub fn allowed_at(&self, zone: Tz, period: &AccessPeriod, at: DateTime<Utc>) -> Result<(), Denied> {
        let lookahead = |from: DateTime<Utc>| {
            let until = from + Duration::days(LOOKAHEAD_DAYS);
            let until = period.ends_at.map_or(until, |ends_at| ends_at.min(until));
            self.next_open(zone, from, until)
        };
        if at < period.starts_at {
            let next_allowed_at = lookahead(period.starts_at);
            return Err(Denied { reason: DeniedReason::OutsideAccessPeriod, next_allowed_at });
        }
        if period.ends_at.is_some_and(|ends_at| at >= ends_at) {
            return Err(Denied { reason: DeniedReason::OutsideAccessPeriod, next_allowed_at: None });
        }
        if self.is_open_at(zone, at) {
            return Ok(());
        }
        Err(Denied { reason: DeniedReason::OutOfSchedule, next_allowed_at: lookahead(at) })
    }
}

impl AccessPeriod {
    /// Validates the period of the wire: `endsAt`, when given, is after `startsAt`.
    pub fn new(starts_at: DateTime<Utc>, ends_at: Option<DateTime<Utc>>) -> Result<AccessPeriod> {
        let starts_at = crate::validate::instant("startsAt", starts_at)?;
        let ends_at = ends_at.map(|ends_at| crate::validate::instant("endsAt", ends_at)).transpose()?;
        if ends_at.is_some_and(|ends_at| ends_at <= starts_at) {
            return Err(Error::invalid("endsAt", "must be after startsAt"));
        }
        Ok(AccessPeriod { starts_at, ends_at })
    }
}

/// Which of several grants lets a person through a door at `at`: the first that does
/// (its `G`), or why none does. The most hopeful refusal wins: `out_of_schedule` (a grant
/// is in its period) over `outside_access_period` over `no_grant`; `next_allowed_at` is
/// the earliest among the grants.
pub fn decide<G>(grants: impl IntoIterator<Item = (G, Result<(), Denied>)>) -> Result<G, Denied> {
    let mut best: Option<Denied> = None;
    for (grant, verdict) in grants {
        let denied = match verdict {
            Ok(()) => return Ok(grant),
            Err(denied) => denied,
        };
        best = Some(match best {
            None => denied,
            Some(best) => {
                let reason = if rank(denied.reason) > rank(best.reason) { denied.reason } else { best.reason };
                let next_allowed_at = match (best.next_allowed_at, denied.next_allowed_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                Denied { reason, next_allowed_at }
            }
        });
    }
    Err(best.unwrap_or(Denied { reason: DeniedReason::NoGrant, next_allowed_at: None }))
}

/// An IANA time zone name (`Europe/London`), as developments carry it.
pub fn time_zone(field: &str, name: &str) -> Result<Tz> {
    name.parse::<Tz>().map_err(|_| Error::invalid(field, "must be an IANA time zone such as Europe/London"))
}

fn rank(reason: DeniedReason) -> u8 {
    match reason {
        DeniedReason::NoGrant => 0,
        DeniedReason::OutsideAccessPeriod => 1,
        DeniedReason::OutOfSchedule => 2,
    }
}

fn day_bit(day: DayOfWeek) -> u8 {
    let index = DayOfWeek::ALL.iter().position(|d| *d == day).unwrap_or(0);
    1 << index
}

fn day_bit_of(date: NaiveDate) -> u8 {
    1 << date.weekday().num_days_from_monday()
}

/// `HH:MM`, two digits each; `24:00` only when `end_of_day` is allowed.
fn parse_time(field: &str, value: &str, end_of_day: bool) -> Result<u16> {
    let refuse = || {
        Error::invalid(
            field,
            if end_of_day { "must be HH:MM, 00:01 to 24:00" } else { "must be HH:MM, 00:00 to 23:59" },
        )
    };
    let bytes = value.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' || !bytes.iter().enumerate().all(|(n, b)| n == 2 || b.is_ascii_digit()) {
        return Err(refuse());
    }
    let hours = u16::from(bytes[0] - b'0') * 10 + u16::from(bytes[1] - b'0');
    let minutes = u16::from(bytes[3] - b'0') * 10 + u16::from(bytes[4] - b'0');
    let total = hours * 60 + minutes;
    match (hours, minutes) {
        (0..=23, 0..=59) => Ok(total),
        (24, 0) if end_of_day => Ok(DAY_MINUTES),
        _ => Err(refuse()),
    }
}

fn format_time(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The instants in `(from, until]` at which `zone`'s offset from UTC changes. Zones change
/// offset at most once in six hours, so each six-hour step holds at most one change, found
/// by bisection to the second.
fn offset_changes(zone: Tz, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let offset = |at: DateTime<Utc>| zone.offset_from_utc_datetime(&at.naive_utc()).fix();
    let step = Duration::hours(6);
    let mut changes = Vec::new();
    let mut low = from;
    while low < until {
        let high = (low + step).min(until);
        if offset(low) != offset(high) {
            // Invariant: offset(a) == offset(low) and offset(b) == offset(high).
            let (mut a, mut b) = (low, high);
            while b - a > Duration::seconds(1) {
                let middle = a + (b - a) / 2;
                if offset(middle) == offset(low) { a = middle } else { b = middle }
            }
            changes.push(b.with_nanosecond(0).unwrap_or(b));
        }
        low = high;
    }
    changes
}

#[cfg(test)]
mod tests;
