//! keyward's JSON-RPC surface.
//!
//! - [`procedures`] holds THE list of procedures: each declared once (name, input,
//!   output, required capability, handler). The server registers from it; the bindings
//!   generator walks it.
//! - [`procedure`] is the machinery every call goes through: authenticate, authorise,
//!   parse params by name, run, map the error.
//! - [`server`] is the jsonrpsee server: HTTP + WebSocket, limits, request ids,
//!   per-call spans, `GET /health`.
//!
//! Architecture invariant: this is the only crate that knows JSON-RPC; error codes and
//! `data.kind` are decided in [`error`] and nowhere else.

#[cfg(test)]
mod bindings;
pub mod error;
mod params;
mod patch;
pub mod procedure;
pub mod procedures;
pub mod security;
pub mod server;

use std::time::Duration;

use keyward_persistence::{Db, Sealer};

/// What every procedure can reach.
pub struct App {
    pub db: Db,
    /// Seals and opens secrets (access code values) under the server's secret key.
    pub sealer: Sealer,
    /// How long a session token lives after login.
    pub token_ttl: Duration,
}
