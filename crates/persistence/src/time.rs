//! The clock, and how instants are stored.
//!
//! Instants are stored as UTC `TIMESTAMP`s with microsecond precision (PostgreSQL's), so
//! that what is written reads back equal on both databases.
//!
//! [`now`] is the one clock of the process: every "what time is it" of the register
//! (timestamps written, expiries compared, jobs found due) reads it. It is the system
//! clock, unless `keyward serve --test-clock` switched it to the test clock, which stands
//! still until a test sets or advances it ([`TestClock`]). Durations measured on the
//! machine (timeouts, rate limiters' refills) are `std::time::Instant`s and never
//! follow the test clock. UUIDv7 ids keep the system time: they only need to be unique
//! and roughly ordered.

use std::sync::{PoisonError, RwLock};

use chrono::{DateTime, NaiveDateTime, SubsecRound, TimeDelta, Utc};

/// The test clock's instant; `None`: the system clock.
static TEST_NOW: RwLock<Option<NaiveDateTime>> = RwLock::new(None);

pub fn now() -> NaiveDateTime {
    match *TEST_NOW.read().unwrap_or_else(PoisonError::into_inner) {
        Some(at) => at,
        None => Utc::now().naive_utc().trunc_subsecs(6),
    }
}

/// [`now`] as a UTC instant.
pub fn now_utc() -> DateTime<Utc> {
    from_db(now())
}

pub fn to_db(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc().trunc_subsecs(6)
}

pub fn from_db(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The test clock, for `keyward serve --test-clock` only: once started it stands still
/// at the instant it was started, and moves only when told, and only forward (leases,
/// expiries and "due" all assume time does not go back).
#[derive(Debug, Clone)]
pub struct TestClock(());

impl TestClock {
    /// Switches [`now`] from the system clock to the test clock, standing at the system's
    /// instant. For the start-up of a test server, before anything reads the clock.
    pub fn start() -> TestClock {
        let mut at = TEST_NOW.write().unwrap_or_else(PoisonError::into_inner);
        at.get_or_insert_with(|| Utc::now().naive_utc().trunc_subsecs(6));
        TestClock(())
    }

    /// Moves the clock to `to`; refused (the clock unchanged) when `to` is before now.
    pub fn set(&self, to: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
        Self::move_to(|_| Ok(to_db(to)))
    }

    /// Moves the clock forward by `by` (not negative).
    pub fn advance(&self, by: TimeDelta) -> Result<DateTime<Utc>, String> {
        if by < TimeDelta::zero() {
            return Err("the clock does not go back: advance by zero or more".to_owned());
        }
        Self::move_to(|current| current.checked_add_signed(by).ok_or_else(|| "the clock cannot go that far".to_owned()))
    }

    /// Moves the clock to `to(current)`, under one lock (two moves at once both count).
    fn move_to(to: impl FnOnce(NaiveDateTime) -> Result<NaiveDateTime, String>) -> Result<DateTime<Utc>, String> {
        let mut at = TEST_NOW.write().unwrap_or_else(PoisonError::into_inner);
        let current = at.ok_or("the test clock is not on")?;
        let to = to(current)?;
        if to < current {
            return Err(format!("the clock does not go back: it is {} already", from_db(current).to_rfc3339()));
        }
        *at = Some(to);
        Ok(from_db(to))
    }
}
