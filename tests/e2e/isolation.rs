//! Organisation isolation: another organisation's ids look exactly like missing ones, its
//! lists show nothing of ours, and nothing it tries changes anything of ours.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Client, TestApp};

/// An id of the right shape that belongs to nobody.
const MISSING_ID: &str = "01900000-0000-7000-8000-000000000000";

/// Organisation A's register: a development with keys in the statuses from which each
/// transition is allowed (so that a missing organisation check would let the call
/// through), an empty development, and a user.
struct Register {
    dev: Value,
    empty_dev: Value,
    in_stock: Value,
    issued: Value,
    returned: Value,
    lost: Value,
    deactivated: Value,
    user: Value,
}

impl Register {
    fn keys(&self) -> [&Value; 5] {
        [&self.in_stock, &self.issued, &self.returned, &self.lost, &self.deactivated]
    }
}

async fn register(app: &TestApp) -> Register {
    let a = &app.owner;
    let dev = app.development("Oak Park").await;
    let empty_dev = app.development("Empty Court").await;
    let in_stock = app.key(&dev["id"], "Flat 1 front door").await;
    let issued = app.key(&dev["id"], "Flat 2 front door").await;
    a.ok("keys.issueKey", json!({"id": issued["id"], "issuedTo": "Sam"})).await;
    let returned = app.key(&dev["id"], "Flat 3 front door").await;
    a.ok("keys.issueKey", json!({"id": returned["id"], "issuedTo": "Kim"})).await;
    a.ok("keys.returnKey", json!({"id": returned["id"]})).await;
    let lost = app.key(&dev["id"], "Flat 4 front door").await;
    a.ok("keys.markLost", json!({"id": lost["id"]})).await;
    let deactivated = app.key(&dev["id"], "Flat 5 front door").await;
    a.ok("keys.deactivateKey", json!({"id": deactivated["id"]})).await;
    let user = a
        .ok(
            "users.create",
            json!({"email": "tess@acme.test", "name": "Tess Team", "role": "team", "password": "correct-horse-battery"}),
        )
        .await;
    let get = |k: &Value| a.ok("keys.getKey", json!({"id": k["id"]}));
    Register {
        in_stock: get(&in_stock).await,
        issued: get(&issued).await,
        returned: get(&returned).await,
        lost: get(&lost).await,
        deactivated: get(&deactivated).await,
        dev,
        empty_dev,
        user,
    }
}

/// Everything organisation A can see of itself.
async fn snapshot(a: &Client) -> Value {
    json!({
        "keys": a.ok("keys.listKeys", json!({"limit": 100})).await,
        "developments": a.ok("developments.list", json!({})).await,
        "users": a.ok("users.list", json!({})).await,
        "audit": a.ok("audit.list", json!({"limit": 100})).await,
    })
}

/// Calls `method` as `client` and checks the answer is NOT_FOUND, indistinguishable from
/// the answer for an id that does not exist at all.
async fn assert_not_found(client: &Client, method: &str, params: Value, missing: Value) {
    let foreign = client.call(method, params.clone()).await;
    let foreign = foreign.expect_err(&format!("{method} {params} must fail for another organisation"));
    assert_eq!((foreign.code, foreign.kind.as_deref()), (-32004, Some("NOT_FOUND")), "{method} {params}: {foreign:?}");
    let absent = client
        .call(method, missing.clone())
        .await
        .expect_err(&format!("{method} {missing} must fail for a missing id"));
    assert_eq!(foreign, absent, "{method}: another organisation's id must look exactly like a missing one");
}

on_both_databases! {
    async fn another_organisation_gets_not_found_for_every_id_of_ours(app: TestApp) {
        let a = register(&app).await;
        let before = snapshot(&app.owner).await;
        let b = app.other_organisation().await;
        let b_id = b.ok("auth.me", json!({})).await["user"]["id"].clone();
        let b_dev = b.ok("developments.create", json!({"name": "Birch Lane"})).await;
        let b_key = b.ok("keys.createKey", json!({"developmentId": b_dev["id"], "keyType": "fob", "label": "Gate fob"})).await;

        let m = MISSING_ID;
        let id_calls: [(&str, &Value, Value); 13] = [
            ("keys.getKey", &a.in_stock, json!({})),
            ("keys.keyHistory", &a.in_stock, json!({})),
            ("keys.updateKey", &a.in_stock, json!({"label": "Stolen"})),
            ("keys.deleteKey", &a.in_stock, json!({})),
            ("keys.issueKey", &a.in_stock, json!({"issuedTo": "Mallory"})),
            ("keys.returnKey", &a.issued, json!({})),
            ("keys.returnToStock", &a.returned, json!({})),
            ("keys.markLost", &a.in_stock, json!({"notes": "gone"})),
            ("keys.markFound", &a.lost, json!({})),
            ("keys.markDamaged", &a.issued, json!({})),
            ("keys.deactivateKey", &a.in_stock, json!({})),
            ("keys.reactivateKey", &a.deactivated, json!({})),
            ("developments.update", &a.dev, json!({"name": "Taken Over", "keyPrefix": "TO"})),
        ];
        for (method, entity, extra) in id_calls {
            let with_id = |id: &Value| {
                let mut params = extra.clone();
                params["id"] = id.clone();
                params
            };
            assert_not_found(&b, method, with_id(&entity["id"]), with_id(&json!(m))).await;
        }
        assert_not_found(&b, "developments.delete", json!({"id": a.empty_dev["id"]}), json!({"id": m})).await;
        assert_not_found(&b, "users.update", json!({"id": a.user["id"], "name": "Renamed", "role": "owner"}), json!({"id": m, "name": "Renamed", "role": "owner"})).await;
        assert_not_found(&b, "users.update", json!({"id": a.user["id"], "disabled": true}), json!({"id": m, "disabled": true})).await;
        assert_not_found(&b, "keys.suggestKeyRef", json!({"developmentId": a.dev["id"]}), json!({"developmentId": m})).await;
        let new_key = |dev: &Value| json!({"developmentId": dev, "keyType": "fob", "label": "Planted", "keyRef": "PLANT-1"});
        assert_not_found(&b, "keys.createKey", new_key(&a.dev["id"]), new_key(&json!(m))).await;
        // B's own key cannot be moved into A's development either.
        assert_not_found(&b, "keys.updateKey", json!({"id": b_key["id"], "developmentId": a.dev["id"]}), json!({"id": b_key["id"], "developmentId": m})).await;

        // Nothing of A's changed: same keys (versions, statuses, holders), developments,
        // users, and no event in A's audit log.
        for key in a.keys() {
            let now = app.owner.ok("keys.getKey", json!({"id": key["id"]})).await;
            assert_eq!(&now, key, "A's key changed");
        }
        assert_eq!(snapshot(&app.owner).await, before);
        assert_eq!(app.owner.ok("audit.list", json!({"actorId": b_id})).await["total"], 0);
        // And B's own key stayed where it was.
        assert_eq!(b.ok("keys.getKey", json!({"id": b_key["id"]})).await, b_key);
    }

    async fn another_organisations_lists_show_nothing_of_ours(app: TestApp) {
        let a = register(&app).await;
        let b = app.other_organisation().await;
        let b_me = b.ok("auth.me", json!({})).await;
        assert_ne!(b_me["organisation"]["id"], json!(app.org_id));

        let keys = b.ok("keys.listKeys", json!({})).await;
        assert_eq!((keys["total"].clone(), keys["items"].clone()), (json!(0), json!([])));
        let in_a_dev = b.ok("keys.listKeys", json!({"developmentId": a.dev["id"]})).await;
        assert_eq!((in_a_dev["total"].clone(), in_a_dev["items"].clone()), (json!(0), json!([])));
        let by_ref = b.ok("keys.listKeys", json!({"search": a.in_stock["keyRef"]})).await;
        assert_eq!(by_ref["total"], 0);
        let by_holder = b.ok("keys.listKeys", json!({"search": "Sam"})).await;
        assert_eq!(by_holder["total"], 0);
        assert_eq!(b.ok("keys.listKeys", json!({"status": "issued"})).await["total"], 0);
        assert_eq!(b.ok("developments.list", json!({})).await, json!({"items": []}));

        let users = b.ok("users.list", json!({})).await;
        let emails: Vec<&str> = users["items"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
        assert_eq!(emails, ["owner@other.test"]);

        for filter in [
            json!({"entityId": a.in_stock["id"]}),
            json!({"entityId": a.dev["id"]}),
            json!({"entityId": a.user["id"]}),
            json!({"action": "key.created"}),
            json!({"entityType": "development"}),
        ] {
            let page = b.ok("audit.list", filter.clone()).await;
            assert_eq!((page["total"].clone(), page["items"].clone()), (json!(0), json!([])), "{filter}");
        }
        // What B does see in its audit log is its own.
        let all = b.ok("audit.list", json!({"limit": 100})).await;
        assert!(all["total"].as_i64().unwrap() > 0);
        for event in all["items"].as_array().unwrap() {
            assert_eq!(event["actorId"], b_me["user"]["id"], "{event}");
        }

        // A still sees all of its own.
        assert_eq!(app.owner.ok("keys.listKeys", json!({})).await["total"], 5);
    }

    async fn key_refs_are_unique_per_organisation_not_globally(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let ours = app.key(&dev["id"], "Flat 1").await;
        assert_eq!(ours["keyRef"], "OP-001");
        let custom = app.owner.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "Gate", "keyRef": "GATE-1"})).await;

        let b = app.other_organisation().await;
        let b_dev = b.ok("developments.create", json!({"name": "Oak Park"})).await;
        assert_eq!(b_dev["keyPrefix"], "OP");
        // A's OP-001 does not count towards B's suggestions or B's uniqueness.
        assert_eq!(b.ok("keys.suggestKeyRef", json!({"developmentId": b_dev["id"]})).await["keyRef"], "OP-001");
        let same_ref = b.ok("keys.createKey", json!({"developmentId": b_dev["id"], "keyType": "physical_key", "label": "Door", "keyRef": "op-001"})).await;
        assert_eq!(same_ref["keyRef"], "OP-001");
        let same_custom = b.ok("keys.createKey", json!({"developmentId": b_dev["id"], "keyType": "fob", "label": "Gate", "keyRef": "GATE-1"})).await;
        assert_eq!(same_custom["keyRef"], "GATE-1");
        // Within B the ref is now taken.
        let taken = b.err("keys.createKey", json!({"developmentId": b_dev["id"], "keyType": "fob", "label": "Again", "keyRef": "OP-001"})).await;
        taken.assert_kind(-32009, "KEY_REF_TAKEN");
        assert_eq!(taken.field.as_deref(), Some("keyRef"));
        // And B's next suggested ref counts only B's keys.
        assert_eq!(b.ok("keys.suggestKeyRef", json!({"developmentId": b_dev["id"]})).await["keyRef"], "OP-002");

        // A's keys are untouched and A can still take its own next ref.
        assert_eq!(app.owner.ok("keys.getKey", json!({"id": ours["id"]})).await, ours);
        assert_eq!(app.owner.ok("keys.getKey", json!({"id": custom["id"]})).await, custom);
        assert_eq!(app.key(&dev["id"], "Flat 2").await["keyRef"], "OP-002");
        assert_eq!(app.owner.ok("keys.listKeys", json!({})).await["total"], 3);
        assert_eq!(b.ok("keys.listKeys", json!({})).await["total"], 2);
    }
}
