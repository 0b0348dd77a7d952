//! The audit log's hash chain: an untouched chain verifies, and an edit, a deletion, a
//! forged insertion or a reordering done directly in the database is detected by
//! `audit.verify` and by `keyward audit verify`, naming the event where it breaks;
//! concurrent writers still produce one chain; a database from before the chain gets it
//! built by the migration; and the periodic anchor logs the head.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::on_both_databases;
use crate::support::server::{self, SECRET_KEY};
use crate::support::{Backend, Client, TestApp};

/// Some history: a development, three keys, an issue and a return.
async fn some_history(app: &TestApp) {
    let dev = app.development("Oak Park").await;
    let mut keys = Vec::new();
    for label in ["Flat 1", "Flat 2", "Flat 3"] {
        keys.push(app.key(&dev["id"], label).await);
    }
    app.owner.ok("keys.issueKey", json!({"id": keys[0]["id"], "issuedTo": "Ann"})).await;
    app.owner.ok("keys.returnKey", json!({"id": keys[0]["id"]})).await;
}

/// The organisation's event ids in chain order.
fn chain_ids(app: &TestApp) -> Vec<String> {
    app.db.texts(&format!("SELECT id AS v FROM audit_events WHERE org_id = '{}' ORDER BY seq", app.org_id))
}

fn stored(app: &TestApp, column: &str, id: &str) -> String {
    app.db.texts(&format!("SELECT {column} AS v FROM audit_events WHERE id = '{id}'")).remove(0)
}

/// `keyward audit verify` against the test's database: (success, stdout, stderr).
async fn cli_verify(app: &TestApp, org: Option<&str>) -> (bool, String, String) {
    let mut cmd = server::command();
    cmd.args(["audit", "verify"]).env("KEYWARD_DATABASE_URL", &app.db.url);
    if let Some(org) = org {
        cmd.args(["--org", org]);
    }
    let out = cmd.output().await.expect("run keyward audit verify");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Both verifiers report the chain broken at `event_id` for `reason`, after `verified`
/// sound events.
async fn assert_broken_at(app: &TestApp, event_id: &str, seq: i64, reason: &str, verified: i64) {
    let report = app.owner.ok("audit.verify", json!({})).await;
    assert_eq!(report["verified"], verified, "{report}");
    let broken = &report["broken"];
    assert_eq!(broken["eventId"], event_id, "{report}");
    assert_eq!(broken["seq"], seq, "{report}");
    assert_eq!(broken["reason"], reason, "{report}");
    let (expected, found) = (broken["expectedHash"].as_str().unwrap(), broken["foundHash"].as_str().unwrap());
    assert_ne!(expected, found, "{report}");
    assert!(expected.len() == 64 && found.len() == 64, "{report}");

    let (ok, stdout, stderr) = cli_verify(app, Some(&app.org_id)).await;
    assert!(!ok, "a broken chain exits non-zero: {stdout}");
    assert!(stdout.contains(&format!("BROKEN at event {event_id} (seq {seq})")), "{stdout}");
    assert!(stdout.contains(expected) && stdout.contains(found), "{stdout}");
    assert!(stderr.contains("audit chain(s) broken"), "{stderr}");
}

on_both_databases! {
    async fn an_untouched_chain_verifies_with_every_event_counted(app: TestApp) {
        some_history(&app).await;
        let total = app.owner.ok("audit.list", json!({"limit": 1})).await["total"].clone();
        assert!(total.as_i64().unwrap() >= 6);
        assert_eq!(app.owner.ok("audit.verify", json!({})).await, json!({"verified": total, "broken": null}));

        let head = app.owner.ok("audit.head", json!({})).await;
        assert_eq!(head["seq"], total);
        let ids = chain_ids(&app);
        let newest = ids.last().unwrap();
        assert_eq!(head["hash"], stored(&app, "hash", newest));
        assert_eq!(head["at"], app.owner.ok("audit.list", json!({"limit": 1})).await["items"][0]["at"]);
        // Each event points at the one before; the first at 64 zeros.
        assert_eq!(stored(&app, "prev_hash", &ids[0]), "0".repeat(64));
        for pair in ids.windows(2) {
            assert_eq!(stored(&app, "prev_hash", &pair[1]), stored(&app, "hash", &pair[0]));
        }

        let (ok, stdout, _) = cli_verify(&app, None).await;
        assert!(ok, "{stdout}");
        assert!(stdout.contains(&format!("organisation {}: {total} events verified, chain intact", app.org_id)), "{stdout}");
        let (ok, _, stderr) = cli_verify(&app, Some("no-such-org")).await;
        assert!(!ok && stderr.contains("no organisation no-such-org"), "{stderr}");
    }

    async fn an_edited_event_is_detected(app: TestApp) {
        some_history(&app).await;
        let ids = chain_ids(&app);
        app.db.execute(&format!("UPDATE audit_events SET summary = 'Nothing happened' WHERE id = '{}'", ids[2]));
        assert_broken_at(&app, &ids[2], 3, "hash", 2).await;
    }

    async fn a_deleted_event_is_detected(app: TestApp) {
        some_history(&app).await;
        let ids = chain_ids(&app);
        app.db.execute(&format!("DELETE FROM audit_events WHERE id = '{}'", ids[3]));
        // The next event stands where the deleted one should.
        assert_broken_at(&app, &ids[4], 5, "sequence", 3).await;
    }

    async fn a_forged_event_is_detected(app: TestApp) {
        some_history(&app).await;
        let ids = chain_ids(&app);
        let n = ids.len();
        let head_hash = stored(&app, "hash", &ids[n - 1]);
        // A plausible event at the end of the chain, pointing at the real head, with a
        // hash the forger made up.
        app.db.execute(&format!(
            "INSERT INTO audit_events (id, org_id, at, actor_id, actor_name, action, entity_type, entity_id, \
             summary, changes, seq, prev_hash, hash) VALUES ('forged-event', '{org}', '2026-12-05 10:00:00', NULL, \
             'Acme Estates Owner', 'key.deleted', 'key', 'k', 'Key deleted', '[]', {seq}, '{head_hash}', '{fake}')",
            org = app.org_id,
            seq = n + 1,
            fake = "ab".repeat(32),
        ));
        assert_broken_at(&app, "forged-event", i64::try_from(n).unwrap() + 1, "hash", i64::try_from(n).unwrap()).await;
    }

    async fn reordered_events_are_detected(app: TestApp) {
        some_history(&app).await;
        let ids = chain_ids(&app);
        // Swap the places of the 3rd and 4th events.
        app.db.execute(&format!(
            "UPDATE audit_events SET seq = -3 WHERE id = '{a}'; UPDATE audit_events SET seq = 3 WHERE id = '{b}'; \
             UPDATE audit_events SET seq = 4 WHERE id = '{a}'",
            a = ids[2],
            b = ids[3],
        ));
        assert_broken_at(&app, &ids[3], 3, "previousHash", 2).await;
    }

    async fn swapped_contents_are_detected(app: TestApp) {
        some_history(&app).await;
        let ids = chain_ids(&app);
        let (a, b) = (&ids[3], &ids[4]);
        let (summary_a, summary_b) = (stored(&app, "summary", a), stored(&app, "summary", b));
        assert_ne!(summary_a, summary_b);
        app.db.execute(&format!(
            "UPDATE audit_events SET summary = '{summary_b}' WHERE id = '{a}'; \
             UPDATE audit_events SET summary = '{summary_a}' WHERE id = '{b}'"
        ));
        assert_broken_at(&app, a, 4, "hash", 3).await;
    }

    async fn twenty_concurrent_writers_produce_one_valid_chain(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let shared = app.key(&dev["id"], "Shared").await;
        let team = app.user("team").await;
        let before = app.owner.ok("audit.head", json!({})).await["seq"].as_i64().unwrap();
        // New keys and developments, and changes to one key: some renumber it (which
        // takes the organisation's lock for its ref first), some relabel it.
        let calls = (0..20).map(|i| {
            let (owner, team, dev_id, key_id) = (app.owner.clone(), team.clone(), dev["id"].clone(), shared["id"].clone());
            async move {
                match i % 4 {
                    0 => owner.ok("developments.create", json!({"name": format!("Block {i}")})).await,
                    1 => {
                        team.ok("keys.createKey", json!({"developmentId": dev_id, "keyType": "fob", "label": format!("Fob {i}")}))
                            .await
                    }
                    2 => owner.ok("keys.updateKey", json!({"id": key_id, "keyRef": format!("SHARED-{i}")})).await,
                    _ => team.ok("keys.updateKey", json!({"id": key_id, "label": format!("Shared {i}")})).await,
                }
            }
        });
        join_all(calls).await;
        let total = app.owner.ok("audit.list", json!({"limit": 1})).await["total"].as_i64().unwrap();
        assert_eq!(total, before + 20, "every call succeeded with one event");
        assert_eq!(app.owner.ok("audit.verify", json!({})).await, json!({"verified": total, "broken": null}));
        assert_eq!(app.owner.ok("audit.head", json!({})).await["seq"], total);
        let seqs = app.db.texts(&format!(
            "SELECT CAST(seq AS TEXT) AS v FROM audit_events WHERE org_id = '{}' ORDER BY seq", app.org_id
        ));
        let expected: Vec<String> = (1..=total).map(|n| n.to_string()).collect();
        assert_eq!(seqs, expected, "1, 2, 3 … without a gap");
    }

    async fn chains_are_per_organisation(app: TestApp) {
        some_history(&app).await;
        let other = app.other_organisation().await;
        other.ok("developments.create", json!({"name": "Elsewhere"})).await;
        let head = other.ok("audit.head", json!({})).await;
        assert_eq!(head["seq"], 3, "organisation.created, user.created, development.created: {head}");
        assert_eq!(other.ok("audit.verify", json!({})).await, json!({"verified": 3, "broken": null}));
        // Tampering in one organisation does not break the other's chain.
        let ids = chain_ids(&app);
        app.db.execute(&format!("UPDATE audit_events SET actor_name = 'Someone else' WHERE id = '{}'", ids[1]));
        assert_broken_at(&app, &ids[1], 2, "hash", 1).await;
        assert_eq!(other.ok("audit.verify", json!({})).await, json!({"verified": 3, "broken": null}));
    }

    async fn audit_list_string_filters_are_bounded(app: TestApp) {
        some_history(&app).await;
        for field in ["entityType", "entityId", "actorId", "action"] {
            let at_limit = app.owner.ok("audit.list", json!({field: "a".repeat(200)})).await;
            assert_eq!(at_limit["total"], 0, "{field}");
            app.owner.err("audit.list", json!({field: "a".repeat(201)})).await.assert_invalid(field);
            app.owner.err("audit.list", json!({field: "a".repeat(1_500_000)})).await.assert_invalid(field);
        }
        let issued = app.owner.ok("audit.list", json!({"action": "key.issued"})).await;
        assert_eq!(issued["total"], 1);
    }
}

/// The migration from the version before the chain: the chain columns are removed and the
/// migration forgotten (the real `down.sql`), as a database of that version looks; then
/// keyward migrates it, and the chain built for the existing events verifies.
mod existing_databases_get_their_chain {
    use super::*;

    async fn run(backend: Backend) {
        let Some(mut app) = TestApp::start(backend).await else { return };
        some_history(&app).await;
        let other = app.other_organisation().await;
        other.ok("developments.create", json!({"name": "Elsewhere"})).await;
        let events = app.owner.ok("audit.list", json!({"limit": 1})).await["total"].as_i64().unwrap();
        let ordered_by_time =
            app.db.texts(&format!("SELECT id AS v FROM audit_events WHERE org_id = '{}' ORDER BY at, id", app.org_id));
        assert!(app.terminate().await.success());

        let down = match backend {
            Backend::Sqlite => [
                include_str!("../../migrations/sqlite/2026-12-05-100100_login_failures/down.sql"),
                include_str!("../../migrations/sqlite/2026-12-05-100000_audit_chain/down.sql"),
            ],
            Backend::Postgres => [
                include_str!("../../migrations/postgres/2026-12-05-100100_login_failures/down.sql"),
                include_str!("../../migrations/postgres/2026-12-05-100000_audit_chain/down.sql"),
            ],
        };
        for sql in down {
            app.db.execute(sql);
        }
        app.db.execute("DELETE FROM __diesel_schema_migrations WHERE version IN ('20261205100000', '20261205100100')");

        let out = server::command()
            .arg("migrate")
            .env("KEYWARD_DATABASE_URL", &app.db.url)
            .env("RUST_LOG", "info")
            .output()
            .await
            .expect("run keyward migrate");
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{log}");
        assert!(log.contains("audit events chained"), "{log}");

        // Numbered by (at, id), per organisation, and intact.
        assert_eq!(chain_ids(&app), ordered_by_time);
        let (ok, stdout, _) = cli_verify(&app, None).await;
        assert!(ok, "{stdout}");
        assert!(
            stdout.contains(&format!("organisation {}: {events} events verified, chain intact", app.org_id)),
            "{stdout}"
        );
        assert!(stdout.contains(": 3 events verified, chain intact"), "the other organisation: {stdout}");

        // A server on the upgraded database extends the same chain.
        let env: &[(&str, &str)] =
            if backend == Backend::Postgres { &[("KEYWARD_SECRET_KEY", SECRET_KEY)] } else { &[] };
        let (_server, url) = server::spawn_server(&app.db.url, env).await;
        let owner = Client::new(&url, None)
            .ok("auth.login", json!({"email": "owner@acme.test", "password": server::PASSWORD}))
            .await;
        let owner = Client::new(&url, owner["token"].as_str().map(str::to_owned));
        owner.ok("developments.create", json!({"name": "After the upgrade"})).await;
        assert_eq!(owner.ok("audit.verify", json!({})).await, json!({"verified": events + 1, "broken": null}));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run(Backend::Postgres).await;
    }
}

on_both_databases! {
    async fn the_anchor_logs_each_organisations_head(app: TestApp) {
        // A second server on the same database, logging at INFO, anchoring every second.
        let mut env = vec![("RUST_LOG", "info"), ("KEYWARD_AUDIT_ANCHOR_SECS", "1"), ("KEYWARD_LOG_FORMAT", "json")];
        if app.db.backend == Backend::Postgres {
            env.push(("KEYWARD_SECRET_KEY", SECRET_KEY));
        }
        let mut child = server::command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("KEYWARD_DATABASE_URL", &app.db.url)
            .envs(env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start keyward serve");
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let reader = {
            let (lines, stderr) = (Arc::clone(&lines), child.stderr.take().expect("piped stderr"));
            tokio::spawn(async move {
                let mut stderr = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = stderr.next_line().await {
                    lines.lock().unwrap().push(line);
                }
            })
        };
        server::listening_url(&mut child).await;

        app.development("Oak Park").await;
        let head = app.owner.ok("audit.head", json!({})).await;
        let wanted = |line: &String| {
            line.contains("audit chain head")
                && line.contains(&format!("\"org\":\"{}\"", app.org_id))
                && line.contains(&format!("\"seq\":{}", head["seq"]))
                && line.contains(&format!("\"hash\":\"{}\"", head["hash"].as_str().unwrap()))
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !lines.lock().unwrap().iter().any(wanted) {
            assert!(Instant::now() < deadline, "no anchor line for {head} in 20 s: {:?}", lines.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A later anchor (the other organisation's first head) comes, and the first
        // organisation's unchanged head is not logged again.
        let other = app.other_organisation().await;
        let other_head = other.ok("audit.head", json!({})).await;
        let later = |line: &String| line.contains("audit chain head") && line.contains(&format!("\"hash\":\"{}\"", other_head["hash"].as_str().unwrap()));
        while !lines.lock().unwrap().iter().any(later) {
            assert!(Instant::now() < deadline, "no anchor line for {other_head} in 20 s: {:?}", lines.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let anchored: Vec<Value> = lines.lock().unwrap().iter().filter(|l| wanted(l)).map(|l| json!(l)).collect();
        assert_eq!(anchored.len(), 1, "{anchored:?}");
        server::terminate(&mut child).await;
        reader.await.expect("the log reader");
    }
}
