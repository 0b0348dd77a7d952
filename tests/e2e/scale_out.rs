//! Two `keyward serve` nodes on one PostgreSQL (docs/scaling.md): they start at once on
//! an empty database, and sessions, the login lock, key refs and the audit chain stay
//! right across them. PostgreSQL only: SQLite is one node.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;
use tokio::process::Child;

use crate::auth::refusals;
use crate::on_one_database;
use crate::support::Client;
use crate::support::database::{Backend, TestDatabase, postgres_skipped};
use crate::support::server::{PASSWORD, SECRET_KEY, bootstrap, spawn_server};

/// Two nodes started at the same moment on `db` (empty: they migrate it between them),
/// and the first organisation, bootstrapped afterwards.
async fn two_nodes(db: &TestDatabase, env: &[(&str, &str)]) -> ((Child, String), (Child, String)) {
    let mut env = env.to_vec();
    env.push(("KEYWARD_SECRET_KEY", SECRET_KEY));
    let nodes = tokio::join!(spawn_server(&db.url, &env), spawn_server(&db.url, &env));
    bootstrap(&db.url, "Acme Estates", "owner@acme.test").await;
    nodes
}

fn fresh_database() -> Option<TestDatabase> {
    if postgres_skipped() {
        eprintln!("PostgreSQL half skipped (KEYWARD_TEST_POSTGRES=skip)");
        return None;
    }
    Some(TestDatabase::create(Backend::Postgres))
}

/// The login lock the nodes of `the_login_lock_holds_across_nodes` are given.
const LOCK: Duration = Duration::from_secs(3600);

async fn sign_in(url: &str) -> Client {
    let answer =
        Client::new(url, None).ok("auth.login", json!({"email": "owner@acme.test", "password": PASSWORD})).await;
    Client::new(url, Some(answer["token"].as_str().expect("a token").to_owned()))
}

on_one_database! { postgres:
    async fn two_nodes_share_sessions_refs_and_the_audit_chain() {
        let Some(db) = fresh_database() else { return };
        // Both come up although both found the database empty: one migrated under the
        // lock while the other waited.
        let ((_a, a_url), (_b, b_url)) = two_nodes(&db, &[]).await;

        // A session made on one node works on the other, and a logout on the other ends it.
        let on_a = sign_in(&a_url).await;
        let on_b = Client::new(&b_url, on_a.token.clone());
        assert_eq!(on_b.ok("auth.me", json!({})).await["user"]["email"], "owner@acme.test");
        on_b.ok("auth.logout", json!({})).await;
        on_a.err("auth.me", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");

        // 24 keys created at once, half on each node: refs 001 to 024, no gap, no duplicate.
        let (on_a, on_b) = (sign_in(&a_url).await, sign_in(&b_url).await);
        let dev = on_a.ok("developments.create", json!({"name": "Oak Park"})).await;
        let creates = (0..24).map(|i| {
            let node = if i % 2 == 0 { &on_a } else { &on_b };
            node.call("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": format!("Fob {i}")}))
        });
        let refs: BTreeSet<String> = join_all(creates)
            .await
            .into_iter()
            .map(|r| r.expect("no create fails")["keyRef"].as_str().unwrap().to_owned())
            .collect();
        let expected: BTreeSet<String> = (1..=24).map(|n| format!("OP-{n:03}")).collect();
        assert_eq!(refs, expected);

        // Writes on both nodes at once (issues and returns), then one chain that holds,
        // as each node sees it.
        let keys = on_a.ok("keys.listKeys", json!({"limit": 50})).await["items"].as_array().unwrap().clone();
        let issues = keys.iter().enumerate().map(|(i, key)| {
            let node = if i % 2 == 0 { &on_a } else { &on_b };
            node.call("keys.issueKey", json!({"id": key["id"], "issuedTo": format!("Contractor {i}"), "purpose": "repairs"}))
        });
        for issued in join_all(issues).await {
            issued.expect("no issue fails");
        }
        let events = on_a.ok("audit.list", json!({})).await["total"].as_i64().unwrap();
        assert!(events >= 1 + 1 + 24 + 24, "{events} events");
        for node in [&on_a, &on_b] {
            let report = node.ok("audit.verify", json!({})).await;
            assert_eq!(report["verified"], events, "{report}");
            assert!(report["broken"].is_null(), "{report}");
        }
    }

    async fn the_login_lock_holds_across_nodes() {
        let Some(db) = fresh_database() else { return };
        let env = [
            ("KEYWARD_LOGIN_LOCK_AFTER", "3"),
            ("KEYWARD_LOGIN_LOCK_SECS", "3600"),
            ("KEYWARD_PASSWORD_HASHING_WAIT_MS", "60000"),
        ];
        let ((_a, a_url), (_b, b_url)) = two_nodes(&db, &env).await;
        // Eight guesses at once on each node: three passwords checked in all, not three each.
        let (a, b) = (Client::new(&a_url, None), Client::new(&b_url, None));
        let guesses = (0..16).map(|i| {
            let node = if i % 2 == 0 { a.clone() } else { b.clone() };
            async move { node.call("auth.login", json!({"email": "owner@acme.test", "password": format!("guess {i}")})).await }
        });
        let answers = join_all(guesses).await;
        assert_eq!(refusals(&answers, LOCK), (3, 13), "three passwords checked in all, the other guesses locked out");
        // Locked on both nodes, even for the right password.
        for node in [&a, &b] {
            let right = node.call("auth.login", json!({"email": "owner@acme.test", "password": PASSWORD})).await;
            assert_eq!(refusals(&[right], LOCK), (0, 1));
        }
    }
}
