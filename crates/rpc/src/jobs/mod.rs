//! The job runner of `keyward serve` (issue 13 §1): it claims due jobs from the `jobs`
//! table ([`keyward_persistence::repo::jobs`]) one at a time, under a lease, runs each
//! ([`kinds::run`]), records the outcome, and logs one line per run. Every node runs one;
//! the claim makes sure a job is run by one node at a time, the lease that a job whose
//! node died is run again, and each kind's work is idempotent, so running again is safe.
//!
//! When jobs run: [`Runner::poll`] every few seconds, on the clock ([`time::now`]), or,
//! with the test clock, only when `POST /test/clock` moves it ([`Runner::run_due`], which
//! answers once the due jobs are done). Recurring kinds ([`JobKind::every`]) get their next
//! slot enqueued at each pass; one row per slot, whichever node enqueues it.

mod kinds;
mod reminders;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use keyward_domain::jobs::JobKind;
use keyward_persistence::repo::jobs::{self, Claimed, Finished};
use keyward_persistence::time;

use crate::App;

/// At most this many runs per pass, so that a pass ends even if jobs keep becoming due.
const MAX_RUNS_PER_PASS: usize = 1000;

/// How jobs are run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a claim holds a job (on the clock) before another node may take it.
    pub lease: Duration,
    /// The SMS sweep's age of a stale `pending` send.
    pub sms_pending_timeout: Duration,
    /// How long finished jobs are kept (then the purge deletes them).
    pub keep_finished: TimeDelta,
}

impl Settings {
    pub fn new(sms_pending_timeout: Duration) -> Settings {
        Settings { lease: Duration::from_secs(300), sms_pending_timeout, keep_finished: TimeDelta::days(7) }
    }
}

pub struct Runner {
    app: Arc<App>,
    settings: Settings,
    /// This process, in `claimed_by`: its pid and a random suffix.
    node: String,
    /// One pass at a time on this node, so that a pass that starts after another waits
    /// for its jobs to finish (the test clock's answer means "done").
    pass: tokio::sync::Mutex<()>,
}

impl Runner {
    pub fn new(app: Arc<App>, settings: Settings) -> Arc<Runner> {
        let suffix: String = time::new_id().chars().rev().take(8).collect();
        let node = format!("{}-{suffix}", std::process::id());
        Arc::new(Runner { app, settings, node, pass: tokio::sync::Mutex::new(()) })
    }

    /// Every `every` (real time): a pass over the due jobs.
    pub async fn poll(self: Arc<Self>, every: Duration) {
        let mut interval = tokio::time::interval(every);
        loop {
            interval.tick().await;
            self.run_due().await;
        }
    }

    /// Enqueues the recurring jobs' next slots, then runs every due job to its end;
    /// returns how many runs this pass made.
    pub async fn run_due(&self) -> usize {
        let _pass = self.pass.lock().await;
        self.schedule_recurring().await;
        let mut ran = 0;
        while ran < MAX_RUNS_PER_PASS {
            let (node, lease) = (self.node.clone(), self.settings.lease);
            match self.app.db.write(move |c| jobs::claim(c, &node, lease)).await {
                Ok(Some(job)) => {
                    self.run(job).await;
                    ran += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim a job");
                    break;
                }
            }
        }
        ran
    }

    /// The next slot of each recurring kind (a no-op when another node enqueued it).
    async fn schedule_recurring(&self) {
        let now = time::now_utc();
        for &kind in JobKind::ALL {
            let Some(slot) = kind.next_run(now) else { continue };
            let subject = slot.to_rfc3339();
            if let Err(e) = self.app.db.write(move |c| jobs::enqueue(c, kind, None, &subject, time::to_db(slot))).await
            {
                tracing::warn!(error = %e, kind = %kind, "could not schedule a recurring job");
            }
        }
    }

    /// Runs one claimed job and records its outcome, with one log line.
    async fn run(&self, job: Claimed) {
        let started = Instant::now();
        let result = kinds::run(&self.app, &self.settings, &job).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let error = result.as_ref().err().cloned();
        let finished = {
            let (job, error) = (job.clone(), error.clone());
            self.app.db.write(move |c| jobs::finish(c, &job, error.as_deref().map_or(Ok(()), Err))).await
        };
        let org = job.org_id.as_deref().unwrap_or("-");
        let (id, kind, attempt) = (&job.id, job.kind.as_str(), job.attempt);
        let outcome = match &finished {
            Ok(Finished::Done) => "done",
            Ok(Finished::Retry { .. }) => "retry",
            Ok(Finished::Failed) => "failed",
            Ok(Finished::LeaseLost) => "lease_lost",
            Err(_) => "unrecorded",
        };
        crate::metrics::record_job_run(kind, outcome);
        match (finished, error) {
            (Ok(Finished::Done), _) => {
                let summary = result.unwrap_or_default();
                tracing::info!(job = %id, kind, org, attempt, duration_ms, %summary, "job done");
            }
            (Ok(Finished::Retry { retry_at }), error) => {
                let retry_at = time::from_db(retry_at).to_rfc3339();
                tracing::warn!(job = %id, kind, org, attempt, duration_ms, error = error.unwrap_or_default(), %retry_at, "job failed; it will be retried");
            }
            (Ok(Finished::Failed), error) => {
                tracing::error!(job = %id, kind, org, attempt, duration_ms, error = error.unwrap_or_default(), "job failed for good: its attempts are used up");
            }
            (Ok(Finished::LeaseLost), _) => {
                tracing::warn!(job = %id, kind, org, attempt, duration_ms, "job ran past its lease: another claim has it");
            }
            (Err(e), _) => {
                tracing::warn!(job = %id, kind, org, attempt, duration_ms, error = %e, "could not record a job's run; its lease will expire and it runs again");
            }
        }
    }
}
