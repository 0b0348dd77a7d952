//! Consecutive failed logins per email, in the database so that every node agrees
//! (`login_failures`). Every email tried is counted, known or not, so that a lock says
//! nothing about whether an account exists; the email is kept only as a hash.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::connection::AnyConnection;
use crate::error::{StoreError, StoreResult, is_unique_violation};
use crate::schema::login_failures;
use crate::time;

/// The longest lock, however many failures.
const LONGEST_LOCK: Duration = Duration::from_secs(24 * 3600);

/// When repeated failures lock an email.
#[derive(Debug, Clone, Copy)]
pub struct LockPolicy {
    /// Consecutive failures after which the email is locked.
    pub lock_after: i32,
    /// The first lock; each further failure doubles it, up to a day.
    pub first_lock: Duration,
}

impl LockPolicy {
    /// The lock after `failures` consecutive failures, if any.
    fn lock_for(self, failures: i32) -> Option<Duration> {
        let beyond = u32::try_from(failures.checked_sub(self.lock_after)?).ok()?;
        let doublings = beyond.min(20);
        Some(self.first_lock.saturating_mul(1 << doublings).min(LONGEST_LOCK))
    }
}

/// The key under which an email's failures are counted: SHA-256 hex of its lower-case form.
pub fn email_key(email: &str) -> String {
    let digest = Sha256::digest(email.to_lowercase().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Until when the email is locked, if it is now.
pub fn locked_until(conn: &mut AnyConnection, email_key: &str) -> StoreResult<Option<DateTime<Utc>>> {
    let until: Option<Option<chrono::NaiveDateTime>> =
        login_failures::table.find(email_key).select(login_failures::locked_until).first(conn).optional()?;
    Ok(until.flatten().filter(|&until| until > time::now()).map(time::from_db))
}

/// What [`begin_attempt`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Counted as a failure (a success clears it): the password may be checked.
    Counted,
    /// The email is locked until then: refused without checking the password.
    Locked(DateTime<Utc>),
}

/// Counts a login attempt as a failure before its password is checked, in one write
/// (inside `Db::write`), and locks the email when the count reaches the policy's
/// threshold. The check and the count are one conditional UPDATE of the email's row, so
/// concurrent attempts (on any node) are counted one after another and an attempt past
/// the lock is refused: however many guesses arrive at once, no more passwords are
/// checked than the lock allows. A login that succeeds then [`clear`]s the count.
pub fn begin_attempt(conn: &mut AnyConnection, email_key: &str, policy: LockPolicy) -> StoreResult<Attempt> {
    let now = time::now();
    // The first attempt inserts the row; two at once on PostgreSQL: the second insert
    // fails inside its savepoint, and both go on to the UPDATE.
    let inserted = conn.transaction(|c| {
        diesel::insert_into(login_failures::table)
            .values((
                login_failures::email_hash.eq(email_key),
                login_failures::failures.eq(0),
                login_failures::last_failure_at.eq(now),
            ))
            .execute(c)
    });
    match inserted.map_err(StoreError::from) {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e),
    }
    // PostgreSQL re-checks the condition on the row as the attempt before left it.
    let failures: Option<i32> = diesel::update(
        login_failures::table
            .find(email_key)
            .filter(login_failures::locked_until.is_null().or(login_failures::locked_until.le(now))),
    )
    .set((login_failures::failures.eq(login_failures::failures + 1), login_failures::last_failure_at.eq(now)))
    .returning(login_failures::failures)
    .get_result(conn)
    .optional()?;
    let Some(failures) = failures else {
        // Locked; or the row is gone, cleared by a success meanwhile: the count restarted.
        let until: Option<chrono::NaiveDateTime> = login_failures::table
            .find(email_key)
            .select(login_failures::locked_until)
            .first(conn)
            .optional()?
            .flatten();
        return Ok(until.map_or(Attempt::Counted, |until| Attempt::Locked(time::from_db(until))));
    };
    if let Some(lock) = policy.lock_for(failures) {
        let until = now + TimeDelta::from_std(lock).unwrap_or(TimeDelta::days(1));
        diesel::update(login_failures::table.find(email_key))
            .set(login_failures::locked_until.eq(until))
            .execute(conn)?;
    }
    Ok(Attempt::Counted)
}

/// A successful login: the count starts again.
pub fn clear(conn: &mut AnyConnection, email_key: &str) -> StoreResult<()> {
    diesel::delete(login_failures::table.find(email_key)).execute(conn)?;
    Ok(())
}

/// Forgets emails whose last failure is more than a day old (and not locked any more).
pub fn purge_idle(conn: &mut AnyConnection) -> StoreResult<usize> {
    let now = time::now();
    let day_ago = now - TimeDelta::days(1);
    Ok(diesel::delete(
        login_failures::table
            .filter(login_failures::last_failure_at.lt(day_ago))
            .filter(login_failures::locked_until.is_null().or(login_failures::locked_until.le(now))),
    )
    .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_start_at_the_threshold_and_double_up_to_a_day() {
        let policy = LockPolicy { lock_after: 10, first_lock: Duration::from_secs(60) };
        assert_eq!(policy.lock_for(9), None);
        assert_eq!(policy.lock_for(10), Some(Duration::from_secs(60)));
        assert_eq!(policy.lock_for(11), Some(Duration::from_secs(120)));
        assert_eq!(policy.lock_for(13), Some(Duration::from_secs(480)));
        assert_eq!(policy.lock_for(40), Some(LONGEST_LOCK));
        assert_eq!(policy.lock_for(i32::MAX), Some(LONGEST_LOCK));
    }

    #[test]
    fn emails_are_keyed_by_a_case_blind_hash() {
        assert_eq!(email_key("Ann@Example.TEST"), email_key("ann@example.test"));
        assert_eq!(email_key("ann@example.test").len(), 64);
        assert!(!email_key("ann@example.test").contains("ann"));
    }
}
