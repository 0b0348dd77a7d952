//! Faults on purpose: PostgreSQL stalled or cut under load behind a proxy of the test's
//! own, a write whose connection dies before or during its commit, and a SQLite file
//! that turns read-only or whose disk fills up while the server runs.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::on_one_database;
use crate::support::database::{TestDatabase, postgres_skipped};
use crate::support::proxy::{Direction, Proxy};
use crate::support::server::wait_until;
use crate::support::{Backend, Client, TestApp};

/// The servers under test give each call 1 s of database time (`KEYWARD_DB_TIMEOUT_MS`):
/// its authentication and its work share that one deadline; plus scheduling and HTTP.
const CALL_BOUND: Duration = Duration::from_millis(1000 + 1500);
/// `/health` makes one step.
const HEALTH_BOUND: Duration = Duration::from_millis(1000 + 1500);

/// A keyward on a fresh PostgreSQL database that it reaches only through a proxy; `None`
/// when the PostgreSQL half is switched off.
async fn behind_proxy() -> Option<(Proxy, TestApp)> {
    if postgres_skipped() {
        eprintln!("PostgreSQL half skipped (KEYWARD_TEST_POSTGRES=skip)");
        return None;
    }
    let db = TestDatabase::create(Backend::Postgres);
    let (proxy, url) = Proxy::in_front_of(&db.url).await;
    let app = TestApp::start_on(db, Some(url), &[("KEYWARD_DB_TIMEOUT_MS", "1000")]).await;
    Some((proxy, app))
}

/// `GET /health`: its status and how long it took (never more than 30 s).
async fn health(app: &TestApp) -> (u16, Duration) {
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(30), reqwest::get(format!("{}health", app.url)))
        .await
        .expect("/health answers within 30 s")
        .expect("the server answers /health");
    (answer.status().as_u16(), started.elapsed())
}

/// A call and how long it took; a hang (30 s) or a server that is gone fails the test.
async fn timed_call(
    client: &Client,
    method: &str,
    params: Value,
) -> (Result<Value, crate::support::RpcError>, Duration) {
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(30), client.try_call(method, params))
        .await
        .unwrap_or_else(|_| panic!("{method} hung for 30 s"))
        .unwrap_or_else(|e| panic!("{method}: no answer, the server is gone? {e}"));
    (answer, started.elapsed())
}

#[track_caller]
fn assert_unavailable(answer: &Result<Value, crate::support::RpcError>, maybe_committed: bool) {
    let e = answer.as_ref().expect_err("the call fails while the database is away");
    e.assert_kind(-32503, "UNAVAILABLE");
    assert_eq!(e.data["maybeCommitted"], maybe_committed, "{e:?}");
}

/// Four clients, each with its own key, under an outage that `fault` starts: every call
/// answers UNAVAILABLE within the bound and changes nothing, `/health` answers 503 within
/// its bound; after `restore` the same server serves again by itself.
async fn outage_under_load(fault: impl FnOnce(&Proxy)) {
    let Some((proxy, app)) = behind_proxy().await else { return };
    let development = app.development("Riverside").await;
    let mut keys = Vec::new();
    for n in 0..4 {
        keys.push(app.key(&development["id"], &format!("Flat {n}")).await);
    }
    let clients: Vec<Client> = (0..4).map(|_| Client::new(&app.url, app.owner.token.clone())).collect();
    assert_eq!(health(&app).await.0, 200);

    fault(&proxy);

    let load = clients.iter().zip(&keys).map(|(client, key)| async move {
        let id = &key["id"];
        for round in 0..3 {
            let (answer, took) = if round % 2 == 0 {
                timed_call(client, "keys.issueKey", json!({"id": id, "issuedTo": "Contractor"})).await
            } else {
                timed_call(client, "keys.getKey", json!({"id": id})).await
            };
            assert_unavailable(&answer, false);
            assert!(took <= CALL_BOUND, "a call took {took:?} while the database was away");
        }
    });
    let (_, (status, took)) = tokio::join!(futures_util::future::join_all(load), health(&app));
    assert_eq!(status, 503, "/health while the database is away");
    assert!(took <= HEALTH_BOUND, "/health took {took:?}");
    // A crowd at once: more calls than connections, none waits longer.
    let crowd = (0..40).map(|n| {
        let (client, keys) = (&clients[n % clients.len()], &keys);
        async move { timed_call(client, "keys.getKey", json!({"id": keys[n % keys.len()]["id"]})).await }
    });
    for (answer, took) in futures_util::future::join_all(crowd).await {
        assert_unavailable(&answer, false);
        assert!(took <= CALL_BOUND, "a call took {took:?} in the crowd");
    }

    proxy.restore();
    wait_until("the service is back", Duration::from_secs(20), || async {
        health(&app).await.0 == 200 && app.owner.call("keys.getKey", json!({"id": keys[0]["id"]})).await.is_ok()
    })
    .await;
    for (client, key) in clients.iter().zip(&keys) {
        let now = client.ok("keys.getKey", json!({"id": key["id"]})).await;
        assert_eq!((&now["status"], &now["version"]), (&json!("in_stock"), &key["version"]), "nothing changed");
        // A client may meet one connection that died with the outage (UNAVAILABLE, safe
        // to retry) before the pool has replaced it.
        let issued =
            retry_unavailable(client, "keys.issueKey", json!({"id": key["id"], "issuedTo": "Contractor"})).await;
        assert_eq!(issued["status"], "issued");
    }
}

/// Calls until the answer is not UNAVAILABLE (a few times at most); expects success.
async fn retry_unavailable(client: &Client, method: &'static str, params: Value) -> Value {
    for _ in 0..10 {
        match client.call(method, params.clone()).await {
            Err(e) if e.code == -32503 => continue,
            other => return other.unwrap_or_else(|e| panic!("{method}: {e:?}")),
        }
    }
    panic!("{method} still UNAVAILABLE after 10 tries with the database back")
}

on_one_database! { postgres:
    async fn a_stalled_database_answers_unavailable_in_time_and_service_resumes() {
        outage_under_load(Proxy::stall).await;
    }

    async fn a_cut_database_answers_unavailable_in_time_and_service_resumes() {
        outage_under_load(Proxy::cut).await;
    }
}

/// Waits until no other session of the test database is inside a transaction: a write
/// keyward gave up on has ended, one way or the other.
async fn transactions_ended(app: &TestApp) {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let url = app.db.url.clone();
    wait_until("the abandoned transaction ends", Duration::from_secs(20), || {
        let url = url.clone();
        async move {
            let mut conn = diesel::PgConnection::establish(&url).expect("connect to the test database");
            let open: Count = diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL",
            )
            .get_result(&mut conn)
            .expect("read pg_stat_activity");
            open.n == 0
        }
    })
    .await;
}

/// The key's history actions, oldest first, and its audit actions.
async fn trail(app: &TestApp, id: &Value) -> (Vec<String>, Vec<String>) {
    let history = app.owner.ok("keys.keyHistory", json!({"id": id})).await;
    let audit = app.owner.ok("audit.list", json!({"entityId": id})).await;
    let actions = |items: &Value, field: &str| -> Vec<String> {
        let mut all: Vec<String> =
            items["items"].as_array().unwrap().iter().map(|i| i[field].as_str().unwrap().to_owned()).collect();
        all.reverse();
        all
    };
    (actions(&history, "action"), actions(&audit, "action"))
}

/// An issueKey whose connection the proxy holds up after `statement` (held in
/// `direction`); once it has answered, the proxy is restored and every transaction has
/// ended. Returns the proxy (the server's only way to its database), the app, the key
/// and the answer.
async fn interrupted_write(
    statement: &'static str,
    direction: Direction,
) -> Option<(Proxy, TestApp, Value, Result<Value, crate::support::RpcError>)> {
    let (proxy, app) = behind_proxy().await?;
    let development = app.development("Riverside").await;
    let key = app.key(&development["id"], "Flat 1").await;
    proxy.hold_after(statement, direction);
    let (answer, took) = timed_call(&app.owner, "keys.issueKey", json!({"id": key["id"], "issuedTo": "Ann"})).await;
    assert!(proxy.is_holding(), "the write's connection was caught after {statement}");
    assert!(took <= CALL_BOUND, "took {took:?}");
    // What was held goes through now; a worker keyward gave up on finishes one way or
    // the other.
    proxy.restore();
    transactions_ended(&app).await;
    Some((proxy, app, key, answer))
}

on_one_database! { postgres:
    async fn a_write_cut_off_before_its_commit_is_unavailable_and_never_commits() {
        // BEGIN reaches PostgreSQL; nothing after it does until the restore.
        let Some((_proxy, app, key, answer)) = interrupted_write("BEGIN", Direction::Requests).await else { return };
        assert_unavailable(&answer, false);
        // The worker ran the held statements after the answer, and rolled them back.
        let now = app.owner.ok("keys.getKey", json!({"id": key["id"]})).await;
        assert_eq!((&now["status"], &now["version"]), (&json!("in_stock"), &key["version"]), "{now}");
        assert_eq!(trail(&app, &key["id"]).await, (vec!["created".to_owned()], vec!["key.created".to_owned()]));
    }

    async fn a_write_whose_commit_answer_is_lost_says_it_may_have_committed() {
        // COMMIT reaches PostgreSQL; its answer does not come back until the restore.
        let Some((_proxy, app, key, answer)) = interrupted_write("COMMIT", Direction::Answers).await else { return };
        assert_unavailable(&answer, true);
        let e = answer.unwrap_err();
        assert!(e.message.contains("may have been saved"), "{e:?}");
        // It had committed, as the answer warned: the key is issued, with its trail.
        let now = app.owner.ok("keys.getKey", json!({"id": key["id"]})).await;
        assert_eq!(now["status"], "issued", "{now}");
        assert_eq!(
            trail(&app, &key["id"]).await,
            (vec!["created".to_owned(), "issued".to_owned()], vec!["key.created".to_owned(), "key.issued".to_owned()])
        );
    }
}

/// Runs a command that must succeed (the tests' own set-up of a fault).
fn run(program: &str, args: &[&str]) {
    let out = std::process::Command::new(program).args(args).output().unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {} (this test breaks a file system on purpose and needs root on one that allows it)",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Files made immutable (`chattr +i`, which stops root too, unlike `chmod`) until dropped.
struct Immutable(Vec<String>);

impl Immutable {
    fn set(files: Vec<String>) -> Immutable {
        let mut args = vec!["+i"];
        args.extend(files.iter().map(String::as_str));
        run("chattr", &args);
        Immutable(files)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let mut args = vec!["-i"];
        args.extend(self.0.iter().map(String::as_str));
        run("chattr", &args);
    }
}

/// A small tmpfs of the test's own, unmounted (and its directory removed) when dropped.
struct Tmpfs {
    path: std::path::PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let path = std::env::temp_dir().join(format!("keyward_full_{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&path).expect("create the mount point");
        run("mount", &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", path.to_str().unwrap()]);
        Tmpfs { path }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: the server may still be letting go of its files.
        let _ = std::process::Command::new("umount").args(["-l", self.path.to_str().unwrap()]).status();
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Fills the file system `path` is on: writes it until there is no space left.
fn fill(path: &std::path::Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("create the filler");
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => panic!("fill the disk: {e}"),
        }
    }
    let _ = file.sync_all();
}

#[track_caller]
fn assert_cannot_store(e: &crate::support::RpcError, fault: &str) {
    e.assert_kind(-32503, "UNAVAILABLE");
    assert_eq!(e.data["maybeCommitted"], false, "{e:?}");
    assert!(e.message.contains("cannot store changes") && e.message.contains(fault), "{e:?}");
}

on_one_database! { sqlite:
    async fn a_database_file_made_read_only_refuses_writes_clearly_and_keeps_serving_reads() {
        let app = TestApp::start(Backend::Sqlite).await.expect("SQLite always runs");
        let development = app.development("Riverside").await;
        let key = app.key(&development["id"], "Flat 1").await;
        let path = app.db.url.strip_prefix("sqlite://").unwrap().to_owned();

        let read_only = Immutable::set(vec![path.clone(), format!("{path}-wal")]);
        let mut last = None;
        for _ in 0..10 {
            let e = app.owner.err("keys.issueKey", json!({"id": key["id"], "issuedTo": "Ann"})).await;
            // A connection opened before the change fails to write its log; one opened
            // after it knows the file is read-only.
            assert_cannot_store(&e, "");
            last = Some(e);
        }
        assert_cannot_store(&last.unwrap(), "read-only");
        assert_eq!(app.owner.ok("keys.getKey", json!({"id": key["id"]})).await, key, "reads are served, unchanged");
        assert_eq!(app.owner.ok("keys.listKeys", json!({})).await["total"], 1);
        assert_eq!(health(&app).await.0, 200, "/health: the database answers reads");

        drop(read_only);
        let issued = retry_unavailable(&app.owner, "keys.issueKey", json!({"id": key["id"], "issuedTo": "Ann"})).await;
        assert_eq!((&issued["status"], &issued["version"]), (&json!("issued"), &json!(2)));
        assert_eq!(
            trail(&app, &key["id"]).await,
            (vec!["created".to_owned(), "issued".to_owned()], vec!["key.created".to_owned(), "key.issued".to_owned()])
        );
    }
}

on_one_database! { sqlite:
    async fn a_full_disk_refuses_writes_clearly_and_keeps_serving_reads() {
        let disk = Tmpfs::mount("8m");
        let db = TestDatabase::sqlite_at(&disk.path.join("keyward.db"));
        let app = TestApp::start_on(db, None, &[]).await;
        let development = app.development("Riverside").await;
        let filler = disk.path.join("filler");
        fill(&filler);

        // The log may still have room it already holds; the disk has none.
        let mut created = 0;
        let refused = loop {
            match app
                .owner
                .call(
                    "keys.createKey",
                    json!({"developmentId": development["id"], "keyType": "physical_key", "label": "Spare"}),
                )
                .await
            {
                Ok(_) => created += 1,
                Err(e) => break e,
            }
            assert!(created < 500, "500 keys written to a full disk");
        };
        assert_cannot_store(&refused, "disk is full");
        let listed = app.owner.ok("keys.listKeys", json!({})).await;
        assert_eq!(listed["total"], created, "reads are served; the refused write left nothing");
        assert_eq!(health(&app).await.0, 200, "/health: the database answers reads");

        std::fs::remove_file(&filler).expect("free the disk");
        retry_unavailable(
            &app.owner,
            "keys.createKey",
            json!({"developmentId": development["id"], "keyType": "physical_key", "label": "Spare"}),
        )
        .await;
        assert_eq!(app.owner.ok("keys.listKeys", json!({})).await["total"], created + 1);
    }
}

#[tokio::test]
async fn the_database_timeout_is_refused_out_of_range() {
    for value in ["0", "99", "600001", "soon"] {
        let out = crate::support::server::command()
            .args(["serve", "--listen", "127.0.0.1:0", "--db-timeout-ms", value])
            .output()
            .await
            .expect("run keyward serve");
        assert!(!out.status.success(), "--db-timeout-ms {value} is refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--db-timeout-ms"), "the error names the flag: {stderr}");
    }
}
