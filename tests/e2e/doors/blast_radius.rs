//! What a lost key exposes (issue 12 §5): `keys.blastRadius`, `keys.markLost`'s answer and
//! the codes it makes due, and the summary's doors exposed by lost keys.

use serde_json::{Value, json};

use super::door;
use crate::on_both_databases;
use crate::support::{Client, TestApp};

const MISSING: &str = "01900000-0000-7000-8000-000000000000";

/// Oak Park: a master key to the lobby and the main gate, a spare gate key issued to Sam,
/// a gate code at the gate (also linked to the master), an alarm code linked to the master
/// only, and a staff grant with a doorcode at the lobby. Beside them, what the master does
/// not open: the bin store, its key, its code and a grant there.
struct Site {
    dev: Value,
    lobby: Value,
    gate: Value,
    master: Value,
    spare: Value,
    gate_code: Value,
    alarm: Value,
    bins_code: Value,
    ann: Value,
    staff: Value,
}

async fn site(app: &TestApp) -> Site {
    let o = &app.owner;
    let dev = app.development("Oak Park").await;
    let lobby = door(app, &dev["id"], "Lobby", "entrance").await;
    let gate = door(app, &dev["id"], "Main gate", "gate").await;
    let bins = door(app, &dev["id"], "Bin store", "bin_store").await;
    let master =
        o.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "master_key", "label": "Master"})).await;
    let master = o.ok("keys.setDoors", json!({"id": master["id"], "doorIds": [lobby["id"], gate["id"]]})).await;
    let spare = app.key(&dev["id"], "Spare gate key").await;
    o.ok("keys.setDoors", json!({"id": spare["id"], "doorIds": [gate["id"]]})).await;
    let spare = o.ok("keys.issueKey", json!({"id": spare["id"], "issuedTo": "Sam Spare"})).await;
    let bins_key = app.key(&dev["id"], "Bins key").await;
    o.ok("keys.setDoors", json!({"id": bins_key["id"], "doorIds": [bins["id"]]})).await;
    let code = |label: &str, code_type: &str, extra: Value| {
        let mut p = json!({"developmentId": dev["id"], "codeType": code_type, "label": label, "code": "4821"});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        o.ok("keys.createAccessCode", p)
    };
    let gate_code = code("Gate code", "gate", json!({"doorIds": [gate["id"]], "keyIds": [master["id"]]})).await;
    let alarm = code("Alarm", "alarm", json!({"keyIds": [master["id"]]})).await;
    let bins_code = code("Bins code", "bin_store", json!({"doorIds": [bins["id"]]})).await;
    let person = |name: &str| o.ok("people.create", json!({"name": name, "kind": "staff"}));
    let (ann, bob) = (person("Ann Staff").await, person("Bob Bins").await);
    let weekdays = json!([{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"}]);
    let staff = o
        .ok(
            "grants.create",
            json!({"developmentId": dev["id"], "name": "Staff", "startsAt": "2026-01-01T00:00:00Z",
            "doors": [{"doorId": lobby["id"], "schedule": weekdays}], "personIds": [ann["id"]],
            "doorcode": {"policy": "random"}}),
        )
        .await;
    o.ok(
        "grants.create",
        json!({"developmentId": dev["id"], "name": "Bins", "startsAt": "2026-01-01T00:00:00Z",
        "doors": [{"doorId": bins["id"]}], "personIds": [bob["id"]], "doorcode": {"policy": "random"}}),
    )
    .await;
    Site { dev, lobby, gate, master, spare, gate_code, alarm, bins_code, ann, staff }
}

/// Exactly what the master key exposes, with the codes' `rotationDue` as given.
fn expected(s: &Site, status: &str, due: bool) -> Value {
    json!({
        "keyId": s.master["id"], "keyRef": s.master["keyRef"], "keyType": "master_key", "status": status,
        "doors": [
            {"id": s.lobby["id"], "name": "Lobby", "kind": "entrance"},
            {"id": s.gate["id"], "name": "Main gate", "kind": "gate"},
        ],
        "otherKeys": [{
            "id": s.spare["id"], "keyRef": s.spare["keyRef"], "label": "Spare gate key", "keyType": "physical_key",
            "status": "issued", "holderId": null, "issuedTo": "Sam Spare", "doorIds": [s.gate["id"]],
        }],
        "accessCodes": [
            {"id": s.alarm["id"], "label": "Alarm", "codeType": "alarm", "rotationDue": due, "doorIds": [], "linked": true},
            {"id": s.gate_code["id"], "label": "Gate code", "codeType": "gate", "rotationDue": due,
             "doorIds": [s.gate["id"]], "linked": true},
        ],
        "doorcodes": [
            {"doorId": s.lobby["id"], "active": 1, "personIds": [s.ann["id"]]},
            {"doorId": s.gate["id"], "active": 0, "personIds": []},
        ],
        "people": [{"id": s.ann["id"], "name": "Ann Staff", "grantIds": [s.staff["id"]], "doorIds": [s.lobby["id"]]}],
        "actions": [
            {"action": "rekey_door", "doorId": s.lobby["id"]},
            {"action": "rekey_door", "doorId": s.gate["id"]},
            {"action": "rotate_code", "accessCodeId": s.alarm["id"]},
            {"action": "rotate_code", "accessCodeId": s.gate_code["id"]},
            {"action": "replace_key", "keyId": s.spare["id"], "doorIds": [s.gate["id"]]},
        ],
    })
}

/// The ids of the codes due for rotation, and each one's number of `key_lost` reasons.
async fn due_codes(o: &Client) -> Vec<(Value, usize)> {
    let page = o.ok("keys.listAccessCodes", json!({"rotationDue": true})).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let reasons = c["rotationReasons"].as_array().unwrap();
            (c["id"].clone(), reasons.iter().filter(|r| r["kind"] == "key_lost").count())
        })
        .collect()
}

async fn exposed(o: &Client, params: Value) -> Value {
    o.ok("keys.summary", params).await["doorsExposedByLostKeys"].clone()
}

on_both_databases! {
    async fn a_lost_master_key_exposes_its_doors_and_makes_their_codes_due(app: TestApp) {
        let o = &app.owner;
        let s = site(&app).await;
        assert_eq!(o.ok("keys.blastRadius", json!({"id": s.master["id"]})).await, expected(&s, "in_stock", false));
        assert_eq!(exposed(o, json!({})).await, 0);

        let lost = o.ok("keys.markLost", json!({"id": s.master["id"], "notes": "Dropped on the bus"})).await;
        assert_eq!(lost["blastRadius"], expected(&s, "lost", true));
        // The rest of the answer is the key, as keys.getKey shows it.
        let mut key = lost.clone();
        key.as_object_mut().unwrap().remove("blastRadius");
        assert_eq!(key, o.ok("keys.getKey", json!({"id": s.master["id"]})).await);
        assert_eq!(key["status"], "lost");
        // The gate code, linked and at a door, has one key_lost reason; the bins code none.
        let mut due = due_codes(o).await;
        due.sort_by_key(|(id, _)| id.as_str().unwrap().to_owned());
        let mut want = vec![(s.gate_code["id"].clone(), 1), (s.alarm["id"].clone(), 1)];
        want.sort_by_key(|(id, _)| id.as_str().unwrap().to_owned());
        assert_eq!(due, want);
        let bins_code = o.ok("keys.listAccessCodes", json!({"search": "Bins code"})).await;
        assert_eq!(bins_code["items"][0]["rotationDue"], false, "{}", s.bins_code["id"]);
        assert_eq!(o.ok("keys.blastRadius", json!({"id": s.master["id"]})).await, lost["blastRadius"]);

        // The summary counts each exposed door once, in the organisation and per development.
        assert_eq!(exposed(o, json!({})).await, 2);
        assert_eq!(exposed(o, json!({"developmentId": s.dev["id"]})).await, 2);
        let elm = app.development("Elm Row").await;
        assert_eq!(exposed(o, json!({"developmentId": elm["id"]})).await, 0);
        o.ok("keys.markLost", json!({"id": s.spare["id"]})).await;
        assert_eq!(exposed(o, json!({})).await, 2, "the gate is counted once");
        o.ok("keys.markFound", json!({"id": s.master["id"]})).await;
        assert_eq!(exposed(o, json!({})).await, 1, "the spare still opens the gate");
        o.ok("keys.setDoors", json!({"id": s.spare["id"], "doorIds": [s.gate["id"], s.lobby["id"]]})).await;
        assert_eq!(exposed(o, json!({})).await, 2, "a lost key given a door exposes it");
        o.ok("keys.markFound", json!({"id": s.spare["id"]})).await;
        assert_eq!(exposed(o, json!({})).await, 0);

        // Marking a lost key lost again is refused and flags nothing more.
        o.ok("keys.markLost", json!({"id": s.master["id"]})).await;
        let before = due_codes(o).await;
        o.err("keys.markLost", json!({"id": s.master["id"]})).await.assert_kind(-32009, "INVALID_TRANSITION");
        assert_eq!(due_codes(o).await, before);
    }

    async fn a_lost_fob_is_deactivated_rather_than_rekeyed(app: TestApp) {
        let o = &app.owner;
        let s = site(&app).await;
        let fob = o.ok("keys.createKey", json!({"developmentId": s.dev["id"], "keyType": "fob", "label": "Gate fob"})).await;
        o.ok("keys.setDoors", json!({"id": fob["id"], "doorIds": [s.gate["id"]]})).await;
        let radius = o.ok("keys.markLost", json!({"id": fob["id"]})).await["blastRadius"].clone();
        assert_eq!(radius["actions"], json!([
            {"action": "deactivate_key", "keyId": fob["id"]},
            {"action": "rotate_code", "accessCodeId": s.gate_code["id"]},
        ]));
        let others: Vec<Value> = radius["otherKeys"].as_array().unwrap().iter().map(|k| k["id"].clone()).collect();
        // By key ref: the master is OP-001, the spare OP-002.
        assert_eq!(others, [s.master["id"].clone(), s.spare["id"].clone()]);
        // A key that opens nothing exposes nothing (its linked codes aside).
        let plain = app.key(&s.dev["id"], "Shed").await;
        let radius = o.ok("keys.blastRadius", json!({"id": plain["id"]})).await;
        for section in ["doors", "otherKeys", "accessCodes", "doorcodes", "people", "actions"] {
            assert_eq!(radius[section], json!([]), "{section}");
        }
    }

    async fn the_blast_radius_stays_in_the_organisation_and_with_its_roles(app: TestApp) {
        let o = &app.owner;
        let s = site(&app).await;
        o.ok("keys.markLost", json!({"id": s.master["id"]})).await;
        let other = app.other_organisation().await;
        other.err("keys.blastRadius", json!({"id": s.master["id"]})).await.assert_kind(-32004, "NOT_FOUND");
        assert_eq!(exposed(&other, json!({})).await, 0);
        // Their own lost master key at their own gate shows only theirs.
        let their_dev = other.ok("developments.create", json!({"name": "Their Place"})).await;
        let their_gate = other.ok("doors.create", json!({"developmentId": their_dev["id"], "name": "Gate", "kind": "gate"})).await;
        let theirs = other.ok("keys.createKey", json!({"developmentId": their_dev["id"], "keyType": "master_key", "label": "M"})).await;
        other.ok("keys.setDoors", json!({"id": theirs["id"], "doorIds": [their_gate["id"]]})).await;
        let radius = other.ok("keys.markLost", json!({"id": theirs["id"]})).await["blastRadius"].clone();
        assert_eq!(radius["doors"], json!([{"id": their_gate["id"], "name": "Gate", "kind": "gate"}]));
        for section in ["otherKeys", "accessCodes", "people"] {
            assert_eq!(radius[section], json!([]), "{section}");
        }
        assert_eq!(exposed(&other, json!({})).await, 1);
        assert_eq!(exposed(o, json!({})).await, 2);
        // Our codes stay as they were: theirs flagged nothing of ours.
        assert_eq!(due_codes(o).await.len(), 2);

        // Owner, manager and team read it; installers and housekeeping may not.
        for role in ["manager", "team"] {
            let user = app.user(role).await;
            assert_eq!(user.ok("keys.blastRadius", json!({"id": s.master["id"]})).await, expected(&s, "lost", true));
        }
        for role in ["installer", "housekeeping"] {
            let user = app.user(role).await;
            user.err("keys.blastRadius", json!({"id": s.master["id"]})).await.assert_kind(-32003, "FORBIDDEN");
            user.err("keys.markLost", json!({"id": s.spare["id"]})).await.assert_kind(-32003, "FORBIDDEN");
        }

        // Bad input.
        o.err("keys.blastRadius", json!({"id": MISSING})).await.assert_kind(-32004, "NOT_FOUND");
        o.err("keys.blastRadius", json!({})).await.assert_invalid("id");
        o.err("keys.blastRadius", json!({"id": 7})).await.assert_invalid("id");
        o.err("keys.blastRadius", json!({"id": s.master["id"], "depth": 2})).await.assert_invalid("depth");
        o.err("keys.markLost", json!({"id": MISSING})).await.assert_kind(-32004, "NOT_FOUND");
        let spare = o.ok("keys.getKey", json!({"id": s.spare["id"]})).await;
        o.err("keys.markLost", json!({"id": s.spare["id"], "notes": "x".repeat(4001)})).await.assert_invalid("notes");
        assert_eq!(o.ok("keys.getKey", json!({"id": s.spare["id"]})).await, spare);
        assert_eq!(due_codes(o).await.len(), 2);
    }
}
