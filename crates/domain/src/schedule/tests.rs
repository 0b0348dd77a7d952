//! Schedules over the spring and autumn changes of Europe/London, validation, and the
//! refusal `access.check` answers.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Europe::London;

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn window(days: &[DayOfWeek], start: &str, end: &str) -> ScheduleWindow {
    ScheduleWindow { days: days.to_vec(), start: start.to_owned(), end: end.to_owned() }
}

fn schedule(windows: &[ScheduleWindow]) -> Schedule {
    Schedule::parse("schedule", windows).unwrap()
}

const WEEKDAYS: [DayOfWeek; 5] = [DayOfWeek::Mon, DayOfWeek::Tue, DayOfWeek::Wed, DayOfWeek::Thu, DayOfWeek::Fri];
// Europe/London in 2027: clocks go forward at 2027-03-28T01:00Z (01:00 GMT → 02:00 BST) and
// back at 2027-10-31T01:00Z (02:00 BST → 01:00 GMT). Both are Sundays.
const SUN: [DayOfWeek; 1] = [DayOfWeek::Sun];

fn always_from(starts_at: &str) -> AccessPeriod {
    AccessPeriod::new(utc(starts_at), None).unwrap()
}

#[test]
fn windows_are_validated_naming_the_field() {
    let refused = |windows: &[ScheduleWindow]| Schedule::parse("doors[0].schedule", windows).unwrap_err();
    let field = |error: Error| match error {
        Error::InvalidInput { field, .. } => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(refused(&[window(&[], "08:00", "09:00")])), "doors[0].schedule[0].days");
    let ok = window(&SUN, "08:00", "09:00");
    for bad in ["8:00", "08:60", "24:00", "25:00", "0800", "08:0a", "08-00", "", "08:00:00", "é:000", " 8:00"] {
        let error = refused(&[ok.clone(), window(&SUN, bad, "23:00")]);
        assert_eq!(field(error), "doors[0].schedule[1].start", "{bad:?}");
    }
    for bad in ["24:01", "00:00", "07:59", "08:00", "99:99"] {
        assert_eq!(field(refused(&[window(&SUN, "08:00", bad)])), "doors[0].schedule[0].end", "{bad:?}");
    }
    let too_many = vec![ok.clone(); MAX_WINDOWS + 1];
    assert_eq!(field(refused(&too_many)), "doors[0].schedule");
    assert!(Schedule::parse("s", &vec![ok; MAX_WINDOWS]).is_ok());
}

#[test]
fn the_wire_shape_is_normalised_days_in_week_order() {
    use DayOfWeek::*;
    let parsed = schedule(&[window(&[Sun, Mon, Sun, Wed], "22:00", "24:00"), window(&[Mon], "00:00", "06:30")]);
    assert_eq!(parsed.windows(), [window(&[Mon, Wed, Sun], "22:00", "24:00"), window(&[Mon], "00:00", "06:30")]);
    assert_eq!(Schedule::parse("s", &parsed.windows()).unwrap(), parsed);
    let json = serde_json::to_value(&parsed.windows()[1]).unwrap();
    assert_eq!(json, serde_json::json!({"days": ["mon"], "start": "00:00", "end": "06:30"}));
}

#[test]
fn an_empty_schedule_is_open_at_any_time_of_the_period() {
    let always = Schedule::default();
    assert!(always.is_always());
    let period = AccessPeriod::new(utc("2027-01-01T00:00:00Z"), Some(utc("2027-02-01T00:00:00Z"))).unwrap();
    assert_eq!(always.allowed_at(London, &period, utc("2027-01-10T03:17:00Z")), Ok(()));
    assert_eq!(
        always.allowed_at(London, &period, utc("2027-02-01T00:00:00Z")),
        Err(Denied { reason: DeniedReason::OutsideAccessPeriod, next_allowed_at: None })
    );
    assert_eq!(
        always.allowed_at(London, &period, utc("2026-12-25T00:00:00Z")),
        Err(Denied { reason: DeniedReason::OutsideAccessPeriod, next_allowed_at: Some(period.starts_at) })
    );
}

#[test]
fn a_weekday_window_is_read_on_the_local_wall_clock() {
    let office = schedule(&[window(&WEEKDAYS, "09:00", "17:00")]);
    let period = always_from("2027-01-01T00:00:00Z");
    // July: BST, so 09:00 local is 08:00 UTC. 2027-07-05 is a Monday.
    assert!(office.allowed_at(London, &period, utc("2027-07-05T08:00:00Z")).is_ok());
    assert!(office.allowed_at(London, &period, utc("2027-07-05T15:59:59Z")).is_ok());
    let closed = office.allowed_at(London, &period, utc("2027-07-05T07:59:59Z")).unwrap_err();
    assert_eq!(
        closed,
        Denied { reason: DeniedReason::OutOfSchedule, next_allowed_at: Some(utc("2027-07-05T08:00:00Z")) }
    );
    // Friday 17:00 local: the next opening is Monday 09:00 local.
    let weekend = office.allowed_at(London, &period, utc("2027-07-09T16:00:00Z")).unwrap_err();
    assert_eq!(weekend.next_allowed_at, Some(utc("2027-07-12T08:00:00Z")));
    // January: GMT, 09:00 local is 09:00 UTC.
    assert!(office.allowed_at(London, &period, utc("2027-01-04T08:30:00Z")).is_err());
    assert!(office.allowed_at(London, &period, utc("2027-01-04T09:00:00Z")).is_ok());
}

#[test]
fn the_next_opening_is_bounded_by_the_period_and_the_lookahead() {
    let office = schedule(&[window(&WEEKDAYS, "09:00", "17:00")]);
    // The period ends on Saturday: after Friday's closing there is no next opening.
    let period = AccessPeriod::new(utc("2027-01-01T00:00:00Z"), Some(utc("2027-07-10T00:00:00Z"))).unwrap();
    let friday_evening = office.allowed_at(London, &period, utc("2027-07-09T18:00:00Z")).unwrap_err();
    assert_eq!(friday_evening, Denied { reason: DeniedReason::OutOfSchedule, next_allowed_at: None });
    // A period that has not started answers the first opening after its start.
    let later = AccessPeriod::new(utc("2027-07-10T00:00:00Z"), None).unwrap();
    let before = office.allowed_at(London, &later, utc("2027-07-01T12:00:00Z")).unwrap_err();
    assert_eq!(before.reason, DeniedReason::OutsideAccessPeriod);
    assert_eq!(before.next_allowed_at, Some(utc("2027-07-12T08:00:00Z")));
    // A window once a week is always found within the lookahead.
    let sundays = schedule(&[window(&SUN, "10:00", "10:01")]);
    let monday = utc("2027-07-05T10:00:00Z");
    let next = sundays.next_open(London, monday, monday + Duration::days(LOOKAHEAD_DAYS));
    assert_eq!(next, Some(utc("2027-07-11T09:00:00Z")));
    assert_eq!(sundays.next_open(London, monday, utc("2027-07-11T09:00:00Z")), None);
}

#[test]
fn a_window_spanning_the_spring_change_loses_the_skipped_hour() {
    let night = schedule(&[window(&SUN, "00:30", "03:00")]);
    let period = always_from("2027-01-01T00:00:00Z");
    let open = |at: &str| night.allowed_at(London, &period, utc(at)).is_ok();
    assert!(!open("2027-03-28T00:29:59Z"));
    assert!(open("2027-03-28T00:30:00Z")); // 00:30 GMT
    assert!(open("2027-03-28T00:59:59Z")); // 00:59:59 GMT
    assert!(open("2027-03-28T01:00:00Z")); // 02:00 BST: the clock jumped over 01:00–02:00
    assert!(open("2027-03-28T01:59:59Z")); // 02:59:59 BST
    assert!(!open("2027-03-28T02:00:00Z")); // 03:00 BST
    // The next Sunday it opens at 00:30 BST.
    let after = night.allowed_at(London, &period, utc("2027-03-28T02:00:00Z")).unwrap_err();
    assert_eq!(after.next_allowed_at, Some(utc("2027-04-03T23:30:00Z")));
}

#[test]
fn a_window_starting_in_the_spring_gap_opens_when_the_clock_jumps_into_it() {
    let late = schedule(&[window(&SUN, "01:30", "03:00")]);
    let period = always_from("2027-01-01T00:00:00Z");
    let denied = late.allowed_at(London, &period, utc("2027-03-28T00:15:00Z")).unwrap_err();
    assert_eq!(denied.next_allowed_at, Some(utc("2027-03-28T01:00:00Z")));
    assert!(late.is_open_at(London, utc("2027-03-28T01:00:00Z")));
    assert!(!late.is_open_at(London, utc("2027-03-28T00:59:59Z")));
}

#[test]
fn a_window_inside_the_spring_gap_does_not_happen_that_day() {
    let gap = schedule(&[window(&SUN, "01:00", "02:00")]);
    let period = always_from("2027-01-01T00:00:00Z");
    let denied = gap.allowed_at(London, &period, utc("2027-03-27T12:00:00Z")).unwrap_err();
    // Not on 2027-03-28 (01:00–02:00 local does not exist), but the Sunday after, in BST.
    assert_eq!(denied.next_allowed_at, Some(utc("2027-04-04T00:00:00Z")));
    let sunday = utc("2027-03-28T00:00:00Z");
    assert!((0..24 * 60).all(|minute| !gap.is_open_at(London, sunday + Duration::minutes(minute))));
}

#[test]
fn a_window_spanning_the_autumn_change_includes_the_repeated_hour() {
    let night = schedule(&[window(&SUN, "00:00", "03:00")]);
    let period = always_from("2027-01-01T00:00:00Z");
    let open = |at: &str| night.allowed_at(London, &period, utc(at)).is_ok();
    assert!(!open("2027-10-30T22:59:59Z")); // Saturday 23:59:59 BST
    assert!(open("2027-10-30T23:00:00Z")); // Sunday 00:00 BST
    assert!(open("2027-10-31T00:30:00Z")); // 01:30 BST
    assert!(open("2027-10-31T01:30:00Z")); // 01:30 GMT, the second time
    assert!(open("2027-10-31T02:59:59Z")); // 02:59:59 GMT
    assert!(!open("2027-10-31T03:00:00Z")); // 03:00 GMT: four hours after it opened
    let open_minutes = (0..6 * 60)
        .filter(|minute| night.is_open_at(London, utc("2027-10-30T22:00:00Z") + Duration::minutes(*minute)))
        .count();
    assert_eq!(open_minutes, 4 * 60);
}

#[test]
fn a_window_inside_the_repeated_hour_opens_twice() {
    let repeated = schedule(&[window(&SUN, "01:00", "01:30")]);
    let period = always_from("2027-01-01T00:00:00Z");
    let open = |at: &str| repeated.allowed_at(London, &period, utc(at)).is_ok();
    assert!(open("2027-10-31T00:00:00Z")); // 01:00 BST
    assert!(!open("2027-10-31T00:30:00Z")); // 01:30 BST
    let between = repeated.allowed_at(London, &period, utc("2027-10-31T00:45:00Z")).unwrap_err();
    assert_eq!(
        between,
        Denied { reason: DeniedReason::OutOfSchedule, next_allowed_at: Some(utc("2027-10-31T01:00:00Z")) }
    );
    assert!(open("2027-10-31T01:29:59Z")); // 01:29:59 GMT
    assert!(!open("2027-10-31T01:30:00Z"));
    // A window that starts after the repeated hour's first pass reopens as the clock goes back.
    let straddling = schedule(&[window(&SUN, "01:45", "02:15")]);
    assert!(straddling.is_open_at(London, utc("2027-10-31T00:59:59Z"))); // 01:59:59 BST
    assert!(!straddling.is_open_at(London, utc("2027-10-31T01:00:00Z"))); // 01:00 GMT
    let next = straddling.next_open(London, utc("2027-10-31T01:00:00Z"), utc("2027-11-08T00:00:00Z"));
    assert_eq!(next, Some(utc("2027-10-31T01:45:00Z")));
}

#[test]
fn the_most_hopeful_refusal_wins_and_any_grant_that_allows_is_enough() {
    let denied = |reason, next: Option<&str>| Err(Denied { reason, next_allowed_at: next.map(utc) });
    assert_eq!(decide::<&str>([]), Err(Denied { reason: DeniedReason::NoGrant, next_allowed_at: None }));
    let verdicts = [
        ("a", denied(DeniedReason::OutsideAccessPeriod, Some("2027-01-02T00:00:00Z"))),
        ("b", denied(DeniedReason::OutOfSchedule, Some("2027-01-03T00:00:00Z"))),
        ("c", denied(DeniedReason::OutsideAccessPeriod, None)),
    ];
    assert_eq!(
        decide(verdicts),
        Err(Denied { reason: DeniedReason::OutOfSchedule, next_allowed_at: Some(utc("2027-01-02T00:00:00Z")) })
    );
    let mut with_open = verdicts.to_vec();
    with_open.insert(1, ("open", Ok(())));
    assert_eq!(decide(with_open), Ok("open"));
}

#[test]
fn periods_end_after_they_start() {
    let at = utc("2027-01-01T00:00:00Z");
    assert!(AccessPeriod::new(at, Some(at)).is_err());
    assert!(AccessPeriod::new(at, Some(at - Duration::seconds(1))).is_err());
    assert!(AccessPeriod::new(at, Some(at + Duration::seconds(1))).is_ok());
    let names: Vec<&str> = DeniedReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(names, ["no_grant", "outside_access_period", "out_of_schedule"]);
}

#[test]
fn summary_joins_runs_of_days() {
    assert_eq!(schedule(&[]).summary(), "any time");
    let windows = [
        window(&WEEKDAYS, "09:00", "17:30"),
        window(&[DayOfWeek::Sat], "10:00", "24:00"),
        window(&[DayOfWeek::Mon, DayOfWeek::Wed, DayOfWeek::Thu, DayOfWeek::Sun], "00:00", "06:00"),
    ];
    assert_eq!(schedule(&windows).summary(), "Mon-Fri 09:00-17:30, Sat 10:00-24:00, Mon,Wed-Thu,Sun 00:00-06:00");
}
