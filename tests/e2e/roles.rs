//! The contract's role table, row by row, over HTTP: every procedure called by every
//! role. A role that may not call a procedure gets FORBIDDEN before its params are even
//! read, and nothing changes; a role that may gets past the gate (here, to the params
//! check, since the calls carry no params).

use serde_json::json;

use crate::on_both_databases;
use crate::support::TestApp;

const ROLES: [&str; 5] = ["owner", "manager", "team", "installer", "housekeeping"];
const EVERYONE: &[&str] = &ROLES;
const EDITORS: &[&str] = &["owner", "manager", "team"];
const MANAGERS: &[&str] = &["owner", "manager"];
const OWNER: &[&str] = &["owner"];

/// (procedure, roles that may call it) — every procedure but auth.login/logout.
const TABLE: &[(&str, &[&str])] = &[
    ("auth.me", EVERYONE),
    ("users.list", OWNER),
    ("users.create", OWNER),
    ("users.update", OWNER),
    ("developments.list", EVERYONE),
    ("developments.create", MANAGERS),
    ("developments.update", MANAGERS),
    ("developments.delete", MANAGERS),
    ("doors.list", EVERYONE),
    ("doors.get", EVERYONE),
    ("doors.create", EDITORS),
    ("doors.update", EDITORS),
    ("doors.delete", EDITORS),
    ("keys.listKeys", EVERYONE),
    ("keys.getKey", EVERYONE),
    ("keys.keyHistory", EVERYONE),
    ("keys.suggestKeyRef", EVERYONE),
    ("keys.createKey", EDITORS),
    ("keys.updateKey", EDITORS),
    ("keys.issueKey", EDITORS),
    ("keys.returnKey", EDITORS),
    ("keys.returnToStock", EDITORS),
    ("keys.markLost", EDITORS),
    ("keys.markFound", EDITORS),
    ("keys.markDamaged", EDITORS),
    ("keys.deleteKey", MANAGERS),
    ("keys.deactivateKey", MANAGERS),
    ("keys.reactivateKey", MANAGERS),
    ("keys.holderAt", EVERYONE),
    ("people.list", EVERYONE),
    ("people.get", EVERYONE),
    ("people.create", EDITORS),
    ("people.update", EDITORS),
    ("people.archive", MANAGERS),
    ("people.offboard", MANAGERS),
    ("people.holdingsAt", EVERYONE),
    ("firms.list", EVERYONE),
    ("firms.get", EVERYONE),
    ("firms.create", EDITORS),
    ("firms.update", EDITORS),
    ("firms.archive", MANAGERS),
    ("firms.offboard", MANAGERS),
    ("keys.listAccessCodes", EVERYONE),
    ("keys.createAccessCode", EDITORS),
    ("keys.updateAccessCode", EDITORS),
    ("keys.deleteAccessCode", MANAGERS),
    ("keys.accessCodeHistory", EVERYONE),
    ("keys.revealAccessCode", EDITORS),
    ("keys.recordCodeDisclosure", EDITORS),
    ("keys.accessCodeExposure", EDITORS),
    ("keys.accessCodeKnownBy", EDITORS),
    ("grants.list", EDITORS),
    ("grants.get", EDITORS),
    ("grants.create", EDITORS),
    ("grants.update", EDITORS),
    ("grants.addPeople", EDITORS),
    ("grants.removePeople", EDITORS),
    ("grants.end", EDITORS),
    ("access.check", EVERYONE),
    ("keys.summary", EVERYONE),
    ("keys.sendSms", EDITORS),
    ("settings.get", EVERYONE),
    ("settings.update", OWNER),
    ("settings.getSms", OWNER),
    ("settings.updateSms", OWNER),
    ("audit.list", MANAGERS),
    ("audit.head", MANAGERS),
    ("audit.verify", MANAGERS),
    ("webhooks.list", OWNER),
    ("webhooks.create", OWNER),
    ("webhooks.update", OWNER),
    ("webhooks.delete", OWNER),
    ("webhooks.rotateSecret", OWNER),
    ("webhooks.deliveries", OWNER),
    ("webhooks.resend", OWNER),
    ("audits.start", EDITORS),
    ("audits.record", EDITORS),
    ("audits.complete", EDITORS),
    ("audits.resolve", EDITORS),
    ("audits.cancel", EDITORS),
    ("audits.get", EDITORS),
    ("audits.lines", EDITORS),
    ("audits.list", EDITORS),
];

on_both_databases! {
    async fn every_role_may_call_exactly_what_the_contract_allows(app: TestApp) {
        let mut clients = vec![("owner", app.owner.clone())];
        for role in &ROLES[1..] {
            clients.push((role, app.user(role).await));
        }
        let events_before = app.owner.ok("audit.list", json!({})).await["total"].clone();
        for (procedure, allowed) in TABLE {
            for (role, client) in &clients {
                // `["x"]` is never valid params: an allowed call fails on them, after the gate.
                let result = client.call(procedure, json!(["x"])).await;
                let err = result.expect_err(procedure);
                if allowed.contains(role) {
                    err.assert_invalid("params");
                } else {
                    err.assert_kind(-32003, "FORBIDDEN");
                }
            }
        }
        assert_eq!(app.owner.ok("audit.list", json!({})).await["total"], events_before, "nothing changed");
    }

    async fn read_only_roles_read_the_register_but_change_nothing(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let key = app.key(&dev["id"], "Flat 1").await;
        for role in ["installer", "housekeeping"] {
            let client = app.user(role).await;
            assert_eq!(client.ok("keys.listKeys", json!({})).await["total"], 1);
            assert_eq!(client.ok("keys.getKey", json!({"id": key["id"]})).await["id"], key["id"]);
            client.ok("developments.list", json!({})).await;
            client.ok("keys.keyHistory", json!({"id": key["id"]})).await;
            client.ok("keys.suggestKeyRef", json!({"developmentId": dev["id"]})).await;
            client.err("keys.issueKey", json!({"id": key["id"], "issuedTo": "Me"})).await.assert_kind(-32003, "FORBIDDEN");
        }
        let team = app.user("team").await;
        team.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Sam"})).await;
        team.err("keys.deactivateKey", json!({"id": key["id"]})).await.assert_kind(-32003, "FORBIDDEN");
        let after = app.owner.ok("keys.getKey", json!({"id": key["id"]})).await;
        assert_eq!((after["status"].clone(), after["version"].clone()), (json!("issued"), json!(2)));
    }
}
