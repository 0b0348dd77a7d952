//! Changing access grants (issue 12 §3): `grants.update` applies to every holder at once
//! (checked with `access.check` for two people), adding a door allocates the holders'
//! doorcodes there and removing one ends them; `grants.addPeople`, `grants.removePeople`
//! and `grants.end` start and end credentials, freeing their codes; roles, isolation,
//! bad input and a race.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::TestApp;

const MISSING_ID: &str = "01900000-0000-7000-8000-000000000000";
const WEEKDAYS: [&str; 5] = ["mon", "tue", "wed", "thu", "fri"];
/// Monday 5 July 2027, 09:00 BST, and 10:30 BST.
const MONDAY_NINE: &str = "2027-07-05T08:00:00Z";
const MONDAY_HALF_TEN: &str = "2027-07-05T09:30:00Z";

async fn door(app: &TestApp, development: &Value, name: &str) -> Value {
    app.owner.ok("doors.create", json!({"developmentId": development["id"], "name": name, "kind": "entrance"})).await
}

async fn person(app: &TestApp, name: &str) -> Value {
    app.owner.ok("people.create", json!({"name": name, "kind": "staff"})).await
}

async fn check(app: &TestApp, person: &Value, door: &Value, at: &str) -> Value {
    app.owner.ok("access.check", json!({"personId": person["id"], "doorId": door["id"], "at": at})).await
}

/// The active doorcodes of a grant answer, as (personId, doorId) pairs.
fn holdings(grant: &Value) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = grant["doorcodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| (code["personId"].as_str().unwrap().to_owned(), code["doorId"].as_str().unwrap().to_owned()))
        .collect();
    pairs.sort();
    pairs
}

fn pair(person: &Value, door: &Value) -> (String, String) {
    (person["id"].as_str().unwrap().to_owned(), door["id"].as_str().unwrap().to_owned())
}

/// The stored lookup hash of a doorcode (equal hashes: equal codes).
fn lookup(app: &TestApp, doorcode_id: &Value) -> String {
    app.db
        .texts(&format!("SELECT code_lookup AS v FROM doorcodes WHERE id = '{}'", doorcode_id.as_str().unwrap()))
        .remove(0)
}

fn doorcode_of<'a>(grant: &'a Value, person: &Value, door: &Value) -> &'a Value {
    let codes = grant["doorcodes"].as_array().unwrap();
    codes
        .iter()
        .find(|c| c["personId"] == person["id"] && c["doorId"] == door["id"])
        .unwrap_or_else(|| panic!("{codes:?}"))
}

async fn events(app: &TestApp, action: &str) -> Value {
    app.owner.ok("audit.list", json!({"action": action})).await
}

on_both_databases! {
    async fn editing_a_grant_applies_to_every_holder_at_once(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let (front, gate) = (door(&app, &dev, "Front entrance").await, door(&app, &dev, "Car park gate").await);
        let (ann, bob) = (person(&app, "Ann Staff").await, person(&app, "Bob Staff").await);
        let grant = o.ok("grants.create", json!({
            "developmentId": dev["id"], "name": "Staff", "startsAt": "2027-01-01T00:00:00Z",
            "doors": [{"doorId": front["id"], "schedule": [{"days": WEEKDAYS, "start": "09:00", "end": "17:00"}]}],
            "personIds": [ann["id"], bob["id"]], "doorcode": {"policy": "random"},
        })).await;
        for someone in [&ann, &bob] {
            assert_eq!(check(&app, someone, &front, MONDAY_NINE).await["allowed"], true);
            assert_eq!(check(&app, someone, &gate, MONDAY_NINE).await["reason"], "no_grant");
        }

        // A later start at the front door, and the gate at any time: for both at once.
        let updated = o.ok("grants.update", json!({"id": grant["id"], "expectedVersion": 1, "name": "Day staff",
            "doors": [
                {"doorId": front["id"], "schedule": [{"days": WEEKDAYS, "start": "10:00", "end": "17:00"}]},
                {"doorId": gate["id"]},
            ]})).await;
        assert_eq!((updated["name"].clone(), updated["version"].clone()), (json!("Day staff"), json!(2)));
        assert_eq!(holdings(&updated), {
            let mut all = vec![pair(&ann, &front), pair(&ann, &gate), pair(&bob, &front), pair(&bob, &gate)];
            all.sort();
            all
        });
        assert_eq!(o.ok("grants.get", json!({"id": grant["id"]})).await, updated);
        for someone in [&ann, &bob] {
            let early = check(&app, someone, &front, MONDAY_NINE).await;
            assert_eq!((early["reason"].clone(), early["nextAllowedAt"].clone()), (json!("out_of_schedule"), json!("2027-07-05T09:00:00Z")));
            let at_gate = check(&app, someone, &gate, MONDAY_NINE).await;
            assert_eq!(at_gate["allowed"], true);
            assert_eq!(at_gate["doorcodeId"], doorcode_of(&updated, someone, &gate)["id"]);
            assert_eq!(check(&app, someone, &front, MONDAY_HALF_TEN).await["allowed"], true);
        }
        // The holder keeps one code where it is free: the same at the gate as at the front.
        for someone in [&ann, &bob] {
            assert_eq!(lookup(&app, &doorcode_of(&updated, someone, &gate)["id"]), lookup(&app, &doorcode_of(&updated, someone, &front)["id"]));
        }
        let event = &events(&app, "grant.updated").await["items"][0];
        let fields: Vec<&str> = event["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&"name") && fields.contains(&"doorIds"), "{fields:?}");
        assert!(fields.iter().any(|f| f.ends_with(".schedule")), "{fields:?}");

        // The period, for both: an end in 2027 closes the door after it.
        let ended_soon = o.ok("grants.update", json!({"id": grant["id"], "endsAt": "2027-07-01T00:00:00Z"})).await;
        assert_eq!(ended_soon["endsAt"], "2027-07-01T00:00:00Z");
        for someone in [&ann, &bob] {
            assert_eq!(check(&app, someone, &gate, MONDAY_NINE).await["reason"], "outside_access_period");
        }
        let reopened = o.ok("grants.update", json!({"id": grant["id"], "endsAt": null})).await;
        assert_eq!((reopened["endsAt"].clone(), reopened["version"].clone()), (Value::Null, json!(4)));

        // Removing the front door ends its doorcodes; the gate's stay.
        let gate_only = o.ok("grants.update", json!({"id": grant["id"], "doors": [{"doorId": gate["id"]}]})).await;
        assert_eq!(holdings(&gate_only), vec![pair(&ann, &gate), pair(&bob, &gate)]);
        let ended = doorcode_of(&updated, &ann, &front)["id"].as_str().unwrap().to_owned();
        assert_eq!(app.db.texts(&format!("SELECT status || ' ' || end_reason AS v FROM doorcodes WHERE id = '{ended}'")), ["ended door_removed"]);
        for someone in [&ann, &bob] {
            assert_eq!(check(&app, someone, &front, MONDAY_HALF_TEN).await["reason"], "no_grant");
        }
        // No change: the same grant, no new version, no event.
        let same = o.ok("grants.update", json!({"id": grant["id"], "name": "Day staff", "doors": [{"doorId": gate["id"]}]})).await;
        assert_eq!(same, gate_only);
        assert_eq!(events(&app, "grant.updated").await["total"], 4);

        // Stale version, bad input: refused, nothing changes.
        o.err("grants.update", json!({"id": grant["id"], "expectedVersion": 1, "name": "X"})).await.assert_kind(-32009, "VERSION_CONFLICT");
        let elm = app.development("Elm Court").await;
        let elm_door = door(&app, &elm, "Elm gate").await;
        for (params, field) in [
            (json!({"name": " "}), "name"),
            (json!({"doors": []}), "doors"),
            (json!({"doors": [{"doorId": gate["id"]}, {"doorId": gate["id"]}]}), "doors[1].doorId"),
            (json!({"doors": [{"doorId": elm_door["id"]}]}), "doors[0].doorId"),
            (json!({"doors": [{"doorId": gate["id"], "schedule": [{"days": ["mon"], "start": "17:00", "end": "09:00"}]}]}), "doors[0].schedule[0].end"),
            (json!({"startsAt": "2030-01-01T00:00:00Z", "endsAt": "2029-01-01T00:00:00Z"}), "endsAt"),
            (json!({"endsAt": "2020-01-01T00:00:00Z"}), "endsAt"),
            (json!({"startsAt": "soon"}), "startsAt"),
            (json!({"colour": "red"}), "colour"),
        ] {
            let mut params = params;
            params["id"] = grant["id"].clone();
            o.err("grants.update", params).await.assert_invalid(field);
        }
        o.err("grants.update", json!({"id": grant["id"], "doors": [{"doorId": MISSING_ID}]})).await.assert_kind(-32004, "NOT_FOUND");
        o.err("grants.update", json!({"id": MISSING_ID, "name": "X"})).await.assert_kind(-32004, "NOT_FOUND");
        assert_eq!(o.ok("grants.get", json!({"id": grant["id"]})).await, gate_only);
    }

    async fn a_door_added_to_a_grant_gets_codes_that_are_free_there(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let (front, gate) = (door(&app, &dev, "Front entrance").await, door(&app, &dev, "Car park gate").await);
        let (ann, bob) = (person(&app, "Ann Staff").await, person(&app, "Bob Staff").await);
        let strict = |someone: &Value, door: &Value, policy: &str| json!({
            "developmentId": dev["id"], "name": format!("Grant of {}", someone["name"]), "startsAt": "2027-01-01T00:00:00Z",
            "doors": [{"doorId": door["id"]}], "personIds": [someone["id"]], "doorcode": {"policy": policy, "code": "482913"}});
        // Bob has 482913 at the gate; Ann has it at the front door.
        o.ok("grants.create", strict(&bob, &gate, "strict")).await;
        let anns = o.ok("grants.create", strict(&ann, &front, "strict")).await;
        // Ann's strict grant cannot reach the gate with her code: CODE_TAKEN, nothing changes.
        let both = json!({"id": anns["id"], "doors": [{"doorId": front["id"]}, {"doorId": gate["id"]}]});
        let taken = o.err("grants.update", both.clone()).await;
        taken.assert_kind(-32009, "CODE_TAKEN");
        assert_eq!(taken.data["doorId"], gate["id"]);
        assert!(!taken.message.contains("482913"));
        assert_eq!(o.ok("grants.get", json!({"id": anns["id"]})).await, anns);
        // Cat's preferred grant has 482913 at the bins; Bob has it at the gate, so the gate
        // gives her a random code there instead: her code differs per door.
        let cat = person(&app, "Cat Staff").await;
        let bins = door(&app, &dev, "Bin store").await;
        let cats = o.ok("grants.create", strict(&cat, &bins, "preferred")).await;
        let widened = o.ok("grants.update", json!({"id": cats["id"], "doors": [{"doorId": bins["id"]}, {"doorId": gate["id"]}]})).await;
        let (at_bins, at_gate) = (doorcode_of(&widened, &cat, &bins), doorcode_of(&widened, &cat, &gate));
        assert_eq!(at_bins["id"], doorcode_of(&cats, &cat, &bins)["id"], "the existing doorcode stays");
        assert_eq!(at_gate["status"], "active");
        let bobs_lookup = app.db.texts(&format!("SELECT code_lookup AS v FROM doorcodes WHERE person_id = '{}'", bob["id"].as_str().unwrap()));
        assert_ne!(lookup(&app, &at_gate["id"]), bobs_lookup[0], "never Bob's code at the gate");
        assert_ne!(lookup(&app, &at_gate["id"]), lookup(&app, &at_bins["id"]));
        assert_eq!(lookup(&app, &at_bins["id"]), lookup(&app, &doorcode_of(&anns, &ann, &front)["id"]), "482913 at the bins");

        // Bob leaves the gate: 482913 is free there again, and Ann's strict grant reaches it.
        let bobs = o.ok("grants.list", json!({"personId": bob["id"]})).await["items"][0].clone();
        let left = o.ok("grants.removePeople", json!({"id": bobs["id"], "personIds": [bob["id"]]})).await;
        assert_eq!((left["personIds"].clone(), left["doorcodes"].clone()), (json!([]), json!([])));
        let reached = o.ok("grants.update", both).await;
        assert_eq!(lookup(&app, &doorcode_of(&reached, &ann, &gate)["id"]), lookup(&app, &doorcode_of(&reached, &ann, &front)["id"]));
    }

    async fn people_come_and_go_and_an_ended_grant_stays_ended(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let front = door(&app, &dev, "Front entrance").await;
        let (ann, bob, cat) = (person(&app, "Ann").await, person(&app, "Bob").await, person(&app, "Cat").await);
        let grant = o.ok("grants.create", json!({"developmentId": dev["id"], "name": "Staff",
            "startsAt": "2027-01-01T00:00:00Z", "doors": [{"doorId": front["id"]}], "personIds": [ann["id"]],
            "doorcode": {"policy": "random"}})).await;
        // Bob with the code he asked for; Ann already holds it and is left as she is.
        let added = o.ok("grants.addPeople", json!({"id": grant["id"], "personIds": [bob["id"]],
            "doorcode": {"policy": "strict", "code": "735102"}})).await;
        assert_eq!(added["personIds"].as_array().unwrap().len(), 2);
        assert_eq!(added["version"], 2);
        let again = o.ok("grants.addPeople", json!({"id": grant["id"], "personIds": [ann["id"], bob["id"]]})).await;
        assert_eq!(again, added, "people who hold it already change nothing");
        assert_eq!(check(&app, &bob, &front, MONDAY_NINE).await["allowed"], true);
        // Cat cannot have Bob's code at that door; with the grant's policy she gets her own.
        let clash = o.err("grants.addPeople", json!({"id": grant["id"], "personIds": [cat["id"]],
            "doorcode": {"policy": "strict", "code": "735102"}})).await;
        clash.assert_kind(-32009, "CODE_TAKEN");
        assert_eq!(clash.data["doorId"], front["id"]);
        let with_cat = o.ok("grants.addPeople", json!({"id": grant["id"], "personIds": [cat["id"]]})).await;
        assert_eq!(with_cat["doorcodes"].as_array().unwrap().len(), 3);
        assert_eq!(events(&app, "grant.peopleAdded").await["total"], 2);

        // Removing Bob ends his doorcode and frees 735102 at the door.
        let bobs_code = doorcode_of(&with_cat, &bob, &front)["id"].as_str().unwrap().to_owned();
        let without_bob = o.ok("grants.removePeople", json!({"id": grant["id"], "personIds": [bob["id"], MISSING_ID]})).await;
        assert_eq!(without_bob["personIds"].as_array().unwrap().len(), 2);
        assert_eq!(holdings(&without_bob), {
            let mut held = vec![pair(&ann, &front), pair(&cat, &front)];
            held.sort();
            held
        });
        assert_eq!(app.db.texts(&format!("SELECT status || ' ' || end_reason AS v FROM doorcodes WHERE id = '{bobs_code}'")), ["ended person_removed"]);
        assert_eq!(check(&app, &bob, &front, MONDAY_NINE).await["reason"], "no_grant");
        o.ok("grants.addPeople", json!({"id": grant["id"], "personIds": [bob["id"]],
            "doorcode": {"policy": "strict", "code": "735102"}})).await;
        let event = &events(&app, "grant.peopleRemoved").await["items"][0];
        assert_eq!(event["changes"][0], json!({"field": "personIds", "from": bob["id"], "to": null}));

        // Bad input changes nothing.
        let before = o.ok("grants.get", json!({"id": grant["id"]})).await;
        o.err("grants.addPeople", json!({"id": grant["id"], "personIds": []})).await.assert_invalid("personIds");
        o.err("grants.removePeople", json!({"id": grant["id"], "personIds": []})).await.assert_invalid("personIds");
        o.err("grants.addPeople", json!({"id": grant["id"], "personIds": [MISSING_ID]})).await.assert_kind(-32004, "NOT_FOUND");
        o.err("grants.addPeople", json!({"id": grant["id"], "personIds": [cat["id"], bob["id"]],
            "doorcode": {"policy": "strict", "code": "735102"}})).await.assert_invalid("doorcode.code");
        let gone = person(&app, "Gone").await;
        o.ok("people.archive", json!({"id": gone["id"]})).await;
        o.err("grants.addPeople", json!({"id": grant["id"], "personIds": [gone["id"]]})).await.assert_kind(-32009, "PERSON_ARCHIVED");
        let no_codes = o.ok("grants.create", json!({"developmentId": dev["id"], "name": "No codes",
            "startsAt": "2027-01-01T00:00:00Z", "doors": [{"doorId": front["id"]}]})).await;
        o.err("grants.addPeople", json!({"id": no_codes["id"], "personIds": [ann["id"]], "doorcode": {"policy": "random"}})).await.assert_invalid("doorcode");
        assert_eq!(o.ok("grants.addPeople", json!({"id": no_codes["id"], "personIds": [ann["id"]]})).await["doorcodes"], json!([]));
        o.err("grants.end", json!({"id": grant["id"], "at": "2999-01-01T00:00:00Z"})).await.assert_invalid("at");
        assert_eq!(o.ok("grants.get", json!({"id": grant["id"]})).await, before);

        // Ending the grant (before it starts) ends every doorcode; it never gave access.
        let ended = o.ok("grants.end", json!({"id": grant["id"]})).await;
        assert_eq!((ended["status"].clone(), ended["doorcodes"].clone()), (json!("ended"), json!([])));
        assert_eq!(ended["endsAt"], "2027-01-01T00:00:00Z");
        assert!(ended["endedAt"].is_string());
        let reasons = app.db.texts(&format!("SELECT DISTINCT status || ' ' || end_reason AS v FROM doorcodes WHERE grant_id = '{}' AND end_reason <> 'person_removed'", grant["id"].as_str().unwrap()));
        assert_eq!(reasons, ["ended grant_ended"]);
        for someone in [&bob, &cat] {
            assert_eq!(check(&app, someone, &front, MONDAY_NINE).await["reason"], "outside_access_period");
        }
        // Ended for good: no edit, no people; ending again answers it unchanged.
        let id = &grant["id"];
        o.err("grants.update", json!({"id": id, "name": "Back"})).await.assert_invalid("id");
        o.err("grants.addPeople", json!({"id": id, "personIds": [ann["id"]]})).await.assert_invalid("id");
        o.err("grants.removePeople", json!({"id": id, "personIds": [ann["id"]]})).await.assert_invalid("id");
        assert_eq!(o.ok("grants.end", json!({"id": id})).await, ended);
        assert_eq!(events(&app, "grant.ended").await["total"], 1);
        // Its codes are free again.
        o.ok("grants.create", json!({"developmentId": dev["id"], "name": "Bob again", "startsAt": "2027-01-01T00:00:00Z",
            "doors": [{"doorId": front["id"]}], "personIds": [bob["id"]], "doorcode": {"policy": "strict", "code": "735102"}})).await;
    }

    async fn a_grant_in_progress_ends_at_the_given_instant(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let front = door(&app, &dev, "Front entrance").await;
        let ann = person(&app, "Ann").await;
        let grant = o.ok("grants.create", json!({"developmentId": dev["id"], "name": "Staff",
            "startsAt": "2020-01-01T00:00:00Z", "doors": [{"doorId": front["id"]}], "personIds": [ann["id"]]})).await;
        assert_eq!(check(&app, &ann, &front, "2024-06-01T12:00:00Z").await["allowed"], true);
        let ended = o.ok("grants.end", json!({"id": grant["id"], "at": "2024-01-01T00:00:00Z"})).await;
        assert_eq!((ended["endsAt"].clone(), ended["version"].clone()), (json!("2024-01-01T00:00:00Z"), json!(2)));
        assert_eq!(check(&app, &ann, &front, "2023-12-31T12:00:00Z").await["allowed"], true);
        assert_eq!(check(&app, &ann, &front, "2024-06-01T12:00:00Z").await["reason"], "outside_access_period");
    }

    async fn only_editors_change_grants_and_only_their_own(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let front = door(&app, &dev, "Front entrance").await;
        let ann = person(&app, "Ann").await;
        let grant = app.owner.ok("grants.create", json!({"developmentId": dev["id"], "name": "Staff",
            "startsAt": "2027-01-01T00:00:00Z", "doors": [{"doorId": front["id"]}]})).await;
        let id = grant["id"].clone();
        let calls = [
            ("grants.update", json!({"id": id, "name": "Changed"})),
            ("grants.addPeople", json!({"id": id, "personIds": [ann["id"]]})),
            ("grants.removePeople", json!({"id": id, "personIds": [ann["id"]]})),
            ("grants.end", json!({"id": id})),
        ];
        for role in ["installer", "housekeeping"] {
            let client = app.user(role).await;
            for (procedure, params) in &calls {
                client.err(procedure, params.clone()).await.assert_kind(-32003, "FORBIDDEN");
            }
        }
        // Another organisation's editors: NOT_FOUND, whatever they name.
        let other = app.other_organisation().await;
        for (procedure, params) in &calls {
            other.err(procedure, params.clone()).await.assert_kind(-32004, "NOT_FOUND");
        }
        let their_dev = other.ok("developments.create", json!({"name": "Their Place"})).await;
        let their_door = other.ok("doors.create", json!({"developmentId": their_dev["id"], "name": "Gate", "kind": "gate"})).await;
        let their_person = other.ok("people.create", json!({"name": "Theirs", "kind": "staff"})).await;
        app.owner.err("grants.update", json!({"id": id, "doors": [{"doorId": their_door["id"]}]})).await.assert_kind(-32004, "NOT_FOUND");
        app.owner.err("grants.addPeople", json!({"id": id, "personIds": [their_person["id"]]})).await.assert_kind(-32004, "NOT_FOUND");
        assert_eq!(app.owner.ok("grants.get", json!({"id": id})).await, grant);
        // The team may, as owners and managers.
        let team = app.user("team").await;
        team.ok("grants.addPeople", json!({"id": id, "personIds": [ann["id"]]})).await;
        team.ok("grants.update", json!({"id": id, "name": "Changed"})).await;
        team.ok("grants.removePeople", json!({"id": id, "personIds": [ann["id"]]})).await;
        let manager = app.user("manager").await;
        assert_eq!(manager.ok("grants.end", json!({"id": id})).await["status"], "ended");
    }

    async fn twenty_people_added_at_once_with_one_strict_code_get_it_once(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let front = door(&app, &dev, "Front entrance").await;
        let mut grants = Vec::new();
        let mut people = Vec::new();
        for i in 0..20 {
            people.push(person(&app, &format!("Racer {i}")).await);
            grants.push(app.owner.ok("grants.create", json!({"developmentId": dev["id"], "name": format!("Grant {i}"),
                "startsAt": "2027-01-01T00:00:00Z", "doors": [{"doorId": front["id"]}], "doorcode": {"policy": "random"}})).await);
        }
        let calls = grants.iter().zip(&people).map(|(grant, someone)| {
            app.owner.call("grants.addPeople", json!({"id": grant["id"], "personIds": [someone["id"]],
                "doorcode": {"policy": "strict", "code": "582047"}}))
        });
        let results = join_all(calls).await;
        let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        for loser in results.iter().filter_map(|r| r.as_ref().err()) {
            loser.assert_kind(-32009, "CODE_TAKEN");
        }
        let active = app.db.texts("SELECT id AS v FROM doorcodes WHERE status = 'active'");
        assert_eq!(active.len(), 1);
        // Random ones at once: twenty, all different at the door.
        let calls = grants.iter().zip(&people).map(|(grant, someone)| {
            app.owner.call("grants.addPeople", json!({"id": grant["id"], "personIds": [someone["id"]]}))
        });
        assert!(join_all(calls).await.iter().all(|r| r.is_ok()));
        let lookups = app.db.texts("SELECT DISTINCT code_lookup AS v FROM doorcodes WHERE status = 'active'");
        assert_eq!(lookups.len(), 20);
    }
}

on_both_databases! {
    async fn the_owner_sets_the_doorcode_length(app: TestApp) {
        let o = &app.owner;
        assert_eq!(o.ok("settings.get", json!({})).await["doorcodeLength"], 6);
        let set = o.ok("settings.update", json!({"doorcodeLength": 4})).await;
        assert_eq!(set, json!({"maskCodesInLists": false, "doorcodeLength": 4}));
        let housekeeping = app.user("housekeeping").await;
        assert_eq!(housekeeping.ok("settings.get", json!({})).await, set);
        let event = &events(&app, "organisation.settingsUpdated").await["items"][0];
        assert_eq!(event["changes"], json!([{"field": "doorcodeLength", "from": "6", "to": "4"}]));
        // The same again changes nothing; bad lengths are refused, and nothing changes.
        o.ok("settings.update", json!({"doorcodeLength": 4})).await;
        for bad in [json!(3), json!(9), json!(0), json!(-6), json!("6"), json!(6.5)] {
            o.err("settings.update", json!({"doorcodeLength": bad})).await.assert_invalid("doorcodeLength");
        }
        for role in ["manager", "team", "installer"] {
            app.user(role).await.err("settings.update", json!({"doorcodeLength": 8})).await.assert_kind(-32003, "FORBIDDEN");
        }
        assert_eq!(events(&app, "organisation.settingsUpdated").await["total"], 1);
        // Another organisation keeps its own.
        let other = app.other_organisation().await;
        assert_eq!(other.ok("settings.get", json!({})).await["doorcodeLength"], 6);
        assert_eq!(o.ok("settings.get", json!({})).await["doorcodeLength"], 4);

        // `random` draws codes of that length. The value is never answered, but its sealed
        // form is base64 of nonce (12) + code + tag (16) bytes: 44 characters for 4 digits,
        // 48 for 6.
        let dev = app.development("Oak Park").await;
        let front = door(&app, &dev, "Front entrance").await;
        let ann = person(&app, "Ann").await;
        let grant = |name: &str| json!({"developmentId": dev["id"], "name": name, "startsAt": "2027-01-01T00:00:00Z",
            "doors": [{"doorId": front["id"]}], "personIds": [ann["id"]], "doorcode": {"policy": "random"}});
        let sealed_length = |grant: &Value| {
            app.db.texts(&format!("SELECT CAST(LENGTH(code_sealed) AS TEXT) AS v FROM doorcodes WHERE id = '{}'",
                grant["doorcodes"][0]["id"].as_str().unwrap()))
        };
        let short = o.ok("grants.create", grant("Four digits")).await;
        assert_eq!(sealed_length(&short), ["44"]);
        o.ok("settings.update", json!({"doorcodeLength": 6})).await;
        let long = o.ok("grants.create", grant("Six digits")).await;
        assert_eq!(sealed_length(&long), ["48"]);
    }
}
