//! `doors.*` and development time zones: validation, merge-patch, deletion, isolation.

use serde_json::{Value, json};

use super::{door, ids};
use crate::on_both_databases;
use crate::support::TestApp;

fn names(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
}

on_both_databases! {
    async fn doors_are_created_validated_listed_updated_and_deleted(app: TestApp) {
        let o = &app.owner;
        let oak = app.development("Oak Park").await;
        let elm = app.development("Elm Row").await;
        let gate = o.ok("doors.create", json!({"developmentId": oak["id"], "name": " Main gate ", "kind": "gate", "notes": "Sliding"})).await;
        assert_eq!((gate["name"].clone(), gate["kind"].clone(), gate["notes"].clone(), gate["version"].clone()),
            (json!("Main gate"), json!("gate"), json!("Sliding"), json!(1)));
        assert_eq!(gate["developmentId"], oak["id"]);
        let bins = door(&app, &oak["id"], "Bin store", "bin_store").await;
        let flat = door(&app, &elm["id"], "Flat 1", "flat").await;
        assert_eq!(o.ok("doors.get", json!({"id": gate["id"]})).await, gate);

        // Bad input is INVALID_INPUT on the field, and creates nothing.
        o.err("doors.create", json!({"developmentId": oak["id"], "name": " ", "kind": "gate"})).await.assert_invalid("name");
        o.err("doors.create", json!({"developmentId": oak["id"], "name": "X", "kind": "Gate"})).await.assert_invalid("kind");
        o.err("doors.create", json!({"developmentId": oak["id"], "name": "X", "kind": "window"})).await.assert_invalid("kind");
        o.err("doors.create", json!({"developmentId": oak["id"], "name": "X".repeat(201), "kind": "gate"})).await.assert_invalid("name");
        o.err("doors.create", json!({"developmentId": oak["id"], "name": "X", "kind": "gate", "notes": "n".repeat(4001)})).await.assert_invalid("notes");
        o.err("doors.create", json!({"name": "X", "kind": "gate"})).await.assert_invalid("developmentId");
        o.err("doors.create", json!({"developmentId": oak["id"], "name": "X", "kind": "gate", "floor": 2})).await.assert_invalid("floor");
        o.err("doors.create", json!({"developmentId": "01900000-0000-7000-8000-000000000000", "name": "X", "kind": "gate"})).await
            .assert_kind(-32004, "NOT_FOUND");
        o.err("doors.update", json!({"id": gate["id"], "kind": "portal"})).await.assert_invalid("kind");
        o.err("doors.update", json!({"id": gate["id"], "name": ""})).await.assert_invalid("name");
        assert_eq!(o.ok("doors.list", json!({})).await["total"], 3);

        // Lists: by name, filtered by development and kind, paged.
        assert_eq!(names(&o.ok("doors.list", json!({})).await), ["Bin store", "Flat 1", "Main gate"]);
        assert_eq!(ids(&o.ok("doors.list", json!({"developmentId": oak["id"]})).await), [bins["id"].clone(), gate["id"].clone()]);
        assert_eq!(ids(&o.ok("doors.list", json!({"kind": "flat"})).await), [flat["id"].clone()]);
        assert_eq!(ids(&o.ok("doors.list", json!({"developmentId": elm["id"], "kind": "gate"})).await), Vec::<Value>::new());
        let page2 = o.ok("doors.list", json!({"page": 2, "limit": 2})).await;
        assert_eq!((names(&page2), page2["total"].clone()), (vec!["Main gate".to_owned()], json!(3)));
        o.err("doors.list", json!({"limit": 101})).await.assert_invalid("limit");
        o.err("doors.list", json!({"kind": "hatch"})).await.assert_invalid("kind");

        // Merge-patch: absent leaves, null clears; expectedVersion guards; a no-op writes nothing.
        let updated = o.ok("doors.update", json!({"id": gate["id"], "expectedVersion": 1, "notes": null, "kind": "entrance"})).await;
        assert_eq!((updated["name"].clone(), updated["kind"].clone(), updated["notes"].clone(), updated["version"].clone()),
            (json!("Main gate"), json!("entrance"), Value::Null, json!(2)));
        let stale = o.err("doors.update", json!({"id": gate["id"], "expectedVersion": 1, "name": "Gate"})).await;
        stale.assert_kind(-32009, "VERSION_CONFLICT");
        assert_eq!(stale.data["currentVersion"], 2);
        assert_eq!(o.ok("doors.update", json!({"id": gate["id"], "kind": "entrance"})).await, updated, "no change, no new version");
        o.err("doors.update", json!({"id": gate["id"], "developmentId": elm["id"]})).await.assert_invalid("developmentId");

        // A development with doors is not empty; an unused door is deleted.
        o.err("developments.delete", json!({"id": elm["id"]})).await.assert_kind(-32009, "DEVELOPMENT_NOT_EMPTY");
        assert_eq!(o.ok("doors.delete", json!({"id": flat["id"]})).await, json!({}));
        o.err("doors.get", json!({"id": flat["id"]})).await.assert_kind(-32004, "NOT_FOUND");
        o.err("doors.delete", json!({"id": flat["id"]})).await.assert_kind(-32004, "NOT_FOUND");
        o.ok("developments.delete", json!({"id": elm["id"]})).await;

        let events = o.ok("audit.list", json!({"limit": 100})).await;
        let actions: Vec<&str> = events["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions.iter().filter(|a| a.starts_with("door.")).count(), 5, "{actions:?}");
        assert_eq!(actions.iter().filter(|a| **a == "door.updated").count(), 1, "{actions:?}");
        assert!(actions.contains(&"door.deleted"));
    }

    async fn developments_have_an_iana_time_zone(app: TestApp) {
        let o = &app.owner;
        let oak = app.development("Oak Park").await;
        assert_eq!(oak["timeZone"], "Europe/London");
        let ny = o.ok("developments.create", json!({"name": "Hudson Yards", "timeZone": "America/New_York"})).await;
        assert_eq!(ny["timeZone"], "America/New_York");
        for bad in ["Europe/Londres", "europe/london", "", "+01:00"] {
            o.err("developments.create", json!({"name": "Nowhere", "timeZone": bad})).await.assert_invalid("timeZone");
            o.err("developments.update", json!({"id": oak["id"], "timeZone": bad})).await.assert_invalid("timeZone");
        }
        assert_eq!(o.ok("developments.list", json!({})).await["items"].as_array().unwrap().len(), 2, "nothing created");
        let moved = o.ok("developments.update", json!({"id": oak["id"], "timeZone": "Australia/Sydney"})).await;
        assert_eq!((moved["timeZone"].clone(), moved["name"].clone()), (json!("Australia/Sydney"), json!("Oak Park")));
        let listed = o.ok("developments.list", json!({})).await;
        let zones: Vec<&Value> = listed["items"].as_array().unwrap().iter().map(|d| &d["timeZone"]).collect();
        assert_eq!(zones, [&json!("America/New_York"), &json!("Australia/Sydney")]);
        let event = &o.ok("audit.list", json!({"limit": 1})).await["items"][0];
        assert_eq!(event["action"], "development.updated");
        assert_eq!(event["changes"], json!([{"field": "timeZone", "from": "Europe/London", "to": "Australia/Sydney"}]));
    }

    async fn another_organisations_doors_are_not_found(app: TestApp) {
        let o = &app.owner;
        let oak = app.development("Oak Park").await;
        let gate = door(&app, &oak["id"], "Main gate", "gate").await;
        let audit_before = o.ok("audit.list", json!({})).await["total"].clone();

        let b = app.other_organisation().await;
        let missing = json!("01900000-0000-7000-8000-000000000000");
        for (method, extra) in [("doors.get", json!({})), ("doors.update", json!({"name": "Stolen"})), ("doors.delete", json!({}))] {
            let with = |id: &Value| { let mut p = extra.clone(); p["id"] = id.clone(); p };
            let foreign = b.err(method, with(&gate["id"])).await;
            foreign.assert_kind(-32004, "NOT_FOUND");
            assert_eq!(foreign, b.err(method, with(&missing)).await, "{method}");
        }
        b.err("doors.create", json!({"developmentId": oak["id"], "name": "Planted", "kind": "gate"})).await.assert_kind(-32004, "NOT_FOUND");
        assert_eq!(b.ok("doors.list", json!({})).await["total"], 0);
        assert_eq!(b.ok("doors.list", json!({"developmentId": oak["id"]})).await["total"], 0);
        b.err("developments.update", json!({"id": oak["id"], "timeZone": "UTC"})).await.assert_kind(-32004, "NOT_FOUND");

        assert_eq!(o.ok("doors.get", json!({"id": gate["id"]})).await, gate, "nothing of ours changed");
        assert_eq!(o.ok("doors.list", json!({})).await["total"], 1);
        assert_eq!(o.ok("audit.list", json!({})).await["total"], audit_before);
    }
}
