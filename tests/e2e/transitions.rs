//! The contract's transition table, exhaustively: every procedure from every status.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Client, TestApp};

const STATUSES: [&str; 6] = ["in_stock", "issued", "returned", "lost", "damaged", "deactivated"];

/// (procedure, statuses it may start from, status it leads to; None = the key is deleted)
const TABLE: [(&str, &[&str], Option<&str>); 9] = [
    ("keys.issueKey", &["in_stock", "returned"], Some("issued")),
    ("keys.returnKey", &["issued"], Some("returned")),
    ("keys.returnToStock", &["returned"], Some("in_stock")),
    ("keys.markLost", &["in_stock", "issued", "returned", "damaged"], Some("lost")),
    ("keys.markFound", &["lost"], Some("in_stock")),
    ("keys.markDamaged", &["in_stock", "issued", "returned", "lost"], Some("damaged")),
    ("keys.deactivateKey", &["in_stock", "issued", "returned", "lost", "damaged"], Some("deactivated")),
    ("keys.reactivateKey", &["deactivated"], Some("in_stock")),
    ("keys.deleteKey", &["in_stock", "returned", "lost", "damaged", "deactivated"], None),
];

fn params(procedure: &str, id: &Value) -> Value {
    if procedure == "keys.issueKey" {
        json!({"id": id, "issuedTo": "Sam Smith", "purpose": "repairs"})
    } else if procedure == "keys.deleteKey" {
        json!({"id": id})
    } else {
        json!({"id": id, "notes": "checked"})
    }
}

/// A new key brought to `status` through allowed transitions.
async fn key_in(app: &TestApp, development_id: &Value, status: &str) -> Value {
    let key = app.key(development_id, &format!("Key to be {status}")).await;
    let path: &[&str] = match status {
        "in_stock" => &[],
        "issued" => &["keys.issueKey"],
        "returned" => &["keys.issueKey", "keys.returnKey"],
        "lost" => &["keys.markLost"],
        "damaged" => &["keys.markDamaged"],
        "deactivated" => &["keys.deactivateKey"],
        other => unreachable!("{other}"),
    };
    for step in path {
        app.owner.ok(step, params(step, &key["id"])).await;
    }
    // As `keys.getKey` answers it (`keys.markLost` answers more: the blast radius).
    let current = app.owner.ok("keys.getKey", json!({"id": key["id"]})).await;
    assert_eq!(current["status"], status);
    current
}

async fn audit_total(client: &Client) -> i64 {
    client.ok("audit.list", json!({"limit": 1})).await["total"].as_i64().unwrap()
}

on_both_databases! {
    async fn every_transition_from_every_status_follows_the_table(app: TestApp) {
        let dev = app.development("Oak Park").await;
        for (procedure, allowed_from, to) in TABLE {
            for from in STATUSES {
                let key = key_in(&app, &dev["id"], from).await;
                let events_before = audit_total(&app.owner).await;
                let result = app.owner.call(procedure, params(procedure, &key["id"])).await;
                let case = format!("{procedure} from {from}");
                if allowed_from.contains(&from) {
                    let changed = result.unwrap_or_else(|e| panic!("{case} refused: {e:?}"));
                    match to {
                        Some(to) => {
                            assert_eq!(changed["status"], to, "{case}");
                            assert_eq!(changed["version"], key["version"].as_i64().unwrap() + 1, "{case}");
                            assert_eq!(changed["lastStatusChangeBy"], "Acme Estates Owner", "{case}");
                        }
                        None => app.owner.err("keys.getKey", json!({"id": key["id"]})).await.assert_kind(-32004, "NOT_FOUND"),
                    }
                    assert_eq!(audit_total(&app.owner).await, events_before + 1, "{case}: one audit event");
                } else {
                    let err = result.expect_err(&case);
                    err.assert_kind(-32009, "INVALID_TRANSITION");
                    assert_eq!(err.data["currentStatus"], from, "{case}");
                    let after = app.owner.ok("keys.getKey", json!({"id": key["id"]})).await;
                    assert_eq!(after, key, "{case}: the key is unchanged");
                    assert_eq!(audit_total(&app.owner).await, events_before, "{case}: no audit event");
                }
            }
        }
    }

    async fn issuing_records_the_holder_and_history_until_back_in_stock(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let key = app.key(&dev["id"], "Flat 12 front door").await;
        let issued = app
            .owner
            .ok("keys.issueKey", json!({
                "id": key["id"], "issuedTo": "Sam Smith", "issuedToPhone": "07400 123456",
                "purpose": "boiler repair", "expectedReturnAt": "2099-01-01T17:00:00Z", "notes": "left at desk"
            }))
            .await;
        assert_eq!(issued["issuedTo"], "Sam Smith");
        assert_eq!(issued["issuedToPhone"], "07400 123456");
        assert_eq!(issued["purpose"], "boiler repair");
        assert_eq!(issued["expectedReturnAt"], "2099-01-01T17:00:00Z");
        assert_eq!(issued["issuedBy"], "Acme Estates Owner");
        assert!(issued["issuedAt"].is_string());
        assert_eq!(issued["overdue"], false);

        let returned = app.owner.ok("keys.returnKey", json!({"id": key["id"], "notes": "all good"})).await;
        assert_eq!(returned["status"], "returned");
        assert_eq!(returned["issuedTo"], "Sam Smith", "the last holder stays until the key is back in stock");
        let shelved = app.owner.ok("keys.returnToStock", json!({"id": key["id"]})).await;
        assert_eq!(shelved["status"], "in_stock");
        for field in ["issuedTo", "issuedToPhone", "issuedAt", "issuedBy", "purpose", "expectedReturnAt"] {
            assert!(shelved[field].is_null(), "{field} cleared");
        }

        let history = app.owner.ok("keys.keyHistory", json!({"id": key["id"]})).await["items"].clone();
        let actions: Vec<&str> = history.as_array().unwrap().iter().map(|m| m["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["returned_to_stock", "returned", "issued", "created"], "newest first");
        assert_eq!(history[2]["issuedTo"], "Sam Smith");
        assert_eq!(history[2]["purpose"], "boiler repair");
        assert_eq!(history[2]["notes"], "left at desk");
        assert_eq!(history[1]["notes"], "all good");
        assert_eq!(history[0]["actorName"], "Acme Estates Owner");
    }

    async fn a_key_past_its_expected_return_is_overdue(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let late = app.key(&dev["id"], "Late").await;
        let on_time = app.key(&dev["id"], "On time").await;
        let open_ended = app.key(&dev["id"], "Open ended").await;
        app.owner.ok("keys.issueKey", json!({"id": late["id"], "issuedTo": "A", "expectedReturnAt": "2020-01-01T00:00:00Z"})).await;
        app.owner.ok("keys.issueKey", json!({"id": on_time["id"], "issuedTo": "B", "expectedReturnAt": "2099-01-01T00:00:00Z"})).await;
        app.owner.ok("keys.issueKey", json!({"id": open_ended["id"], "issuedTo": "C"})).await;

        let overdue = app.owner.ok("keys.listKeys", json!({"overdue": true})).await;
        assert_eq!(overdue["total"], 1);
        assert_eq!(overdue["items"][0]["id"], late["id"]);
        assert_eq!(overdue["items"][0]["overdue"], true);
        let not_overdue = app.owner.ok("keys.listKeys", json!({"overdue": false})).await;
        assert_eq!(not_overdue["total"], 2);

        // Returned late: no longer overdue.
        app.owner.ok("keys.returnKey", json!({"id": late["id"]})).await;
        assert_eq!(app.owner.ok("keys.listKeys", json!({"overdue": true})).await["total"], 0);
    }
}
