//! The real `keyward` binary, bootstrapped and serving one test's database.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

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
}

fn keyward() -> Command {
    let mut cmd = Command::new(BINARY);
    let level = if std::env::var_os("KEYWARD_TEST_LOG").is_some() { "info" } else { "warn" };
    cmd.env("RUST_LOG", level).kill_on_drop(true);
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
        let db = TestDatabase::create(backend);
        let org_id = bootstrap(&db.url, "Acme Estates", "owner@acme.test").await;
        let mut env: Vec<(&str, &str)> = env.to_vec();
        if backend == Backend::Postgres {
            env.insert(0, ("KEYWARD_SECRET_KEY", SECRET_KEY));
        }
        let (server, url) = spawn_server(&db.url, &env).await;
        let owner = login(&url, "owner@acme.test").await;
        Some(TestApp { _server: server, db, url, owner, org_id, users_created: AtomicUsize::new(0) })
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
