//! Keycards (issue 12 §3): a grant issues each person a free `card` key of its
//! development by policy, through the register's own issue (history, audit, summary);
//! a card that is not free is never offered; twenty allocations at once never share a
//! card; another organisation's cards are never offered.

use std::collections::HashSet;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Client, TestApp};

async fn card(app: &TestApp, development: &Value, key_ref: &str) -> Value {
    app.owner
        .ok(
            "keys.createKey",
            json!({"developmentId": development["id"], "keyType": "card", "label": "Keycard", "keyRef": key_ref}),
        )
        .await
}

async fn person(app: &TestApp, name: &str) -> Value {
    app.owner.ok("people.create", json!({"name": name, "kind": "staff"})).await
}

fn grant_params(development: &Value, door: &Value, people: &[&Value], keycard: Value) -> Value {
    json!({"developmentId": development["id"], "name": "Staff", "startsAt": "2027-01-01T00:00:00Z",
        "doors": [{"doorId": door["id"]}], "personIds": people.iter().map(|p| p["id"].clone()).collect::<Vec<_>>(),
        "keycard": keycard})
}

async fn status_of(client: &Client, key: &Value) -> Value {
    client.ok("keys.getKey", json!({"id": key["id"]})).await["status"].clone()
}

/// `grants.replaceKeycard`'s answer split into the grant and its `blastRadius`.
fn without_blast_radius(mut answer: Value) -> (Value, Value) {
    let radius = answer.as_object_mut().unwrap().remove("blastRadius").expect("blastRadius");
    (answer, radius)
}

async fn grants_total(client: &Client) -> Value {
    client.ok("grants.list", json!({})).await["total"].clone()
}

on_both_databases! {
    async fn a_grant_issues_each_person_a_free_card_by_policy(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let front = o.ok("doors.create", json!({"developmentId": dev["id"], "name": "Front", "kind": "entrance"})).await;
        let (kc1, kc2, kc3) = (card(&app, &dev, "KC-01").await, card(&app, &dev, "KC-02").await, card(&app, &dev, "KC-03").await);
        // Never offered: a fob, a lost card, a card of another development.
        o.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "Fob", "keyRef": "FOB-01"})).await;
        let lost = card(&app, &dev, "KC-00").await;
        o.ok("keys.markLost", json!({"id": lost["id"]})).await;
        let elm = app.development("Elm Court").await;
        let elm_card = card(&app, &elm, "ELM-01").await;
        let (ann, bob, cat) = (person(&app, "Ann").await, person(&app, "Bob").await, person(&app, "Cat").await);
        let before = o.ok("keys.summary", json!({})).await;

        let grant = o.ok("grants.create", grant_params(&dev, &front, &[&ann, &bob], json!({"policy": "random"}))).await;
        let cards = grant["keycards"].as_array().unwrap();
        assert_eq!(cards.len(), 2, "{grant}");
        let ours: Vec<&str> = cards.iter().map(|c| c["keyRef"].as_str().unwrap()).collect();
        assert!(ours.iter().all(|r| ["KC-01", "KC-02", "KC-03"].contains(r)) && ours[0] != ours[1], "{ours:?}");
        for keycard in cards {
            assert_eq!((keycard["grantId"].clone(), keycard["status"].clone(), keycard["endReason"].clone()),
                (grant["id"].clone(), json!("active"), Value::Null));
            // Issued by the register's own transition: status, holder, history, audit.
            let key = o.ok("keys.getKey", json!({"id": keycard["keyId"]})).await;
            assert_eq!((key["status"].clone(), key["holderId"].clone(), key["keyRef"].clone()),
                (json!("issued"), keycard["personId"].clone(), keycard["keyRef"].clone()));
            let history = o.ok("keys.keyHistory", json!({"id": keycard["keyId"]})).await;
            assert_eq!(history["items"][0]["action"], "issued");
            assert_eq!(history["items"][0]["holderId"], keycard["personId"]);
            let events = o.ok("audit.list", json!({"entityId": keycard["keyId"], "action": "key.issued"})).await;
            assert_eq!(events["total"], 1);
        }
        assert_eq!(o.ok("grants.get", json!({"id": grant["id"]})).await, grant);
        let after = o.ok("keys.summary", json!({})).await;
        assert_eq!((after["issued"].as_i64().unwrap() - before["issued"].as_i64().unwrap(),
            before["inStock"].as_i64().unwrap() - after["inStock"].as_i64().unwrap()), (2, 2));
        let created = o.ok("audit.list", json!({"action": "grant.created"})).await;
        assert!(created["items"][0]["changes"].as_array().unwrap().contains(&json!({"field": "keycardPolicy", "from": null, "to": "random"})));

        let free = [&kc1, &kc2, &kc3].into_iter().find(|k| !ours.contains(&k["keyRef"].as_str().unwrap())).unwrap();
        let taken = ours[0];
        // strict: a card that is issued, lost, not a card, of another development or
        // unknown is KEYCARD_UNAVAILABLE naming it, and nothing changes.
        for key_ref in [taken, "KC-00", "FOB-01", "ELM-01", "NOPE-1"] {
            let refused = o.err("grants.create", grant_params(&dev, &front, &[&cat], json!({"policy": "strict", "keyRef": key_ref}))).await;
            refused.assert_kind(-32009, "KEYCARD_UNAVAILABLE");
            assert_eq!(refused.data["keyRef"], key_ref);
        }
        assert_eq!(grants_total(o).await, 1, "nothing created");
        assert_eq!(status_of(o, free).await, "in_stock");
        assert_eq!(status_of(o, &elm_card).await, "in_stock");
        // preferred: the card asked for when free (lower case is the same ref), else any.
        let preferred = o.ok("grants.create", grant_params(&dev, &front, &[&cat], json!({"policy": "preferred", "keyRef": taken.to_lowercase()}))).await;
        assert_eq!(preferred["keycards"][0]["keyRef"], free["keyRef"]);
        // Nothing left: random is KEYCARD_UNAVAILABLE without a keyRef.
        let none_left = o.err("grants.create", grant_params(&dev, &front, &[&cat], json!({}))).await;
        none_left.assert_kind(-32009, "KEYCARD_UNAVAILABLE");
        assert!(none_left.data.get("keyRef").is_none(), "{:?}", none_left.data);
        assert_eq!(grants_total(o).await, 2);

        // A card back in stock but still someone's keycard is not offered; a card nobody
        // holds any more is.
        let ann_card = cards.iter().find(|c| c["personId"] == ann["id"]).unwrap();
        o.ok("keys.returnKey", json!({"id": ann_card["keyId"]})).await;
        o.ok("keys.returnToStock", json!({"id": ann_card["keyId"]})).await;
        o.err("grants.create", grant_params(&dev, &front, &[&cat], json!({"policy": "strict", "keyRef": ann_card["keyRef"]})))
            .await
            .assert_kind(-32009, "KEYCARD_UNAVAILABLE");
        let spare = card(&app, &dev, "KC-04").await;
        let last = o.ok("grants.create", grant_params(&dev, &front, &[&cat], json!({"policy": "random"}))).await;
        assert_eq!(last["keycards"][0]["keyId"], spare["id"]);

        // Bad input: INVALID_INPUT on the field, nothing created.
        for (keycard, people, field) in [
            (json!({"policy": "random", "keyRef": "KC-01"}), vec![&cat], "keycard.keyRef"),
            (json!({"policy": "strict"}), vec![&cat], "keycard.keyRef"),
            (json!({"policy": "preferred", "keyRef": "bad ref!"}), vec![&cat], "keycard.keyRef"),
            (json!({"policy": "strict", "keyRef": "KC-01"}), vec![&ann, &bob], "keycard.keyRef"),
            (json!({"policy": "sometimes"}), vec![&cat], "keycard.policy"),
            (json!({"policy": "random", "extra": 1}), vec![&cat], "keycard.extra"),
        ] {
            o.err("grants.create", grant_params(&dev, &front, &people, keycard)).await.assert_invalid(field);
        }
        assert_eq!(grants_total(o).await, 3);
        // Roles: installers and housekeeping cannot allocate keycards.
        for role in ["installer", "housekeeping"] {
            let client = app.user(role).await;
            client.err("grants.create", grant_params(&dev, &front, &[&cat], json!({}))).await.assert_kind(-32003, "FORBIDDEN");
        }
    }

    async fn twenty_concurrent_keycard_allocations_never_share_a_card(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let front = o.ok("doors.create", json!({"developmentId": dev["id"], "name": "Front", "kind": "entrance"})).await;
        for n in 1..=10 {
            card(&app, &dev, &format!("KC-{n:02}")).await;
        }
        let mut people = Vec::new();
        for n in 0..20 {
            people.push(person(&app, &format!("Racer {n}")).await);
        }
        let calls = people.iter().map(|p| o.call("grants.create", grant_params(&dev, &front, &[p], json!({"policy": "random"}))));
        let results = join_all(calls).await;
        let winners: Vec<&Value> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 10, "ten cards, ten keycards: {results:?}");
        for loser in results.iter().filter_map(|r| r.as_ref().err()) {
            loser.assert_kind(-32009, "KEYCARD_UNAVAILABLE");
        }
        let cards: HashSet<&str> = winners.iter().map(|g| g["keycards"][0]["keyId"].as_str().unwrap()).collect();
        assert_eq!(cards.len(), 10, "a card given twice");
        let summary = o.ok("keys.summary", json!({})).await;
        assert_eq!((summary["issued"].clone(), summary["inStock"].clone()), (json!(10), json!(0)));
        assert_eq!(grants_total(o).await, 10);
        // strict on one card at once: exactly one gets it.
        let extra = card(&app, &dev, "KC-99").await;
        let calls = people.iter().map(|p| {
            o.call("grants.create", grant_params(&dev, &front, &[p], json!({"policy": "strict", "keyRef": "KC-99"})))
        });
        let results = join_all(calls).await;
        let winners: Vec<&Value> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        assert_eq!(winners[0]["keycards"][0]["keyId"], extra["id"]);
    }

    async fn another_organisations_cards_are_never_offered(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let ours = card(&app, &dev, "KC-01").await;
        let other = app.other_organisation().await;
        let their_dev = other.ok("developments.create", json!({"name": "Their Place"})).await;
        let their_door = other.ok("doors.create", json!({"developmentId": their_dev["id"], "name": "Gate", "kind": "gate"})).await;
        let their_person = other.ok("people.create", json!({"name": "Their Person", "kind": "staff"})).await;
        for keycard in [json!({"policy": "strict", "keyRef": "KC-01"}), json!({})] {
            other.err("grants.create", grant_params(&their_dev, &their_door, &[&their_person], keycard)).await
                .assert_kind(-32009, "KEYCARD_UNAVAILABLE");
        }
        assert_eq!(grants_total(&other).await, 0);
        assert_eq!(status_of(&app.owner, &ours).await, "in_stock");
        // With a card of their own, they get theirs.
        let theirs = other.ok("keys.createKey", json!({"developmentId": their_dev["id"], "keyType": "card", "label": "Card", "keyRef": "KC-01"})).await;
        let grant = other.ok("grants.create", grant_params(&their_dev, &their_door, &[&their_person], json!({}))).await;
        assert_eq!(grant["keycards"][0]["keyId"], theirs["id"]);
        assert_eq!(status_of(&app.owner, &ours).await, "in_stock");
    }

    async fn a_replaced_keycard_marks_the_old_card_and_issues_another(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let front = o.ok("doors.create", json!({"developmentId": dev["id"], "name": "Front", "kind": "entrance"})).await;
        let (kc1, kc2, kc3) = (card(&app, &dev, "KC-01").await, card(&app, &dev, "KC-02").await, card(&app, &dev, "KC-03").await);
        let (ann, bob) = (person(&app, "Ann").await, person(&app, "Bob").await);
        let grant = o.ok("grants.create", grant_params(&dev, &front, &[&ann], json!({"policy": "strict", "keyRef": "KC-01"}))).await;
        let lost = o.ok("grants.replaceKeycard", json!({"id": grant["id"], "personId": ann["id"], "oldCard": "lost"})).await;
        assert_eq!(lost["keycards"].as_array().unwrap().len(), 1);
        assert_eq!((lost["keycards"][0]["keyId"].clone(), lost["keycards"][0]["personId"].clone()), (kc2["id"].clone(), ann["id"].clone()));
        assert_eq!(status_of(o, &kc1).await, "lost");
        assert_eq!(status_of(o, &kc2).await, "issued");
        assert_eq!(o.ok("keys.keyHistory", json!({"id": kc1["id"]})).await["items"][0]["action"], "marked_lost");
        let (lost, radius) = without_blast_radius(lost);
        assert_eq!(o.ok("grants.get", json!({"id": grant["id"]})).await, lost);
        assert_eq!(radius, o.ok("keys.blastRadius", json!({"id": kc1["id"]})).await);
        // returned, strict onto the card asked for: no blast radius.
        let returned = o.ok("grants.replaceKeycard", json!({"id": grant["id"], "personId": ann["id"], "oldCard": "returned",
            "policy": "strict", "keyRef": "kc-03"})).await;
        let (returned, radius) = without_blast_radius(returned);
        assert_eq!(radius, Value::Null);
        assert_eq!(returned["keycards"][0]["keyId"], kc3["id"]);
        assert_eq!(status_of(o, &kc2).await, "returned");
        let events = o.ok("audit.list", json!({"action": "grant.keycardReplaced"})).await;
        assert_eq!(events["total"], 2);
        // No free card: KEYCARD_UNAVAILABLE, and nothing changes (KC-03 still Ann's, issued).
        let refused = o.err("grants.replaceKeycard", json!({"id": grant["id"], "personId": ann["id"], "oldCard": "lost"})).await;
        refused.assert_kind(-32009, "KEYCARD_UNAVAILABLE");
        assert_eq!(status_of(o, &kc3).await, "issued");
        assert_eq!(o.ok("grants.get", json!({"id": grant["id"]})).await, returned);
        // Bad input; a person without a keycard; another organisation; roles.
        for (params, field) in [
            (json!({"id": grant["id"], "personId": ann["id"], "oldCard": "stolen"}), "oldCard"),
            (json!({"id": grant["id"], "personId": ann["id"], "oldCard": "lost", "policy": "strict"}), "keyRef"),
            (json!({"id": grant["id"], "personId": ann["id"], "oldCard": "lost", "keyRef": "KC-01"}), "keyRef"),
            (json!({"id": grant["id"], "personId": bob["id"], "oldCard": "lost"}), "personId"),
        ] {
            o.err("grants.replaceKeycard", params).await.assert_invalid(field);
        }
        let other = app.other_organisation().await;
        other.err("grants.replaceKeycard", json!({"id": grant["id"], "personId": ann["id"], "oldCard": "lost"})).await
            .assert_kind(-32004, "NOT_FOUND");
        let installer = app.user("installer").await;
        installer.err("grants.replaceKeycard", json!({"id": grant["id"], "personId": ann["id"], "oldCard": "lost"})).await
            .assert_kind(-32003, "FORBIDDEN");
        assert_eq!(status_of(o, &kc3).await, "issued");
        assert_eq!(o.ok("audit.list", json!({"action": "grant.keycardReplaced"})).await["total"], 2);
    }

    async fn a_keycard_replaced_as_lost_exposes_what_marking_it_lost_would(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let new_door = |name: &'static str| o.ok("doors.create", json!({"developmentId": dev["id"], "name": name, "kind": "entrance"}));
        let (front, side, bins) = (new_door("Front").await, new_door("Side").await, new_door("Bins").await);
        let (kc1, _kc2) = (card(&app, &dev, "KC-01").await, card(&app, &dev, "KC-02").await);
        o.ok("keys.setDoors", json!({"id": kc1["id"], "doorIds": [front["id"], side["id"]]})).await;
        let code = |label: &str, door: &Value| {
            o.ok("keys.createAccessCode", json!({"developmentId": dev["id"], "codeType": "door", "label": label, "code": "4821", "doorIds": [door["id"]]}))
        };
        let (front_code, side_code, bins_code) = (code("Front code", &front).await, code("Side code", &side).await, code("Bins code", &bins).await);
        let ann = person(&app, "Ann").await;
        let grant = o.ok("grants.create", grant_params(&dev, &front, &[&ann], json!({"policy": "strict", "keyRef": "KC-01"}))).await;
        assert_eq!(o.ok("keys.summary", json!({})).await["doorsExposedByLostKeys"], 0);

        let answer = o.ok("grants.replaceKeycard", json!({"id": grant["id"], "personId": ann["id"], "oldCard": "lost"})).await;
        let (_, radius) = without_blast_radius(answer);
        // The answer is the old card's blast radius, as keys.blastRadius reads it now.
        assert_eq!(radius, o.ok("keys.blastRadius", json!({"id": kc1["id"]})).await);
        assert_eq!((radius["keyId"].clone(), radius["status"].clone()), (kc1["id"].clone(), json!("lost")));
        let door_ids: Vec<Value> = radius["doors"].as_array().unwrap().iter().map(|d| d["id"].clone()).collect();
        assert_eq!(HashSet::<String>::from_iter(door_ids.iter().map(|d| d.as_str().unwrap().to_owned())),
            HashSet::from([front["id"].as_str().unwrap().to_owned(), side["id"].as_str().unwrap().to_owned()]));
        assert!(radius["accessCodes"].as_array().unwrap().iter().all(|c| c["rotationDue"] == true), "{radius}");
        // The codes at its doors are due, each with one key_lost reason naming the card;
        // the code at a door it does not open is not.
        let page = o.ok("keys.listAccessCodes", json!({"rotationDue": true})).await;
        let mut due: Vec<(Value, Vec<Value>)> = page["items"].as_array().unwrap().iter()
            .map(|c| (c["id"].clone(), c["rotationReasons"].as_array().unwrap().iter().filter(|r| r["kind"] == "key_lost").map(|r| r["keyId"].clone()).collect()))
            .collect();
        due.sort_by_key(|(id, _)| id.as_str().unwrap().to_owned());
        let mut want = vec![(front_code["id"].clone(), vec![kc1["id"].clone()]), (side_code["id"].clone(), vec![kc1["id"].clone()])];
        want.sort_by_key(|(id, _)| id.as_str().unwrap().to_owned());
        assert_eq!(due, want);
        assert!(!page["items"].as_array().unwrap().iter().any(|c| c["id"] == bins_code["id"]));
        // Its doors count as exposed by a lost key, as after keys.markLost.
        assert_eq!(o.ok("keys.summary", json!({})).await["doorsExposedByLostKeys"], 2);
        assert_eq!(o.ok("audit.list", json!({"action": "key.marked_lost"})).await["total"], 1);
    }

    async fn removing_a_person_or_ending_the_grant_ends_their_keycards_and_asks_the_cards_back(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let front = o.ok("doors.create", json!({"developmentId": dev["id"], "name": "Front", "kind": "entrance"})).await;
        let (kc1, kc2) = (card(&app, &dev, "KC-01").await, card(&app, &dev, "KC-02").await);
        let (ann, bob) = (person(&app, "Ann").await, person(&app, "Bob").await);
        let grant = o.ok("grants.create", grant_params(&dev, &front, &[&ann, &bob], json!({"policy": "random"}))).await;
        let card_of = |grant: &Value, who: &Value| {
            grant["keycards"].as_array().unwrap().iter().find(|c| c["personId"] == who["id"]).map(|c| c["keyId"].clone())
        };
        let (ann_card, bob_card) = (card_of(&grant, &ann).unwrap(), card_of(&grant, &bob).unwrap());
        assert_eq!(HashSet::from([ann_card.clone(), bob_card.clone()]), HashSet::from([kc1["id"].clone(), kc2["id"].clone()]));
        let key = |id: Value| async move { o.ok("keys.getKey", json!({"id": id})).await };

        let removed = o.ok("grants.removePeople", json!({"id": grant["id"], "personIds": [ann["id"]]})).await;
        assert_eq!((card_of(&removed, &ann), card_of(&removed, &bob)), (None, Some(bob_card.clone())), "{removed}");
        let card = key(ann_card.clone()).await;
        assert_eq!((card["status"].clone(), card["returnRequested"].clone()), (json!("issued"), json!(true)), "{card}");
        assert_eq!(key(bob_card.clone()).await["returnRequested"], false);
        let event = &o.ok("audit.list", json!({"action": "grant.peopleRemoved"})).await["items"][0];
        assert!(event["changes"].as_array().unwrap().iter().any(|c| c["field"] == "keycardsEnded" && c["to"] == "1"), "{event}");
        // The card is still with Ann: never offered to anyone else until it comes back.
        let carl = person(&app, "Carl").await;
        o.err("grants.create", grant_params(&dev, &front, &[&carl], json!({"policy": "random"}))).await
            .assert_kind(-32009, "KEYCARD_UNAVAILABLE");

        let ended = o.ok("grants.end", json!({"id": grant["id"]})).await;
        assert_eq!(ended["keycards"], json!([]), "{ended}");
        assert_eq!(key(bob_card).await["returnRequested"], true);
        // Once Ann's card is returned it is free again.
        o.ok("keys.returnKey", json!({"id": ann_card})).await;
        o.ok("keys.returnToStock", json!({"id": ann_card})).await;
        let again = o.ok("grants.create", grant_params(&dev, &front, &[&carl], json!({"policy": "random"}))).await;
        assert_eq!(card_of(&again, &carl), Some(ann_card));
    }
}
