//! Organisation isolation and bad input for the ledger's procedures and the new fields:
//! another organisation's id (code, person, key) is NOT_FOUND exactly like a missing
//! one, and a refused call changes nothing.

use super::*;
use crate::on_both_databases;
use crate::support::RpcError;

const MISSING_ID: &str = "01900000-0000-7000-8000-000000000000";

/// The call fails with NOT_FOUND, exactly as with a missing id.
async fn not_found_like_missing(client: &Client, method: &'static str, foreign: Value, missing: Value) {
    let foreign: RpcError = client.err(method, foreign).await;
    foreign.assert_kind(-32004, "NOT_FOUND");
    assert_eq!(foreign, client.err(method, missing).await, "{method}: foreign id unlike a missing one");
}

on_both_databases! {
    async fn another_organisations_codes_people_and_keys_are_not_found(app: TestApp) {
        let org = org_id(&app.owner).await;
        let (dev, code) = gate_code(&app, json!({})).await;
        let key = app.key(&dev["id"], "Gate fob").await;
        let pat = person(&app, &org, "Pat", Some("+447400123400"), false);
        app.owner.ok("keys.recordCodeDisclosure", json!({"id": code["id"], "personId": pat})).await;

        let b = app.other_organisation().await;
        let b_dev = b.ok("developments.create", json!({"name": "Birch Lane"})).await;
        let b_code = b
            .ok("keys.createAccessCode", json!({"developmentId": b_dev["id"], "codeType": "gate", "label": "B gate", "code": "5150"}))
            .await;
        let before = (ledger_rows(&app), app.owner.ok("keys.listAccessCodes", json!({})).await);
        let b_before = b.ok("keys.listAccessCodes", json!({})).await;
        let m = MISSING_ID;

        for method in ["keys.revealAccessCode", "keys.accessCodeExposure"] {
            not_found_like_missing(&b, method, json!({"id": code["id"]}), json!({"id": m})).await;
        }
        let at = "2999-01-01T00:00:00Z";
        not_found_like_missing(&b, "keys.accessCodeKnownBy", json!({"id": code["id"], "at": at}), json!({"id": m, "at": at})).await;
        not_found_like_missing(
            &b,
            "keys.recordCodeDisclosure",
            json!({"id": code["id"], "name": "Mallory"}),
            json!({"id": m, "name": "Mallory"}),
        )
        .await;
        // A's person on B's own code, or in B's SMS.
        not_found_like_missing(
            &b,
            "keys.recordCodeDisclosure",
            json!({"id": b_code["id"], "personId": pat}),
            json!({"id": b_code["id"], "personId": m}),
        )
        .await;
        let target = json!({"type": "accessCode", "id": b_code["id"]});
        not_found_like_missing(&b, "keys.sendSms", json!({"target": target, "personId": pat}), json!({"target": target, "personId": m}))
            .await;
        // A's key linked to B's code, on create or update.
        let new_code = |key_id: &Value| {
            json!({"developmentId": b_dev["id"], "codeType": "gate", "label": "Planted", "code": "1", "keyIds": [key_id]})
        };
        not_found_like_missing(&b, "keys.createAccessCode", new_code(&key["id"]), new_code(&json!(m))).await;
        not_found_like_missing(
            &b,
            "keys.updateAccessCode",
            json!({"id": b_code["id"], "keyIds": [key["id"]]}),
            json!({"id": b_code["id"], "keyIds": [m]}),
        )
        .await;

        assert_eq!((ledger_rows(&app), app.owner.ok("keys.listAccessCodes", json!({})).await), before, "nothing of A's changed");
        assert_eq!(b.ok("keys.listAccessCodes", json!({})).await, b_before, "nor of B's");
        // A's setting is A's: B masking its lists leaves A's alone.
        b.ok("settings.update", json!({"maskCodesInLists": true})).await;
        assert_eq!(app.owner.ok("settings.get", json!({})).await["maskCodesInLists"], false);
        assert_eq!(app.owner.ok("keys.listAccessCodes", json!({})).await["items"][0]["code"], CODE);
    }

    async fn bad_ledger_input_is_refused_on_its_field_and_changes_nothing(app: TestApp) {
        let (_, code) = gate_code(&app, json!({})).await;
        let before = ledger_rows(&app);
        let id = code["id"].clone();
        let cases: Vec<(&'static str, Value, &str)> = vec![
            ("keys.recordCodeDisclosure", json!({"id": id}), "personId"),
            ("keys.recordCodeDisclosure", json!({"id": id, "personId": MISSING_ID, "name": "Both"}), "name"),
            ("keys.recordCodeDisclosure", json!({"id": id, "name": "  "}), "personId"),
            ("keys.recordCodeDisclosure", json!({"id": id, "name": "x".repeat(201)}), "name"),
            ("keys.recordCodeDisclosure", json!({"id": id, "name": "Line\nbreak"}), "name"),
            ("keys.recordCodeDisclosure", json!({"id": id, "name": "Ok", "note": "x".repeat(5001)}), "note"),
            ("keys.recordCodeDisclosure", json!({"id": id, "name": "Ok", "extra": 1}), "extra"),
            ("keys.revealAccessCode", json!({}), "id"),
            ("keys.accessCodeExposure", json!({"id": id, "limit": 0}), "limit"),
            ("keys.accessCodeKnownBy", json!({"id": id, "at": "0000-01-01T00:00:00Z"}), "at"),
            ("keys.sendSms", json!({"target": {"type": "accessCode", "id": id}}), "recipientName"),
            ("keys.sendSms", json!({"target": {"type": "accessCode", "id": id}, "recipientName": "Sam"}), "phone"),
            ("settings.update", json!({"maskCodesInLists": "yes"}), "maskCodesInLists"),
            ("keys.listAccessCodes", json!({"rotationDue": "yes"}), "rotationDue"),
        ];
        for (method, params, field) in cases {
            let err = app.owner.err(method, params.clone()).await;
            assert_eq!(err.kind.as_deref(), Some("INVALID_INPUT"), "{method} {params}: {err:?}");
            assert_eq!(err.field.as_deref(), Some(field), "{method} {params}: {err:?}");
        }
        assert_eq!(ledger_rows(&app), before);
        assert_eq!(app.owner.ok("settings.get", json!({})).await["maskCodesInLists"], false);
    }
}
