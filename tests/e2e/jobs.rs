//! Background jobs (issue 13 §1) on the test clock: a job runs when the clock passes its
//! `runAt` (and `POST /test/clock` answers once it has); two nodes on one PostgreSQL never
//! run a job twice; a node killed after its claim leaves the job to run again once the
//! lease expires. The jobs are the SMS sweep and the purge (sessions, login failures,
//! finished jobs): the recurring jobs of every node.

use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::on_both_databases_with;
use crate::on_one_database;
use crate::support::TestApp;
use crate::support::database::{Backend, TestDatabase, postgres_skipped};
use crate::support::server::{SECRET_KEY, move_clock, spawn_server, wait_until};
use crate::support::sms::kill;

const TEST_CLOCK: &[(&str, &str)] = &[("KEYWARD_TEST_CLOCK", "true")];

/// Each job as `kind state attempts`, by run_at then kind.
fn job_rows(db: &TestDatabase) -> Vec<String> {
    db.texts("SELECT kind || ' ' || state || ' ' || CAST(attempts AS TEXT) AS v FROM jobs ORDER BY run_at, kind")
}

async fn health(url: &str) -> Value {
    let text = reqwest::get(format!("{url}health")).await.expect("the server answers").text().await.unwrap();
    serde_json::from_str(&text).expect("a JSON body")
}

on_both_databases_with! { TEST_CLOCK;
    async fn a_job_runs_when_the_clock_passes_its_time(app: TestApp) {
        // The first pass schedules each recurring job's next slot; nothing is due yet.
        // (A fixed start: 13 hours from 09:00 do not reach the digest's 06:00 UTC.)
        assert_eq!(app.clock(json!({"set": "2027-01-11T09:00:30Z"})).await["jobsRun"], 0);
        let mut pending = job_rows(&app.db);
        pending.sort();
        assert_eq!(
            pending,
            [
                "fold_due_days pending 0",
                "overdue_digest pending 0",
                "planner_stats pending 0",
                "purge pending 0",
                "reminder_sweep pending 0",
                "sms_sweep pending 0"
            ]
        );
        assert_eq!(health(&app.url).await["jobs"], json!({"due": 0, "running": 0, "failed": 0}));
        assert_eq!(app.db.texts("SELECT CAST(COUNT(*) AS TEXT) AS v FROM sessions"), ["1"]);

        // 13 hours on: the owner's session (12 hours) has expired; every slot is due and
        // runs before the clock answers, once each; the next slots wait.
        let moved = app.clock(json!({"advanceSeconds": 13 * 3600})).await;
        assert_eq!(moved["jobsRun"], 5, "{moved}");
        let mut rows = job_rows(&app.db);
        rows.sort();
        assert_eq!(
            rows,
            [
                "fold_due_days done 1",
                "fold_due_days pending 0",
                "overdue_digest pending 0",
                "planner_stats done 1",
                "planner_stats pending 0",
                "purge done 1",
                "purge pending 0",
                "reminder_sweep done 1",
                "reminder_sweep pending 0",
                "sms_sweep done 1",
                "sms_sweep pending 0"
            ]
        );
        assert_eq!(app.db.texts("SELECT CAST(COUNT(*) AS TEXT) AS v FROM sessions"), ["0"], "the purge ran");
        assert_eq!(health(&app.url).await["jobs"], json!({"due": 0, "running": 0, "failed": 0}));

        // Moving the clock again does not run a finished job again.
        assert_eq!(app.clock(json!({})).await["jobsRun"], 0);
    }
}

/// `keyward serve` with the test clock on `db`; `extra` settings after it.
async fn node(db: &TestDatabase, extra: &[(&str, &str)]) -> (tokio::process::Child, String) {
    let mut env = vec![("KEYWARD_TEST_CLOCK", "true"), ("KEYWARD_SECRET_KEY", SECRET_KEY)];
    env.extend_from_slice(extra);
    spawn_server(&db.url, &env).await
}

fn fresh_postgres() -> Option<TestDatabase> {
    if postgres_skipped() {
        eprintln!("PostgreSQL half skipped (KEYWARD_TEST_POSTGRES=skip)");
        return None;
    }
    Some(TestDatabase::create(Backend::Postgres))
}

on_one_database! { postgres:
    async fn two_nodes_never_run_a_job_twice() {
        let Some(db) = fresh_postgres() else { return };
        let ((_a, a_url), (_b, b_url)) = tokio::join!(node(&db, &[]), node(&db, &[]));
        // Forty minutes, a minute and a second at a time, on both nodes at once: each
        // step makes a sweep due on both, and they race to claim it.
        let mut runs = 0;
        for _ in 0..40 {
            let ((a, on_a), (b, on_b)) = tokio::join!(
                move_clock(&a_url, json!({"advanceSeconds": 61})),
                move_clock(&b_url, json!({"advanceSeconds": 61}))
            );
            assert_eq!((a, b), (200, 200), "{on_a} {on_b}");
            runs += on_a["jobsRun"].as_u64().unwrap() + on_b["jobsRun"].as_u64().unwrap();
        }
        let done = db.texts("SELECT CAST(COUNT(*) AS TEXT) AS v FROM jobs WHERE state = 'done'");
        assert!(runs >= 39, "about one sweep a step ran: {runs}");
        assert_eq!(done, [runs.to_string()], "every run finished a different job");
        let twice = db.texts("SELECT id AS v FROM jobs WHERE attempts <> 1 AND state = 'done'");
        assert!(twice.is_empty(), "no job was claimed twice: {twice:?}");
    }

    async fn a_node_killed_after_its_claim_leaves_the_job_to_run_again_after_the_lease() {
        let Some(db) = fresh_postgres() else { return };
        // A long database bound: the run must still be waiting when the node is killed.
        let (mut a, a_url) = node(&db, &[("KEYWARD_DB_TIMEOUT_MS", "60000")]).await;
        assert_eq!(move_clock(&a_url, json!({})).await.0, 200);

        // The test holds a lock the sweep needs, so that node A's run stops after its claim.
        let (locked_tx, locked) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let url = db.url.clone();
        let holder = std::thread::spawn(move || {
            use diesel::Connection;
            use diesel::connection::SimpleConnection;
            let mut conn = diesel::PgConnection::establish(&url).expect("connect");
            conn.batch_execute("BEGIN; LOCK TABLE sms_messages IN ACCESS EXCLUSIVE MODE").expect("lock");
            locked_tx.send(()).unwrap();
            let _ = release_rx.recv();
            conn.batch_execute("ROLLBACK").expect("unlock");
        });
        locked.recv_timeout(Duration::from_secs(10)).expect("the lock is held");
        let stuck = tokio::spawn(
            reqwest::Client::new()
                .post(format!("{a_url}test/clock"))
                .header("content-type", "application/json")
                .body(json!({"advanceSeconds": 61}).to_string())
                .send(),
        );
        let running = "SELECT id AS v FROM jobs WHERE kind = 'sms_sweep' AND state = 'running'";
        wait_until("node A claims the sweep", Duration::from_secs(10), || async { !db.texts(running).is_empty() }).await;
        let id = db.texts(running).remove(0);
        let claimed_by = |id: &str| db.texts(&format!("SELECT claimed_by AS v FROM jobs WHERE id = '{id}'")).remove(0);
        let first_claim = claimed_by(&id);

        kill(&mut a).await;
        assert!(stuck.await.expect("the request task").is_err(), "node A died before answering");
        release.send(()).unwrap();
        holder.join().expect("the lock holder");
        let state = |id: &str| db.texts(&format!("SELECT state || ' ' || CAST(attempts AS TEXT) AS v FROM jobs WHERE id = '{id}'"));
        assert_eq!(state(&id), ["running 1"], "the claim outlived its node");

        // Node B does not take the job while the lease (5 minutes) holds...
        let (_b, b_url) = node(&db, &[]).await;
        assert_eq!(move_clock(&b_url, json!({"advanceSeconds": 61})).await.0, 200);
        assert_eq!(state(&id), ["running 1"]);
        assert_eq!(health(&b_url).await["jobs"]["running"], 1);
        // ...and runs it once more when the lease has passed.
        let (status, moved) = move_clock(&b_url, json!({"advanceSeconds": 360})).await;
        assert_eq!(status, 200, "{moved}");
        assert_eq!(state(&id), ["done 2"]);
        assert_ne!(claimed_by(&id), first_claim, "node B ran it");
        assert_eq!(health(&b_url).await["jobs"], json!({"due": 0, "running": 0, "failed": 0}));
    }
}
