//! The `jobs` table (issue 13 §1): enqueue, claim under a lease, finish, and the counts
//! `/health` shows. The runner (`keyward_rpc::jobs`) calls [`claim`] and [`finish`] each
//! in its own [`crate::Db::write`], and the job's work in between.
//!
//! A claim takes the earliest due job: `pending` with `run_at` passed, or `running` with
//! its lease passed (the node that claimed it died). On PostgreSQL the row is chosen
//! `FOR UPDATE SKIP LOCKED`, so nodes claiming at once take different jobs; on SQLite the
//! write transaction (`BEGIN IMMEDIATE`) already serialises claims. Each claim adds one to
//! `attempts`, and that number is the claim's token: [`finish`] changes the row only while
//! it is still that claim's, so a node whose lease expired cannot overwrite the run that
//! replaced it. A job may thus run twice (a lease that expired under a slow run): every
//! job's work is idempotent.

use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use keyward_domain::jobs::{JobKind, JobState, retry_after};

use crate::StoreResult;
use crate::connection::AnyConnection;
use crate::repo::grants::corrupt;
use crate::schema::jobs;
use crate::time;

/// A job claimed by this node: run it, then [`finish`] it with `attempt`.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub kind: JobKind,
    pub org_id: Option<String>,
    pub subject: String,
    pub run_at: NaiveDateTime,
    /// This claim's number (1 for the first run).
    pub attempt: i32,
}

/// Enqueues a job unless one of its kind and subject exists (whatever its state): the
/// same work is never enqueued twice. Returns whether a row was added.
pub fn enqueue(
    conn: &mut AnyConnection,
    kind: JobKind,
    org_id: Option<&str>,
    subject: &str,
    run_at: NaiveDateTime,
) -> StoreResult<bool> {
    let now = time::now();
    let row = (
        jobs::id.eq(time::new_id()),
        jobs::kind.eq(kind.as_str()),
        jobs::org_id.eq(org_id),
        jobs::subject.eq(subject),
        jobs::run_at.eq(run_at),
        jobs::state.eq(JobState::Pending.as_str()),
        jobs::attempts.eq(0),
        jobs::created_at.eq(now),
        jobs::updated_at.eq(now),
    );
    let query = diesel::insert_into(jobs::table).values(row).on_conflict((jobs::kind, jobs::subject)).do_nothing();
    let added = match conn {
        AnyConnection::Pg(c) => query.execute(c)?,
        AnyConnection::Sqlite(c) => query.execute(c)?,
    };
    Ok(added > 0)
}

/// Claims the earliest due job for `node`, for `lease` of the clock's time; `None` when
/// nothing is due. Call it inside [`crate::Db::write`].
pub fn claim(conn: &mut AnyConnection, node: &str, lease: Duration) -> StoreResult<Option<Claimed>> {
    let now = time::now();
    let expired = jobs::table
        .filter(jobs::state.eq(JobState::Running.as_str()))
        .filter(jobs::lease_until.le(now))
        .order(jobs::lease_until)
        .select(jobs::id)
        .limit(1);
    let due = jobs::table
        .filter(jobs::state.eq(JobState::Pending.as_str()))
        .filter(jobs::run_at.le(now))
        .order(jobs::run_at)
        .select(jobs::id)
        .limit(1);
    let id: Option<String> = match conn {
        AnyConnection::Pg(c) => match expired.for_update().skip_locked().first(c).optional()? {
            Some(id) => Some(id),
            None => due.for_update().skip_locked().first(c).optional()?,
        },
        AnyConnection::Sqlite(c) => match expired.first(c).optional()? {
            Some(id) => Some(id),
            None => due.first(c).optional()?,
        },
    };
    let Some(id) = id else { return Ok(None) };
    let lease_until = now + TimeDelta::from_std(lease).unwrap_or(TimeDelta::minutes(5));
    let (kind, org_id, subject, run_at, attempt): (String, Option<String>, String, NaiveDateTime, i32) =
        diesel::update(jobs::table.find(&id))
            .set((
                jobs::state.eq(JobState::Running.as_str()),
                jobs::attempts.eq(jobs::attempts + 1),
                jobs::lease_until.eq(lease_until),
                jobs::claimed_by.eq(node),
                jobs::updated_at.eq(now),
            ))
            .returning((jobs::kind, jobs::org_id, jobs::subject, jobs::run_at, jobs::attempts))
            .get_result(conn)?;
    let kind = JobKind::parse(&kind).ok_or_else(|| corrupt("job kind", &kind))?;
    Ok(Some(Claimed { id, kind, org_id, subject, run_at, attempt }))
}

/// What became of a finished run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Done,
    /// Failed; tried again at `retry_at`.
    Retry {
        retry_at: NaiveDateTime,
    },
    /// Failed, and its attempts are used up.
    Failed,
    /// The claim was no longer this run's (its lease expired and another claim took the
    /// job): nothing was changed.
    LeaseLost,
}

/// Records the end of `job`'s run: `Ok` done, `Err(reason)` a failure (retried later
/// with a backoff, or `failed` for good after the kind's attempts).
pub fn finish(conn: &mut AnyConnection, job: &Claimed, result: Result<(), &str>) -> StoreResult<Finished> {
    let now = time::now();
    let mine = jobs::table
        .find(&job.id)
        .filter(jobs::state.eq(JobState::Running.as_str()))
        .filter(jobs::attempts.eq(job.attempt));
    let (finished, state, run_at, finished_at) = match result {
        Ok(()) => (Finished::Done, JobState::Done, job.run_at, Some(now)),
        Err(_) if job.attempt >= job.kind.max_attempts() => (Finished::Failed, JobState::Failed, job.run_at, Some(now)),
        Err(_) => {
            let retry_at = now + retry_after(job.attempt);
            (Finished::Retry { retry_at }, JobState::Pending, retry_at, None)
        }
    };
    let changed = diesel::update(mine)
        .set((
            jobs::state.eq(state.as_str()),
            jobs::run_at.eq(run_at),
            jobs::lease_until.eq(None::<NaiveDateTime>),
            jobs::last_error.eq(result.err()),
            jobs::updated_at.eq(now),
            jobs::finished_at.eq(finished_at),
        ))
        .execute(conn)?;
    Ok(if changed == 0 { Finished::LeaseLost } else { finished })
}

/// Jobs by state, for `/health`: due (pending and past `run_at`), running, failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub due: i64,
    pub running: i64,
    pub failed: i64,
}

pub fn counts(conn: &mut AnyConnection) -> StoreResult<Counts> {
    let now = time::now();
    let in_state = |state: JobState| jobs::table.filter(jobs::state.eq(state.as_str())).count();
    Ok(Counts {
        due: in_state(JobState::Pending).filter(jobs::run_at.le(now)).get_result(conn)?,
        running: in_state(JobState::Running).get_result(conn)?,
        failed: in_state(JobState::Failed).get_result(conn)?,
    })
}

/// Deletes jobs that finished (done or failed) more than `keep` ago; returns how many.
pub fn purge_finished(conn: &mut AnyConnection, keep: TimeDelta) -> StoreResult<usize> {
    let cutoff = time::now() - keep;
    Ok(diesel::delete(jobs::table.filter(jobs::finished_at.lt(cutoff))).execute(conn)?)
}
