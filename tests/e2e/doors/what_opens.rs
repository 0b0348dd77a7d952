//! What opens what: `keys.setDoors`, access codes' `doorIds`, the `doorId` filters, and
//! DOOR_IN_USE reached through them.

use serde_json::{Value, json};

use super::{door, ids};
use crate::on_both_databases;
use crate::support::TestApp;

const MISSING: &str = "01900000-0000-7000-8000-000000000000";

fn sorted(ids: &[&Value]) -> Value {
    let mut v: Vec<String> = ids.iter().map(|i| i.as_str().unwrap().to_owned()).collect();
    v.sort();
    json!(v)
}

/// Oak Park with a gate and a bin store, Elm Row with a flat.
struct Site {
    oak: Value,
    elm: Value,
    gate: Value,
    bins: Value,
    flat: Value,
}

async fn site(app: &TestApp) -> Site {
    let oak = app.development("Oak Park").await;
    let elm = app.development("Elm Row").await;
    let gate = door(app, &oak["id"], "Main gate", "gate").await;
    let bins = door(app, &oak["id"], "Bin store", "bin_store").await;
    let flat = door(app, &elm["id"], "Flat 1", "flat").await;
    Site { oak, elm, gate, bins, flat }
}

on_both_databases! {
    async fn a_key_opens_the_doors_it_is_given(app: TestApp) {
        let o = &app.owner;
        let Site { oak, elm, gate, bins, flat } = site(&app).await;
        let master = app.key(&oak["id"], "Master").await;
        let spare = app.key(&oak["id"], "Spare gate key").await;
        assert_eq!(master["doorIds"], json!([]));

        // Replaces the set: duplicates dropped, ordered by id, a new version, one event.
        let set = o.ok("keys.setDoors", json!({"id": master["id"], "expectedVersion": 1,
            "doorIds": [gate["id"], bins["id"], gate["id"]]})).await;
        assert_eq!(set["doorIds"], sorted(&[&gate["id"], &bins["id"]]));
        assert_eq!(set["version"], 2);
        assert_eq!(o.ok("keys.getKey", json!({"id": master["id"]})).await, set);
        let event = &o.ok("audit.list", json!({"limit": 1})).await["items"][0];
        assert_eq!((event["action"].clone(), event["entityId"].clone()), (json!("key.doors_set"), master["id"].clone()));
        let both = sorted(&[&gate["id"], &bins["id"]]);
        let both_text = both.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect::<Vec<_>>().join(", ");
        assert_eq!(event["changes"], json!([{"field": "doorIds", "from": null, "to": both_text}]));

        // The same set again changes nothing and records nothing.
        let audit_total = o.ok("audit.list", json!({})).await["total"].clone();
        assert_eq!(o.ok("keys.setDoors", json!({"id": master["id"], "doorIds": [bins["id"], gate["id"]]})).await, set);
        assert_eq!(o.ok("audit.list", json!({})).await["total"], audit_total);

        o.ok("keys.setDoors", json!({"id": spare["id"], "doorIds": [gate["id"]]})).await;
        // Listed with their doors; the doorId filter.
        let listed = o.ok("keys.listKeys", json!({})).await;
        let by_id = |id: &Value| listed["items"].as_array().unwrap().iter().find(|k| k["id"] == *id).unwrap()["doorIds"].clone();
        assert_eq!((by_id(&master["id"]), by_id(&spare["id"])), (both.clone(), json!([gate["id"]])));
        assert_eq!(ids(&o.ok("keys.listKeys", json!({"doorId": gate["id"]})).await), [master["id"].clone(), spare["id"].clone()]);
        let at_bins = o.ok("keys.listKeys", json!({"doorId": bins["id"]})).await;
        assert_eq!((ids(&at_bins), at_bins["total"].clone()), (vec![master["id"].clone()], json!(1)));
        assert_eq!(o.ok("keys.listKeys", json!({"doorId": flat["id"]})).await["total"], 0);
        assert_eq!(o.ok("keys.listKeys", json!({"doorId": MISSING})).await["total"], 0);
        assert_eq!(ids(&o.ok("keys.listKeys", json!({"doorId": gate["id"], "search": "spare"})).await), [spare["id"].clone()]);

        // Bad input changes nothing.
        let before = o.ok("keys.getKey", json!({"id": master["id"]})).await;
        let audit_total = o.ok("audit.list", json!({})).await["total"].clone();
        o.err("keys.setDoors", json!({"id": master["id"], "doorIds": [gate["id"], flat["id"]]})).await.assert_invalid("doorIds");
        o.err("keys.setDoors", json!({"id": master["id"], "doorIds": [gate["id"], MISSING]})).await.assert_kind(-32004, "NOT_FOUND");
        o.err("keys.setDoors", json!({"id": MISSING, "doorIds": [gate["id"]]})).await.assert_kind(-32004, "NOT_FOUND");
        o.err("keys.setDoors", json!({"id": master["id"]})).await.assert_invalid("doorIds");
        o.err("keys.setDoors", json!({"id": master["id"], "doorIds": gate["id"]})).await.assert_invalid("doorIds");
        let many: Vec<String> = (0..501).map(|n| format!("door-{n}")).collect();
        o.err("keys.setDoors", json!({"id": master["id"], "doorIds": many})).await.assert_invalid("doorIds");
        let stale = o.err("keys.setDoors", json!({"id": master["id"], "expectedVersion": 1, "doorIds": []})).await;
        stale.assert_kind(-32009, "VERSION_CONFLICT");
        assert_eq!(stale.data["currentVersion"], 2);
        // A key that opens doors stays in their development.
        o.err("keys.updateKey", json!({"id": master["id"], "developmentId": elm["id"]})).await.assert_invalid("developmentId");
        assert_eq!(o.ok("keys.getKey", json!({"id": master["id"]})).await, before);
        assert_eq!(o.ok("audit.list", json!({})).await["total"], audit_total);

        // Roles: installers and housekeeping read the doors but cannot set them.
        for role in ["installer", "housekeeping"] {
            let reader = app.user(role).await;
            assert_eq!(reader.ok("keys.getKey", json!({"id": master["id"]})).await["doorIds"], both);
            reader.err("keys.setDoors", json!({"id": master["id"], "doorIds": []})).await.assert_kind(-32003, "FORBIDDEN");
        }
        let team = app.user("team").await;
        let cleared = team.ok("keys.setDoors", json!({"id": master["id"], "doorIds": []})).await;
        assert_eq!((cleared["doorIds"].clone(), cleared["version"].clone()), (json!([]), json!(3)));
        let moved = o.ok("keys.updateKey", json!({"id": master["id"], "developmentId": elm["id"]})).await;
        assert_eq!(moved["developmentId"], elm["id"]);
    }

    async fn an_access_code_is_at_doors(app: TestApp) {
        let o = &app.owner;
        let Site { oak, gate, bins, flat, .. } = site(&app).await;
        let new_code = |label: &str, extra: Value| {
            let mut p = json!({"developmentId": oak["id"], "codeType": "gate", "label": label, "code": "4821"});
            for (k, v) in extra.as_object().unwrap() { p[k] = v.clone(); }
            p
        };
        let gate_code = o.ok("keys.createAccessCode", new_code("Gate code", json!({"doorIds": [gate["id"], gate["id"]]}))).await;
        assert_eq!(gate_code["doorIds"], json!([gate["id"]]));
        let plain = o.ok("keys.createAccessCode", new_code("Alarm", json!({}))).await;
        assert_eq!(plain["doorIds"], json!([]));
        let event = &o.ok("audit.list", json!({"limit": 2})).await["items"][1];
        assert!(event["changes"].as_array().unwrap().contains(&json!({"field": "doorIds", "from": null, "to": gate["id"]})), "{event}");

        // Bad doors create nothing.
        let total = o.ok("keys.listAccessCodes", json!({})).await["total"].clone();
        o.err("keys.createAccessCode", new_code("X", json!({"doorIds": [flat["id"]]}))).await.assert_invalid("doorIds");
        o.err("keys.createAccessCode", new_code("X", json!({"doorIds": [MISSING]}))).await.assert_kind(-32004, "NOT_FOUND");
        let many: Vec<String> = (0..501).map(|n| format!("door-{n}")).collect();
        o.err("keys.createAccessCode", new_code("X", json!({"doorIds": many}))).await.assert_invalid("doorIds");
        assert_eq!(o.ok("keys.listAccessCodes", json!({})).await["total"], total);

        // Update replaces the set; absent leaves it; the filter reads it.
        let moved = o.ok("keys.updateAccessCode", json!({"id": gate_code["id"], "doorIds": [bins["id"], gate["id"]]})).await;
        assert_eq!(moved["doorIds"], sorted(&[&gate["id"], &bins["id"]]));
        assert_eq!(moved["version"], 2);
        let relabelled = o.ok("keys.updateAccessCode", json!({"id": gate_code["id"], "label": "Gate keypad"})).await;
        assert_eq!(relabelled["doorIds"], moved["doorIds"]);
        assert_eq!(o.ok("keys.updateAccessCode", json!({"id": gate_code["id"], "doorIds": [gate["id"], bins["id"]]})).await, relabelled,
            "the same set is no change");
        o.err("keys.updateAccessCode", json!({"id": gate_code["id"], "doorIds": [flat["id"]]})).await.assert_invalid("doorIds");
        assert_eq!(ids(&o.ok("keys.listAccessCodes", json!({"doorId": bins["id"]})).await), [gate_code["id"].clone()]);
        assert_eq!(o.ok("keys.listAccessCodes", json!({"doorId": flat["id"]})).await["total"], 0);
        let listed = o.ok("keys.listAccessCodes", json!({})).await;
        let doors_of: Vec<Value> = listed["items"].as_array().unwrap().iter().map(|c| c["doorIds"].clone()).collect();
        assert_eq!(doors_of, [json!([]), relabelled["doorIds"].clone()], "Alarm, Gate keypad");
        let cleared = o.ok("keys.updateAccessCode", json!({"id": gate_code["id"], "doorIds": []})).await;
        assert_eq!(cleared["doorIds"], json!([]));
        let event = &o.ok("audit.list", json!({"limit": 1})).await["items"][0];
        assert_eq!(event["changes"][0]["field"], "doorIds");
        assert_eq!(event["changes"][0]["to"], Value::Null);
    }

    async fn a_door_a_key_or_code_opens_is_in_use(app: TestApp) {
        let o = &app.owner;
        let oak = app.development("Oak Park").await;
        let gate = door(&app, &oak["id"], "Main gate", "gate").await;
        let lift = door(&app, &oak["id"], "Lift", "lift").await;
        let master = app.key(&oak["id"], "Master").await;
        let key = o.ok("keys.setDoors", json!({"id": master["id"], "doorIds": [gate["id"]]})).await;
        let code = o.ok("keys.createAccessCode", json!({"developmentId": oak["id"], "codeType": "lift", "label": "Lift",
            "code": "9031", "doorIds": [lift["id"]]})).await;
        let audit_total = o.ok("audit.list", json!({})).await["total"].clone();

        for d in [&gate, &lift] {
            o.err("doors.delete", json!({"id": d["id"]})).await.assert_kind(-32009, "DOOR_IN_USE");
            assert_eq!(o.ok("doors.get", json!({"id": d["id"]})).await, *d, "the door is still there");
        }
        assert_eq!(o.ok("keys.getKey", json!({"id": master["id"]})).await, key);
        assert_eq!(o.ok("keys.listAccessCodes", json!({"doorId": lift["id"]})).await["items"][0], code);
        assert_eq!(o.ok("audit.list", json!({})).await["total"], audit_total, "nothing recorded");

        o.ok("keys.setDoors", json!({"id": master["id"], "doorIds": []})).await;
        o.ok("keys.updateAccessCode", json!({"id": code["id"], "doorIds": []})).await;
        o.ok("doors.delete", json!({"id": gate["id"]})).await;
        o.ok("doors.delete", json!({"id": lift["id"]})).await;
        // A deleted key drops its links: its door can go.
        let bins = door(&app, &oak["id"], "Bin store", "bin_store").await;
        let spare = app.key(&oak["id"], "Spare").await;
        o.ok("keys.setDoors", json!({"id": spare["id"], "doorIds": [bins["id"]]})).await;
        o.ok("keys.deleteKey", json!({"id": spare["id"]})).await;
        o.ok("doors.delete", json!({"id": bins["id"]})).await;
    }

    async fn another_organisations_keys_codes_and_doors_do_not_mix(app: TestApp) {
        let o = &app.owner;
        let oak = app.development("Oak Park").await;
        let gate = door(&app, &oak["id"], "Main gate", "gate").await;
        let master = app.key(&oak["id"], "Master").await;
        let ours = o.ok("keys.setDoors", json!({"id": master["id"], "doorIds": [gate["id"]]})).await;

        let b = app.other_organisation().await;
        let b_dev = b.ok("developments.create", json!({"name": "Birch"})).await;
        let b_key = b.ok("keys.createKey", json!({"developmentId": b_dev["id"], "keyType": "master_key", "label": "Theirs"})).await;
        b.err("keys.setDoors", json!({"id": master["id"], "doorIds": []})).await.assert_kind(-32004, "NOT_FOUND");
        b.err("keys.setDoors", json!({"id": b_key["id"], "doorIds": [gate["id"]]})).await.assert_kind(-32004, "NOT_FOUND");
        b.err("keys.createAccessCode", json!({"developmentId": b_dev["id"], "codeType": "gate", "label": "G", "code": "1",
            "doorIds": [gate["id"]]})).await.assert_kind(-32004, "NOT_FOUND");
        assert_eq!(b.ok("keys.listKeys", json!({"doorId": gate["id"]})).await["total"], 0);
        assert_eq!(b.ok("keys.listAccessCodes", json!({"doorId": gate["id"]})).await["total"], 0);
        assert_eq!(o.ok("keys.getKey", json!({"id": master["id"]})).await, ours);
    }
}
