//! The critical paths, raced: 20 concurrent calls over HTTP.

use std::collections::HashSet;

use futures_util::future::join_all;
use serde_json::json;

use crate::on_both_databases;
use crate::support::TestApp;

const RACERS: usize = 20;

on_both_databases! {
    async fn twenty_parallel_issues_of_one_key_let_exactly_one_through(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let key = app.key(&dev["id"], "Flat 1").await;
        let calls = (0..RACERS).map(|i| {
            app.owner.call("keys.issueKey", json!({"id": key["id"], "issuedTo": format!("Racer {i}")}))
        });
        let results = join_all(calls).await;
        let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        for loser in results.iter().filter_map(|r| r.as_ref().err()) {
            loser.assert_kind(-32009, "INVALID_TRANSITION");
            assert_eq!(loser.data["currentStatus"], "issued");
        }
        let now = app.owner.ok("keys.getKey", json!({"id": key["id"]})).await;
        assert_eq!(now["issuedTo"], winners[0]["issuedTo"]);
        assert_eq!(now["version"], 2);
        let issued_events = app.owner.ok("audit.list", json!({"action": "key.issued"})).await;
        assert_eq!(issued_events["total"], 1);
        let history = app.owner.ok("keys.keyHistory", json!({"id": key["id"]})).await;
        assert_eq!(history["items"].as_array().unwrap().len(), 2, "created + one issue");
    }

    async fn twenty_parallel_creates_with_one_ref_let_exactly_one_through(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let calls = (0..RACERS).map(|i| {
            app.owner.call("keys.createKey", json!({
                "developmentId": dev["id"], "keyType": "fob", "label": format!("Fob {i}"), "keyRef": "op-100"
            }))
        });
        let results = join_all(calls).await;
        let created: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(created.len(), 1, "{results:?}");
        assert_eq!(created[0]["keyRef"], "OP-100");
        for loser in results.iter().filter_map(|r| r.as_ref().err()) {
            loser.assert_kind(-32009, "KEY_REF_TAKEN");
            assert_eq!(loser.field.as_deref(), Some("keyRef"));
        }
        assert_eq!(app.owner.ok("keys.listKeys", json!({})).await["total"], 1);
        assert_eq!(app.owner.ok("audit.list", json!({"action": "key.created"})).await["total"], 1);
    }

    async fn twenty_parallel_creates_without_ref_get_twenty_distinct_refs(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let calls = (0..RACERS).map(|i| {
            app.owner.call("keys.createKey", json!({"developmentId": dev["id"], "keyType": "card", "label": format!("Card {i}")}))
        });
        let results = join_all(calls).await;
        let refs: HashSet<String> = results
            .into_iter()
            .map(|r| r.expect("no create fails")["keyRef"].as_str().unwrap().to_owned())
            .collect();
        let expected: HashSet<String> = (1..=RACERS).map(|n| format!("OP-{n:03}")).collect();
        assert_eq!(refs, expected, "no gaps, no duplicates");
    }

    async fn parallel_updates_with_the_same_expected_version_let_exactly_one_through(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let key = app.key(&dev["id"], "Flat 1").await;
        let calls = (0..RACERS).map(|i| {
            app.owner.call("keys.updateKey", json!({"id": key["id"], "expectedVersion": 1, "label": format!("Label {i}")}))
        });
        let results = join_all(calls).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
        for loser in results.iter().filter_map(|r| r.as_ref().err()) {
            loser.assert_kind(-32009, "VERSION_CONFLICT");
            assert_eq!(loser.data["currentVersion"], 2);
        }
    }
}
