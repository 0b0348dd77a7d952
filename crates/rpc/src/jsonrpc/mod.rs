//! keyward's own JSON-RPC 2.0 layer: the envelope ([`envelope`]) and the one entry point
//! every transport uses, [`Rpc::handle_message`]: a body in, the answer out (or nothing,
//! for notifications). HTTP and WebSocket both call it; so can a fuzz target.

pub mod envelope;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::error::{self, ErrorObject};
use crate::procedure::{self, BearerToken, Handler};
use crate::{App, metrics};
use envelope::{Body, Entry, Request};

/// The procedure that signs in; at most one per batch.
const LOGIN: &str = "auth.login";

/// The app and its procedures by name, built once.
pub struct Rpc {
    app: Arc<App>,
    handlers: HashMap<&'static str, Handler>,
}

/// What the transport knows about the calls of one message.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// From `Authorization: Bearer …`, or `?access_token=` on a WebSocket upgrade.
    pub token: Option<BearerToken>,
    /// The HTTP request's `x-request-id` (for a WebSocket, the upgrade's).
    pub request_id: String,
    /// The peer address of the connection (per-address login limits); `None` in-process.
    pub client_addr: Option<std::net::SocketAddr>,
}

impl Rpc {
    pub fn new(app: Arc<App>) -> Rpc {
        Rpc { app, handlers: procedure::handlers() }
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Answers one message (a request or a batch): the response text, or `None` when
    /// there is nothing to answer (notifications only). The calls of a batch run
    /// concurrently; the answers keep the batch's order.
    pub async fn handle_message(&self, body: &[u8], ctx: &CallContext) -> Option<String> {
        match envelope::parse(body) {
            Body::Refused(error) => Some(envelope::response(None, &Err(error))),
            Body::Single(entry) => self.answer(&entry, ctx, false).await,
            Body::Batch(entries) => {
                let mut logins = 0;
                let answers = entries.iter().map(|entry| {
                    let second_login =
                        matches!(entry, Entry::Request(r) if r.method == LOGIN && { logins += 1; logins > 1 });
                    self.answer(entry, ctx, second_login)
                });
                envelope::batch_response(join_all(answers).await)
            }
        }
    }

    /// Runs one entry (unless refused) and builds its response; none for a notification.
    async fn answer(&self, entry: &Entry<'_>, ctx: &CallContext, second_login: bool) -> Option<String> {
        match entry {
            Entry::Invalid { id, error } => Some(envelope::response(*id, &Err(error.clone()))),
            Entry::Request(request) => {
                let outcome =
                    if second_login { Err(error::second_login_in_batch()) } else { self.call(request, ctx).await };
                request.id.is_some().then(|| envelope::response(request.id, &outcome))
            }
        }
    }

    /// One call in its span (`rpc`: procedure, request id, organisation once known),
    /// with one log line for its outcome. Neither params nor results are logged.
    async fn call(&self, request: &Request<'_>, ctx: &CallContext) -> Result<Box<RawValue>, ErrorObject> {
        let found = self.handlers.get_key_value(request.method.as_ref());
        // An unknown name is logged (and counted) as such: it is caller-supplied text.
        let procedure = found.map_or(metrics::UNKNOWN_PROCEDURE, |(name, _)| *name);
        let span = tracing::info_span!(
            "rpc",
            procedure,
            request_id = %ctx.request_id,
            org = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            let outcome = match found {
                Some((_, handler)) => handler(&self.app, ctx, request.params).await,
                None => Err(error::method_not_found()),
            };
            let elapsed = started.elapsed();
            metrics::record_call(procedure, &outcome, elapsed);
            let duration_ms = elapsed.as_secs_f64() * 1000.0;
            match &outcome {
                Ok(_) => tracing::info!(duration_ms, "ok"),
                Err(e) => tracing::info!(duration_ms, code = e.code, "error"),
            }
            outcome
        }
        .instrument(span)
        .await
    }
}
