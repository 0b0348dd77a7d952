//! Key audits (issue 13 §4): a count of a development's store against the register,
//! found / missing / unexpected, missing keys marked lost in one step, one open audit per
//! development (raced), other organisations kept out, and the summary's overdue audits
//! on the test clock.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::support::{Client, TestApp};
use crate::{on_both_databases, on_both_databases_with};

const TEST_CLOCK: &[(&str, &str)] = &[("KEYWARD_TEST_CLOCK", "true")];

fn refs(lines: &Value) -> Vec<String> {
    lines["items"].as_array().expect("items").iter().map(|l| l["keyRef"].as_str().unwrap().to_owned()).collect()
}

async fn record(o: &Client, audit: &Value, key_ref: &Value) -> Value {
    o.ok("audits.record", json!({"id": audit["audit"]["id"], "keyRef": key_ref})).await
}

on_both_databases! {
    async fn a_count_finds_misses_and_flags_what_the_register_has_elsewhere(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let elsewhere = app.development("Birch Row").await;
        let mut keys = Vec::new();
        for label in ["Flat 1", "Flat 2", "Flat 3", "Flat 4", "Plant room"] {
            keys.push(app.key(&dev["id"], label).await);
        }
        let issued = app.key(&dev["id"], "Issued fob").await;
        o.ok("keys.issueKey", json!({"id": issued["id"], "issuedTo": "Sam Holder"})).await;
        let returned = app.key(&dev["id"], "Returned key").await;
        o.ok("keys.issueKey", json!({"id": returned["id"], "issuedTo": "Ann"})).await;
        o.ok("keys.returnKey", json!({"id": returned["id"]})).await;
        let theirs = app.key(&elsewhere["id"], "Birch gate").await;

        // The snapshot: the keys in stock or returned, not the issued one.
        let audit = o.ok("audits.start", json!({"developmentId": dev["id"]})).await;
        assert_eq!(audit["audit"]["status"], "open");
        assert_eq!(audit["audit"]["developmentId"], dev["id"]);
        assert_eq!(audit["audit"]["expected"], 6);
        assert_eq!(audit["audit"]["missing"], 6);
        assert_eq!(audit["missing"]["items"].as_array().unwrap().len(), 6);
        assert_eq!(audit["audit"]["startedBy"], "Acme Estates Owner");

        let first = record(o, &audit, &keys[0]["keyRef"]).await;
        assert_eq!(first["newlyRecorded"], true);
        assert_eq!(first["line"]["outcome"], "found");
        assert_eq!(first["line"]["reason"], Value::Null);
        assert_eq!(first["line"]["recordedBy"], "Acme Estates Owner");
        // Idempotent per key: the same answer, nothing counted twice.
        let again = record(o, &audit, &keys[0]["keyRef"]).await;
        assert_eq!(again["newlyRecorded"], false);
        assert_eq!(again["line"], first["line"]);
        // A ref as typed on a phone: trimmed and upper-cased.
        let typed = keys[1]["keyRef"].as_str().unwrap().to_lowercase();
        assert_eq!(record(o, &audit, &json!(format!(" {typed} "))).await["line"]["outcome"], "found");
        assert_eq!(record(o, &audit, &returned["keyRef"]).await["line"]["outcome"], "found");
        let on_hook = record(o, &audit, &issued["keyRef"]).await;
        assert_eq!(on_hook["line"]["outcome"], "unexpected");
        assert_eq!(on_hook["line"]["reason"], "not_in_stock");
        assert_eq!(on_hook["line"]["status"], "issued");
        let stray = record(o, &audit, &theirs["keyRef"]).await;
        assert_eq!(stray["line"]["outcome"], "unexpected");
        assert_eq!(stray["line"]["reason"], "other_development");
        assert_eq!(stray["line"]["developmentId"], elsewhere["id"]);
        // A ref the organisation does not have.
        o.err("audits.record", json!({"id": audit["audit"]["id"], "keyRef": "ZZ-999"}))
            .await
            .assert_kind(-32004, "NOT_FOUND");
        o.err("audits.record", json!({"id": audit["audit"]["id"], "keyRef": "not a ref!"}))
            .await
            .assert_invalid("keyRef");

        // While open, the plant room key is issued: it left the store with the register's
        // knowledge, so it is not missing.
        o.ok("keys.issueKey", json!({"id": keys[4]["id"], "issuedTo": "Bob Boiler"})).await;
        let progress = o.ok("audits.get", json!({"id": audit["audit"]["id"]})).await;
        assert_eq!((progress["audit"]["found"].clone(), progress["audit"]["unexpected"].clone()), (json!(3), json!(2)));
        assert_eq!(progress["audit"]["missing"], 3);
        assert_eq!(refs(&progress["missing"]).len(), 3);

        let done = o.ok("audits.complete", json!({"id": audit["audit"]["id"]})).await;
        assert_eq!(done["audit"]["status"], "completed");
        assert_eq!(done["audit"]["completedBy"], "Acme Estates Owner");
        let counts = ["expected", "found", "missing", "unexpected", "leftStock"].map(|c| done["audit"][c].clone());
        assert_eq!(counts, [json!(6), json!(3), json!(2), json!(2), json!(1)]);
        let key_refs = |ks: &[&Value]| {
            let mut r: Vec<String> = ks.iter().map(|k| k["keyRef"].as_str().unwrap().to_owned()).collect();
            r.sort();
            r
        };
        assert_eq!(refs(&done["found"]), key_refs(&[&keys[0], &keys[1], &returned]));
        assert_eq!(refs(&done["missing"]), key_refs(&[&keys[2], &keys[3]]));
        assert_eq!(refs(&done["unexpected"]), key_refs(&[&issued, &theirs]));
        assert_eq!(done["missing"]["nextCursor"], Value::Null);
        let left = o.ok("audits.lines", json!({"id": audit["audit"]["id"], "outcome": "left_stock"})).await;
        assert_eq!(refs(&left), key_refs(&[&keys[4]]));

        // Closed: nothing more is recorded, and it completes once.
        o.err("audits.record", json!({"id": audit["audit"]["id"], "keyRef": keys[2]["keyRef"]}))
            .await
            .assert_invalid("id");
        o.err("audits.complete", json!({"id": audit["audit"]["id"]})).await.assert_invalid("id");
        o.err("audits.cancel", json!({"id": audit["audit"]["id"]})).await.assert_invalid("id");
        let events = o.ok("audit.list", json!({"entityType": "keyAudit", "entityId": audit["audit"]["id"]})).await;
        let actions: Vec<&str> = events["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["keyAudit.completed", "keyAudit.started"], "records write no event");
    }

    async fn a_long_list_of_missing_keys_comes_a_hundred_at_a_time(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Tall Tower").await;
        for i in 0..105 {
            o.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": format!("Fob {i}")})).await;
        }
        let audit = o.ok("audits.start", json!({"developmentId": dev["id"]})).await;
        assert_eq!(audit["audit"]["expected"], 105);
        let done = o.ok("audits.complete", json!({"id": audit["audit"]["id"]})).await;
        assert_eq!(done["audit"]["missing"], 105);
        let first = refs(&done["missing"]);
        assert_eq!(first.len(), 100);
        let cursor = done["missing"]["nextCursor"].clone();
        let rest = o.ok("audits.lines", json!({"id": audit["audit"]["id"], "outcome": "missing", "cursor": cursor})).await;
        assert_eq!(refs(&rest), ["TT-101", "TT-102", "TT-103", "TT-104", "TT-105"]);
        assert_eq!(rest["nextCursor"], Value::Null);
        assert_eq!(first[0], "TT-001");
        o.err("audits.lines", json!({"id": audit["audit"]["id"], "outcome": "missing", "cursor": "bogus"}))
            .await
            .assert_invalid("cursor");
    }

    async fn resolving_marks_the_missing_keys_lost_and_flags_their_codes_in_one_step(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let gate = o.ok("doors.create", json!({"developmentId": dev["id"], "name": "Main gate", "kind": "gate"})).await;
        let gate_key = app.key(&dev["id"], "Gate key").await;
        o.ok("keys.setDoors", json!({"id": gate_key["id"], "doorIds": [gate["id"]]})).await;
        let spare = app.key(&dev["id"], "Spare gate key").await;
        o.ok("keys.setDoors", json!({"id": spare["id"], "doorIds": [gate["id"]]})).await;
        let fob = o.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "Fob"})).await;
        let code = o
            .ok("keys.createAccessCode", json!({"developmentId": dev["id"], "codeType": "gate", "label": "Gate code",
                "code": "4821", "doorIds": [gate["id"]]}))
            .await;
        let kept = app.key(&dev["id"], "Office key").await;

        let audit = o.ok("audits.start", json!({"developmentId": dev["id"]})).await;
        let id = audit["audit"]["id"].clone();
        o.err("audits.resolve", json!({"id": id})).await.assert_invalid("id");
        record(o, &audit, &kept["keyRef"]).await;
        let done = o.ok("audits.complete", json!({"id": id})).await;
        assert_eq!(done["audit"]["missing"], 3);

        let resolved = o.ok("audits.resolve", json!({"id": id})).await;
        assert_eq!(resolved["audit"]["status"], "resolved");
        assert_eq!(resolved["audit"]["markedLost"], 3);
        assert_eq!(resolved["keysMarkedLost"], 3);
        assert_eq!(resolved["keysSkipped"], 0);
        assert_eq!(resolved["doorsExposed"], 1);
        assert_eq!(resolved["codesFlagged"], 1);
        // Both gate keys are lost: the gate is rekeyed once and neither is "replaced".
        assert_eq!(
            resolved["actions"],
            json!([
                {"action": "deactivate_key", "keyId": fob["id"]},
                {"action": "rekey_door", "doorId": gate["id"]},
                {"action": "rotate_code", "accessCodeId": code["id"]},
            ])
        );
        for key in [&gate_key, &spare, &fob] {
            let now = o.ok("keys.getKey", json!({"id": key["id"]})).await;
            assert_eq!(now["status"], "lost", "{}", key["keyRef"]);
            let history = o.ok("keys.keyHistory", json!({"id": key["id"]})).await;
            assert_eq!(history["items"][0]["action"], "marked_lost");
        }
        assert_eq!(o.ok("keys.getKey", json!({"id": kept["id"]})).await["status"], "in_stock");
        let due = o.ok("keys.listAccessCodes", json!({"rotationDue": true})).await;
        assert_eq!(due["items"][0]["id"], code["id"]);
        assert_eq!(o.ok("audit.list", json!({"action": "key.marked_lost"})).await["total"], 3);
        assert_eq!(o.ok("keys.summary", json!({})).await["lost"], 3);
        o.err("audits.resolve", json!({"id": id})).await.assert_invalid("id");
    }

    async fn a_development_has_one_open_audit_at_a_time(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let other = app.development("Birch Row").await;
        let first = o.ok("audits.start", json!({"developmentId": dev["id"]})).await;
        let refused = o.err("audits.start", json!({"developmentId": dev["id"]})).await;
        refused.assert_invalid("developmentId");
        assert!(refused.message.contains(first["audit"]["id"].as_str().unwrap()), "{}", refused.message);
        // Another development is not held up.
        o.ok("audits.start", json!({"developmentId": other["id"]})).await;
        let cancelled = o.ok("audits.cancel", json!({"id": first["audit"]["id"]})).await;
        assert_eq!(cancelled["audit"]["status"], "cancelled");
        let second = o.ok("audits.start", json!({"developmentId": dev["id"]})).await;
        let listed = o.ok("audits.list", json!({"developmentId": dev["id"]})).await;
        let ids: Vec<&Value> = listed["items"].as_array().unwrap().iter().map(|a| &a["id"]).collect();
        assert_eq!(ids, [&second["audit"]["id"], &first["audit"]["id"]], "newest first");
        assert_eq!(o.ok("audits.list", json!({})).await["items"].as_array().unwrap().len(), 3);
    }

    async fn ten_concurrent_starts_of_one_development_open_exactly_one_audit(app: TestApp) {
        let dev = app.development("Oak Park").await;
        app.key(&dev["id"], "Flat 1").await;
        let calls = (0..10).map(|_| app.owner.call("audits.start", json!({"developmentId": dev["id"]})));
        let results = join_all(calls).await;
        let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        for loser in results.iter().filter_map(|r| r.as_ref().err()) {
            loser.assert_invalid("developmentId");
        }
        let listed = app.owner.ok("audits.list", json!({"developmentId": dev["id"]})).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
        assert_eq!(listed["items"][0]["expected"], 1);
        let started = app.owner.ok("audit.list", json!({"action": "keyAudit.started"})).await;
        assert_eq!(started["total"], 1);
    }

    async fn another_organisations_audit_is_not_found_and_other_roles_are_forbidden(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let key = app.key(&dev["id"], "Flat 1").await;
        let audit = o.ok("audits.start", json!({"developmentId": dev["id"]})).await;
        let id = audit["audit"]["id"].clone();
        let other = app.other_organisation().await;
        for (method, params) in [
            ("audits.get", json!({"id": id})),
            ("audits.lines", json!({"id": id, "outcome": "found"})),
            ("audits.record", json!({"id": id, "keyRef": key["keyRef"]})),
            ("audits.complete", json!({"id": id})),
            ("audits.resolve", json!({"id": id})),
            ("audits.cancel", json!({"id": id})),
            ("audits.start", json!({"developmentId": dev["id"]})),
        ] {
            other.err(method, params).await.assert_kind(-32004, "NOT_FOUND");
        }
        // Their own key's ref in our audit is not found either.
        let their_dev = other.ok("developments.create", json!({"name": "Other Place", "keyPrefix": "XP"})).await;
        let theirs = other
            .ok("keys.createKey", json!({"developmentId": their_dev["id"], "keyType": "fob", "label": "Theirs"}))
            .await;
        o.err("audits.record", json!({"id": id, "keyRef": theirs["keyRef"]})).await.assert_kind(-32004, "NOT_FOUND");
        assert!(other.ok("audits.list", json!({})).await["items"].as_array().unwrap().is_empty());

        let team = app.user("team").await;
        record(&team, &audit, &key["keyRef"]).await;
        for role in ["installer", "housekeeping"] {
            let user = app.user(role).await;
            user.err("audits.get", json!({"id": id})).await.assert_kind(-32003, "FORBIDDEN");
            user.err("audits.record", json!({"id": id, "keyRef": key["keyRef"]})).await.assert_kind(-32003, "FORBIDDEN");
        }
        let now = o.ok("audits.get", json!({"id": id})).await;
        assert_eq!(now["audit"]["found"], 1);
        assert_eq!(now["found"]["items"][0]["recordedBy"], "team 0");
    }
}

on_both_databases_with! { TEST_CLOCK;
    async fn the_summary_counts_developments_whose_audit_is_overdue(app: TestApp) {
        app.clock(json!({"set": "2030-01-01T09:00:00Z"})).await;
        let o = app.login("owner@acme.test").await;
        let dev = o.ok("developments.create", json!({"name": "Oak Park", "auditIntervalDays": 30})).await;
        assert_eq!(dev["auditIntervalDays"], 30);
        assert_eq!(dev["auditDueAt"], "2030-01-31T09:00:00Z");
        assert_eq!(dev["lastAuditAt"], Value::Null);
        let unscheduled = o.ok("developments.create", json!({"name": "Birch Row"})).await;
        assert_eq!(unscheduled["auditDueAt"], Value::Null);
        o.err("developments.create", json!({"name": "Bad", "auditIntervalDays": 0})).await.assert_invalid("auditIntervalDays");
        o.err("developments.update", json!({"id": dev["id"], "auditIntervalDays": 3651}))
            .await
            .assert_invalid("auditIntervalDays");
        assert_eq!(o.ok("keys.summary", json!({})).await["auditsOverdue"], 0);

        // A second past the due time, it is overdue; the unscheduled one never is.
        app.clock(json!({"set": "2030-01-31T09:00:01Z"})).await;
        let o = app.login("owner@acme.test").await;
        assert_eq!(o.ok("keys.summary", json!({})).await["auditsOverdue"], 1);
        assert_eq!(o.ok("keys.summary", json!({"developmentId": dev["id"]})).await["auditsOverdue"], 1);
        assert_eq!(o.ok("keys.summary", json!({"developmentId": unscheduled["id"]})).await["auditsOverdue"], 0);

        // A completed audit starts the interval again; a cancelled one would not.
        let audit = o.ok("audits.start", json!({"developmentId": dev["id"]})).await;
        assert_eq!(o.ok("keys.summary", json!({})).await["auditsOverdue"], 1, "an open audit is not done yet");
        o.ok("audits.complete", json!({"id": audit["audit"]["id"]})).await;
        assert_eq!(o.ok("keys.summary", json!({})).await["auditsOverdue"], 0);
        let listed = o.ok("developments.list", json!({})).await;
        let oak = listed["items"].as_array().unwrap().iter().find(|d| d["id"] == dev["id"]).unwrap().clone();
        assert_eq!(oak["lastAuditAt"], "2030-01-31T09:00:01Z");
        assert_eq!(oak["auditDueAt"], "2030-03-02T09:00:01Z");

        // Shortening the interval counts from the last audit; null ends the schedule.
        app.clock(json!({"set": "2030-02-10T09:00:00Z"})).await;
        let o = app.login("owner@acme.test").await;
        let shorter = o.ok("developments.update", json!({"id": dev["id"], "auditIntervalDays": 7})).await;
        assert_eq!(shorter["auditDueAt"], "2030-02-07T09:00:01Z");
        assert_eq!(o.ok("keys.summary", json!({})).await["auditsOverdue"], 1);
        let off = o.ok("developments.update", json!({"id": dev["id"], "auditIntervalDays": null})).await;
        assert_eq!(off["auditIntervalDays"], Value::Null);
        assert_eq!(off["auditDueAt"], Value::Null);
        assert_eq!(o.ok("keys.summary", json!({})).await["auditsOverdue"], 0);
        let unchanged = o.ok("developments.update", json!({"id": dev["id"], "name": "Oak Park East"})).await;
        assert_eq!(unchanged["auditIntervalDays"], Value::Null);
    }
}
