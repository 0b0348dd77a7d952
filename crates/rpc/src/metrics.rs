//! Prometheus metrics: the series keyward records (through the `metrics` facade) and
//! what records them. Off unless the binary installs a recorder (`--metrics`); without
//! one every recording here is a no-op. The server renders them on `GET /metrics`.
//!
//! The series, all per node and none per organisation (no organisation id, user, key or
//! secret is ever a label):
//!
//! | name | type | labels | recorded by |
//! |---|---|---|---|
//! | `keyward_rpc_calls_total` | counter | `procedure` | [`record_call`] |
//! | `keyward_rpc_errors_total` | counter | `procedure`, `kind` (`data.kind`) | [`record_call`] |
//! | `keyward_rpc_call_duration_seconds` | histogram | `procedure` | [`record_call`] |
//! | `keyward_db_pool_connections` | gauge | `state` (`in_use`, `open`, `max`) | [`record_pool`] at each scrape |
//! | `keyward_db_pool_waiting` | gauge | | [`record_pool`] at each scrape |
//! | `keyward_sms_sends_total` | counter | `outcome` (`sent`, `rejected`, `unavailable`, `unknown`) | [`CountingSender`] |
//! | `keyward_job_runs_total` | counter | `kind` (a `JobKind`), `outcome` (`done`, `retry`, `failed`, `lease_lost`, `unrecorded`) | [`record_job_run`] |
//! | `keyward_webhook_deliveries_total` | counter | `outcome` (`delivered`, `retry`, `failed`) | [`record_webhook_delivery`], per attempt |

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use keyward_persistence::PoolStatus;
use keyward_sms::{Credentials, Delivery, OutboundSms, SendFailure, SmsSender};
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

use crate::error::ErrorObject;

pub const CALLS: &str = "keyward_rpc_calls_total";
pub const ERRORS: &str = "keyward_rpc_errors_total";
pub const CALL_DURATION: &str = "keyward_rpc_call_duration_seconds";
pub const POOL_CONNECTIONS: &str = "keyward_db_pool_connections";
pub const POOL_WAITING: &str = "keyward_db_pool_waiting";
pub const SMS_SENDS: &str = "keyward_sms_sends_total";
pub const JOB_RUNS: &str = "keyward_job_runs_total";
pub const WEBHOOK_DELIVERIES: &str = "keyward_webhook_deliveries_total";

/// The `procedure` label of a method name no procedure has: caller-supplied text never
/// becomes a label, so the number of series stays bounded by the procedure list.
pub const UNKNOWN_PROCEDURE: &str = "(unknown)";

/// The latency histogram's bucket bounds, in seconds: 1 ms to 10 s (the database bound
/// defaults to 5 s; an SMS send may take longer).
pub const CALL_DURATION_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Renders the recorded metrics in Prometheus' text format (the exporter's handle).
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Registers each series' help text (the `# HELP` lines). Call once, after installing
/// the recorder.
pub fn describe() {
    describe_counter!(CALLS, "JSON-RPC calls answered, per procedure.");
    describe_counter!(ERRORS, "JSON-RPC calls answered with an error, per procedure and data.kind.");
    describe_histogram!(CALL_DURATION, Unit::Seconds, "Time to answer a JSON-RPC call, per procedure.");
    describe_gauge!(POOL_CONNECTIONS, "Database connections: in_use (held by a call), open, max (the pool size).");
    describe_gauge!(POOL_WAITING, "Calls waiting for a database connection.");
    describe_counter!(SMS_SENDS, "SMS handed to the provider, per outcome.");
    describe_counter!(JOB_RUNS, "Background job runs on this node, per job kind and outcome.");
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook delivery attempts, per outcome: delivered, retry (failed, tried again later), failed (for good)."
    );
}

/// One job run ended (the runner, after recording it): `outcome` is `done`, `retry`,
/// `failed`, `lease_lost` or `unrecorded`.
pub fn record_job_run(kind: &'static str, outcome: &'static str) {
    counter!(JOB_RUNS, "kind" => kind, "outcome" => outcome).increment(1);
}

/// One webhook delivery attempt recorded: `delivered`, `retry` or `failed`.
pub fn record_webhook_delivery(outcome: &'static str) {
    counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
}

/// One call answered: its count, its error kind if it failed, its latency.
pub fn record_call(procedure: &'static str, outcome: &Result<impl Sized, ErrorObject>, elapsed: Duration) {
    counter!(CALLS, "procedure" => procedure).increment(1);
    if let Err(error) = outcome {
        counter!(ERRORS, "procedure" => procedure, "kind" => kind_label(error)).increment(1);
    }
    histogram!(CALL_DURATION, "procedure" => procedure).record(elapsed.as_secs_f64());
}

/// `data.kind` as the wire spells it (`NOT_FOUND`).
fn kind_label(error: &ErrorObject) -> String {
    match serde_json::to_value(error.data.kind) {
        Ok(serde_json::Value::String(kind)) => kind,
        _ => "INTERNAL".to_owned(),
    }
}

/// The pool's gauges, set just before each scrape renders them.
pub fn record_pool(status: PoolStatus) {
    gauge!(POOL_CONNECTIONS, "state" => "in_use").set(status.in_use as f64);
    gauge!(POOL_CONNECTIONS, "state" => "open").set(status.open as f64);
    gauge!(POOL_CONNECTIONS, "state" => "max").set(status.max as f64);
    gauge!(POOL_WAITING).set(status.waiting as f64);
}

/// An [`SmsSender`] that counts each send's outcome, then answers as the one it wraps.
pub struct CountingSender(pub Arc<dyn SmsSender>);

impl SmsSender for CountingSender {
    fn send<'a>(
        &'a self,
        credentials: &'a Credentials,
        message: &'a OutboundSms,
    ) -> Pin<Box<dyn Future<Output = Result<Delivery, SendFailure>> + Send + 'a>> {
        Box::pin(async move {
            let result = self.0.send(credentials, message).await;
            let outcome = match &result {
                Ok(_) => "sent",
                Err(SendFailure::Rejected { .. }) => "rejected",
                Err(SendFailure::Unavailable { .. }) => "unavailable",
                Err(SendFailure::Unknown { .. }) => "unknown",
            };
            counter!(SMS_SENDS, "outcome" => outcome).increment(1);
            result
        })
    }
}
