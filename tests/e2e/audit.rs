//! The audit log: every mutation writes exactly one event (in the same transaction as the
//! change), a failed call writes none, `audit.list` filters and pages newest first, and
//! only owners and managers read it.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Client, TestApp};

async fn total(client: &Client) -> i64 {
    client.ok("audit.list", json!({"limit": 1})).await["total"].as_i64().expect("a total")
}

/// The whole log (at most 100 events), newest first.
async fn all_events(client: &Client) -> Vec<Value> {
    let page = client.ok("audit.list", json!({"limit": 100})).await;
    let items = page["items"].as_array().unwrap().clone();
    assert_eq!(page["total"], items.len(), "the test log fits in one page");
    items
}

fn at(event: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(event["at"].as_str().expect("an instant")).expect("RFC 3339").with_timezone(&Utc)
}

fn ids(events: &[Value]) -> Vec<Value> {
    events.iter().map(|e| e["id"].clone()).collect()
}

/// The `{field, from, to}` entry of an event for `field`.
fn change(event: &Value, field: &str) -> Value {
    event["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["field"] == field)
        .cloned()
        .unwrap_or_else(|| panic!("no change of {field} in {event}"))
}

fn changed(field: &str, from: Value, to: Value) -> Value {
    json!({"field": field, "from": from, "to": to})
}

/// Who made the calls: `auth.me`'s user.
async fn me(client: &Client) -> Value {
    client.ok("auth.me", json!({})).await["user"].clone()
}

/// Checks that exactly one event was written since the log had `before` events, that it
/// is the newest and describes `action` on `entity_id` by `actor`; returns it.
async fn one_new_event(
    client: &Client,
    before: &mut i64,
    action: &str,
    entity_type: &str,
    entity_id: &Value,
    actor: &Value,
) -> Value {
    let page = client.ok("audit.list", json!({"limit": 1})).await;
    assert_eq!(page["total"], *before + 1, "{action}: exactly one new event");
    *before += 1;
    let event = page["items"][0].clone();
    assert_eq!(event["action"], action, "{event}");
    assert_eq!(event["entityType"], entity_type, "{event}");
    assert_eq!(&event["entityId"], entity_id, "{event}");
    assert_eq!(event["actorId"], actor["id"], "{event}");
    assert_eq!(event["actorName"], actor["name"], "{event}");
    assert!(event["id"].as_str().is_some_and(|s| !s.is_empty()), "{event}");
    assert!(event["summary"].as_str().is_some_and(|s| !s.is_empty()), "{event}");
    at(&event);
    // The same event is found by its own filters.
    let by_entity = client.ok("audit.list", json!({"entityId": entity_id, "action": action, "limit": 1})).await;
    assert_eq!(by_entity["items"][0]["id"], event["id"]);
    event
}

on_both_databases! {
    async fn every_mutation_writes_exactly_one_event_with_its_changes(app: TestApp) {
        let owner = &app.owner;
        let actor = me(owner).await;
        let mut n = total(owner).await;

        let dev = owner.ok("developments.create", json!({"name": "Oak Park"})).await;
        let e = one_new_event(owner, &mut n, "development.created", "development", &dev["id"], &actor).await;
        assert_eq!(change(&e, "name"), changed("name", json!(null), json!("Oak Park")));
        assert_eq!(change(&e, "keyPrefix"), changed("keyPrefix", json!(null), json!("OP")));

        owner.ok("developments.update", json!({"id": dev["id"], "name": "Oak Park North"})).await;
        let e = one_new_event(owner, &mut n, "development.updated", "development", &dev["id"], &actor).await;
        assert_eq!(e["changes"], json!([changed("name", json!("Oak Park"), json!("Oak Park North"))]));

        owner.ok("developments.update", json!({"id": dev["id"], "keyPrefix": "opn"})).await;
        let e = one_new_event(owner, &mut n, "development.updated", "development", &dev["id"], &actor).await;
        assert_eq!(e["changes"], json!([changed("keyPrefix", json!("OP"), json!("OPN"))]));

        let key = owner.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "Gate fob"})).await;
        let e = one_new_event(owner, &mut n, "key.created", "key", &key["id"], &actor).await;
        assert_eq!(change(&e, "keyRef"), changed("keyRef", json!(null), json!("OPN-001")));
        assert_eq!(change(&e, "label"), changed("label", json!(null), json!("Gate fob")));
        assert_eq!(change(&e, "status"), changed("status", json!(null), json!("in_stock")));

        owner.ok("keys.updateKey", json!({"id": key["id"], "expectedVersion": 1, "label": "Main gate fob"})).await;
        let e = one_new_event(owner, &mut n, "key.updated", "key", &key["id"], &actor).await;
        assert_eq!(e["changes"], json!([changed("label", json!("Gate fob"), json!("Main gate fob"))]));

        owner.ok("keys.updateKey", json!({"id": key["id"], "quantity": 3, "brand": "Paxton"})).await;
        let e = one_new_event(owner, &mut n, "key.updated", "key", &key["id"], &actor).await;
        assert_eq!(change(&e, "quantity"), changed("quantity", json!("1"), json!("3")));
        assert_eq!(change(&e, "brand"), changed("brand", json!(null), json!("Paxton")));
        assert_eq!(e["changes"].as_array().unwrap().len(), 2, "{e}");

        owner.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Sam", "purpose": "boiler service"})).await;
        let e = one_new_event(owner, &mut n, "key.issued", "key", &key["id"], &actor).await;
        assert_eq!(change(&e, "status"), changed("status", json!("in_stock"), json!("issued")));
        assert_eq!(change(&e, "issuedTo"), changed("issuedTo", json!(null), json!("Sam")));
        assert_eq!(change(&e, "purpose"), changed("purpose", json!(null), json!("boiler service")));

        owner.ok("keys.returnKey", json!({"id": key["id"], "notes": "all fine"})).await;
        let e = one_new_event(owner, &mut n, "key.returned", "key", &key["id"], &actor).await;
        assert_eq!(change(&e, "status"), changed("status", json!("issued"), json!("returned")));

        owner.ok("keys.returnToStock", json!({"id": key["id"]})).await;
        let e = one_new_event(owner, &mut n, "key.returned_to_stock", "key", &key["id"], &actor).await;
        assert_eq!(change(&e, "status"), changed("status", json!("returned"), json!("in_stock")));
        assert_eq!(change(&e, "issuedTo"), changed("issuedTo", json!("Sam"), json!(null)));

        for (method, action, from, to) in [
            ("keys.markLost", "key.marked_lost", "in_stock", "lost"),
            ("keys.markFound", "key.marked_found", "lost", "in_stock"),
            ("keys.markDamaged", "key.marked_damaged", "in_stock", "damaged"),
            ("keys.deactivateKey", "key.deactivated", "damaged", "deactivated"),
            ("keys.reactivateKey", "key.reactivated", "deactivated", "in_stock"),
        ] {
            owner.ok(method, json!({"id": key["id"]})).await;
            let e = one_new_event(owner, &mut n, action, "key", &key["id"], &actor).await;
            assert_eq!(e["changes"], json!([changed("status", json!(from), json!(to))]), "{method}");
        }

        owner.ok("keys.deleteKey", json!({"id": key["id"]})).await;
        let e = one_new_event(owner, &mut n, "key.deleted", "key", &key["id"], &actor).await;
        assert_eq!(change(&e, "keyRef"), changed("keyRef", json!("OPN-001"), json!(null)));

        owner.ok("developments.delete", json!({"id": dev["id"]})).await;
        let e = one_new_event(owner, &mut n, "development.deleted", "development", &dev["id"], &actor).await;
        assert_eq!(change(&e, "name"), changed("name", json!("Oak Park North"), json!(null)));

        let user = owner.ok("users.create", json!({"email": "Max@Acme.test", "name": "Max Manager", "role": "manager", "password": "correct-horse-battery"})).await;
        let e = one_new_event(owner, &mut n, "user.created", "user", &user["id"], &actor).await;
        assert_eq!(change(&e, "email"), changed("email", json!(null), json!("max@acme.test")));
        assert_eq!(change(&e, "name"), changed("name", json!(null), json!("Max Manager")));
        assert_eq!(change(&e, "role"), changed("role", json!(null), json!("manager")));

        owner.ok("users.update", json!({"id": user["id"], "name": "Max Mustermann"})).await;
        let e = one_new_event(owner, &mut n, "user.updated", "user", &user["id"], &actor).await;
        assert_eq!(e["changes"], json!([changed("name", json!("Max Manager"), json!("Max Mustermann"))]));

        owner.ok("users.update", json!({"id": user["id"], "role": "team", "disabled": true})).await;
        let e = one_new_event(owner, &mut n, "user.updated", "user", &user["id"], &actor).await;
        assert_eq!(change(&e, "role"), changed("role", json!("manager"), json!("team")));
        assert_eq!(change(&e, "disabled"), changed("disabled", json!("false"), json!("true")));

        // Another user's changes carry that user's id and name.
        let manager_client = app.user("manager").await;
        n = total(owner).await;
        let manager = me(&manager_client).await;
        let dev2 = manager_client.ok("developments.create", json!({"name": "Birch Lane"})).await;
        one_new_event(owner, &mut n, "development.created", "development", &dev2["id"], &manager).await;
        let key2 = manager_client.ok("keys.createKey", json!({"developmentId": dev2["id"], "keyType": "card", "label": "Bin store card"})).await;
        one_new_event(owner, &mut n, "key.created", "key", &key2["id"], &manager).await;
        manager_client.ok("keys.issueKey", json!({"id": key2["id"], "issuedTo": "Pat"})).await;
        let e = one_new_event(owner, &mut n, "key.issued", "key", &key2["id"], &manager).await;
        assert_eq!(change(&e, "issuedTo"), changed("issuedTo", json!(null), json!("Pat")));

        // Reads write nothing.
        owner.ok("keys.listKeys", json!({})).await;
        owner.ok("keys.getKey", json!({"id": key2["id"]})).await;
        owner.ok("keys.keyHistory", json!({"id": key2["id"]})).await;
        owner.ok("keys.suggestKeyRef", json!({"developmentId": dev2["id"]})).await;
        owner.ok("developments.list", json!({})).await;
        owner.ok("users.list", json!({})).await;
        owner.ok("auth.me", json!({})).await;
        assert_eq!(total(owner).await, n);
    }

    async fn a_failed_call_writes_no_event(app: TestApp) {
        let owner = &app.owner;
        let dev = app.development("Oak Park").await;
        let first = app.key(&dev["id"], "Flat 1").await;
        let second = app.key(&dev["id"], "Flat 2").await;
        let second = owner.ok("keys.issueKey", json!({"id": second["id"], "issuedTo": "Sam"})).await;
        let owner_id = me(owner).await["id"].clone();
        let team = app.user("team").await;
        let events = all_events(owner).await;
        let keys = owner.ok("keys.listKeys", json!({})).await;

        let failures: Vec<(&str, Value, i64, &str)> = vec![
            ("keys.returnKey", json!({"id": first["id"]}), -32009, "INVALID_TRANSITION"),
            ("keys.issueKey", json!({"id": second["id"], "issuedTo": "Kim"}), -32009, "INVALID_TRANSITION"),
            ("keys.deleteKey", json!({"id": second["id"]}), -32009, "INVALID_TRANSITION"),
            ("keys.reactivateKey", json!({"id": first["id"]}), -32009, "INVALID_TRANSITION"),
            ("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "Dup", "keyRef": "op-001"}), -32009, "KEY_REF_TAKEN"),
            ("keys.updateKey", json!({"id": second["id"], "keyRef": "OP-001", "label": "Renamed"}), -32009, "KEY_REF_TAKEN"),
            ("keys.updateKey", json!({"id": first["id"], "expectedVersion": 7, "label": "Renamed"}), -32009, "VERSION_CONFLICT"),
            ("developments.delete", json!({"id": dev["id"]}), -32009, "DEVELOPMENT_NOT_EMPTY"),
            ("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "  "}), -32602, "INVALID_INPUT"),
            ("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "Ok", "quantity": 0}), -32602, "INVALID_INPUT"),
            ("keys.updateKey", json!({"id": first["id"], "label": "x", "keyRef": "-bad"}), -32602, "INVALID_INPUT"),
            ("keys.issueKey", json!({"id": first["id"], "issuedTo": ""}), -32602, "INVALID_INPUT"),
            ("developments.create", json!({"name": "Elm", "keyPrefix": "E-L"}), -32602, "INVALID_INPUT"),
            ("users.create", json!({"email": "owner@acme.test", "name": "Again", "role": "team", "password": "correct-horse-battery"}), -32602, "INVALID_INPUT"),
            ("users.update", json!({"id": owner_id, "name": "Demoted", "role": "team"}), -32602, "INVALID_INPUT"),
            ("users.update", json!({"id": owner_id, "name": "Renamed", "password": "short"}), -32602, "INVALID_INPUT"),
            ("keys.updateKey", json!({"id": "no-such-key", "label": "x"}), -32004, "NOT_FOUND"),
            ("keys.createKey", json!({"developmentId": "no-such-development", "keyType": "fob", "label": "x"}), -32004, "NOT_FOUND"),
        ];
        for (method, params, code, kind) in failures {
            let err = owner.call(method, params.clone()).await.expect_err(method);
            assert_eq!((err.code, err.kind.as_deref()), (code, Some(kind)), "{method} {params}: {err:?}");
            assert_eq!(all_events(owner).await, events, "{method} {params} wrote an audit event");
        }
        // A role that may not call a procedure writes nothing either.
        let err = team.err("keys.deleteKey", json!({"id": first["id"]})).await;
        err.assert_kind(-32003, "FORBIDDEN");
        assert_eq!(all_events(owner).await, events);
        // And nothing else changed.
        assert_eq!(owner.ok("keys.listKeys", json!({})).await, keys);
        assert_eq!(owner.ok("developments.list", json!({})).await["items"].as_array().unwrap().len(), 1);
    }

    async fn audit_list_filters_by_entity_actor_action_and_time(app: TestApp) {
        let owner = &app.owner;
        let owner_user = me(owner).await;
        let dev = app.development("Oak Park").await;
        let k1 = app.key(&dev["id"], "Flat 1").await;
        let k2 = app.key(&dev["id"], "Flat 2").await;
        owner.ok("keys.issueKey", json!({"id": k1["id"], "issuedTo": "Sam"})).await;
        let manager_client = app.user("manager").await;
        let manager = me(&manager_client).await;
        let k3 = manager_client.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "remote", "label": "Car park remote"})).await;
        manager_client.ok("keys.issueKey", json!({"id": k3["id"], "issuedTo": "Kim"})).await;
        owner.ok("keys.updateKey", json!({"id": k2["id"], "label": "Flat 2 back door"})).await;

        let all = all_events(owner).await;
        // Newest first.
        for pair in all.windows(2) {
            assert!(at(&pair[0]) >= at(&pair[1]), "not newest first: {} then {}", pair[0], pair[1]);
        }
        let list = |filter: Value| owner.ok("audit.list", filter);
        let expect = |pred: &dyn Fn(&Value) -> bool| ids(&all.iter().filter(|e| pred(e)).cloned().collect::<Vec<_>>());
        let check = |filter: Value, expected: Vec<Value>| {
            let list = &list;
            async move {
                let page = list(filter.clone()).await;
                let got = ids(page["items"].as_array().unwrap());
                assert_eq!(got, expected, "audit.list {filter}");
                assert_eq!(page["total"], expected.len(), "audit.list {filter}");
            }
        };

        let key_events = expect(&|e| e["entityType"] == "key");
        assert_eq!(key_events.len(), 6, "3 created, 2 issued, 1 updated");
        check(json!({"entityType": "key"}), key_events).await;
        check(json!({"entityType": "development"}), expect(&|e| e["entityType"] == "development")).await;
        let user_events = expect(&|e| e["entityType"] == "user");
        assert_eq!(user_events.len(), 2, "the owner (bootstrap) and the manager");
        check(json!({"entityType": "user"}), user_events).await;
        check(json!({"entityType": "nothing"}), vec![]).await;

        let k1_events = list(json!({"entityId": k1["id"]})).await;
        let actions: Vec<&str> = k1_events["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["key.issued", "key.created"]);
        check(json!({"entityId": k3["id"]}), expect(&|e| e["entityId"] == k3["id"])).await;

        let by_manager = expect(&|e| e["actorId"] == manager["id"]);
        assert_eq!(by_manager.len(), 2);
        check(json!({"actorId": manager["id"]}), by_manager).await;
        check(json!({"actorId": owner_user["id"]}), expect(&|e| e["actorId"] == owner_user["id"])).await;

        let issued = expect(&|e| e["action"] == "key.issued");
        assert_eq!(issued.len(), 2);
        check(json!({"action": "key.issued"}), issued).await;
        check(json!({"action": "key.created", "actorId": manager["id"]}), expect(&|e| e["action"] == "key.created" && e["actorId"] == manager["id"])).await;
        check(json!({"action": "key.issued", "entityId": k1["id"]}), expect(&|e| e["action"] == "key.issued" && e["entityId"] == k1["id"])).await;
        check(json!({"action": "KEY.ISSUED"}), vec![]).await;

        // Time: a pivot splits the log in two, with nothing lost or counted twice.
        for pivot_event in [&all[0], &all[all.len() / 2], &all[all.len() - 1]] {
            let pivot = pivot_event["at"].clone();
            let p = at(pivot_event);
            let after = list(json!({"from": pivot, "limit": 100})).await;
            let before = list(json!({"to": pivot, "limit": 100})).await;
            let after_ids = ids(after["items"].as_array().unwrap());
            let before_ids = ids(before["items"].as_array().unwrap());
            assert_eq!(after["total"], after_ids.len());
            assert_eq!(before["total"], before_ids.len());
            let mut both: Vec<Value> = after_ids.iter().chain(&before_ids).cloned().collect();
            assert_eq!(both.len(), all.len(), "from/to {pivot} split the log into two parts");
            both.sort_by_key(|v| v.to_string());
            let mut every = ids(&all);
            every.sort_by_key(|v| v.to_string());
            assert_eq!(both, every);
            for e in &all {
                if at(e) > p {
                    assert!(after_ids.contains(&e["id"]), "from {pivot} must include {e}");
                } else if at(e) < p {
                    assert!(before_ids.contains(&e["id"]), "to {pivot} must include {e}");
                }
            }
        }
        let (newest, oldest) = (all[0]["at"].clone(), all[all.len() - 1]["at"].clone());
        check(json!({"from": oldest, "to": "2999-01-01T00:00:00Z", "limit": 100}), ids(&all)).await;
        check(json!({"from": "2999-01-01T00:00:00Z"}), vec![]).await;
        check(json!({"to": "2000-01-01T00:00:00Z"}), vec![]).await;
        check(json!({"from": newest, "entityId": k2["id"]}), expect(&|e| e["entityId"] == k2["id"] && at(e) >= at(&all[0]))).await;

        // Pagination: pages of 3 put together are the whole log, in the same order.
        let mut paged = Vec::new();
        let pages = all.len().div_ceil(3);
        for page in 1..=pages {
            let got = list(json!({"page": page, "limit": 3})).await;
            assert_eq!((got["page"].clone(), got["limit"].clone(), got["total"].clone()), (json!(page), json!(3), json!(all.len())));
            let items = got["items"].as_array().unwrap();
            assert_eq!(items.len(), if page < pages { 3 } else { all.len() - 3 * (pages - 1) });
            paged.extend(ids(items));
        }
        assert_eq!(paged, ids(&all));
        let past_end = list(json!({"page": pages + 1, "limit": 3})).await;
        assert_eq!((past_end["items"].clone(), past_end["total"].clone()), (json!([]), json!(all.len())));
        // Filters and pages combine: the second key event of the filtered list.
        let second_key_event = list(json!({"entityType": "key", "page": 2, "limit": 1})).await;
        assert_eq!(second_key_event["items"][0]["id"], expect(&|e| e["entityType"] == "key")[1]);
        assert_eq!(second_key_event["total"], 6);
        // Defaults: page 1, limit 50.
        let default = list(json!({})).await;
        assert_eq!((default["page"].clone(), default["limit"].clone()), (json!(1), json!(50)));
    }

    async fn only_owners_and_managers_read_the_audit_log(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let key = app.key(&dev["id"], "Flat 1").await;
        let manager = app.user("manager").await;
        let mut refused = Vec::new();
        for role in ["team", "installer", "housekeeping"] {
            refused.push((role, app.user(role).await));
        }
        for (role, client) in &refused {
            for filter in [json!({}), json!({"entityId": key["id"]}), json!({"limit": 1})] {
                let err = client.call("audit.list", filter.clone()).await.expect_err(role);
                assert_eq!((err.code, err.kind.as_deref()), (-32003, Some("FORBIDDEN")), "{role} {filter}: {err:?}");
            }
        }
        let seen_by_owner = app.owner.ok("audit.list", json!({"limit": 100})).await;
        let seen_by_manager = manager.ok("audit.list", json!({"limit": 100})).await;
        assert_eq!(seen_by_manager, seen_by_owner);
        assert_eq!(manager.ok("audit.list", json!({"entityId": key["id"]})).await["total"], 1);
    }

    async fn a_password_change_is_audited_without_the_password(app: TestApp) {
        let owner = &app.owner;
        let actor = me(owner).await;
        let first = "first-secret-passphrase";
        let second = "second-secret-passphrase";
        let third = "third-secret-passphrase";
        let user = owner.ok("users.create", json!({"email": "pat@acme.test", "name": "Pat", "role": "team", "password": first})).await;
        let mut n = total(owner).await;

        owner.ok("users.update", json!({"id": user["id"], "password": second})).await;
        let e = one_new_event(owner, &mut n, "user.updated", "user", &user["id"], &actor).await;
        assert_eq!(e["changes"], json!([{"field": "password", "from": "***", "to": "***"}]));

        owner.ok("users.update", json!({"id": user["id"], "name": "Pat Team", "password": third})).await;
        let e = one_new_event(owner, &mut n, "user.updated", "user", &user["id"], &actor).await;
        assert_eq!(change(&e, "password"), json!({"field": "password", "from": "***", "to": "***"}));
        assert_eq!(change(&e, "name"), changed("name", json!("Pat"), json!("Pat Team")));

        // No password, nor anything of its hash, anywhere in the log.
        let log = owner.ok("audit.list", json!({"limit": 100})).await.to_string();
        for secret in [first, second, third, "argon2", "$v=19"] {
            assert!(!log.contains(secret), "{secret:?} in the audit log: {log}");
        }
        // The new password is the one that works.
        app.anonymous().ok("auth.login", json!({"email": "pat@acme.test", "password": third})).await;
    }
}
