//! `keySets.*` (issue 13 §5): sets of keys issued and returned as one transaction, partial
//! returns that flag the missing members, all or nothing, and a race for one set.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Client, TestApp};

/// The keys' refs of a set, and which are missing.
fn members(set: &Value) -> Vec<(String, String, bool)> {
    set["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["keyRef"].as_str().unwrap().to_owned(),
                m["status"].as_str().unwrap().to_owned(),
                m["missing"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn member(key_ref: &str, status: &str, missing: bool) -> (String, String, bool) {
    (key_ref.to_owned(), status.to_owned(), missing)
}

async fn status_of(o: &Client, key: &Value) -> Value {
    o.ok("keys.getKey", json!({"id": key["id"]})).await["status"].clone()
}

async fn audit_total(o: &Client) -> Value {
    o.ok("audit.list", json!({})).await["total"].clone()
}

/// A development with three keys OP-001 to OP-003 and a set "Caretaker's ring" of them.
async fn ring(app: &TestApp) -> (Value, Vec<Value>, Value) {
    let dev = app.owner.ok("developments.create", json!({"name": "Oak Park", "keyPrefix": "OP"})).await;
    let mut keys = Vec::new();
    for label in ["Front door", "Plant room", "Bin store"] {
        keys.push(app.key(&dev["id"], label).await);
    }
    let ids: Vec<&Value> = keys.iter().map(|k| &k["id"]).collect();
    let set = app
        .owner
        .ok("keySets.create", json!({"developmentId": dev["id"], "name": "Caretaker's ring", "keyIds": ids}))
        .await;
    (dev, keys, set)
}

on_both_databases! {
    async fn key_sets_are_created_validated_listed_updated_and_deleted(app: TestApp) {
        let o = &app.owner;
        let (dev, keys, set) = ring(&app).await;
        assert_eq!((set["name"].clone(), set["state"].clone(), set["version"].clone(), set["issuedTo"].clone()),
            (json!("Caretaker's ring"), json!("in_stock"), json!(1), Value::Null));
        assert_eq!(members(&set), [member("OP-001", "in_stock", false), member("OP-002", "in_stock", false), member("OP-003", "in_stock", false)]);
        assert_eq!(o.ok("keySets.get", json!({"id": set["id"]})).await, set);

        // A key belongs to at most one set; a set's keys are of its development.
        let spare = app.key(&dev["id"], "Spare").await;
        let elm = app.development("Elm Row").await;
        let elsewhere = app.key(&elm["id"], "Elm gate").await;
        let before = audit_total(o).await;
        let create = |ids: Value| json!({"developmentId": dev["id"], "name": "Other", "keyIds": ids});
        o.err("keySets.create", create(json!([keys[0]["id"], spare["id"]]))).await.assert_invalid("keyIds");
        o.err("keySets.create", create(json!([elsewhere["id"]]))).await.assert_invalid("keyIds");
        o.err("keySets.create", create(json!([]))).await.assert_invalid("keyIds");
        o.err("keySets.create", create(json!(vec![spare["id"].clone(); 101]))).await.assert_invalid("keyIds");
        o.err("keySets.create", create(json!(["01900000-0000-7000-8000-000000000000"]))).await.assert_kind(-32004, "NOT_FOUND");
        o.err("keySets.create", json!({"developmentId": dev["id"], "name": " ", "keyIds": [spare["id"]]})).await.assert_invalid("name");
        o.err("keySets.create", json!({"developmentId": dev["id"], "name": "X", "keyIds": [spare["id"]], "colour": "red"})).await.assert_invalid("colour");
        o.err("keySets.create", json!({"developmentId": "01900000-0000-7000-8000-000000000000", "name": "X", "keyIds": [spare["id"]]})).await
            .assert_kind(-32004, "NOT_FOUND");
        o.err("keys.updateKey", json!({"id": keys[0]["id"], "developmentId": elm["id"]})).await.assert_invalid("developmentId");
        assert_eq!(audit_total(o).await, before, "nothing changed");
        o.ok("keys.issueKey", json!({"id": spare["id"], "issuedTo": "Ann"})).await;
        o.err("keySets.create", create(json!([spare["id"]]))).await.assert_kind(-32009, "KEYS_NOT_IN_STOCK");
        o.ok("keys.returnKey", json!({"id": spare["id"]})).await;
        let second = o.ok("keySets.create", json!({"developmentId": dev["id"], "name": "Spares", "keyIds": [spare["id"], spare["id"]]})).await;
        assert_eq!(members(&second), [member("OP-004", "returned", false)], "duplicates dropped");

        // Lists: by name, filtered, paged.
        let names = |page: &Value| page["items"].as_array().unwrap().iter().map(|s| s["name"].clone()).collect::<Vec<_>>();
        assert_eq!(names(&o.ok("keySets.list", json!({})).await), [json!("Caretaker's ring"), json!("Spares")]);
        let page2 = o.ok("keySets.list", json!({"page": 2, "limit": 1})).await;
        assert_eq!((names(&page2), page2["total"].clone()), (vec![json!("Spares")], json!(2)));
        assert_eq!(page2["items"][0], second, "a listed set shows its members");
        assert_eq!(o.ok("keySets.list", json!({"developmentId": elm["id"]})).await["total"], 0);
        assert_eq!(o.ok("keySets.list", json!({"state": "issued"})).await["total"], 0);
        o.err("keySets.list", json!({"state": "lent"})).await.assert_invalid("state");
        o.err("keySets.list", json!({"limit": 101})).await.assert_invalid("limit");

        // Update: the name, and the members replaced; expectedVersion guards.
        let renamed = o.ok("keySets.update", json!({"id": set["id"], "expectedVersion": 1, "name": "Caretaker", "keyIds": [keys[0]["id"], keys[1]["id"]]})).await;
        assert_eq!((renamed["name"].clone(), renamed["version"].clone()), (json!("Caretaker"), json!(2)));
        assert_eq!(members(&renamed), [member("OP-001", "in_stock", false), member("OP-002", "in_stock", false)]);
        o.err("keySets.update", json!({"id": set["id"], "expectedVersion": 1, "name": "X"})).await.assert_kind(-32009, "VERSION_CONFLICT");
        assert_eq!(o.ok("keySets.update", json!({"id": set["id"], "name": "Caretaker", "keyIds": [keys[1]["id"], keys[0]["id"]]})).await, renamed,
            "no change, no new version");
        o.err("keySets.update", json!({"id": set["id"], "keyIds": [spare["id"]]})).await.assert_invalid("keyIds");
        let event = &o.ok("audit.list", json!({"limit": 1})).await["items"][0];
        assert_eq!(event["action"], "keySet.updated");
        assert_eq!(event["changes"], json!([{"field": "name", "from": "Caretaker's ring", "to": "Caretaker"},
            {"field": "keys", "from": "OP-001, OP-002, OP-003", "to": "OP-001, OP-002"}]));

        // An issued set is neither changed nor deleted; back in, it is deleted, its keys stay.
        o.ok("keySets.issue", json!({"id": set["id"], "issuedTo": "Bob"})).await;
        let out = o.err("keySets.delete", json!({"id": set["id"]})).await;
        out.assert_kind(-32009, "KEYS_NOT_IN_STOCK");
        assert_eq!(out.data["keyRefs"], json!(["OP-001", "OP-002"]));
        o.err("keySets.update", json!({"id": set["id"], "keyIds": [keys[2]["id"]]})).await.assert_kind(-32009, "KEYS_NOT_IN_STOCK");
        o.ok("keySets.return", json!({"id": set["id"]})).await;
        assert_eq!(o.ok("keySets.delete", json!({"id": set["id"]})).await, json!({}));
        o.err("keySets.get", json!({"id": set["id"]})).await.assert_kind(-32004, "NOT_FOUND");
        assert_eq!(status_of(o, &keys[0]).await, "returned");
        // A key freed by the deletion joins another set; a deleted key leaves its set.
        o.ok("keySets.update", json!({"id": second["id"], "keyIds": [spare["id"], keys[0]["id"]]})).await;
        o.ok("keys.deleteKey", json!({"id": spare["id"]})).await;
        assert_eq!(members(&o.ok("keySets.get", json!({"id": second["id"]})).await), [member("OP-001", "returned", false)]);

        // Roles: housekeeping reads but does not write; another organisation sees nothing.
        let housekeeping = app.user("housekeeping").await;
        assert_eq!(housekeeping.ok("keySets.list", json!({})).await["total"], 1);
        housekeeping.err("keySets.issue", json!({"id": second["id"], "issuedTo": "Eve"})).await.assert_kind(-32003, "FORBIDDEN");
        let b = app.other_organisation().await;
        b.err("keySets.get", json!({"id": second["id"]})).await.assert_kind(-32004, "NOT_FOUND");
        b.err("keySets.issue", json!({"id": second["id"], "issuedTo": "Eve"})).await.assert_kind(-32004, "NOT_FOUND");
        b.err("keySets.create", json!({"developmentId": dev["id"], "name": "Planted", "keyIds": [keys[2]["id"]]})).await.assert_kind(-32004, "NOT_FOUND");
        assert_eq!(b.ok("keySets.list", json!({})).await["total"], 0);
    }

    async fn a_set_is_issued_and_returned_as_one_and_each_history_names_it(app: TestApp) {
        let o = &app.owner;
        let (_, keys, set) = ring(&app).await;
        let person = o.ok("people.create", json!({"name": "Jo Doe", "kind": "contractor", "phone": "+447400123456"})).await;
        let issued = o.ok("keySets.issue", json!({"id": set["id"], "holderId": person["id"], "purpose": "Weekend cover",
            "expectedReturnAt": "2030-01-01T17:00:00Z", "notes": "Signed for"})).await;
        assert_eq!((issued["state"].clone(), issued["issuedTo"].clone(), issued["version"].clone()), (json!("issued"), json!("Jo Doe"), json!(2)));
        assert!(issued["issuedAt"].is_string());
        assert_eq!(members(&issued), [member("OP-001", "issued", false), member("OP-002", "issued", false), member("OP-003", "issued", false)]);
        for key in &keys {
            let now = o.ok("keys.getKey", json!({"id": key["id"]})).await;
            assert_eq!((now["status"].clone(), now["holderId"].clone(), now["issuedToPhone"].clone(), now["purpose"].clone()),
                (json!("issued"), person["id"].clone(), json!("+447400123456"), json!("Weekend cover")));
            let history = o.ok("keys.keyHistory", json!({"id": key["id"]})).await;
            assert_eq!((history["items"][0]["action"].clone(), history["items"][0]["notes"].clone()),
                (json!("issued"), json!("Key set Caretaker's ring: Signed for")));
        }
        let events = o.ok("audit.list", json!({"limit": 4})).await;
        let actions: Vec<&str> = events["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["keySet.issued", "key.issued", "key.issued", "key.issued"]);
        assert_eq!(o.ok("keys.listKeys", json!({"holderId": person["id"]})).await["total"], 3);

        let back = o.ok("keySets.return", json!({"id": set["id"]})).await;
        assert_eq!((back["state"].clone(), back["issuedTo"].clone(), back["issuedAt"].clone()), (json!("in_stock"), Value::Null, Value::Null));
        assert_eq!(members(&back), [member("OP-001", "returned", false), member("OP-002", "returned", false), member("OP-003", "returned", false)]);
        let history = o.ok("keys.keyHistory", json!({"id": keys[1]["id"]})).await;
        assert_eq!((history["items"][0]["action"].clone(), history["items"][0]["notes"].clone()),
            (json!("returned"), json!("Key set Caretaker's ring")));
        o.err("keySets.return", json!({"id": set["id"]})).await.assert_kind(-32009, "INVALID_TRANSITION");
        // Returned keys are back in the store: the set goes out again.
        assert_eq!(o.ok("keySets.issue", json!({"id": set["id"], "issuedTo": "Sam"})).await["state"], "issued");
        o.err("keySets.issue", json!({"id": set["id"]})).await.assert_invalid("issuedTo");
        o.err("keySets.issue", json!({"id": set["id"], "issuedTo": "Sam", "issuedToPhone": "call me"})).await.assert_invalid("issuedToPhone");
    }

    async fn a_partial_return_flags_the_missing_members_until_they_come_back(app: TestApp) {
        let o = &app.owner;
        let (_, keys, set) = ring(&app).await;
        o.ok("keySets.issue", json!({"id": set["id"], "issuedTo": "Jo"})).await;
        let partial = o.ok("keySets.return", json!({"id": set["id"], "keyIds": [keys[0]["id"], keys[2]["id"]], "notes": "The plant room key is still with Jo"})).await;
        assert_eq!((partial["state"].clone(), partial["issuedTo"].clone()), (json!("incomplete"), json!("Jo")));
        assert_eq!(members(&partial), [member("OP-001", "returned", false), member("OP-002", "issued", true), member("OP-003", "returned", false)]);
        let missing = o.ok("keys.getKey", json!({"id": keys[1]["id"]})).await;
        assert_eq!((missing["returnRequested"].clone(), missing["version"].clone()), (json!(true), json!(keys[1]["version"].as_i64().unwrap() + 2)));
        assert_eq!(o.ok("keys.getKey", json!({"id": keys[0]["id"]})).await["returnRequested"], false);
        let event = &o.ok("audit.list", json!({"limit": 1})).await["items"][0];
        assert_eq!((event["action"].clone(), event["changes"].clone()), (json!("keySet.returned"), json!([
            {"field": "state", "from": "issued", "to": "incomplete"}, {"field": "missing", "from": null, "to": "OP-002"}])));
        assert_eq!(o.ok("keySets.list", json!({"state": "incomplete"})).await["items"][0]["id"], set["id"]);

        // Not a member: INVALID_INPUT, nothing changes. An incomplete set is not issued again.
        let before = audit_total(o).await;
        let stranger = app.key(&set["developmentId"], "Stranger").await;
        o.err("keySets.return", json!({"id": set["id"], "keyIds": [stranger["id"]]})).await.assert_invalid("keyIds");
        let refused = o.err("keySets.issue", json!({"id": set["id"], "issuedTo": "Ann"})).await;
        refused.assert_kind(-32009, "KEYS_NOT_IN_STOCK");
        assert_eq!(refused.data["keyRefs"], json!(["OP-002"]));
        assert_eq!(audit_total(o).await, json!(before.as_i64().unwrap() + 1), "only the stranger key was created");

        // A member given again that is already back stays as it is; the missing one comes back.
        let whole = o.ok("keySets.return", json!({"id": set["id"], "keyIds": [keys[0]["id"], keys[1]["id"]]})).await;
        assert_eq!(whole["state"], "in_stock");
        assert_eq!(members(&whole), [member("OP-001", "returned", false), member("OP-002", "returned", false), member("OP-003", "returned", false)]);
        assert_eq!(o.ok("keys.getKey", json!({"id": keys[1]["id"]})).await["returnRequested"], false);
        let history = o.ok("keys.keyHistory", json!({"id": keys[0]["id"]})).await;
        let returns = history["items"].as_array().unwrap().iter().filter(|m| m["action"] == "returned").count();
        assert_eq!(returns, 1, "returned once");

        // The rest brought back one by one: a return without keys closes the set.
        o.ok("keySets.issue", json!({"id": set["id"], "issuedTo": "Jo"})).await;
        o.ok("keySets.return", json!({"id": set["id"], "keyIds": [keys[0]["id"]]})).await;
        o.ok("keys.returnKey", json!({"id": keys[1]["id"]})).await;
        o.ok("keys.returnKey", json!({"id": keys[2]["id"]})).await;
        let closed = o.ok("keySets.return", json!({"id": set["id"]})).await;
        assert_eq!(closed["state"], "in_stock");
        assert!(members(&closed).iter().all(|(_, status, missing)| status == "returned" && !missing));
    }

    async fn a_set_is_issued_all_or_nothing(app: TestApp) {
        let o = &app.owner;
        let (_, keys, set) = ring(&app).await;
        o.ok("keys.markLost", json!({"id": keys[0]["id"]})).await;
        o.ok("keys.markDamaged", json!({"id": keys[2]["id"]})).await;
        let before = audit_total(o).await;
        let refused = o.err("keySets.issue", json!({"id": set["id"], "issuedTo": "Jo"})).await;
        refused.assert_kind(-32009, "KEYS_NOT_IN_STOCK");
        assert_eq!(refused.data["keyRefs"], json!(["OP-001", "OP-003"]));
        assert!(refused.message.contains("OP-001, OP-003"), "{}", refused.message);
        assert_eq!(status_of(o, &keys[1]).await, "in_stock", "no member moved");
        assert_eq!(o.ok("keySets.get", json!({"id": set["id"]})).await["state"], "in_stock");
        assert_eq!(audit_total(o).await, before);

        // Every member back in stock; to an archived person: PERSON_ARCHIVED, nothing moves.
        o.ok("keys.markFound", json!({"id": keys[0]["id"]})).await;
        o.ok("keys.deactivateKey", json!({"id": keys[2]["id"]})).await;
        o.ok("keys.reactivateKey", json!({"id": keys[2]["id"]})).await;
        let person = o.ok("people.create", json!({"name": "Gone Person", "kind": "contractor"})).await;
        o.ok("people.archive", json!({"id": person["id"]})).await;
        let before = audit_total(o).await;
        o.err("keySets.issue", json!({"id": set["id"], "holderId": person["id"]})).await.assert_kind(-32009, "PERSON_ARCHIVED");
        o.err("keySets.issue", json!({"id": "01900000-0000-7000-8000-000000000000", "issuedTo": "Jo"})).await.assert_kind(-32004, "NOT_FOUND");
        assert_eq!(audit_total(o).await, before);
        for key in &keys {
            assert_eq!(status_of(o, key).await, "in_stock");
        }
        assert_eq!(o.ok("keySets.issue", json!({"id": set["id"], "issuedTo": "Jo"})).await["state"], "issued");
    }

    async fn twenty_concurrent_issues_of_one_set_exactly_one_wins(app: TestApp) {
        let o = &app.owner;
        let (_, keys, set) = ring(&app).await;
        let calls = (0..20).map(|n| o.call("keySets.issue", json!({"id": set["id"], "issuedTo": format!("Racer {n}")})));
        let results = join_all(calls).await;
        let winners: Vec<&Value> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        for loser in results.iter().filter_map(|r| r.as_ref().err()) {
            loser.assert_kind(-32009, "KEYS_NOT_IN_STOCK");
        }
        let holder = winners[0]["issuedTo"].clone();
        for key in &keys {
            let now = o.ok("keys.getKey", json!({"id": key["id"]})).await;
            assert_eq!((now["status"].clone(), now["issuedTo"].clone()), (json!("issued"), holder.clone()));
            let history = o.ok("keys.keyHistory", json!({"id": key["id"]})).await;
            assert_eq!(history["items"].as_array().unwrap().len(), 2, "created, issued once");
        }
        let events = o.ok("audit.list", json!({"limit": 100})).await;
        let issued = events["items"].as_array().unwrap().iter().filter(|e| e["action"] == "keySet.issued").count();
        assert_eq!(issued, 1);
    }
}
