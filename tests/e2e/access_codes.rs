//! Access codes: the register, who may see values, and sealing at rest.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::server::{SECRET_KEY, command, spawn_server};
use crate::support::{Backend, Client, TestApp};

/// A value distinctive enough to find in raw bytes if it were ever stored in clear.
const CODE: &str = "Z9Q7-4471#";
const NEW_CODE: &str = "K3X8-0052*";

async fn gate_code(app: &TestApp) -> (Value, Value) {
    let dev = app.development("Oak Park").await;
    let code = app
        .owner
        .ok(
            "keys.createAccessCode",
            json!({
                "developmentId": dev["id"], "codeType": "gate", "label": "Main gate", "code": CODE,
                "expiresOn": "2099-12-31", "notes": "changes quarterly"
            }),
        )
        .await;
    (dev, code)
}

fn labels(page: &Value) -> Vec<&str> {
    page["items"].as_array().unwrap().iter().map(|c| c["label"].as_str().unwrap()).collect()
}

/// Another server on the same database, with other settings; its exit when it refuses.
async fn serve_refused(app: &TestApp, env: &[(&str, &str)]) -> String {
    let out = command()
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &app.db.url])
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success(), "the server should have refused to start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn key_file(app: &TestApp) -> String {
    format!("{}.key", app.db.url.strip_prefix("sqlite://").unwrap())
}

on_both_databases! {
    async fn codes_are_created_listed_searched_and_updated(app: TestApp) {
        let (dev, code) = gate_code(&app).await;
        assert_eq!(code["code"], CODE);
        assert_eq!(code["codeType"], "gate");
        assert_eq!(code["status"], "active");
        assert_eq!(code["expiresOn"], "2099-12-31");
        assert_eq!(code["expired"], false);
        assert_eq!(code["version"], 1);
        let create = |label: &str, code_type: &str, value: &str, extra: Value| {
            let mut params = json!({"developmentId": dev["id"], "codeType": code_type, "label": label, "code": value});
            params.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            app.owner.ok("keys.createAccessCode", params)
        };
        create("Bin store", "bin_store", "4321", json!({})).await;
        create("Alarm panel", "alarm", "0000", json!({"status": "inactive"})).await;
        let old = create("Old lift", "lift", "1111", json!({"expiresOn": "2020-01-01"})).await;
        assert_eq!(old["expired"], true);

        let list = |params: Value| app.owner.ok("keys.listAccessCodes", params);
        assert_eq!(labels(&list(json!({})).await), ["Alarm panel", "Bin store", "Main gate", "Old lift"]);
        assert_eq!(labels(&list(json!({"search": "GATE"})).await), ["Main gate"]);
        assert_eq!(labels(&list(json!({"search": "4321"})).await), ["Bin store"], "exact code match");
        assert_eq!(list(json!({"search": "432"})).await["total"], 0, "codes match exactly, not by substring");
        assert_eq!(labels(&list(json!({"status": "inactive"})).await), ["Alarm panel"]);
        assert_eq!(labels(&list(json!({"codeType": "lift", "developmentId": dev["id"]})).await), ["Old lift"]);
        assert_eq!(labels(&list(json!({"limit": 2, "page": 2})).await), ["Main gate", "Old lift"]);

        let updated = app
            .owner
            .ok("keys.updateAccessCode", json!({"id": code["id"], "expectedVersion": 1, "code": NEW_CODE, "notes": null}))
            .await;
        assert_eq!(updated["code"], NEW_CODE);
        assert!(updated["notes"].is_null(), "null clears");
        assert_eq!(updated["expiresOn"], "2099-12-31", "absent stays");
        assert_eq!(updated["version"], 2);
        assert_eq!(labels(&list(json!({"search": NEW_CODE})).await), ["Main gate"]);
        assert_eq!(list(json!({"search": CODE})).await["total"], 0, "the old value no longer matches");
        let stale = app.owner.err("keys.updateAccessCode", json!({"id": code["id"], "expectedVersion": 1, "label": "x"})).await;
        stale.assert_kind(-32009, "VERSION_CONFLICT");
        assert_eq!(stale.data["currentVersion"], 2);

        let history = app.owner.ok("keys.accessCodeHistory", json!({"id": code["id"]})).await;
        let changes: Vec<&str> = history["items"].as_array().unwrap().iter().map(|h| h["change"].as_str().unwrap()).collect();
        assert_eq!(changes.len(), 2);
        assert!(changes[0].contains("code changed"), "{changes:?}");
        assert!(changes[0].contains("notes cleared"), "{changes:?}");
        assert!(history.to_string().find(CODE).is_none() && history.to_string().find(NEW_CODE).is_none());

        let events = app.owner.ok("audit.list", json!({"entityType": "accessCode", "entityId": code["id"]})).await;
        assert_eq!(events["total"], 2);
        assert!(events["items"][0]["changes"].as_array().unwrap().contains(&json!({"field": "code", "from": "***", "to": "***"})));
        assert!(!events.to_string().contains(CODE) && !events.to_string().contains(NEW_CODE));

        app.owner.err("developments.delete", json!({"id": dev["id"]})).await.assert_kind(-32009, "DEVELOPMENT_NOT_EMPTY");
        assert_eq!(app.owner.ok("keys.deleteAccessCode", json!({"id": code["id"]})).await, json!({}));
        app.owner.err("keys.accessCodeHistory", json!({"id": code["id"]})).await.assert_kind(-32004, "NOT_FOUND");
    }

    async fn only_roles_allowed_to_see_values_see_them(app: TestApp) {
        let (_, code) = gate_code(&app).await;
        for (role, sees) in [("manager", true), ("team", true), ("installer", false), ("housekeeping", false)] {
            let client = app.user(role).await;
            let listed = client.ok("keys.listAccessCodes", json!({})).await;
            assert_eq!(listed["total"], 1, "{role} lists codes");
            let value = &listed["items"][0]["code"];
            if sees {
                assert_eq!(value, CODE, "{role}");
                assert_eq!(client.ok("keys.listAccessCodes", json!({"search": CODE})).await["total"], 1, "{role}");
            } else {
                assert!(value.is_null(), "{role} must get code: null");
                assert!(!listed.to_string().contains(CODE), "{role}");
                client.err("keys.updateAccessCode", json!({"id": code["id"], "label": "x"})).await.assert_kind(-32003, "FORBIDDEN");
                // A search by value would confirm a guessed code: it matches labels only.
                assert_eq!(client.ok("keys.listAccessCodes", json!({"search": CODE})).await["total"], 0, "{role}");
                assert_eq!(client.ok("keys.listAccessCodes", json!({"search": "gate"})).await["total"], 1, "{role}");
            }
        }
        let team = app.user("team").await;
        team.err("keys.deleteAccessCode", json!({"id": code["id"]})).await.assert_kind(-32003, "FORBIDDEN");
        let other = app.other_organisation().await;
        for (procedure, params) in [
            ("keys.updateAccessCode", json!({"id": code["id"], "label": "x"})),
            ("keys.deleteAccessCode", json!({"id": code["id"]})),
            ("keys.accessCodeHistory", json!({"id": code["id"]})),
        ] {
            other.err(procedure, params).await.assert_kind(-32004, "NOT_FOUND");
        }
        assert_eq!(other.ok("keys.listAccessCodes", json!({"search": CODE})).await["total"], 0);
    }

    async fn bad_code_input_is_refused_on_its_field(app: TestApp) {
        let (dev, code) = gate_code(&app).await;
        let create = |extra: Value| {
            let mut params = json!({"developmentId": dev["id"], "codeType": "door", "label": "Door", "code": "1234"});
            params.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            app.owner.err("keys.createAccessCode", params)
        };
        create(json!({"code": ""})).await.assert_invalid("code");
        create(json!({"code": "   "})).await.assert_invalid("code");
        create(json!({"code": "1".repeat(33)})).await.assert_invalid("code");
        create(json!({"code": "12\u{0}34"})).await.assert_invalid("code");
        create(json!({"label": "Door\u{7}"})).await.assert_invalid("label");
        create(json!({"expiresOn": "2026-02-30"})).await.assert_invalid("expiresOn");
        create(json!({"expiresOn": "31/12/2026"})).await.assert_invalid("expiresOn");
        create(json!({"codeType": "Gate"})).await.assert_invalid("codeType");
        create(json!({"status": "expired"})).await.assert_invalid("status");
        app.owner.err("keys.updateAccessCode", json!({"id": code["id"], "code": "x".repeat(33)})).await.assert_invalid("code");
        app.owner.err("keys.createAccessCode", json!({"developmentId": "nope", "codeType": "door", "label": "D", "code": "1"}))
            .await
            .assert_kind(-32004, "NOT_FOUND");
        assert_eq!(app.owner.ok("keys.listAccessCodes", json!({})).await["total"], 1, "nothing was created");
    }

    async fn no_code_value_is_stored_in_clear_anywhere(app: TestApp) {
        let (_, code) = gate_code(&app).await;
        app.owner.ok("keys.updateAccessCode", json!({"id": code["id"], "code": NEW_CODE, "label": "Main gate (new)"})).await;
        app.owner.ok("keys.updateAccessCode", json!({"id": code["id"], "status": "inactive"})).await;
        app.owner.ok("keys.listAccessCodes", json!({"search": NEW_CODE})).await;
        let raw = app.db.raw_contents(&["access_codes", "audit_events", "key_movements", "secret_check"]);
        assert!(raw.contains("Main gate (new)"), "the check reads the stored rows");
        for value in [CODE, NEW_CODE] {
            assert!(!raw.contains(value), "{value} found in clear in the database");
        }
    }

    async fn summary_counts_a_known_mix(app: TestApp) {
        let oak = app.development("Oak Park").await;
        let elm = app.development("Elm Yard").await;
        // Oak: 2 in stock, 2 issued (1 overdue), 1 returned, 1 lost, 1 damaged, 1 deactivated.
        let mut oak_keys = Vec::new();
        for n in 0..8 {
            oak_keys.push(app.key(&oak["id"], &format!("Oak {n}")).await["id"].clone());
        }
        let owner = &app.owner;
        owner.ok("keys.issueKey", json!({"id": oak_keys[2], "issuedTo": "A", "expectedReturnAt": "2020-01-01T00:00:00Z"})).await;
        owner.ok("keys.issueKey", json!({"id": oak_keys[3], "issuedTo": "B", "expectedReturnAt": "2099-01-01T00:00:00Z"})).await;
        owner.ok("keys.issueKey", json!({"id": oak_keys[4], "issuedTo": "C"})).await;
        owner.ok("keys.returnKey", json!({"id": oak_keys[4]})).await;
        owner.ok("keys.markLost", json!({"id": oak_keys[5]})).await;
        owner.ok("keys.markDamaged", json!({"id": oak_keys[6]})).await;
        owner.ok("keys.deactivateKey", json!({"id": oak_keys[7]})).await;
        // Elm: 3 in stock, 1 issued overdue; codes: 2 at Oak, 2 at Elm.
        for n in 0..3 {
            app.key(&elm["id"], &format!("Elm {n}")).await;
        }
        let elm_late = app.key(&elm["id"], "Elm late").await;
        owner.ok("keys.issueKey", json!({"id": elm_late["id"], "issuedTo": "D", "expectedReturnAt": "2021-06-01T00:00:00Z"})).await;
        for (dev, label) in [(&oak, "Gate"), (&oak, "Bins"), (&elm, "Door")] {
            owner.ok("keys.createAccessCode", json!({"developmentId": dev["id"], "codeType": "gate", "label": label, "code": "1"})).await;
        }
        // One code due for rotation, at Elm.
        owner.ok("keys.createAccessCode", json!({"developmentId": elm["id"], "codeType": "lift", "label": "Lift", "code": "2", "rotateBy": "2000-01-01"})).await;

        let all = owner.ok("keys.summary", json!({})).await;
        assert_eq!(all, json!({
            "totalKeys": 12, "inStock": 5, "issued": 3, "returned": 1, "lost": 1, "damaged": 1,
            "deactivated": 1, "overdue": 2, "accessCodes": 4, "codesDueForRotation": 1,
            "doorsExposedByLostKeys": 0, "auditsOverdue": 0, "smsReady": false
        }));
        let oak_only = owner.ok("keys.summary", json!({"developmentId": oak["id"]})).await;
        assert_eq!(oak_only, json!({
            "totalKeys": 8, "inStock": 2, "issued": 2, "returned": 1, "lost": 1, "damaged": 1,
            "deactivated": 1, "overdue": 1, "accessCodes": 2, "codesDueForRotation": 0,
            "doorsExposedByLostKeys": 0, "auditsOverdue": 0, "smsReady": false
        }));
        let housekeeping = app.user("housekeeping").await;
        assert_eq!(housekeeping.ok("keys.summary", json!({})).await, all);
        assert_eq!(app.other_organisation().await.ok("keys.summary", json!({})).await["totalKeys"], 0);
    }

    async fn a_wrong_secret_key_is_refused_at_start_up(app: TestApp) {
        gate_code(&app).await;
        let wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMDA=";
        let stderr = serve_refused(&app, &[("KEYWARD_SECRET_KEY", wrong)]).await;
        assert!(stderr.contains("secret key does not match"), "{stderr}");
        let stderr = serve_refused(&app, &[("KEYWARD_SECRET_KEY", "bm90IDMyIGJ5dGVz")]).await;
        assert!(stderr.contains("KEYWARD_SECRET_KEY is invalid") && stderr.contains("32 bytes"), "{stderr}");
    }

    async fn rotating_the_secret_re_seals_every_code(app: TestApp) {
        let (_, code) = gate_code(&app).await;
        let new_key = "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0=";
        let current: Vec<(&str, &str)> =
            if app.db.backend == Backend::Postgres { vec![("KEYWARD_SECRET_KEY", SECRET_KEY)] } else { vec![] };
        let out = command()
            .args(["rotate-secret", "--database-url", &app.db.url])
            .envs(current.iter().copied())
            .env("KEYWARD_NEW_SECRET_KEY", new_key)
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("re-sealed 1 secrets"));

        // The old key is refused now; the new one reads the codes.
        if app.db.backend == Backend::Postgres {
            let stderr = serve_refused(&app, &current).await;
            assert!(stderr.contains("secret key does not match"), "{stderr}");
        }
        let (_server, url) = spawn_server(&app.db.url, &[("KEYWARD_SECRET_KEY", new_key)]).await;
        let client = Client::new(&url, app.owner.token.clone());
        let listed = client.ok("keys.listAccessCodes", json!({"search": CODE})).await;
        assert_eq!(listed["items"][0]["id"], code["id"], "the exact-match lookup was re-keyed too");
        assert_eq!(listed["items"][0]["code"], CODE);
    }
}

#[tokio::test]
async fn postgres_needs_a_configured_secret_key() {
    let out = command()
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", "postgres://root@127.0.0.1:1/x"])
        .env_remove("KEYWARD_SECRET_KEY")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEYWARD_SECRET_KEY is required with PostgreSQL"));
}

mod key_file {
    use super::*;

    /// On the embedded default, the first start creates a key file (0600) beside the
    /// database, later starts reuse it, and rotation replaces it.
    #[tokio::test]
    async fn is_created_reused_and_rotated() {
        use std::os::unix::fs::PermissionsExt;
        let app = TestApp::start(Backend::Sqlite).await.unwrap();
        let file = key_file(&app);
        let meta = std::fs::metadata(&file).expect("the key file exists");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let before = std::fs::read_to_string(&file).unwrap();
        gate_code(&app).await;

        let out = command().args(["rotate-secret", "--database-url", &app.db.url]).output().await.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let after = std::fs::read_to_string(&file).unwrap();
        assert_ne!(before, after, "a new key was written");
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);

        let (_server, url) = spawn_server(&app.db.url, &[]).await;
        let listed = Client::new(&url, app.owner.token.clone()).ok("keys.listAccessCodes", json!({})).await;
        assert_eq!(listed["items"][0]["code"], CODE);
        let stderr = serve_refused(&app, &[("KEYWARD_SECRET_KEY", before.trim())]).await;
        assert!(stderr.contains("secret key does not match"), "{stderr}");
        // A given new key replaces the file's key too.
        let given = "Z2l2ZW4ta2V5LWdpdmVuLWtleS1naXZlbi1rZXktMDA=";
        let out = command()
            .args(["rotate-secret", "--database-url", &app.db.url])
            .env("KEYWARD_NEW_SECRET_KEY", given)
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), given);

        // A lost key file is not silently replaced by a new one.
        std::fs::remove_file(&file).unwrap();
        let stderr = serve_refused(&app, &[]).await;
        assert!(stderr.contains("is missing"), "{stderr}");
        assert!(!std::path::Path::new(&file).exists(), "no misleading key file is left behind");
    }
}
