//! Access grants (issue 12 §3, §4): grants with doors, weekly schedules and people; their
//! doorcodes allocated by policy (and raced); `access.check` inside and outside the
//! schedule, across the spring and autumn changes in Europe/London; isolation.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::server::{SECRET_KEY, command, spawn_server};
use crate::support::{Backend, Client, TestApp};

const MISSING_ID: &str = "01900000-0000-7000-8000-000000000000";

async fn door(app: &TestApp, development: &Value, name: &str) -> Value {
    app.owner.ok("doors.create", json!({"developmentId": development["id"], "name": name, "kind": "entrance"})).await
}

async fn person(app: &TestApp, name: &str) -> Value {
    app.owner.ok("people.create", json!({"name": name, "kind": "staff"})).await
}

async fn grants_total(app: &TestApp) -> Value {
    app.owner.ok("grants.list", json!({})).await["total"].clone()
}

const WEEKDAYS: [&str; 5] = ["mon", "tue", "wed", "thu", "fri"];

on_both_databases! {
    async fn a_grant_gives_doors_on_a_schedule_and_a_doorcode_per_door(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let (front, bins) = (door(&app, &dev, "Front entrance").await, door(&app, &dev, "Bin store").await);
        let ann = person(&app, "Ann Staff").await;
        let grant = o.ok("grants.create", json!({
            "developmentId": dev["id"], "name": " Cleaners ", "startsAt": "2027-01-01T00:00:00Z",
            "doors": [
                {"doorId": front["id"], "schedule": [{"days": ["fri", "mon", "mon"], "start": "09:00", "end": "17:00"}]},
                {"doorId": bins["id"]},
            ],
            "personIds": [ann["id"], ann["id"]],
            "doorcode": {"policy": "random"},
        })).await;
        assert_eq!(grant["name"], "Cleaners");
        assert_eq!((grant["endsAt"].clone(), grant["version"].clone(), grant["doorcodePolicy"].clone()), (Value::Null, json!(1), json!("random")));
        assert_eq!(grant["personIds"], json!([ann["id"]]));
        let doors = grant["doors"].as_array().unwrap();
        assert_eq!(doors.len(), 2);
        let front_door = doors.iter().find(|d| d["doorId"] == front["id"]).unwrap();
        assert_eq!(front_door["schedule"], json!([{"days": ["mon", "fri"], "start": "09:00", "end": "17:00"}]));
        let bins_door = doors.iter().find(|d| d["doorId"] == bins["id"]).unwrap();
        assert_eq!(bins_door["schedule"], json!([]));
        let codes = grant["doorcodes"].as_array().unwrap();
        assert_eq!(codes.len(), 2, "one doorcode per door: {codes:?}");
        for code in codes {
            assert_eq!((code["personId"].clone(), code["status"].clone()), (ann["id"].clone(), json!("active")));
            assert!(code.get("code").is_none(), "no value in the answer");
        }
        assert_eq!(o.ok("grants.get", json!({"id": grant["id"]})).await, grant);
        let by_person = o.ok("grants.list", json!({"personId": ann["id"]})).await;
        assert_eq!(by_person["items"], json!([grant.clone()]));
        let other_dev = app.development("Elm Court").await;
        assert_eq!(o.ok("grants.list", json!({"developmentId": other_dev["id"]})).await["total"], 0);
        let events = o.ok("audit.list", json!({"action": "grant.created"})).await;
        assert_eq!(events["total"], 1);
        assert_eq!(events["items"][0]["entityId"], grant["id"]);

        // Bad input is INVALID_INPUT on the field, and creates nothing.
        let base = json!({"developmentId": dev["id"], "name": "X", "startsAt": "2027-01-01T00:00:00Z",
            "doors": [{"doorId": front["id"]}], "personIds": [ann["id"]]});
        let with = |patch: Value| {
            let mut params = base.clone();
            for (k, v) in patch.as_object().unwrap() {
                params[k] = v.clone();
            }
            params
        };
        for (patch, field) in [
            (json!({"name": " "}), "name"),
            (json!({"doors": []}), "doors"),
            (json!({"doors": [{"doorId": front["id"]}, {"doorId": front["id"]}]}), "doors[1].doorId"),
            (json!({"doors": [{"doorId": front["id"], "schedule": [{"days": ["mon"], "start": "9:00", "end": "17:00"}]}]}), "doors[0].schedule[0].start"),
            (json!({"doors": [{"doorId": front["id"], "schedule": [{"days": ["mon"], "start": "22:00", "end": "06:00"}]}]}), "doors[0].schedule[0].end"),
            (json!({"doors": [{"doorId": front["id"], "schedule": [{"days": [], "start": "09:00", "end": "17:00"}]}]}), "doors[0].schedule[0].days"),
            (json!({"endsAt": "2026-12-31T00:00:00Z"}), "endsAt"),
            (json!({"doorcode": {"policy": "random", "code": "482913"}}), "doorcode.code"),
            (json!({"doorcode": {"policy": "strict"}}), "doorcode.code"),
            (json!({"doorcode": {"policy": "strict", "code": "1234"}}), "doorcode.code"),
            (json!({"doorcode": {"policy": "strict", "code": "25121999"}}), "doorcode.code"),
            (json!({"doorcode": {"policy": "strict", "code": "12ab"}}), "doorcode.code"),
            (json!({"doorcode": {"policy": "sometimes"}}), "doorcode.policy"),
            (json!({"doors": [{"doorId": front["id"], "schedule": [], "extra": 1}]}), "doors[0].extra"),
        ] {
            o.err("grants.create", with(patch.clone())).await.assert_invalid(field);
        }
        let elm_door = door(&app, &other_dev, "Elm gate").await;
        o.err("grants.create", with(json!({"doors": [{"doorId": elm_door["id"]}]}))).await.assert_invalid("doors[0].doorId");
        o.err("grants.create", with(json!({"doors": [{"doorId": MISSING_ID}]}))).await.assert_kind(-32004, "NOT_FOUND");
        o.err("grants.create", with(json!({"personIds": [MISSING_ID]}))).await.assert_kind(-32004, "NOT_FOUND");
        o.err("grants.create", with(json!({"developmentId": MISSING_ID}))).await.assert_kind(-32004, "NOT_FOUND");
        let gone = person(&app, "Gone Person").await;
        o.ok("people.archive", json!({"id": gone["id"]})).await;
        o.err("grants.create", with(json!({"personIds": [gone["id"]]}))).await.assert_kind(-32009, "PERSON_ARCHIVED");
        assert_eq!(grants_total(&app).await, 1, "no refused call created a grant");
        assert_eq!(o.ok("audit.list", json!({"action": "grant.created"})).await["total"], 1);
        // A door of a grant is in use.
        o.err("doors.delete", json!({"id": bins["id"]})).await.assert_kind(-32009, "DOOR_IN_USE");
        assert_eq!(o.ok("doors.get", json!({"id": bins["id"]})).await["id"], bins["id"]);
    }

    async fn a_page_of_grants_shows_each_grant_as_get_does(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let (front, gate, bins) =
            (door(&app, &dev, "Front").await, door(&app, &dev, "Gate").await, door(&app, &dev, "Bins").await);
        let (ann, bob) = (person(&app, "Ann").await, person(&app, "Bob").await);
        let create = |name: &str, doors: Value, people: Value| {
            json!({"developmentId": dev["id"], "name": name, "startsAt": "2027-01-01T00:00:00Z",
                "doors": doors, "personIds": people, "doorcode": {"policy": "random"}})
        };
        let mut created = Vec::new();
        for params in [
            create("Cleaners", json!([{"doorId": front["id"]}, {"doorId": bins["id"]}]), json!([ann["id"]])),
            create("Gardeners", json!([{"doorId": gate["id"], "schedule": [{"days": ["sat"], "start": "08:00", "end": "12:00"}]}]),
                json!([ann["id"], bob["id"]])),
            create("Nobody yet", json!([{"doorId": front["id"]}]), json!([])),
        ] {
            let grant = o.ok("grants.create", params).await;
            assert_eq!(o.ok("grants.get", json!({"id": grant["id"]})).await, grant);
            created.push(grant);
        }
        // Doors, people and doorcodes are read for the whole page at once: each grant
        // still gets exactly its own.
        let page = o.ok("grants.list", json!({})).await;
        assert_eq!(page["items"], json!(created));
        assert_eq!(created[1]["doorcodes"].as_array().unwrap().len(), 2, "one doorcode per person at the gate");
        assert_eq!(created[2]["doorcodes"], json!([]));
    }

    async fn access_is_checked_on_the_developments_wall_clock(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let (front, plant) = (door(&app, &dev, "Front entrance").await, door(&app, &dev, "Plant room").await);
        let (ann, bob) = (person(&app, "Ann Staff").await, person(&app, "Bob Other").await);
        let grant = o.ok("grants.create", json!({
            "developmentId": dev["id"], "name": "Staff", "startsAt": "2027-01-01T00:00:00Z", "endsAt": "2028-01-01T00:00:00Z",
            "doors": [{"doorId": front["id"], "schedule": [
                {"days": WEEKDAYS, "start": "09:00", "end": "17:00"},
                {"days": ["sun"], "start": "00:30", "end": "03:00"},
            ]}],
            "personIds": [ann["id"]], "doorcode": {"policy": "random"},
        })).await;
        let doorcode_id = grant["doorcodes"][0]["id"].clone();
        let check = |person: &Value, door: &Value, at: &str| {
            o.ok("access.check", json!({"personId": person["id"], "doorId": door["id"], "at": at}))
        };
        // Monday 5 July 2027, 09:00 BST.
        let inside = check(&ann, &front, "2027-07-05T08:00:00Z").await;
        assert_eq!(inside, json!({
            "personId": ann["id"], "doorId": front["id"], "at": "2027-07-05T08:00:00Z", "allowed": true,
            "grantId": grant["id"], "doorcodeId": doorcode_id, "reason": null, "nextAllowedAt": null,
        }));
        // Friday 17:00 BST: next Sunday 00:30 BST; Sunday 03:00 BST: next Monday 09:00 BST.
        let after_work = check(&ann, &front, "2027-07-09T16:00:00Z").await;
        assert_eq!((after_work["allowed"].clone(), after_work["reason"].clone()), (json!(false), json!("out_of_schedule")));
        assert_eq!(after_work["nextAllowedAt"], "2027-07-10T23:30:00Z");
        assert_eq!(check(&ann, &front, "2027-07-11T02:00:00Z").await["nextAllowedAt"], "2027-07-12T08:00:00Z");
        assert_eq!(after_work["grantId"], Value::Null);
        // January is GMT: 08:30 UTC is 08:30 on the wall, before the window.
        assert_eq!(check(&ann, &front, "2027-01-04T08:30:00Z").await["nextAllowedAt"], "2027-01-04T09:00:00Z");
        let before = check(&ann, &front, "2026-12-31T10:00:00Z").await;
        assert_eq!((before["reason"].clone(), before["nextAllowedAt"].clone()), (json!("outside_access_period"), json!("2027-01-01T09:00:00Z")));
        let over = check(&ann, &front, "2028-01-03T10:00:00Z").await;
        assert_eq!((over["reason"].clone(), over["nextAllowedAt"].clone()), (json!("outside_access_period"), Value::Null));
        assert_eq!(check(&ann, &plant, "2027-07-05T08:00:00Z").await["reason"], "no_grant");
        assert_eq!(check(&bob, &front, "2027-07-05T08:00:00Z").await["reason"], "no_grant");

        // Sunday 00:30–03:00 over the spring change (28 March 2027, 01:00 GMT → 02:00 BST).
        assert_eq!(check(&ann, &front, "2027-03-28T00:45:00Z").await["allowed"], true); // 00:45 GMT
        assert_eq!(check(&ann, &front, "2027-03-28T01:30:00Z").await["allowed"], true); // 02:30 BST
        let spring = check(&ann, &front, "2027-03-28T02:00:00Z").await; // 03:00 BST
        assert_eq!((spring["allowed"].clone(), spring["nextAllowedAt"].clone()), (json!(false), json!("2027-03-29T08:00:00Z")));
        // And over the autumn change (31 October 2027, 02:00 BST → 01:00 GMT): open 3.5 hours.
        assert_eq!(check(&ann, &front, "2027-10-30T23:15:00Z").await["allowed"], false); // 00:15 BST
        assert_eq!(check(&ann, &front, "2027-10-30T23:30:00Z").await["allowed"], true); // 00:30 BST
        assert_eq!(check(&ann, &front, "2027-10-31T01:30:00Z").await["allowed"], true); // 01:30 GMT
        assert_eq!(check(&ann, &front, "2027-10-31T02:59:59Z").await["allowed"], true); // 02:59:59 GMT
        assert_eq!(check(&ann, &front, "2027-10-31T03:00:00Z").await["allowed"], false);

        // Without `at`: now (before the grant starts).
        let now = o.ok("access.check", json!({"personId": ann["id"], "doorId": front["id"]})).await;
        assert_eq!(now["reason"], "outside_access_period");
        o.err("access.check", json!({"personId": ann["id"], "doorId": front["id"], "at": "soon"})).await.assert_invalid("at");
        o.err("access.check", json!({"personId": MISSING_ID, "doorId": front["id"]})).await.assert_kind(-32004, "NOT_FOUND");
        o.err("access.check", json!({"personId": ann["id"], "doorId": MISSING_ID})).await.assert_kind(-32004, "NOT_FOUND");
        for role in ["installer", "housekeeping"] {
            let client = app.user(role).await;
            let answer = client.ok("access.check", json!({"personId": ann["id"], "doorId": front["id"], "at": "2027-07-05T08:00:00Z"})).await;
            assert_eq!(answer, inside);
            client.err("grants.get", json!({"id": grant["id"]})).await.assert_kind(-32003, "FORBIDDEN");
        }
    }

    async fn a_strict_code_taken_at_a_door_is_refused_naming_the_door(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let (front, gate) = (door(&app, &dev, "Front entrance").await, door(&app, &dev, "Car park gate").await);
        let (ann, bob) = (person(&app, "Ann Staff").await, person(&app, "Bob Staff").await);
        let strict = |person: &Value, doors: Value, code: &str| json!({
            "developmentId": dev["id"], "name": "Staff", "startsAt": "2027-01-01T00:00:00Z",
            "doors": doors, "personIds": [person["id"]], "doorcode": {"policy": "strict", "code": code},
        });
        o.ok("grants.create", strict(&ann, json!([{"doorId": front["id"]}]), "482913")).await;
        // Bob's grant covers the gate (free) and the front door (taken): refused, naming it.
        let taken = o.err("grants.create", strict(&bob, json!([{"doorId": gate["id"]}, {"doorId": front["id"]}]), "482913")).await;
        taken.assert_kind(-32009, "CODE_TAKEN");
        assert_eq!(taken.data["doorId"], front["id"]);
        assert!(!taken.message.contains("482913"));
        assert_eq!(grants_total(&app).await, 1, "nothing changed");
        let raw = app.db.raw_contents(&["doorcodes", "grants", "audit_events"]);
        assert!(raw.contains("Staff"), "the check reads the stored rows");
        assert!(!raw.contains("482913"), "a doorcode in clear in the database");
        // At another door the same code is free; `preferred` never fails on it.
        o.ok("grants.create", strict(&bob, json!([{"doorId": gate["id"]}]), "482913")).await;
        let mut preferred = strict(&bob, json!([{"doorId": front["id"]}]), "482913");
        preferred["doorcode"]["policy"] = json!("preferred");
        let fallback = o.ok("grants.create", preferred).await;
        assert_eq!(fallback["doorcodes"].as_array().unwrap().len(), 1);
        o.err("grants.create", strict(&ann, json!([{"doorId": gate["id"]}]), "482913")).await.assert_kind(-32009, "CODE_TAKEN");
        // More than one person cannot share one given code.
        let mut two = strict(&ann, json!([{"doorId": gate["id"]}]), "735102");
        two["personIds"] = json!([ann["id"], bob["id"]]);
        o.err("grants.create", two).await.assert_invalid("doorcode.code");
    }

    async fn twenty_concurrent_strict_allocations_of_one_code_let_exactly_one_through(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let front = door(&app, &dev, "Front entrance").await;
        let mut people = Vec::new();
        for i in 0..20 {
            people.push(person(&app, &format!("Racer {i}")).await);
        }
        let calls = people.iter().map(|p| {
            app.owner.call("grants.create", json!({
                "developmentId": dev["id"], "name": format!("Grant of {}", p["name"]), "startsAt": "2027-01-01T00:00:00Z",
                "doors": [{"doorId": front["id"]}], "personIds": [p["id"]], "doorcode": {"policy": "strict", "code": "582047"},
            }))
        });
        let results = join_all(calls).await;
        let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        for loser in results.iter().filter_map(|r| r.as_ref().err()) {
            loser.assert_kind(-32009, "CODE_TAKEN");
            assert_eq!(loser.data["doorId"], front["id"]);
        }
        assert_eq!(grants_total(&app).await, 1);
        // Twenty random allocations at once all succeed, each with its own doorcode row.
        let calls = people.iter().map(|p| {
            app.owner.call("grants.create", json!({
                "developmentId": dev["id"], "name": "Random", "startsAt": "2027-01-01T00:00:00Z",
                "doors": [{"doorId": front["id"]}], "personIds": [p["id"]], "doorcode": {"policy": "random"},
            }))
        });
        let results = join_all(calls).await;
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        assert_eq!(grants_total(&app).await, 21);
    }

    async fn another_organisations_grants_people_and_doors_are_not_found(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let front = door(&app, &dev, "Front entrance").await;
        let ann = person(&app, "Ann Staff").await;
        let grant = o.ok("grants.create", json!({"developmentId": dev["id"], "name": "Staff",
            "startsAt": "2027-01-01T00:00:00Z", "doors": [{"doorId": front["id"]}], "personIds": [ann["id"]]})).await;
        let other = app.other_organisation().await;
        other.err("grants.get", json!({"id": grant["id"]})).await.assert_kind(-32004, "NOT_FOUND");
        assert_eq!(other.ok("grants.list", json!({})).await["total"], 0);
        assert_eq!(other.ok("grants.list", json!({"personId": ann["id"]})).await["total"], 0);
        other.err("access.check", json!({"personId": ann["id"], "doorId": front["id"]})).await.assert_kind(-32004, "NOT_FOUND");
        // Their own development, with our door or our person: NOT_FOUND, nothing created.
        let their_dev = other.ok("developments.create", json!({"name": "Their Place"})).await;
        let their_door = other.ok("doors.create", json!({"developmentId": their_dev["id"], "name": "Gate", "kind": "gate"})).await;
        let their_person = other.ok("people.create", json!({"name": "Their Person", "kind": "staff"})).await;
        let attempt = |development: &Value, door: &Value, person: &Value| json!({"developmentId": development["id"],
            "name": "Sneaky", "startsAt": "2027-01-01T00:00:00Z", "doors": [{"doorId": door["id"]}], "personIds": [person["id"]]});
        for params in [attempt(&their_dev, &front, &their_person), attempt(&their_dev, &their_door, &ann), attempt(&dev, &their_door, &their_person)] {
            other.err("grants.create", params).await.assert_kind(-32004, "NOT_FOUND");
        }
        assert_eq!(other.ok("grants.list", json!({})).await["total"], 0);
        other.err("access.check", json!({"personId": their_person["id"], "doorId": front["id"]})).await.assert_kind(-32004, "NOT_FOUND");
        assert_eq!(o.ok("grants.get", json!({"id": grant["id"]})).await, grant);
    }

    async fn rotating_the_secret_re_seals_doorcodes_and_their_lookups(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let front = door(&app, &dev, "Front entrance").await;
        let (ann, bob) = (person(&app, "Ann Staff").await, person(&app, "Bob Staff").await);
        let strict = |person: &Value| json!({"developmentId": dev["id"], "name": "Staff", "startsAt": "2027-01-01T00:00:00Z",
            "doors": [{"doorId": front["id"]}], "personIds": [person["id"]], "doorcode": {"policy": "strict", "code": "482913"}});
        app.owner.ok("grants.create", strict(&ann)).await;
        let new_key = "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0=";
        let current: Vec<(&str, &str)> =
            if app.db.backend == Backend::Postgres { vec![("KEYWARD_SECRET_KEY", SECRET_KEY)] } else { vec![] };
        let out = command()
            .args(["rotate-secret", "--database-url", &app.db.url])
            .envs(current.iter().copied())
            .env("KEYWARD_NEW_SECRET_KEY", new_key)
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("re-sealed 1 secrets"));
        // Under the new key the code is still found taken at the door: its lookup was re-keyed.
        let (_server, url) = spawn_server(&app.db.url, &[("KEYWARD_SECRET_KEY", new_key)]).await;
        let client = Client::new(&url, app.owner.token.clone());
        let taken = client.err("grants.create", strict(&bob)).await;
        taken.assert_kind(-32009, "CODE_TAKEN");
        assert_eq!(taken.data["doorId"], front["id"]);
    }
}
