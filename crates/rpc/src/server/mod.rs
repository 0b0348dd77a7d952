//! The server: JSON-RPC 2.0 over HTTP `POST /` and WebSocket on one port (hyper 1, our
//! own accept loop), `GET /health`, `GET /metrics` (when enabled), `POST /twilio/status`,
//! request ids, CORS, and the
//! transport's limits: body and header size, header and body timeouts, connections per
//! client address and in total.
//!
//! - `connections.rs`: counting connections, admission, refusals.
//! - `http.rs`: one HTTP request (routes, the bounded body, JSON refusals).
//! - `websocket.rs`: the upgrade and the socket's message loop.
//! - `test_clock.rs`: `POST /test/clock`, with `--test-clock` only.

mod connections;
mod http;
mod test_clock;
mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ::http::{HeaderName, Method, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::App;
use crate::jsonrpc::Rpc;
pub use crate::jsonrpc::envelope::{MAX_BATCH, MAX_DEPTH};
use connections::{Admission, BodyBudget, Connections, Guard};
use http::Mode;

/// Bodies (and WebSocket messages) up to 2 MiB: large enough that an oversized text
/// field is refused as INVALID_INPUT on its field, small enough to bound memory. Larger
/// bodies get HTTP 413.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// The request line and headers, at most (HTTP 431 beyond).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// How the server listens, whom browsers may let call it, and its transport limits.
#[derive(Clone)]
pub struct Options {
    /// Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Origins (`https://app.example.com`) whose pages may call the API from a browser.
    /// Empty: none (the default).
    pub cors_origins: Vec<::http::HeaderValue>,
    pub limits: Limits,
    /// Serves `GET /metrics` (Prometheus' text format, no token) when set; without it
    /// `/metrics` is 404.
    pub metrics: Option<crate::metrics::Render>,
    /// Serves `POST /test/clock` (tests only: `keyward serve --test-clock`) when set;
    /// without it the path is 404.
    pub test_clock: Option<keyward_persistence::time::TestClock>,
    /// The node's job runner: `POST /test/clock` runs its due jobs.
    pub jobs: Arc<crate::jobs::Runner>,
}

/// The transport's limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; a few more are answered "saturated".
    pub max_connections: usize,
    /// Connections from one client address at once; more are answered 429.
    pub max_connections_per_ip: usize,
    /// From the connection (or the previous answer) to the end of a request's headers.
    pub header_timeout: Duration,
    /// From the end of the headers to the end of the body (408 beyond).
    pub body_timeout: Duration,
    pub max_body_bytes: usize,
    /// The memory every request body being read and answered may take together; a
    /// request past it is answered 503 at once.
    pub max_body_memory: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 900,
            max_connections_per_ip: 64,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_body_bytes: MAX_BODY_BYTES,
            max_body_memory: 256 * 1024 * 1024,
        }
    }
}

/// What every connection shares.
struct Shared {
    rpc: Rpc,
    limits: Limits,
    connections: Arc<Connections>,
    body_budget: BodyBudget,
    metrics: Option<crate::metrics::Render>,
    test_clock: Option<keyward_persistence::time::TestClock>,
    jobs: Arc<crate::jobs::Runner>,
    /// Becomes `true` when the server stops.
    shutdown: watch::Receiver<bool>,
}

/// Keeps a connection counted while any part of it (its HTTP task, an upgraded
/// WebSocket) is alive.
type ConnectionRef = Arc<Guard>;

/// A running server.
pub struct ServerHandle {
    stop: watch::Sender<bool>,
    connections: Arc<Connections>,
    accept: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    /// Stops accepting; open connections finish their requests in flight and close
    /// (WebSockets answer what they are running, then close with 1001).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits until the server has stopped and every connection has closed.
    pub async fn stopped(self) {
        let _ = self.accept.await;
        self.connections.all_closed().await;
    }
}

/// Starts serving; returns the handle and the address bound.
pub async fn start(app: Arc<App>, options: Options) -> std::io::Result<(ServerHandle, SocketAddr)> {
    let listener = TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    let (stop, shutdown) = watch::channel(false);
    let connections = Connections::new(options.limits.max_connections, options.limits.max_connections_per_ip);
    let shared = Arc::new(Shared {
        rpc: Rpc::new(app),
        limits: options.limits.clone(),
        connections: Arc::clone(&connections),
        body_budget: BodyBudget::new(options.limits.max_body_memory, options.limits.max_body_bytes),
        metrics: options.metrics,
        test_clock: options.test_clock,
        jobs: options.jobs,
        shutdown,
    });
    let cors = cors(options.cors_origins);
    let accept = tokio::spawn(accept_loop(listener, shared, cors));
    Ok((ServerHandle { stop, connections, accept }, addr))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, cors: CorsLayer) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, typically: pause rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        match shared.connections.admit(peer.ip()) {
            Admission::Serve(guard) => {
                tracing::trace!(%peer, "connection accepted");
                tokio::spawn(serve_connection(stream, peer, Arc::clone(&shared), cors.clone(), Mode::Normal, guard));
            }
            Admission::Saturated(guard) => {
                tracing::warn!(%peer, "connection limit reached: answering saturated");
                tokio::spawn(serve_connection(stream, peer, Arc::clone(&shared), cors.clone(), Mode::Saturated, guard));
            }
            Admission::Refuse(refusal) => {
                tracing::debug!(%peer, ?refusal, "connection refused");
                shared.connections.refuse(stream, refusal);
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    cors: CorsLayer,
    mode: Mode,
    guard: Guard,
) {
    let _ = stream.set_nodelay(true);
    let guard: ConnectionRef = Arc::new(guard);
    let endpoint = {
        let (shared, guard) = (Arc::clone(&shared), Arc::clone(&guard));
        tower::service_fn(move |mut req: ::http::Request<Incoming>| {
            let (shared, guard) = (Arc::clone(&shared), Arc::clone(&guard));
            req.extensions_mut().insert(crate::procedure::ClientAddr(peer));
            async move { Ok::<_, std::convert::Infallible>(http::handle(shared, mode, guard, req).await) }
        })
    };
    let service = tower::ServiceBuilder::new()
        // Outermost, so that a preflight is answered before anything else looks at it.
        .layer(cors)
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(PropagateRequestIdLayer::x_request_id())
        .service(endpoint);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .keep_alive(mode == Mode::Normal);
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)).with_upgrades();
    tokio::pin!(connection);
    let mut shutdown = shared.shutdown.clone();
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = shutdown.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
    drop(guard);
}

/// Lets the listed origins call from a browser: POST with JSON and a bearer token, the
/// request id readable. Other origins get no CORS headers, so browsers refuse them.
fn cors(origins: Vec<::http::HeaderValue>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST, Method::GET])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, HeaderName::from_static("x-request-id")])
        .expose_headers([HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(600))
}
