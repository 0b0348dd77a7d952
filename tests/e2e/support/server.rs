//! The real `keyward` binary, bootstrapped and serving one test's database.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::client::Client;
use super::database::{Backend, TestDatabase, postgres_skipped};

pub const PASSWORD: &str = "correct-horse-battery";
/// PostgreSQL needs a configured secret key; SQLite tests use the key file created
/// beside the database, as the embedded default does.
pub const SECRET_KEY: &str = "a2V5d2FyZC10ZXN0LWtleS0wMDAwMDAwMDAwMDAwMDA=";
const BINARY: &str = env!("CARGO_BIN_EXE_keyward");

pub struct TestApp {
    // Field order is drop order: stop the server before dropping its database.
    _server: Child,
    pub db: TestDatabase,
    pub url: String,
    /// Signed in as the owner of the first organisation.
    pub owner: Client,
    pub org_id: String,
    users_created: AtomicUsize,
    /// How `keyward serve` was started: its database URL and settings (for `restart`).
    serve: (String, Vec<(String, String)>),
}

/// `keyward` as the tests run it. Its database bound (`KEYWARD_DB_TIMEOUT_MS`) is 30 s
/// rather than the 5 s of production: a test machine busy building while four tests run
/// can take seconds to create a PostgreSQL connection, and a test must not fail on that.
/// The tests of the bound itself (`faults.rs`) set their own, which comes later and wins.
fn keyward() -> Command {
    let mut cmd = Command::new(BINARY);
    let level = if std::env::var_os("KEYWARD_TEST_LOG").is_some() { "info" } else { "warn" };
    cmd.env("RUST_LOG", level).env("KEYWARD_DB_TIMEOUT_MS", "30000").kill_on_drop(true);
    cmd
}

/// Runs `keyward bootstrap` against a database; returns the new organisation's id.
pub async fn bootstrap(database_url: &str, org: &str, email: &str) -> String {
    let out = keyward()
        .args(["bootstrap", "--org", org, "--email", email, "--name", &format!("{org} Owner")])
        .env("KEYWARD_DATABASE_URL", database_url)
        .env("KEYWARD_PASSWORD", PASSWORD)
        .output()
        .await
        .expect("run keyward bootstrap");
    assert!(out.status.success(), "bootstrap failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

impl TestApp {
    /// A bootstrapped organisation on a fresh database and a server for it; `None` when
    /// the PostgreSQL half is switched off (`cargo xtask test` says so loudly).
    pub async fn start(backend: Backend) -> Option<TestApp> {
        Self::start_with(backend, &[]).await
    }

    /// Like [`TestApp::start`], with extra `KEYWARD_*` settings for `keyward serve`.
    pub async fn start_with(backend: Backend, env: &[(&str, &str)]) -> Option<TestApp> {
        if backend == Backend::Postgres && postgres_skipped() {
            eprintln!("PostgreSQL half skipped (KEYWARD_TEST_POSTGRES=skip)");
            return None;
        }
        Some(Self::start_on(TestDatabase::create(backend), None, env).await)
    }

    /// A bootstrapped organisation on `db` and a server for it; the server reaches the
    /// database at `serve_url` when given (a proxy in front of it), else at `db.url`.
    pub async fn start_on(db: TestDatabase, serve_url: Option<String>, env: &[(&str, &str)]) -> TestApp {
        let org_id = bootstrap(&db.url, "Acme Estates", "owner@acme.test").await;
        let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if db.backend == Backend::Postgres {
            env.insert(0, ("KEYWARD_SECRET_KEY".to_owned(), SECRET_KEY.to_owned()));
        }
        let serve_url = serve_url.unwrap_or_else(|| db.url.clone());
        let (server, url) = spawn_server(&serve_url, &pairs(&env)).await;
        let owner = login(&url, "owner@acme.test").await;
        TestApp { _server: server, db, url, owner, org_id, users_created: AtomicUsize::new(0), serve: (serve_url, env) }
    }

    /// `kill -9` the server: it gets no chance to tidy up.
    pub async fn kill(&mut self) {
        super::sms::kill(&mut self._server).await;
    }

    /// Starts the server again, as it was started, on the same database (after `kill`);
    /// `url` and `owner` follow it to its new port (the owner's session stays valid).
    pub async fn restart(&mut self) {
        let (server, url) = spawn_server(&self.serve.0, &pairs(&self.serve.1)).await;
        self._server = server;
        self.owner = Client::new(&url, self.owner.token.clone());
        self.url = url;
    }

    /// Sends SIGTERM and waits for the server to exit (bounded); returns its exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        terminate(&mut self._server).await
    }

    /// The server's process id (for reading its memory use from /proc).
    pub fn pid(&self) -> u32 {
        self._server.id().expect("the server is running")
    }

    pub fn anonymous(&self) -> Client {
        Client::new(&self.url, None)
    }

    pub async fn login(&self, email: &str) -> Client {
        login(&self.url, email).await
    }

    /// Another `keyward serve` on this app's database with `extra` settings, its log
    /// captured.
    pub async fn spawn_logged_server(&self, extra: &[(&str, &str)]) -> LoggedServer {
        let mut env = extra.to_vec();
        if self.db.backend == Backend::Postgres {
            env.push(("KEYWARD_SECRET_KEY", SECRET_KEY));
        }
        spawn_logged_server(&self.db.url, &env).await
    }

    /// A second organisation with its own owner, signed in.
    pub async fn other_organisation(&self) -> Client {
        bootstrap(&self.db.url, "Other Lettings", "owner@other.test").await;
        self.login("owner@other.test").await
    }

    /// A new user of the first organisation with `role`, signed in.
    pub async fn user(&self, role: &str) -> Client {
        let n = self.users_created.fetch_add(1, Ordering::Relaxed);
        let email = format!("{role}{n}@acme.test");
        self.owner
            .ok(
                "users.create",
                json!({"email": email, "name": format!("{role} {n}"), "role": role, "password": PASSWORD}),
            )
            .await;
        self.login(&email).await
    }

    pub async fn development(&self, name: &str) -> Value {
        self.owner.ok("developments.create", json!({"name": name})).await
    }

    pub async fn key(&self, development_id: &Value, label: &str) -> Value {
        self.owner
            .ok("keys.createKey", json!({"developmentId": development_id, "keyType": "physical_key", "label": label}))
            .await
    }
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

async fn login(url: &str, email: &str) -> Client {
    let result = Client::new(url, None).ok("auth.login", json!({"email": email, "password": PASSWORD})).await;
    Client::new(url, Some(result["token"].as_str().expect("a token").to_owned()))
}

/// Starts `keyward serve` on a free port and waits for its "listening" line; returns the
/// process and the base URL.
pub async fn spawn_server(database_url: &str, env: &[(&str, &str)]) -> (Child, String) {
    let mut server = keyward()
        .args(["serve", "--listen", "127.0.0.1:0", "--db-pool-size", "8"])
        .env("KEYWARD_DATABASE_URL", database_url)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start keyward serve");
    let url = listening_url(&mut server).await;
    (server, url)
}

/// Like [`spawn_server`], with the server's stderr (its log) captured.
pub async fn spawn_logged_server(database_url: &str, env: &[(&str, &str)]) -> LoggedServer {
    let mut child = keyward()
        .args(["serve", "--listen", "127.0.0.1:0", "--db-pool-size", "8"])
        .env("KEYWARD_DATABASE_URL", database_url)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start keyward serve");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let log = tokio::spawn(async move {
        let mut all = Vec::new();
        let _ = stderr.read_to_end(&mut all).await;
        String::from_utf8_lossy(&all).into_owned()
    });
    let url = listening_url(&mut child).await;
    LoggedServer { child, url, log }
}

/// A server whose stderr is captured.
pub struct LoggedServer {
    pub child: Child,
    pub url: String,
    log: JoinHandle<String>,
}

impl LoggedServer {
    /// Stops the server (SIGTERM) and returns everything it wrote to stderr.
    pub async fn stop(mut self) -> String {
        let status = terminate(&mut self.child).await;
        assert!(status.success(), "the server exits cleanly: {status:?}");
        tokio::time::timeout(Duration::from_secs(10), self.log)
            .await
            .expect("stderr closes when the server exits")
            .expect("the stderr reader")
    }
}

/// Waits for `keyward serve`'s "listening" line (at most 30 s); returns its base URL.
pub async fn listening_url(server: &mut Child) -> String {
    let stdout = server.stdout.take().expect("piped stdout");
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(30), BufReader::new(stdout).read_line(&mut line))
        .await
        .expect("keyward serve did not start within 30 s")
        .expect("read keyward's stdout");
    line.trim()
        .strip_prefix("keyward listening on ")
        .unwrap_or_else(|| panic!("keyward serve did not start: {line:?} (see its log above)"))
        .to_owned()
        + "/"
}

/// Sends SIGTERM to a child process and waits (at most 30 s) for it to exit.
pub async fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().expect("the server is running").to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().await.expect("run kill");
    assert!(sent.success());
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the server stops within 30 s of SIGTERM")
        .expect("wait for the server")
}

/// `keyward` with arguments, for tests of the command line itself.
pub fn command() -> Command {
    keyward()
}

/// Checks `condition` every 100 ms until it holds; fails the test after `within`.
#[track_caller]
pub fn wait_until<F, Fut>(what: &'static str, within: Duration, mut condition: F) -> impl Future<Output = ()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let caller = std::panic::Location::caller();
    async move {
        let give_up = tokio::time::Instant::now() + within;
        while !condition().await {
            assert!(tokio::time::Instant::now() < give_up, "{what}: not within {within:?} (at {caller})");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `POST /test/clock` on a server started with `KEYWARD_TEST_CLOCK=true`: moves its clock
/// (`{"advanceSeconds": n}` or `{"set": instant}`) and runs its due jobs; returns the
/// HTTP status and the body.
pub async fn move_clock(base_url: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{base_url}test/clock"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the server answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

impl TestApp {
    /// Moves this server's test clock (see [`move_clock`]); the answer must be 200:
    /// `{"now", "jobsRun"}`.
    pub async fn clock(&self, body: Value) -> Value {
        let (status, answer) = move_clock(&self.url, body).await;
        assert_eq!(status, 200, "the test clock moves: {answer}");
        answer
    }
}
