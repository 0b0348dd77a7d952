//! The binary as an operator meets it: start-up errors, migrations, logs, shutdown.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::on_both_databases;
use crate::support::database::TestDatabase;
use crate::support::server::{self, command, terminate};
use crate::support::{Backend, TestApp};

on_both_databases! {
    async fn sigterm_stops_the_server_cleanly(app: TestApp) {
        let mut app = app;
        app.owner.ok("keys.listKeys", json!({})).await;
        let status = app.terminate().await;
        assert!(status.success(), "exit status {status:?}");
    }
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_startup_error() {
    let out = command()
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", "postgres://root@127.0.0.1:1/nothing"])
        .env("KEYWARD_SECRET_KEY", server::SECRET_KEY)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open the database postgres://root@127.0.0.1:1/nothing"), "{stderr}");
    assert!(
        stderr.contains("Connection refused") || stderr.contains("connection"),
        "the database's own words: {stderr}"
    );

    let out = command().args(["migrate", "--database-url", "mysql://x"]).output().await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"));
}

#[tokio::test]
async fn migrate_is_idempotent() {
    let db = TestDatabase::create(Backend::Sqlite);
    for _ in 0..2 {
        let out = command().args(["migrate", "--database-url", &db.url]).output().await.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// With `--log-format json`, each call logs one JSON line with its procedure, request
/// id, organisation, outcome and duration.
#[tokio::test]
async fn json_logs_carry_a_span_per_call() {
    let db = TestDatabase::create(Backend::Sqlite);
    let org_id = server::bootstrap(&db.url, "Acme Estates", "owner@acme.test").await;
    let mut child = command()
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0", "--database-url", &db.url])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).await.unwrap();
    let url = line.trim().strip_prefix("keyward listening on ").unwrap().to_owned() + "/";
    let client = crate::support::Client::new(&url, None);
    let login = client.ok("auth.login", json!({"email": "owner@acme.test", "password": server::PASSWORD})).await;
    let client = client.with_token(login["token"].as_str().map(str::to_owned));
    client.ok("keys.listKeys", json!({})).await;
    client.err("keys.listKeys", json!({"limit": 0})).await;
    assert!(terminate(&mut child).await.success());

    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).await.unwrap();
    let lines: Vec<Value> =
        logs.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let calls: Vec<&Value> = lines.iter().filter(|l| l["span"]["procedure"] == "keys.listKeys").collect();
    assert_eq!(calls.len(), 2, "{logs}");
    for call in &calls {
        assert_eq!(call["span"]["org"], org_id.as_str());
        assert!(call["span"]["request_id"].as_str().is_some_and(|id| id.len() == 36));
        assert!(call["fields"]["duration_ms"].is_number());
    }
    assert_eq!(calls[0]["fields"]["message"], "ok");
    assert_eq!(calls[1]["fields"]["message"], "error");
    assert_eq!(calls[1]["fields"]["code"], -32602);
    assert!(!logs.contains(login["token"].as_str().unwrap()), "the token is never logged");
    assert!(!logs.contains(server::PASSWORD), "the password is never logged");
}

/// Without `KEYWARD_PASSWORD` and without a terminal to ask on, `bootstrap` says what to
/// do, and creates nothing.
#[tokio::test]
async fn bootstrap_without_a_terminal_or_password_says_to_set_keyward_password() {
    let db = TestDatabase::create(Backend::Sqlite);
    let out = command()
        .args(["bootstrap", "--org", "Acme Estates", "--email", "owner@acme.test", "--name", "Ann Owner"])
        .env("KEYWARD_DATABASE_URL", &db.url)
        .env_remove("KEYWARD_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no terminal to ask for the password: set KEYWARD_PASSWORD"), "{stderr}");
    assert!(out.stdout.is_empty(), "no organisation id: {}", String::from_utf8_lossy(&out.stdout));

    // The same command with the password set creates the organisation.
    let out = command()
        .args(["bootstrap", "--org", "Acme Estates", "--email", "owner@acme.test", "--name", "Ann Owner"])
        .env("KEYWARD_DATABASE_URL", &db.url)
        .env("KEYWARD_PASSWORD", server::PASSWORD)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A SQLite path whose directory does not exist: every command names the directory, not
/// the key file or the connection, and nothing is created.
#[tokio::test]
async fn a_sqlite_path_in_a_missing_directory_says_the_directory_is_missing() {
    let parent = crate::support::database::TempDir::new(&format!("keyward-missing-dir-{}", std::process::id()));
    let missing = parent.path.join("no-such-dir");
    let url = format!("sqlite://{}/keyward.db", missing.display());
    let commands: [&[&str]; 3] = [
        &["serve", "--listen", "127.0.0.1:0"],
        &["migrate"],
        &["bootstrap", "--org", "Acme Estates", "--email", "owner@acme.test", "--name", "Ann Owner"],
    ];
    for args in commands {
        let out = command()
            .args(args)
            .env("KEYWARD_DATABASE_URL", &url)
            .env("KEYWARD_PASSWORD", server::PASSWORD)
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = format!("the directory {} of the SQLite database", missing.display());
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
        assert!(stderr.contains("does not exist"), "{args:?}: {stderr}");
        assert!(!stderr.contains("key file"), "{args:?}: the key file is not blamed: {stderr}");
    }
    assert!(!missing.exists(), "nothing was created");
}

/// `--help` names the environment variables but never shows a secret's value from them.
#[tokio::test]
async fn help_never_shows_a_secret_from_the_environment() {
    for command_name in ["serve", "migrate", "bootstrap", "rotate-secret"] {
        let out = command()
            .args([command_name, "--help"])
            .env("KEYWARD_DATABASE_URL", "postgres://keyward:Hq7-db-password@127.0.0.1/keyward")
            .env("KEYWARD_SECRET_KEY", server::SECRET_KEY)
            .env("KEYWARD_NEW_SECRET_KEY", server::SECRET_KEY)
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{command_name} --help");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("KEYWARD_DATABASE_URL"), "{command_name}: {help}");
        assert!(!help.contains("Hq7-db-password"), "{command_name}: the database password is shown: {help}");
        assert!(!help.contains(server::SECRET_KEY), "{command_name}: the secret key is shown: {help}");
    }
}
