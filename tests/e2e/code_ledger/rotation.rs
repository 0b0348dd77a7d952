//! Rotation due: a lost linked key, a scheduled day; cleared by a new value; the filter
//! and the summary count.

use super::*;
use crate::on_both_databases;

fn labels(page: &Value) -> Vec<&str> {
    page["items"].as_array().unwrap().iter().map(|c| c["label"].as_str().unwrap()).collect()
}

async fn due_count(app: &TestApp) -> Value {
    app.owner.ok("keys.summary", json!({})).await["codesDueForRotation"].clone()
}

on_both_databases! {
    async fn a_lost_linked_key_makes_the_code_due_until_a_new_value(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let key = app.key(&dev["id"], "Gate fob").await;
        let spare = app.key(&dev["id"], "Spare fob").await;
        let (_, code) = gate_code(&app, json!({"keyIds": [key["id"], key["id"]]})).await;
        assert_eq!(code["keyIds"], json!([key["id"]]), "deduplicated");
        assert_eq!((code["rotationDue"].clone(), code["rotationReasons"].clone()), (json!(false), json!([])));
        assert_eq!(due_count(&app).await, 0);

        // Losing an unlinked key changes nothing.
        app.owner.ok("keys.markLost", json!({"id": spare["id"]})).await;
        assert_eq!(app.owner.ok("keys.listAccessCodes", json!({"rotationDue": true})).await["total"], 0);

        let team = app.user("team").await;
        team.ok("keys.markLost", json!({"id": key["id"]})).await;
        let due = app.owner.ok("keys.listAccessCodes", json!({"rotationDue": true})).await;
        assert_eq!(labels(&due), ["Main gate"]);
        let reasons = due["items"][0]["rotationReasons"].as_array().unwrap();
        assert_eq!(reasons.len(), 1);
        assert_eq!(reasons[0]["kind"], "key_lost");
        assert_eq!(reasons[0]["keyId"], key["id"]);
        assert_eq!(reasons[0]["actorName"], team.ok("auth.me", json!({})).await["user"]["name"]);
        assert!(due["items"][0]["version"].as_i64() > code["version"].as_i64(), "the code's version moved");
        assert_eq!(app.owner.ok("keys.listAccessCodes", json!({"rotationDue": false})).await["total"], 0);
        assert_eq!(due_count(&app).await, 1);

        // A new value clears the reasons: they belong to the old value.
        let rotated = app.owner.ok("keys.updateAccessCode", json!({"id": code["id"], "code": NEW_CODE})).await;
        assert_eq!((rotated["rotationDue"].clone(), rotated["rotationReasons"].clone()), (json!(false), json!([])));
        assert_eq!(app.owner.ok("keys.listAccessCodes", json!({"rotationDue": true})).await["total"], 0);
        assert_eq!(due_count(&app).await, 0);

        // Relinking replaces the set; `[]` unlinks; a deleted key drops its link.
        let both = app.owner.ok("keys.updateAccessCode", json!({"id": code["id"], "keyIds": [spare["id"], key["id"]]})).await;
        assert_eq!(both["keyIds"].as_array().unwrap().len(), 2);
        app.owner.ok("keys.deleteKey", json!({"id": spare["id"]})).await;
        let left = app.owner.ok("keys.listAccessCodes", json!({})).await;
        assert_eq!(left["items"][0]["keyIds"], json!([key["id"]]));
        let unlinked = app.owner.ok("keys.updateAccessCode", json!({"id": code["id"], "keyIds": []})).await;
        assert_eq!(unlinked["keyIds"], json!([]));
    }

    async fn a_rotate_by_day_that_has_come_makes_the_code_due(app: TestApp) {
        let (dev, past) = gate_code(&app, json!({"rotateBy": "2000-01-01"})).await;
        let future = app
            .owner
            .ok(
                "keys.createAccessCode",
                json!({"developmentId": dev["id"], "codeType": "lift", "label": "Lift", "code": "1234", "rotateBy": "2999-01-01"}),
            )
            .await;
        assert_eq!(past["rotationDue"], true);
        assert_eq!(past["rotateBy"], "2000-01-01");
        let reason = &past["rotationReasons"][0];
        assert_eq!((reason["kind"].as_str(), reason["rotateBy"].as_str()), (Some("scheduled"), Some("2000-01-01")));
        assert_eq!(future["rotationDue"], false);
        assert_eq!(future["rotationReasons"], json!([]));
        assert_eq!(labels(&app.owner.ok("keys.listAccessCodes", json!({"rotationDue": true})).await), ["Main gate"]);
        assert_eq!(labels(&app.owner.ok("keys.listAccessCodes", json!({"rotationDue": false})).await), ["Lift"]);
        assert_eq!(due_count(&app).await, 1);

        // Moving the day into the future, or clearing it, ends it.
        let moved = app.owner.ok("keys.updateAccessCode", json!({"id": past["id"], "rotateBy": "2999-06-01"})).await;
        assert_eq!((moved["rotationDue"].clone(), moved["rotationReasons"].clone()), (json!(false), json!([])));
        let back = app.owner.ok("keys.updateAccessCode", json!({"id": past["id"], "rotateBy": "2001-01-01"})).await;
        assert_eq!(back["rotationReasons"].as_array().unwrap().len(), 1, "one scheduled reason");
        let cleared = app.owner.ok("keys.updateAccessCode", json!({"id": past["id"], "rotateBy": null})).await;
        assert_eq!((cleared["rotationDue"].clone(), cleared["rotateBy"].clone()), (json!(false), Value::Null));
        // A new value is the rotation: it clears a day that had come, unless given a new one.
        app.owner.ok("keys.updateAccessCode", json!({"id": past["id"], "rotateBy": "2001-01-01"})).await;
        let rotated = app.owner.ok("keys.updateAccessCode", json!({"id": past["id"], "code": NEW_CODE})).await;
        assert_eq!((rotated["rotationDue"].clone(), rotated["rotateBy"].clone()), (json!(false), Value::Null));
        let next = app
            .owner
            .ok("keys.updateAccessCode", json!({"id": future["id"], "code": "9876", "rotateBy": "2002-02-02"}))
            .await;
        assert_eq!((next["rotationDue"].clone(), next["rotateBy"].as_str()), (json!(true), Some("2002-02-02")));
        assert_eq!(due_count(&app).await, 1);
    }

    async fn key_ids_and_rotate_by_are_validated_and_change_nothing_when_refused(app: TestApp) {
        let (_, code) = gate_code(&app, json!({})).await;
        let before = ledger_rows(&app);
        let too_many: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
        app.owner.err("keys.updateAccessCode", json!({"id": code["id"], "keyIds": too_many})).await.assert_invalid("keyIds");
        app.owner
            .err("keys.updateAccessCode", json!({"id": code["id"], "rotateBy": "10000-01-01"}))
            .await
            .assert_invalid("rotateBy");
        app.owner
            .err("keys.updateAccessCode", json!({"id": code["id"], "keyIds": ["no-such-key"]}))
            .await
            .assert_kind(-32004, "NOT_FOUND");
        assert_eq!(ledger_rows(&app), before);
        assert_eq!(app.owner.ok("keys.listAccessCodes", json!({})).await["items"][0]["version"], code["version"]);
    }
}
