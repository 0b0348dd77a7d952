//! Signing in and out, sessions, and the users of an organisation.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;

use crate::support::server::{self, PASSWORD, SECRET_KEY};
use crate::support::{Backend, Client, RpcError, TestApp};
use crate::{on_both_databases, on_both_databases_with};

on_both_databases! {
    async fn login_answers_the_same_for_an_unknown_email_and_a_wrong_password(app: TestApp) {
        let anon = app.anonymous();
        let wrong_password = anon.err("auth.login", json!({"email": "owner@acme.test", "password": "not the password"})).await;
        let unknown_email = anon.err("auth.login", json!({"email": "nobody@acme.test", "password": PASSWORD})).await;
        let not_an_email = anon.err("auth.login", json!({"email": "nobody", "password": PASSWORD})).await;
        wrong_password.assert_kind(-32001, "UNAUTHENTICATED");
        assert_eq!(wrong_password.message, "wrong email or password");
        assert_eq!(wrong_password, unknown_email);
        assert_eq!(wrong_password, not_an_email);
        // The email is case-insensitive.
        let ok = anon.ok("auth.login", json!({"email": "OWNER@acme.test", "password": PASSWORD})).await;
        assert_eq!(ok["user"]["role"], "owner");
        assert_eq!(ok["token"].as_str().unwrap().len(), 43);
        assert!(ok["expiresAt"].as_str().unwrap().ends_with('Z'));
    }

    async fn signed_procedures_need_a_live_token(app: TestApp) {
        app.anonymous().err("keys.listKeys", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");
        app.owner.with_token(Some("garbage".into())).err("keys.listKeys", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");
        // Unauthenticated comes before any look at the params.
        app.anonymous().err("keys.listKeys", json!({"limit": "bad"})).await.assert_kind(-32001, "UNAUTHENTICATED");
        let me = app.owner.ok("auth.me", json!({})).await;
        assert_eq!(me["user"]["email"], "owner@acme.test");
        assert_eq!(me["organisation"], json!({"id": app.org_id, "name": "Acme Estates"}));
    }

    async fn logout_ends_only_that_session(app: TestApp) {
        let second = app.login("owner@acme.test").await;
        assert_eq!(app.owner.ok("auth.logout", json!({})).await, json!({}));
        app.owner.err("auth.me", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");
        app.owner.err("auth.logout", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");
        second.ok("auth.me", json!({})).await;
    }

    async fn a_role_change_disabling_or_new_password_ends_the_users_sessions(app: TestApp) {
        let team = app.user("team").await;
        let me = team.ok("auth.me", json!({})).await;
        let id = me["user"]["id"].clone();
        let email = me["user"]["email"].as_str().unwrap().to_owned();

        // A new role: the old token stops working at once; a new login carries the new role.
        let changed = app.owner.ok("users.update", json!({"id": id, "role": "installer"})).await;
        assert_eq!(changed["role"], "installer");
        team.err("auth.me", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");
        let installer = app.login(&email).await;
        installer.err("keys.createKey", json!({})).await.assert_kind(-32003, "FORBIDDEN");

        // Disabled: sessions end and logins are refused until re-enabled.
        app.owner.ok("users.update", json!({"id": id, "disabled": true})).await;
        installer.err("auth.me", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");
        app.anonymous().err("auth.login", json!({"email": email, "password": PASSWORD})).await.assert_kind(-32001, "UNAUTHENTICATED");
        app.owner.ok("users.update", json!({"id": id, "disabled": false})).await;
        let again = app.login(&email).await;

        // A new password: old sessions end, the old password no longer works.
        app.owner.ok("users.update", json!({"id": id, "password": "a brand new passphrase"})).await;
        again.err("auth.me", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");
        app.anonymous().err("auth.login", json!({"email": email, "password": PASSWORD})).await.assert_kind(-32001, "UNAUTHENTICATED");
        app.anonymous().ok("auth.login", json!({"email": email, "password": "a brand new passphrase"})).await;
    }

    async fn owners_manage_users(app: TestApp) {
        let created = app.owner.ok("users.create", json!({
            "email": " Maya@Acme.test ", "name": "Maya Manager", "role": "manager", "password": PASSWORD
        })).await;
        assert_eq!(created["email"], "maya@acme.test");
        assert_eq!(created["role"], "manager");
        assert_eq!(created["disabled"], false);
        assert!(created.get("passwordHash").is_none() && created.get("password").is_none());

        let names: Vec<String> = app.owner.ok("users.list", json!({})).await["items"]
            .as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap().to_owned()).collect();
        assert_eq!(names, ["Acme Estates Owner", "Maya Manager"]);

        let dup = app.owner.err("users.create", json!({"email": "maya@acme.test", "name": "M", "role": "team", "password": PASSWORD})).await;
        dup.assert_invalid("email");
        app.owner.err("users.create", json!({"email": "x@acme.test", "name": "X", "role": "team", "password": "short"})).await.assert_invalid("password");
        app.owner.err("users.create", json!({"email": "x@acme.test", "name": "X", "role": "admin", "password": PASSWORD})).await.assert_invalid("role");

        // An owner cannot lock themselves out.
        let me = app.owner.ok("auth.me", json!({})).await;
        app.owner.err("users.update", json!({"id": me["user"]["id"], "role": "team"})).await.assert_invalid("role");
        app.owner.err("users.update", json!({"id": me["user"]["id"], "disabled": true})).await.assert_invalid("disabled");
        let renamed = app.owner.ok("users.update", json!({"id": me["user"]["id"], "name": "Olive Owner"})).await;
        assert_eq!(renamed["name"], "Olive Owner");
    }
}

mod expired_tokens {
    use super::*;

    async fn are_refused(backend: Backend) {
        let Some(app) = TestApp::start_with(backend, &[("KEYWARD_TOKEN_TTL_MINUTES", "0")]).await else {
            return;
        };
        let login = app.anonymous().ok("auth.login", json!({"email": "owner@acme.test", "password": PASSWORD})).await;
        let client = app.anonymous().with_token(login["token"].as_str().map(str::to_owned));
        client.err("auth.me", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        are_refused(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        are_refused(Backend::Postgres).await;
    }
}

/// A login refused for too many attempts: RATE_LIMITED, and a wait no longer than `most`.
#[track_caller]
/// Wrong logins' answers, none a success: how many were refused as wrong
/// (UNAUTHENTICATED) and how many RATE_LIMITED (each to wait at most `most`).
pub fn refusals(answers: &[Result<serde_json::Value, RpcError>], most: Duration) -> (usize, usize) {
    let (mut wrong, mut limited) = (0, 0);
    for answer in answers {
        let e = answer.as_ref().expect_err("no wrong login succeeds");
        match e.code {
            -32001 => wrong += 1,
            -32029 => {
                assert_rate_limited(e, most);
                limited += 1;
            }
            _ => panic!("unexpected answer {e:?}"),
        }
    }
    (wrong, limited)
}

fn assert_rate_limited(e: &RpcError, most: Duration) {
    e.assert_kind(-32029, "RATE_LIMITED");
    let wait = e.data["retryAfterMs"].as_u64().expect("retryAfterMs");
    assert!(wait > 0 && u128::from(wait) <= most.as_millis(), "{e:?}");
}

on_both_databases_with! {
    &[("KEYWARD_LOGIN_LOCK_AFTER", "3"), ("KEYWARD_LOGIN_LOCK_SECS", "3600")];

    async fn repeated_failures_lock_an_email_known_or_not_on_every_node(app: TestApp) {
        let anon = app.anonymous();
        let login = |email: &str, password: &str| json!({"email": email, "password": password});

        // A success resets the count: 2 + 2 failures never reach 3 in a row.
        let team = app.user("team").await;
        let team_email = team.ok("auth.me", json!({})).await["user"]["email"].as_str().unwrap().to_owned();
        for _ in 0..2 {
            for _ in 0..2 {
                anon.err("auth.login", login(&team_email, "wrong")).await.assert_kind(-32001, "UNAUTHENTICATED");
            }
            anon.ok("auth.login", login(&team_email, PASSWORD)).await;
        }

        // Three failures in a row lock the account: even the right password is refused.
        for _ in 0..3 {
            anon.err("auth.login", login("owner@acme.test", "wrong")).await.assert_kind(-32001, "UNAUTHENTICATED");
        }
        let locked = anon.err("auth.login", login("owner@acme.test", PASSWORD)).await;
        assert_rate_limited(&locked, Duration::from_secs(3600));

        // An unknown email is locked the same way: the lock does not tell who has an account.
        for _ in 0..3 {
            anon.err("auth.login", login("nobody@acme.test", "wrong")).await.assert_kind(-32001, "UNAUTHENTICATED");
        }
        let unknown = anon.err("auth.login", login("nobody@acme.test", PASSWORD)).await;
        assert_rate_limited(&unknown, Duration::from_secs(3600));
        assert_eq!((unknown.code, &unknown.message[..20]), (locked.code, &locked.message[..20]));

        // The count lives in the database: another node refuses too.
        let env: &[(&str, &str)] =
            if app.db.backend == Backend::Postgres { &[("KEYWARD_SECRET_KEY", SECRET_KEY)] } else { &[] };
        let (_other, url) = server::spawn_server(&app.db.url, env).await;
        let elsewhere = Client::new(&url, None).err("auth.login", login("owner@acme.test", PASSWORD)).await;
        assert_rate_limited(&elsewhere, Duration::from_secs(3600));

        // Sessions already open are not affected, and nothing else is locked.
        app.owner.ok("auth.me", json!({})).await;
        anon.ok("auth.login", login(&team_email, PASSWORD)).await;
        // The email is stored only as a hash.
        let raw = app.db.texts("SELECT email_hash AS v FROM login_failures");
        assert_eq!(raw.len(), 2, "{raw:?}");
        assert!(raw.iter().all(|h| h.len() == 64 && !h.contains('@')), "{raw:?}");
    }
}

on_both_databases_with! {
    &[
        ("KEYWARD_LOGIN_LOCK_AFTER", "3"),
        ("KEYWARD_LOGIN_LOCK_SECS", "3600"),
        ("KEYWARD_LOGIN_PER_EMAIL_PER_MINUTE", "1000"),
        ("KEYWARD_LOGIN_PER_ADDRESS_PER_MINUTE", "1000"),
        ("KEYWARD_PASSWORD_HASHING_WAIT_MS", "60000"),
    ];

    // Each guess is counted before its password is checked: sixteen at once get three
    // checks, as three in a row would, and the rest wait out the lock.
    async fn guesses_at_once_never_outnumber_the_lock(app: TestApp) {
        let anon = app.anonymous();
        let guesses = (0..16).map(|i| {
            let anon = anon.clone();
            async move { anon.call("auth.login", json!({"email": "owner@acme.test", "password": format!("guess {i}")})).await }
        });
        let (checked, locked) = refusals(&join_all(guesses).await, Duration::from_secs(3600));
        assert_eq!((checked, locked), (3, 13), "three passwords checked, the other guesses refused by the lock");
        let right = anon.err("auth.login", json!({"email": "owner@acme.test", "password": PASSWORD})).await;
        assert_rate_limited(&right, Duration::from_secs(3600));
    }
}

on_both_databases_with! {
    &[("KEYWARD_LOGIN_PER_EMAIL_PER_MINUTE", "2")];

    async fn logins_per_email_are_limited_in_memory(app: TestApp) {
        // A user who has not signed in yet (the owner's start-up login took one attempt).
        app.owner
            .ok("users.create", json!({"email": "kim@acme.test", "name": "Kim", "role": "team", "password": PASSWORD}))
            .await;
        let anon = app.anonymous();
        for email in ["kim@acme.test", "nobody@acme.test"] {
            for _ in 0..2 {
                anon.err("auth.login", json!({"email": email, "password": "wrong"})).await.assert_kind(-32001, "UNAUTHENTICATED");
            }
            let refused = anon.err("auth.login", json!({"email": email, "password": PASSWORD})).await;
            assert_rate_limited(&refused, Duration::from_secs(30));
        }
        // Another email is not held back.
        let team = app.user("team").await;
        team.ok("auth.me", json!({})).await;
    }
}

on_both_databases_with! {
    &[("KEYWARD_LOGIN_PER_ADDRESS_PER_MINUTE", "3")];

    async fn logins_per_address_are_limited_and_other_addresses_are_not(app: TestApp) {
        let from = |last: u8| Client::from_address(&app.url, std::net::IpAddr::from([127, 0, 0, last]));
        let guesser = from(3);
        for i in 0..3 {
            let email = format!("guess{i}@acme.test");
            guesser.err("auth.login", json!({"email": email, "password": "wrong"})).await.assert_kind(-32001, "UNAUTHENTICATED");
        }
        // The address has used its attempts: even the right password waits.
        let refused = guesser.err("auth.login", json!({"email": "owner@acme.test", "password": PASSWORD})).await;
        assert_rate_limited(&refused, Duration::from_secs(60));
        // Another address is not held back.
        from(4).ok("auth.login", json!({"email": "owner@acme.test", "password": PASSWORD})).await;
    }
}

on_both_databases_with! {
    &[
        ("KEYWARD_LOGIN_PER_EMAIL_PER_MINUTE", "100000"),
        ("KEYWARD_LOGIN_PER_ADDRESS_PER_MINUTE", "100000"),
        ("KEYWARD_LOGIN_LOCK_AFTER", "100000"),
        // All 1,000 come from one address, at once: let them all in, to reach the hashing.
        ("KEYWARD_MAX_CONNECTIONS_PER_IP", "2000"),
        ("KEYWARD_MAX_CONNECTIONS", "2000"),
    ];

    // Argon2 takes 19 MiB a hash: 1,000 logins at once must not take 1,000 times that.
    async fn a_thousand_concurrent_wrong_logins_keep_memory_bounded(app: TestApp) {
        let anon = app.anonymous();
        let attempts = (0..1000).map(|i| {
            let email = if i % 10 == 0 { "owner@acme.test".to_owned() } else { format!("guess{i}@acme.test") };
            let anon = anon.clone();
            async move { anon.call("auth.login", json!({"email": email, "password": "wrong guess"})).await }
        });
        let (refused, limited) = refusals(&join_all(attempts).await, Duration::from_secs(10));
        assert_eq!(refused + limited, 1000);
        assert!(refused > 0, "some were checked");

        let status = std::fs::read_to_string(format!("/proc/{}/status", app.pid())).expect("the server's status");
        let peak_kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        assert!(peak_kb < 150 * 1024, "the server peaked at {peak_kb} kB ({refused} checked, {limited} rate limited)");
        // And it still serves.
        app.anonymous().ok("auth.login", json!({"email": "owner@acme.test", "password": PASSWORD})).await;
    }
}
