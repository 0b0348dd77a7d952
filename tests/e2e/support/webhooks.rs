//! A webhook receiver for the tests: a small hyper server on loopback speaking real HTTP,
//! which verifies every request's Standard Webhooks signature with its own implementation
//! (HMAC-SHA256 from the `hmac` crate, written here independently of keyward's), answers
//! what the test scripts (200 by default, or a failure status), and can go away.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// One request as received, and whether its signature verified.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub body: Value,
    pub verified: bool,
}

#[derive(Default)]
struct State {
    secret: Option<String>,
    status: u16,
    received: Vec<Received>,
}

/// A running receiver; dropping it (or [`Receiver::stop`]) closes its port.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<watch::Sender<()>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        let addr = listener.local_addr().expect("an address");
        let state = Arc::new(Mutex::new(State { status: 200, ..State::default() }));
        let (stop, mut stopped) = watch::channel(());
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = stopped.changed() => return,
                    accepted = listener.accept() => match accepted { Ok((s, _)) => s, Err(_) => continue },
                };
                let state = Arc::clone(&shared);
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(Arc::clone(&state), req));
                    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    tokio::select! { _ = conn => {} _ = stopped.changed() => {} }
                });
            }
        });
        Receiver { addr, state, stop: Some(stop) }
    }

    /// `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The endpoint's secret, to verify signatures with.
    pub fn set_secret(&self, secret: &str) {
        self.state.lock().unwrap().secret = Some(secret.to_owned());
    }

    /// The status every next request is answered with (200, or a failure).
    pub fn answer(&self, status: u16) {
        self.state.lock().unwrap().status = status;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Stops accepting and closes open connections: the endpoint goes away.
    pub fn stop(&mut self) {
        self.stop.take();
    }
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (id, timestamp, signature) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let mut state = state.lock().unwrap();
    let verified = state.secret.as_deref().is_some_and(|secret| verify(secret, &id, &timestamp, &body, &signature));
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.received.push(Received { id, timestamp, body, verified });
    let status = state.status;
    let mut response = Response::new(Full::new(Bytes::from_static(b"receiver says no")));
    *response.status_mut() = hyper::StatusCode::from_u16(status).expect("a status");
    Ok(response)
}

/// Standard Webhooks verification: one of the space-separated `v1,<sig>` entries must be
/// base64(HMAC-SHA256(base64-decoded secret, "{id}.{timestamp}.{body}")).
pub fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(key) = secret.strip_prefix("whsec_").and_then(|k| STANDARD.decode(k).ok()) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    header.split(' ').any(|entry| entry.strip_prefix("v1,") == Some(expected.as_str()))
}
