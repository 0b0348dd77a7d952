//! The key register: refs, creation, edits, deletion, listing and search.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::TestApp;

fn refs(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|k| k["keyRef"].as_str().unwrap().to_owned()).collect()
}

on_both_databases! {
    async fn suggested_refs_fill_the_lowest_gap(app: TestApp) {
        let dev = app.development("Riverside Court West").await;
        assert_eq!(dev["keyPrefix"], "RCW");
        let suggest = || app.owner.ok("keys.suggestKeyRef", json!({"developmentId": dev["id"]}));
        assert_eq!(suggest().await["keyRef"], "RCW-001");
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(app.key(&dev["id"], "Door").await["id"].clone());
        }
        assert_eq!(suggest().await["keyRef"], "RCW-004");
        app.owner.ok("keys.deleteKey", json!({"id": ids[1]})).await;
        assert_eq!(suggest().await["keyRef"], "RCW-002", "the gap left by RCW-002 is reused");
        assert_eq!(app.key(&dev["id"], "Door").await["keyRef"], "RCW-002");
        // Refs of other forms and numbers past the first gap do not disturb the count.
        for key_ref in ["RCW-010", "RCW-X", "RCWA-005", "rcw-4"] {
            app.owner.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "x", "keyRef": key_ref})).await;
        }
        assert_eq!(suggest().await["keyRef"], "RCW-005");
    }

    async fn suggested_refs_grow_past_three_digits(app: TestApp) {
        let dev = app.owner.ok("developments.create", json!({"name": "Big", "keyPrefix": "bg"})).await;
        assert_eq!(dev["keyPrefix"], "BG");
        // 999 keys without refs, created in batches of 50 calls.
        let numbers: Vec<usize> = (1..=999).collect();
        for chunk in numbers.chunks(50) {
            let batch: Vec<Value> = chunk
                .iter()
                .map(|n| json!({"jsonrpc": "2.0", "id": n, "method": "keys.createKey",
                    "params": {"developmentId": dev["id"], "keyType": "fob", "label": format!("Fob {n}")}}))
                .collect();
            let (status, body) = app.owner.post_raw(Value::Array(batch).to_string()).await;
            assert_eq!(status, 200);
            let answers = body.as_array().expect("a batch answer");
            assert_eq!(answers.len(), chunk.len());
            assert!(answers.iter().all(|a| a.get("result").is_some()), "{body}");
        }
        let suggestion = app.owner.ok("keys.suggestKeyRef", json!({"developmentId": dev["id"]})).await;
        assert_eq!(suggestion["keyRef"], "BG-1000");
        assert_eq!(app.owner.ok("keys.listKeys", json!({"search": "bg-999"})).await["total"], 1);
    }

    async fn keys_are_created_with_every_field_and_refs_are_normalised(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let key = app.owner.ok("keys.createKey", json!({
            "developmentId": dev["id"], "keyType": "master_key", "label": "  Plant room master ",
            "keyRef": " op-m/1 ", "notes": "in the safe\nsecond shelf", "securityLevel": "high",
            "brand": "Abloy", "keyNumber": "A-123", "quantity": 2,
            "accessRestrictions": "managers only", "emergencyContact": "Site office 020 7946 0000"
        })).await;
        assert_eq!(key["keyRef"], "OP-M/1");
        assert_eq!(key["label"], "Plant room master");
        assert_eq!(key["keyType"], "master_key");
        assert_eq!(key["status"], "in_stock");
        assert_eq!(key["notes"], "in the safe\nsecond shelf");
        assert_eq!(key["securityLevel"], "high");
        assert_eq!(key["brand"], "Abloy");
        assert_eq!(key["keyNumber"], "A-123");
        assert_eq!(key["quantity"], 2);
        assert_eq!(key["accessRestrictions"], "managers only");
        assert_eq!(key["emergencyContact"], "Site office 020 7946 0000");
        assert_eq!(key["version"], 1);
        assert_eq!(key["overdue"], false);
        assert_eq!(app.owner.ok("keys.getKey", json!({"id": key["id"]})).await, key);

        let defaults = app.key(&dev["id"], "Plain").await;
        assert_eq!(defaults["securityLevel"], "standard");
        assert_eq!(defaults["quantity"], 1);
        assert!(defaults["notes"].is_null());
    }

    async fn a_ref_is_unique_per_organisation(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let other_dev = app.development("Elm Yard").await;
        let create = |dev: &Value, key_ref: &str| {
            app.owner.call("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "x", "keyRef": key_ref}))
        };
        create(&dev, "OP-001").await.unwrap();
        let err = create(&other_dev, "op-001").await.unwrap_err();
        err.assert_kind(-32009, "KEY_REF_TAKEN");
        assert_eq!(err.field.as_deref(), Some("keyRef"));
        let second = create(&dev, "OP-002").await.unwrap();
        let err = app.owner.err("keys.updateKey", json!({"id": second["id"], "keyRef": "OP-001"})).await;
        err.assert_kind(-32009, "KEY_REF_TAKEN");
        assert_eq!(app.owner.ok("keys.getKey", json!({"id": second["id"]})).await["keyRef"], "OP-002");
    }

    async fn updates_change_fields_clear_optional_ones_and_check_the_version(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let elm = app.development("Elm Yard").await;
        let key = app.owner.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "Fob", "brand": "Paxton"})).await;
        let updated = app.owner.ok("keys.updateKey", json!({
            "id": key["id"], "expectedVersion": 1, "label": "Gym fob", "brand": "", "quantity": 3,
            "developmentId": elm["id"], "keyRef": "EY-001", "securityLevel": "restricted", "keyType": "card"
        })).await;
        assert_eq!(updated["label"], "Gym fob");
        assert!(updated["brand"].is_null(), "an empty string clears");
        assert_eq!(updated["quantity"], 3);
        assert_eq!(updated["developmentId"], elm["id"]);
        assert_eq!(updated["keyRef"], "EY-001");
        assert_eq!(updated["securityLevel"], "restricted");
        assert_eq!(updated["keyType"], "card");
        assert_eq!(updated["version"], 2);
        assert_eq!(updated["status"], "in_stock", "status is not editable");

        let stale = app.owner.err("keys.updateKey", json!({"id": key["id"], "expectedVersion": 1, "label": "Stale"})).await;
        stale.assert_kind(-32009, "VERSION_CONFLICT");
        assert_eq!(stale.data["currentVersion"], 2);
        assert_eq!(app.owner.ok("keys.getKey", json!({"id": key["id"]})).await["label"], "Gym fob");

        // Without expectedVersion the last write wins; a no-op changes nothing.
        let same = app.owner.ok("keys.updateKey", json!({"id": key["id"], "label": "Gym fob"})).await;
        assert_eq!(same["version"], 2);
        let err = app.owner.err("keys.updateKey", json!({"id": key["id"], "status": "lost"})).await;
        err.assert_invalid("status");
        let err = app.owner.err("keys.updateKey", json!({"id": key["id"], "developmentId": "nope"})).await;
        err.assert_kind(-32004, "NOT_FOUND");
    }

    async fn an_issued_key_cannot_be_deleted(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let key = app.key(&dev["id"], "Flat 1").await;
        app.owner.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Sam"})).await;
        let err = app.owner.err("keys.deleteKey", json!({"id": key["id"]})).await;
        err.assert_kind(-32009, "INVALID_TRANSITION");
        assert_eq!(err.data["currentStatus"], "issued");
        app.owner.ok("keys.returnKey", json!({"id": key["id"]})).await;
        assert_eq!(app.owner.ok("keys.deleteKey", json!({"id": key["id"]})).await, json!({}));
        app.owner.err("keys.deleteKey", json!({"id": key["id"]})).await.assert_kind(-32004, "NOT_FOUND");
        app.owner.err("keys.keyHistory", json!({"id": key["id"]})).await.assert_kind(-32004, "NOT_FOUND");
    }

    async fn lists_filter_search_page_and_order_by_ref(app: TestApp) {
        let oak = app.development("Oak Park").await;
        let elm = app.development("Elm Yard").await;
        let create = |dev: &Value, key_ref: &str, key_type: &str, label: &str, level: &str| {
            app.owner.ok("keys.createKey", json!({
                "developmentId": dev["id"], "keyRef": key_ref, "keyType": key_type, "label": label, "securityLevel": level
            }))
        };
        create(&oak, "OP-003", "fob", "Bin store fob", "standard").await;
        let flat = create(&oak, "OP-001", "physical_key", "Flat 1 front door", "standard").await;
        create(&oak, "OP-002", "card", "Gym card", "restricted").await;
        create(&elm, "EY-001", "remote", "Car park remote", "high").await;
        app.owner.ok("keys.issueKey", json!({"id": flat["id"], "issuedTo": "Jane Smithson"})).await;

        let all = app.owner.ok("keys.listKeys", json!({})).await;
        assert_eq!(refs(&all), ["EY-001", "OP-001", "OP-002", "OP-003"]);
        assert_eq!((all["total"].clone(), all["page"].clone(), all["limit"].clone()), (json!(4), json!(1), json!(50)));

        let list = |params: Value| app.owner.ok("keys.listKeys", params);
        assert_eq!(refs(&list(json!({"developmentId": oak["id"]})).await), ["OP-001", "OP-002", "OP-003"]);
        assert_eq!(refs(&list(json!({"status": "issued"})).await), ["OP-001"]);
        assert_eq!(refs(&list(json!({"keyType": "remote"})).await), ["EY-001"]);
        assert_eq!(refs(&list(json!({"securityLevel": "restricted"})).await), ["OP-002"]);
        assert_eq!(refs(&list(json!({"developmentId": oak["id"], "keyType": "card", "status": "in_stock"})).await), ["OP-002"]);
        // Search: case-insensitive substring over ref, label and holder.
        assert_eq!(refs(&list(json!({"search": "SMI"})).await), ["OP-001"]);
        assert_eq!(refs(&list(json!({"search": "op-00"})).await), ["OP-001", "OP-002", "OP-003"]);
        assert_eq!(refs(&list(json!({"search": "park"})).await), ["EY-001"]);
        assert_eq!(refs(&list(json!({"search": "  fob "})).await), ["OP-003"]);
        assert_eq!(list(json!({"search": "nothing like it"})).await["total"], 0);
        // Pages.
        let page2 = list(json!({"page": 2, "limit": 3})).await;
        assert_eq!(refs(&page2), ["OP-003"]);
        assert_eq!(page2["total"], 4);
        assert_eq!(refs(&list(json!({"page": 3, "limit": 3})).await), Vec::<String>::new());
    }

    async fn a_search_follows_holders_through_issues_returns_and_edits(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let gate = app.key(&dev["id"], "Gate fob").await;
        let door = app.key(&dev["id"], "Front door").await;
        let owner = &app.owner;
        let found = |search: &'static str| async move { refs(&owner.ok("keys.listKeys", json!({"search": search})).await) };
        let (gate_ref, door_ref) = (gate["keyRef"].as_str().unwrap(), door["keyRef"].as_str().unwrap());
        assert_eq!(found("smithson").await, Vec::<String>::new());
        app.owner.ok("keys.issueKey", json!({"id": gate["id"], "issuedTo": "Jane Smithson"})).await;
        assert_eq!(found("smithson").await, [gate_ref]);
        // A second key to the same name, then one to another name that shares windows.
        app.owner.ok("keys.issueKey", json!({"id": door["id"], "issuedTo": "Jane Smithson"})).await;
        assert_eq!(found("jane smi").await, [gate_ref, door_ref]);
        app.owner.ok("keys.returnKey", json!({"id": door["id"]})).await;
        app.owner.ok("keys.returnToStock", json!({"id": door["id"]})).await;
        app.owner.ok("keys.issueKey", json!({"id": door["id"], "issuedTo": "Sam Smith"})).await;
        assert_eq!(found("smithson").await, [gate_ref]);
        assert_eq!(found("smith").await, [gate_ref, door_ref]);
        assert_eq!(found("sam smi").await, [door_ref]);
        // A returned key still names who had it; back in stock it has no holder.
        app.owner.ok("keys.returnKey", json!({"id": gate["id"]})).await;
        assert_eq!(found("smithson").await, [gate_ref]);
        app.owner.ok("keys.returnToStock", json!({"id": gate["id"]})).await;
        assert_eq!(found("smithson").await, Vec::<String>::new(), "no key is held by that name now");
        // The head is found by its new label, not its old one, whoever holds the key.
        app.owner.ok("keys.updateKey", json!({"id": door["id"], "label": "Back door"})).await;
        assert_eq!(found("back door").await, [door_ref]);
        assert_eq!(found("front door").await, Vec::<String>::new());
        assert_eq!(found("sam smi").await, [door_ref]);
        // A key whose head and holder both hold the search is listed once.
        app.owner.ok("keys.updateKey", json!({"id": door["id"], "label": "Sam's back door"})).await;
        let both = app.owner.ok("keys.listKeys", json!({"search": "sam"})).await;
        assert_eq!((refs(&both), both["total"].clone()), (vec![door_ref.to_owned()], json!(1)));
        // Another organisation issuing to the same name finds only its own key.
        let other = app.other_organisation().await;
        let their_dev = other.ok("developments.create", json!({"name": "Elm Yard"})).await;
        let theirs = other
            .ok("keys.createKey", json!({"developmentId": their_dev["id"], "keyType": "fob", "label": "Bin store"}))
            .await;
        other.ok("keys.issueKey", json!({"id": theirs["id"], "issuedTo": "Sam Smith"})).await;
        assert_eq!(found("sam smi").await, [door_ref]);
        assert_eq!(refs(&other.ok("keys.listKeys", json!({"search": "sam smi"})).await), [theirs["keyRef"].as_str().unwrap()]);
    }

    async fn search_matches_unicode_case_insensitively(app: TestApp) {
        let dev = app.development("Oak Park").await;
        app.key(&dev["id"], "Ärger Box").await;
        app.key(&dev["id"], "plain").await;
        // Three characters at least: shorter searches match the start of keyRef only.
        for search in ["ärger", "ÄRGER", "äRG", "Ärg", "box"] {
            let found = app.owner.ok("keys.listKeys", json!({"search": search})).await;
            assert_eq!(found["total"], 1, "{search}");
        }
    }
}
