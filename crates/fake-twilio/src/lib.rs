//! A dev-only fake of Twilio's "create Message" API (`POST /2010-04-01/Accounts/{sid}/Messages.json`),
//! speaking Twilio's real request and response shapes over plain HTTP on loopback.
//!
//! It follows `shared/notes/sms.md` §7: rules 1–11 are evaluated in order (auth, account,
//! validation, the scripted queue, Twilio's magic test numbers, keyward's fault numbers, then
//! a `201`), and every request is recorded so tests can assert what the client sent.
//!
//! Two ways to use it:
//! - in-process, from Rust tests: [`FakeTwilio::start`], then [`FakeTwilio::url`] as
//!   `KEYWARD_TWILIO_BASE_URL`; dropping the value stops the server;
//! - as a process (the `fake-twilio` binary), from the TypeScript contract tests, driven
//!   through the control endpoints `GET /_fake/requests`, `POST /_fake/reset` and
//!   `POST /_fake/next`.
//!
//! ```text
//! use fake_twilio::{Config, FakeTwilio, Scripted};
//! let fake = FakeTwilio::start(Config::default()).await?;
//! // KEYWARD_TWILIO_BASE_URL = fake.url()
//! fake.script(vec![Scripted { status: 429, retry_after: Some("0".into()), ..Scripted::default() }]);
//! // … exercise the client …
//! assert_eq!(fake.message_posts(), 2);
//! assert_eq!(fake.requests()[1].field("SmartEncoded"), Some("false"));
//! ```
//!
//! Incoming messages are simulated by `POST /_fake/inbound {from, to, body, url}` (or
//! [`FakeTwilio::inbound`]): the fake POSTs `url` the form Twilio would, signed with the
//! account's auth token, and answers what the webhook replied (`inbound.rs`).
//!
//! Status callbacks (`POST /_fake/callbacks/{MessageSid}`) are not built.

pub mod inbound;
pub mod numbers;
pub mod segments;
mod server;

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use inbound::{Inbound, InboundReply};

/// The Account SID of Twilio's own examples (and the spec's wire capture).
pub const DEFAULT_ACCOUNT_SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const DEFAULT_AUTH_TOKEN: &str = "test-auth-token";
/// Long enough to outlast any client timeout a test would configure.
pub const DEFAULT_SLOW_DELAY: Duration = Duration::from_secs(30);

/// What the fake accepts as credentials, and how slow `+447400000504` is.
#[derive(Clone, Debug)]
pub struct Config {
    pub account_sid: String,
    pub auth_token: String,
    /// API keys (SK…, secret) also accepted as Basic credentials
    pub api_keys: Vec<(String, String)>,
    /// How long `+447400000504` waits before answering 201.
    pub slow_delay: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            account_sid: DEFAULT_ACCOUNT_SID.to_owned(),
            auth_token: DEFAULT_AUTH_TOKEN.to_owned(),
            api_keys: Vec::new(),
            slow_delay: DEFAULT_SLOW_DELAY,
        }
    }
}

/// One request as the fake received it. Control endpoints (`/_fake/…`) are not recorded.
#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    pub method: String,
    /// Path only, without the query string.
    pub path: String,
    /// The Basic-auth user name, when the `Authorization` header decoded (right or wrong).
    pub auth_user: Option<String>,
    /// Decoded form fields in the order sent, repeats kept. Empty unless the request was
    /// `application/x-www-form-urlencoded`. Serialises as `[[name, value], …]`.
    pub form: Vec<(String, String)>,
    /// RFC 3339, UTC, milliseconds.
    pub received_at: String,
}

impl Recorded {
    /// The first value of form field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A scripted answer for the next `Messages.json` POST that passes rules 1–7.
///
/// A 2xx answers the normal 201 body (with this status). Any other status answers Twilio's
/// error body: `code` defaults to the §1.3 code for 401/404/429/500/503 (else `null`),
/// `message` to that code's text. `Retry-After` is sent when `retry_after` is set, and the
/// answer waits `delay_ms` first (the request is recorded before the wait).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scripted {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

impl Scripted {
    /// A scripted answer with `status` and every option left unset.
    pub fn status(status: u16) -> Self {
        Scripted { status, ..Scripted::default() }
    }

    /// Statuses a test may script: something an HTTP client can receive as a final answer.
    fn is_valid(&self) -> bool {
        (200..=599).contains(&self.status)
    }
}

/// A running fake. Dropping it stops accepting and closes every open connection, including
/// ones waiting in a delay.
pub struct FakeTwilio {
    addr: SocketAddr,
    shared: Arc<Shared>,
    // Never sent on: dropping it is the shutdown signal every server task watches.
    _shutdown: watch::Sender<()>,
}

impl FakeTwilio {
    /// Starts the fake on `127.0.0.1` with an ephemeral port.
    pub async fn start(config: Config) -> io::Result<FakeTwilio> {
        FakeTwilio::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts the fake on `addr`, which must be a loopback address: the fake accepts any
    /// request shape a test throws at it and must never be reachable from outside the machine.
    pub async fn start_on(config: Config, addr: SocketAddr) -> io::Result<FakeTwilio> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("fake-twilio listens on loopback only, not {addr}"),
            ));
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared { config, state: Mutex::default(), request_ids: AtomicU64::new(0) });
        let (shutdown, watcher) = watch::channel(());
        tokio::spawn(server::serve(listener, shared.clone(), watcher));
        Ok(FakeTwilio { addr, shared, _shutdown: shutdown })
    }

    /// The base URL, `http://127.0.0.1:PORT`, with no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every recorded request, in arrival order, including those answered with errors.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.state().requests.clone()
    }

    /// Appends to the scripted queue.
    ///
    /// # Panics
    /// If a status is outside 200–599: that is a bug in the test, not something to answer.
    pub fn script(&self, next: Vec<Scripted>) {
        assert!(next.iter().all(Scripted::is_valid), "scripted statuses must be 200..=599: {next:?}");
        self.shared.state().script.extend(next);
    }

    /// Clears the recorded requests, the scripted queue and the sid counter.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Simulates a text to one of the account's numbers: POSTs `inbound.url` the signed
    /// form Twilio would, and returns what the webhook answered.
    pub async fn inbound(&self, inbound: &Inbound) -> Result<InboundReply, String> {
        self.shared.inbound(inbound).await
    }

    /// How many POSTs to `…/Accounts/{any sid}/Messages.json` arrived.
    pub fn message_posts(&self) -> usize {
        self.shared
            .state()
            .requests
            .iter()
            .filter(|r| r.method == "POST" && server::messages_path_sid(&r.path).is_some())
            .count()
    }
}

/// State the server tasks share with the [`FakeTwilio`] handle.
struct Shared {
    config: Config,
    state: Mutex<State>,
    /// `Twilio-Request-Id` counter; not reset, so ids stay unique for the instance's life.
    request_ids: AtomicU64,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    script: VecDeque<Scripted>,
    /// The last message sid handed out.
    sids: u64,
}

impl Shared {
    /// Locks the state. The guard is never held across an await, and a panic while holding it
    /// cannot leave the plain data half-updated in a way that matters, so poisoning is ignored.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new message sid, `SM` and 32 hex digits.
    fn next_sid(&self) -> String {
        let mut state = self.state();
        state.sids += 1;
        format!("SM{:032x}", state.sids)
    }

    async fn inbound(&self, inbound: &Inbound) -> Result<InboundReply, String> {
        let form = inbound::form(&self.config.account_sid, &self.next_sid(), inbound);
        inbound::deliver(&self.config.auth_token, &form, inbound).await
    }

    fn reset(&self) {
        let mut state = self.state();
        state.requests.clear();
        state.script.clear();
        state.sids = 0;
    }
}
