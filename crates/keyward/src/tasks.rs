//! Time-driven work of `keyward serve` that belongs to this node (its memory, its log):
//! each task is a loop on an interval, spawned at start-up and aborted at shutdown. Work
//! on the database (the SMS sweep, the purge of expired sessions) is a job instead
//! (`keyward_rpc::jobs`), run by one node of the cluster on the clock.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use keyward_persistence::Db;
use keyward_persistence::repo::audit;
use keyward_persistence::repo::sms as sms_repo;
use keyward_sms::burst::BurstLimiter;

/// Sends left `pending` past the timeout (the server stopped mid-send) become `unknown`;
/// they are never re-sent, since the provider may have received them.
pub async fn sweep_pending_sms(db: &Db, timeout: Duration) {
    match db.write(move |c| sms_repo::mark_stale_pending(c, timeout)).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(count = n, "SMS sends left pending are now unknown: they may have been sent"),
        Err(e) => tracing::warn!(error = %e, "could not sweep pending SMS"),
    }
}

/// Every minute: dropping idle rate-limiter state (SMS bursts, logins per address and
/// per email) so that the maps do not grow without bound. In memory, per node: not a job.
pub async fn sweep(limiters: Vec<Arc<BurstLimiter>>) {
    let mut every_minute = tokio::time::interval(Duration::from_secs(60));
    loop {
        every_minute.tick().await;
        for limiter in &limiters {
            limiter.forget_idle();
        }
    }
}

/// The periodic anchor: at start-up and then every `every`, one INFO line per
/// organisation whose audit chain grew since the last line, with its head (seq, hash).
/// An operator who keeps these lines elsewhere can later show that the history up to
/// each head was not rewritten (`keyward audit verify` proves the chain holds; the kept
/// head proves it is the same chain).
pub async fn anchor_audit_chains(db: Db, every: Duration) {
    let mut anchored: HashMap<String, i32> = HashMap::new();
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        let heads = db
            .run(|c| {
                let mut heads = Vec::new();
                for org_id in audit::organisation_ids(c)? {
                    let head = audit::head(c, &org_id)?;
                    heads.push((org_id, head));
                }
                Ok(heads)
            })
            .await;
        match heads {
            Ok(heads) => {
                for (org_id, head) in heads {
                    if head.seq > 0 && anchored.get(&org_id) != Some(&head.seq) {
                        tracing::info!(org = %org_id, seq = head.seq, hash = %head.hash, "audit chain head");
                        anchored.insert(org_id, head.seq);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the audit chain heads"),
        }
    }
}

/// Every 5 seconds, with `--metrics`: the exporter's upkeep (histogram samples drained,
/// so memory stays bounded between scrapes).
pub async fn metrics_upkeep(handle: metrics_exporter_prometheus::PrometheusHandle) {
    let mut every_5s = tokio::time::interval(Duration::from_secs(5));
    loop {
        every_5s.tick().await;
        handle.run_upkeep();
    }
}
