//! Signing in and out, sessions, and the users of an organisation.

use serde_json::json;

use crate::on_both_databases;
use crate::support::server::PASSWORD;
use crate::support::{Backend, TestApp};

on_both_databases! {
    async fn login_answers_the_same_for_an_unknown_email_and_a_wrong_password(app: TestApp) {
        let anon = app.anonymous();
        let wrong_password = anon.err("auth.login", json!({"email": "owner@acme.test", "password": "not the password"})).await;
        let unknown_email = anon.err("auth.login", json!({"email": "nobody@acme.test", "password": PASSWORD})).await;
        let not_an_email = anon.err("auth.login", json!({"email": "nobody", "password": PASSWORD})).await;
        wrong_password.assert_kind(-32001, "UNAUTHENTICATED");
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
