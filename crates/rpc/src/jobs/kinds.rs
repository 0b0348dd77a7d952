//! What each [`JobKind`] does. Every kind's work is idempotent: a run that repeats one
//! whose end was not recorded (its node died under the lease) changes nothing more.

use std::sync::Arc;

use keyward_domain::jobs::JobKind;
use keyward_persistence::repo::jobs::{self, Claimed};
use keyward_persistence::repo::sms as sms_repo;
use keyward_persistence::repo::{counts, logins, maintenance, users};
use keyward_persistence::time;

use super::{Settings, reminders};
use crate::App;

/// Runs `job`; `Ok` with a short summary for the log line, or why it failed.
pub async fn run(app: &Arc<App>, settings: &Settings, job: &Claimed) -> Result<String, String> {
    match job.kind {
        JobKind::SmsSweep => {
            let timeout = settings.sms_pending_timeout;
            let marked =
                app.db.write(move |c| sms_repo::mark_stale_pending(c, timeout)).await.map_err(|e| e.to_string())?;
            if marked > 0 {
                tracing::warn!(count = marked, "SMS sends left pending are now unknown: they may have been sent");
            }
            Ok(format!("{marked} pending sends marked unknown"))
        }
        JobKind::Purge => {
            let keep = settings.keep_finished;
            let (sessions, failures, finished) = app
                .db
                .write(move |c| {
                    Ok((users::purge_expired_sessions(c)?, logins::purge_idle(c)?, jobs::purge_finished(c, keep)?))
                })
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("{sessions} expired sessions, {failures} idle login failures, {finished} finished jobs deleted"))
        }
        JobKind::ReminderSweep => reminders::sweep(app).await,
        JobKind::ReminderStep => reminders::step(app, job).await,
        JobKind::WebhookDelivery => crate::webhooks::deliver::run(app, &job.subject).await,
        JobKind::OverdueDigest => reminders::digest(app, job).await,
        JobKind::FoldDueDays => fold_due_days(app).await,
        JobKind::PlannerStats => {
            let analyzed = app.db.write(maintenance::refresh_planner_stats).await.map_err(|e| e.to_string())?;
            // Empty tables have nothing to gather and are analyzed (instantly) every time.
            Ok(format!("planner statistics: {} tables analyzed", analyzed.len()))
        }
    }
}

/// Folds each organisation's due-day counts older than a week, one transaction per
/// organisation (decision 182).
async fn fold_due_days(app: &Arc<App>) -> Result<String, String> {
    let before = counts::fold_horizon(time::now());
    let orgs = app.db.run(move |c| counts::orgs_to_fold(c, before)).await.map_err(|e| e.to_string())?;
    let mut folded = 0;
    for org_id in &orgs {
        let org_id = org_id.clone();
        folded += app.db.write(move |c| counts::fold_due_days(c, &org_id, before)).await.map_err(|e| e.to_string())?;
    }
    Ok(format!("{folded} due-day counts before {before} folded in {} organisations", orgs.len()))
}
