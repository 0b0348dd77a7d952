//! keyward's JSON-RPC surface.
//!
//! - [`procedures`] holds THE list of procedures: each declared once (name, input,
//!   output, required capability, handler). The server registers from it; the bindings
//!   generator walks it.
//! - [`procedure`] is the machinery every call goes through: authenticate, authorise,
//!   parse params by name, run, map the error.
//! - [`jsonrpc`] is our JSON-RPC 2.0 layer: the envelope (raw ids, batches,
//!   notifications) and [`jsonrpc::Rpc::handle_message`], the one entry point of every
//!   transport, with a span per call.
//! - [`server`] is the server on hyper: HTTP + WebSocket, the transport's limits
//!   (sizes, timeouts, connection caps), request ids, CORS, `GET /health`, and
//!   `GET /metrics` when enabled.
//! - [`metrics`] names the Prometheus series and records them.
//!
//! Architecture invariant: this is the only crate that knows JSON-RPC; error codes and
//! `data.kind` are decided in [`error`] and nowhere else.

#[cfg(test)]
mod bindings;
pub mod csv_export;
pub mod csv_import;
pub mod error;
pub mod jobs;
pub mod jsonrpc;
pub mod metrics;
#[cfg(test)]
mod openrpc;
mod params;
mod patch;
pub mod procedure;
pub mod procedures;
pub mod security;
pub mod server;
pub mod sms_pipeline;
mod twilio_inbound;
mod twilio_status;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use keyward_persistence::repo::logins::LockPolicy;
use keyward_persistence::repo::sms::Caps;
use keyward_persistence::{Db, Sealer};
use keyward_sms::SmsSender;
use keyward_sms::burst::BurstLimiter;
use keyward_sms::phone::Region;

/// What every procedure can reach.
pub struct App {
    pub db: Db,
    /// Seals and opens secrets (access code values) under the server's secret key.
    pub sealer: Sealer,
    /// How long a session token lives after login.
    pub token_ttl: Duration,
    pub sms: Sms,
    /// Bounds Argon2 hashing (logins, new passwords).
    pub passwords: security::PasswordHashing,
    pub logins: Logins,
    /// The webhook client and whether private targets are allowed.
    pub webhooks: webhooks::Webhooks,
}

/// The limits on `auth.login`; each over-limit answer is RATE_LIMITED with `retryAfterMs`.
pub struct Logins {
    /// Attempts per client address (in memory, per node).
    pub per_address: Arc<BurstLimiter>,
    /// Attempts per email string, known or not (in memory, per node).
    pub per_email: Arc<BurstLimiter>,
    /// Consecutive failures per email that lock it (in the database, across nodes).
    pub lock: LockPolicy,
}

/// What `keys.sendSms` needs besides the database.
pub struct Sms {
    pub sender: Arc<dyn SmsSender>,
    /// Per organisation, in memory, per node.
    pub burst: Arc<BurstLimiter>,
    /// National numbers are read in this region.
    pub default_region: Region,
    /// Counted in the database, exact across nodes.
    pub caps: Caps,
    /// keyward's public base URL (`KEYWARD_PUBLIC_URL`): when set, Twilio reports
    /// delivery to `{public_url}/twilio/status?org={orgId}`.
    pub public_url: Option<String>,
}
