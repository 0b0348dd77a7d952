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
