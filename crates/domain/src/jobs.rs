//! Background jobs (issue 13 §1): what kinds there are, the states a job goes through,
//! and the rules of their schedule (recurring slots, retries). The runner is in
//! `keyward_rpc::jobs`, the table in `keyward_persistence::repo::jobs`.

use chrono::{DateTime, TimeDelta, Utc};

use serde::{Deserialize, Serialize};
use specta::Type;

text_enum! {
    /// What a job does.
    JobKind {
        /// Every minute: SMS sends left `pending` past the timeout become `unknown`.
        SmsSweep = "sms_sweep",
        /// Every hour: expired sessions, idle login failures and finished jobs past their
        /// retention are deleted.
        Purge = "purge",
        /// Every minute: overdue keys of organisations with reminders on start their
        /// reminder steps (issue 13 §2).
        ReminderSweep = "reminder_sweep",
        /// One step of an overdue key: a reminder to its holder or the escalation.
        ReminderStep = "reminder_step",
        /// One attempt of one webhook delivery (subject `<deliveryId>:<attempt>`).
        WebhookDelivery = "webhook_delivery",
        /// Every day at 06:00 UTC: each organisation with reminders on and keys overdue
        /// records its daily digest (the `overdue.digest` audit action and webhook event).
        OverdueDigest = "overdue_digest",
        /// Every hour: the due-day counts of days more than a week past fold into one
        /// row per development, so that the summary's overdue figure reads a week of
        /// days and not every day since the register began (decision 182).
        FoldDueDays = "fold_due_days",
        /// Every hour: the query planner's statistics are gathered again where they are
        /// missing or stale (SQLite; PostgreSQL's autovacuum does it by itself; decision
        /// 188).
        PlannerStats = "planner_stats",
    }
}

text_enum! {
    /// `pending` → `running` (claimed, under a lease) → `done`; a failed run goes back
    /// to `pending` with a later `runAt` until its attempts are used up (`failed`); a
    /// lease that expires (the node died) makes it claimable again.
    JobState {
        Pending = "pending",
        Running = "running",
        Done = "done",
        Failed = "failed",
    }
}

impl JobKind {
    /// How often a recurring kind runs; `None`: a one-off job, enqueued by whoever needs it.
    pub fn every(self) -> Option<TimeDelta> {
        match self {
            JobKind::SmsSweep => Some(TimeDelta::minutes(1)),
            JobKind::Purge => Some(TimeDelta::hours(1)),
            JobKind::ReminderSweep => Some(TimeDelta::minutes(1)),
            JobKind::ReminderStep => None,
            JobKind::WebhookDelivery => None,
            JobKind::OverdueDigest => Some(TimeDelta::days(1)),
            JobKind::FoldDueDays => Some(TimeDelta::hours(1)),
            JobKind::PlannerStats => Some(TimeDelta::hours(1)),
        }
    }

    /// Where in its interval a recurring kind runs: the digest at 06:00 UTC (06:00 in
    /// London in winter, 07:00 in summer), before a property team's day starts.
    fn offset(self) -> TimeDelta {
        match self {
            JobKind::OverdueDigest => TimeDelta::hours(6),
            _ => TimeDelta::zero(),
        }
    }

    /// A recurring kind's next run strictly after `now`; `None` for a one-off kind.
    pub fn next_run(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let offset = self.offset();
        self.every().map(|every| next_slot(now - offset, every) + offset)
    }

    /// Claims after which a job that keeps failing is `failed` for good.
    pub fn max_attempts(self) -> i32 {
        5
    }
}

/// The next slot of a recurring job strictly after `now`: the multiples of `every` since
/// the Unix epoch, so that every node computes the same slots (and the job's subject, its
/// slot, is the same on each: one row per slot).
pub fn next_slot(now: DateTime<Utc>, every: TimeDelta) -> DateTime<Utc> {
    let step = every.num_microseconds().filter(|&n| n > 0).unwrap_or(60_000_000);
    let at = now.timestamp_micros();
    let next = (at.div_euclid(step) + 1) * step;
    DateTime::from_timestamp_micros(next).unwrap_or(now)
}

/// How long after its `attempts`-th failed run a job is tried again: 30 s, doubling, at
/// most an hour.
pub fn retry_after(attempts: i32) -> TimeDelta {
    let doublings = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    TimeDelta::seconds(30 * 2_i64.pow(doublings)).min(TimeDelta::hours(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn slots_are_multiples_of_the_interval_strictly_after_now() {
        let minute = TimeDelta::minutes(1);
        assert_eq!(next_slot(at("2030-01-01T10:15:30Z"), minute), at("2030-01-01T10:16:00Z"));
        assert_eq!(next_slot(at("2030-01-01T10:16:00Z"), minute), at("2030-01-01T10:17:00Z"));
        assert_eq!(next_slot(at("2030-01-01T10:15:30Z"), TimeDelta::hours(1)), at("2030-01-01T11:00:00Z"));
    }

    #[test]
    fn the_digest_runs_daily_at_six_utc_and_sweeps_every_minute() {
        let digest = JobKind::OverdueDigest;
        assert_eq!(digest.next_run(at("2030-01-01T05:59:59Z")), Some(at("2030-01-01T06:00:00Z")));
        assert_eq!(digest.next_run(at("2030-01-01T06:00:00Z")), Some(at("2030-01-02T06:00:00Z")));
        assert_eq!(digest.next_run(at("2030-01-01T23:00:00Z")), Some(at("2030-01-02T06:00:00Z")));
        assert_eq!(JobKind::SmsSweep.next_run(at("2030-01-01T10:15:30Z")), Some(at("2030-01-01T10:16:00Z")));
        assert_eq!(JobKind::ReminderStep.next_run(at("2030-01-01T10:15:30Z")), None);
    }

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(retry_after(1), TimeDelta::seconds(30));
        assert_eq!(retry_after(2), TimeDelta::seconds(60));
        assert_eq!(retry_after(20), TimeDelta::hours(1));
    }

    #[test]
    fn kinds_and_states_read_back_from_their_text() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(*kind));
        }
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(*state));
        }
    }
}
