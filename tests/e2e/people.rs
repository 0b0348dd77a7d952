//! The key-holder directory (issue 11): people and firms, keys issued to a person, and
//! the point-in-time answers from the key history.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::TestApp;

fn ids(page: &Value) -> Vec<Value> {
    page["items"].as_array().expect("items").iter().map(|i| i["id"].clone()).collect()
}

fn names(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
}

/// An instant of an answer moved by `micros` microseconds, as RFC 3339 with microseconds.
fn shifted(at: &Value, micros: i64) -> String {
    let at: DateTime<Utc> = at.as_str().expect("an instant").parse().expect("RFC 3339");
    (at + Duration::microseconds(micros)).to_rfc3339_opts(SecondsFormat::Micros, true)
}

async fn person(app: &TestApp, params: Value) -> Value {
    app.owner.ok("people.create", params).await
}

on_both_databases! {
    async fn people_and_firms_are_created_validated_updated_and_archived(app: TestApp) {
        let o = &app.owner;
        let firm = o.ok("firms.create", json!({"name": "Sparks Ltd", "phone": "020 7123 4567", "email": " Office@Sparks.TEST "})).await;
        assert_eq!((firm["phone"].clone(), firm["email"].clone(), firm["version"].clone()), (json!("+442071234567"), json!("office@sparks.test"), json!(1)));
        assert_eq!(firm["archived"], false);
        let dev = app.development("Oak Park").await;
        let me = o.ok("auth.me", json!({})).await["user"]["id"].clone();
        let eli = person(&app, json!({"name": "Eli Electrician", "kind": "contractor", "phone": "07400 123456",
            "email": "Eli@Sparks.test", "firmId": firm["id"], "userId": me, "notes": "Tuesdays"})).await;
        assert_eq!(eli["phone"], "+447400123456");
        assert_eq!(eli["email"], "eli@sparks.test");
        assert_eq!((eli["firmId"].clone(), eli["userId"].clone(), eli["kind"].clone()), (firm["id"].clone(), me.clone(), json!("contractor")));
        let rosa = person(&app, json!({"name": "Rosa Resident", "kind": "resident", "developmentId": dev["id"]})).await;
        assert_eq!(rosa["developmentId"], dev["id"]);
        assert_eq!(o.ok("people.get", json!({"id": eli["id"]})).await, eli);
        assert_eq!(o.ok("firms.get", json!({"id": firm["id"]})).await, firm);

        // Bad input is INVALID_INPUT on the field, and creates nothing.
        o.err("people.create", json!({"name": " ", "kind": "guest"})).await.assert_invalid("name");
        o.err("people.create", json!({"name": "X", "kind": "Guest"})).await.assert_invalid("kind");
        o.err("people.create", json!({"name": "X", "kind": "guest", "phone": "call me"})).await.assert_invalid("phone");
        o.err("people.create", json!({"name": "X", "kind": "guest", "phone": "123"})).await.assert_invalid("phone");
        o.err("people.create", json!({"name": "X", "kind": "guest", "email": "nobody"})).await.assert_invalid("email");
        o.err("firms.create", json!({"name": "Y", "email": "a@b"})).await.assert_invalid("email");
        o.err("people.update", json!({"id": eli["id"], "phone": "abc"})).await.assert_invalid("phone");
        assert_eq!(o.ok("people.list", json!({})).await["total"], 2);
        assert_eq!(o.ok("firms.list", json!({})).await["total"], 1);

        // Merge-patch: absent leaves, null clears; expectedVersion guards.
        let updated = o.ok("people.update", json!({"id": eli["id"], "expectedVersion": 1, "phone": null, "notes": "Mondays"})).await;
        assert_eq!((updated["phone"].clone(), updated["notes"].clone(), updated["email"].clone()), (Value::Null, json!("Mondays"), json!("eli@sparks.test")));
        assert_eq!(updated["version"], 2);
        let stale = o.err("people.update", json!({"id": eli["id"], "expectedVersion": 1, "name": "Eli"})).await;
        stale.assert_kind(-32009, "VERSION_CONFLICT");
        assert_eq!(stale.data["currentVersion"], 2);
        let firm2 = o.ok("firms.update", json!({"id": firm["id"], "expectedVersion": 1, "name": "Sparks Electrical", "phone": null})).await;
        assert_eq!((firm2["name"].clone(), firm2["phone"].clone(), firm2["email"].clone()), (json!("Sparks Electrical"), Value::Null, json!("office@sparks.test")));
        o.err("firms.update", json!({"id": firm["id"], "expectedVersion": 1, "name": "Z"})).await.assert_kind(-32009, "VERSION_CONFLICT");

        // Archiving a firm leaves its people; an archived firm takes no new people.
        let archived_firm = o.ok("firms.archive", json!({"id": firm["id"]})).await;
        assert_eq!(archived_firm["archived"], true);
        assert!(archived_firm["archivedAt"].is_string());
        assert_eq!(o.ok("people.get", json!({"id": eli["id"]})).await["archived"], false);
        o.err("people.create", json!({"name": "New", "kind": "contractor", "firmId": firm["id"]})).await.assert_invalid("firmId");
        assert_eq!(o.ok("firms.archive", json!({"id": firm["id"]})).await, archived_firm, "archiving again changes nothing");
        let archived = o.ok("people.archive", json!({"id": rosa["id"]})).await;
        assert_eq!(archived["archived"], true);
        assert_eq!(ids(&o.ok("people.list", json!({})).await), [eli["id"].clone()]);
        assert_eq!(ids(&o.ok("people.list", json!({"archived": true})).await), [rosa["id"].clone()]);
        assert_eq!(ids(&o.ok("firms.list", json!({"archived": true})).await), [firm["id"].clone()]);
        assert_eq!(o.ok("firms.list", json!({})).await["total"], 0);

        // A development with residents (archived ones too) is not empty (decision 47).
        o.err("developments.delete", json!({"id": dev["id"]})).await.assert_kind(-32009, "DEVELOPMENT_NOT_EMPTY");
        o.ok("people.update", json!({"id": rosa["id"], "developmentId": null})).await;
        o.ok("developments.delete", json!({"id": dev["id"]})).await;

        let actions: Vec<String> = o.ok("audit.list", json!({"limit": 100})).await["items"].as_array().unwrap().iter()
            .map(|e| e["action"].as_str().unwrap().to_owned()).collect();
        for action in ["firm.created", "firm.updated", "firm.archived", "person.created", "person.updated", "person.archived"] {
            assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
        }
        assert_eq!(actions.iter().filter(|a| *a == "firm.archived").count(), 1, "a second archive records nothing");
    }

    async fn people_are_searched_filtered_and_paged_by_name(app: TestApp) {
        let o = &app.owner;
        let firm = o.ok("firms.create", json!({"name": "Clean Co"})).await;
        let dev = app.development("Oak Park").await;
        person(&app, json!({"name": "Bea Cleaner", "kind": "contractor", "firmId": firm["id"], "email": "bea@clean.test"})).await;
        person(&app, json!({"name": "Al Cleaner", "kind": "contractor", "firmId": firm["id"]})).await;
        person(&app, json!({"name": "Cy Resident", "kind": "resident", "developmentId": dev["id"], "phone": "07400 123555"})).await;
        person(&app, json!({"name": "100% Guest_1", "kind": "guest"})).await;
        let gone = person(&app, json!({"name": "Al Archived", "kind": "staff"})).await;
        o.ok("people.archive", json!({"id": gone["id"]})).await;

        assert_eq!(names(&o.ok("people.list", json!({})).await), ["100% Guest_1", "Al Cleaner", "Bea Cleaner", "Cy Resident"]);
        assert_eq!(names(&o.ok("people.list", json!({"search": "CLEANER"})).await), ["Al Cleaner", "Bea Cleaner"]);
        assert_eq!(names(&o.ok("people.list", json!({"search": "123555"})).await), ["Cy Resident"]);
        assert_eq!(names(&o.ok("people.list", json!({"search": "@clean.TEST"})).await), ["Bea Cleaner"]);
        assert_eq!(names(&o.ok("people.list", json!({"search": "0%"})).await), ["100% Guest_1"]);
        assert_eq!(names(&o.ok("people.list", json!({"search": "_"})).await), ["100% Guest_1"]);
        assert_eq!(names(&o.ok("people.list", json!({"kind": "resident"})).await), ["Cy Resident"]);
        assert_eq!(names(&o.ok("people.list", json!({"firmId": firm["id"]})).await), ["Al Cleaner", "Bea Cleaner"]);
        assert_eq!(names(&o.ok("people.list", json!({"developmentId": dev["id"]})).await), ["Cy Resident"]);
        assert_eq!(names(&o.ok("people.list", json!({"archived": true, "search": "al"})).await), ["Al Archived"]);
        let page2 = o.ok("people.list", json!({"page": 2, "limit": 3})).await;
        assert_eq!(names(&page2), ["Cy Resident"]);
        assert_eq!((page2["total"].clone(), page2["page"].clone(), page2["totalCapped"].clone()), (json!(4), json!(2), json!(false)));
        o.err("people.list", json!({"limit": 101})).await.assert_invalid("limit");
        o.err("people.list", json!({"page": 101, "limit": 100})).await.assert_invalid("page");
        o.err("people.list", json!({"kind": "visitor"})).await.assert_invalid("kind");
        assert_eq!(names(&o.ok("firms.list", json!({"search": "clean"})).await), ["Clean Co"]);
    }

    async fn a_key_is_issued_to_a_person_with_defaults_and_never_to_an_archived_one(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let firm = o.ok("firms.create", json!({"name": "Sparks Ltd"})).await;
        let eli = person(&app, json!({"name": "Eli Electrician", "kind": "contractor", "phone": "07400 123456", "firmId": firm["id"]})).await;
        let key = app.key(&dev["id"], "Plant room").await;
        let other = app.key(&dev["id"], "Boiler room").await;
        let walk_in = app.key(&dev["id"], "Bins").await;

        let issued = o.ok("keys.issueKey", json!({"id": key["id"], "holderId": eli["id"]})).await;
        assert_eq!((issued["holderId"].clone(), issued["issuedTo"].clone(), issued["issuedToPhone"].clone()), (eli["id"].clone(), json!("Eli Electrician"), json!("+447400123456")));
        assert_eq!(issued["returnRequested"], false);
        let explicit = o.ok("keys.issueKey", json!({"id": other["id"], "holderId": eli["id"], "issuedTo": "Eli (Sparks)", "issuedToPhone": "01632 960000"})).await;
        assert_eq!((explicit["issuedTo"].clone(), explicit["issuedToPhone"].clone()), (json!("Eli (Sparks)"), json!("01632 960000")), "explicit values win");
        let by_name = o.ok("keys.issueKey", json!({"id": walk_in["id"], "issuedTo": "A walk-in"})).await;
        assert_eq!(by_name["holderId"], Value::Null);
        o.ok("keys.returnKey", json!({"id": walk_in["id"]})).await;
        o.err("keys.issueKey", json!({"id": walk_in["id"]})).await.assert_invalid("issuedTo");

        // listKeys by holder and by firm (through the firm's people).
        let by_holder = o.ok("keys.listKeys", json!({"holderId": eli["id"]})).await;
        assert_eq!(ids(&by_holder), [key["id"].clone(), other["id"].clone()]);
        assert_eq!(by_holder["total"], 2);
        assert_eq!(ids(&o.ok("keys.listKeys", json!({"firmId": firm["id"]})).await), [key["id"].clone(), other["id"].clone()]);
        assert_eq!(o.ok("keys.listKeys", json!({"firmId": firm["id"], "status": "in_stock"})).await["total"], 0);

        // The history records the holder; back in stock the holder is cleared.
        let history = o.ok("keys.keyHistory", json!({"id": key["id"]})).await;
        assert_eq!(history["items"][0]["holderId"], eli["id"]);
        assert!(history["items"][0]["id"].is_string());
        o.ok("keys.returnKey", json!({"id": key["id"]})).await;
        let back = o.ok("keys.returnToStock", json!({"id": key["id"]})).await;
        assert_eq!((back["holderId"].clone(), back["issuedTo"].clone()), (Value::Null, Value::Null));
        assert_eq!(ids(&o.ok("keys.listKeys", json!({"holderId": eli["id"]})).await), [other["id"].clone()]);

        // An archived person keeps the keys they hold but is issued no new one.
        o.ok("people.archive", json!({"id": eli["id"]})).await;
        let before = o.ok("keys.getKey", json!({"id": key["id"]})).await;
        o.err("keys.issueKey", json!({"id": key["id"], "holderId": eli["id"]})).await.assert_kind(-32009, "PERSON_ARCHIVED");
        assert_eq!(o.ok("keys.getKey", json!({"id": key["id"]})).await, before, "nothing changed");
        assert_eq!(o.ok("keys.getKey", json!({"id": other["id"]})).await["holderId"], eli["id"]);
        o.err("keys.issueKey", json!({"id": key["id"], "holderId": "01900000-0000-7000-8000-000000000000"})).await.assert_kind(-32004, "NOT_FOUND");
    }

    async fn archive_and_issue_racing_never_leave_an_archived_person_newly_holding_a_key(app: TestApp) {
        // Decision 50: both take the organisation's lock; the issue reads the person under
        // it. Either the archive wins (PERSON_ARCHIVED, the key untouched) or the issue
        // wins (the key issued before the archive, which still archives).
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let team = app.user("team").await;
        let mut outcomes = (0, 0);
        for round in 0..6 {
            let p = person(&app, json!({"name": format!("Racer {round}"), "kind": "guest"})).await;
            let key = app.key(&dev["id"], &format!("Race {round}")).await;
            let (issue, archive) = tokio::join!(
                team.call("keys.issueKey", json!({"id": key["id"], "holderId": p["id"]})),
                o.call("people.archive", json!({"id": p["id"]})),
            );
            let archived = archive.expect("the archive always archives");
            assert_eq!(archived["archived"], true);
            let now = o.ok("keys.getKey", json!({"id": key["id"]})).await;
            match issue {
                Ok(issued) => {
                    outcomes.0 += 1;
                    assert_eq!(now["holderId"], p["id"]);
                    let (issued_at, archived_at) = (issued["issuedAt"].as_str().unwrap(), archived["archivedAt"].as_str().unwrap());
                    let parse = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
                    assert!(parse(issued_at) <= parse(archived_at), "issued {issued_at} before archived {archived_at}");
                }
                Err(e) => {
                    outcomes.1 += 1;
                    e.assert_kind(-32009, "PERSON_ARCHIVED");
                    assert_eq!(now, key, "a refused issue changes nothing");
                }
            }
        }
        assert_eq!(outcomes.0 + outcomes.1, 6);
    }

    async fn holder_at_and_holdings_at_count_a_movement_at_exactly_that_instant(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let eli = person(&app, json!({"name": "Eli", "kind": "contractor"})).await;
        let key = app.key(&dev["id"], "Plant room").await;
        let spare = app.key(&dev["id"], "Spare").await;
        let issued = o.ok("keys.issueKey", json!({"id": key["id"], "holderId": eli["id"]})).await;
        let returned = o.ok("keys.returnKey", json!({"id": key["id"]})).await;
        let spare_issued = o.ok("keys.issueKey", json!({"id": spare["id"], "holderId": eli["id"]})).await;
        let history = o.ok("keys.keyHistory", json!({"id": key["id"]})).await["items"].clone();
        let (returned_id, issued_id, created_id) = (history[0]["id"].clone(), history[1]["id"].clone(), history[2]["id"].clone());
        let owner_name = o.ok("auth.me", json!({})).await["user"]["name"].clone();

        let at = |instant: String| o.ok("keys.holderAt", json!({"id": key["id"], "at": instant}));
        let before = at(shifted(&key["createdAt"], -1)).await;
        assert_eq!((before["status"].clone(), before["holding"].clone(), before["movementIds"].clone()), (Value::Null, Value::Null, json!([])), "before the key existed: nobody");
        let created = at(shifted(&key["createdAt"], 0)).await;
        assert_eq!((created["status"].clone(), created["movementIds"].clone()), (json!("in_stock"), json!([created_id])));
        let just_before = at(shifted(&issued["issuedAt"], -1)).await;
        assert_eq!((just_before["status"].clone(), just_before["holding"].clone()), (json!("in_stock"), Value::Null));
        let exactly = at(shifted(&issued["issuedAt"], 0)).await;
        assert_eq!(exactly["status"], "issued");
        assert_eq!(exactly["movementIds"], json!([issued_id]));
        let holding = &exactly["holding"];
        assert_eq!((holding["holderId"].clone(), holding["issuedTo"].clone(), holding["issuedBy"].clone()), (eli["id"].clone(), json!("Eli"), owner_name));
        assert_eq!((holding["since"].clone(), holding["movementId"].clone(), holding["keyId"].clone()), (issued["issuedAt"].clone(), issued_id.clone(), key["id"].clone()));
        assert_eq!(at(shifted(&returned["updatedAt"], -1)).await["holding"]["holderId"], eli["id"]);
        let after = at(shifted(&returned["updatedAt"], 0)).await;
        assert_eq!((after["status"].clone(), after["holding"].clone(), after["movementIds"].clone()), (json!("returned"), Value::Null, json!([returned_id])));

        let holdings = |instant: String| o.ok("people.holdingsAt", json!({"id": eli["id"], "at": instant}));
        let keys_held = |answer: &Value| answer["items"].as_array().unwrap().iter().map(|h| h["keyId"].clone()).collect::<Vec<_>>();
        assert_eq!(keys_held(&holdings(shifted(&issued["issuedAt"], -1)).await), Vec::<Value>::new());
        let first = holdings(shifted(&issued["issuedAt"], 0)).await;
        assert_eq!(keys_held(&first), [key["id"].clone()]);
        assert_eq!(first["items"][0]["movementId"], issued_id);
        assert_eq!(keys_held(&holdings(shifted(&returned["updatedAt"], -1)).await), [key["id"].clone()]);
        assert_eq!(keys_held(&holdings(shifted(&returned["updatedAt"], 0)).await), Vec::<Value>::new());
        let later = holdings(shifted(&spare_issued["issuedAt"], 0)).await;
        assert_eq!(keys_held(&later), [spare["id"].clone()]);
        assert_eq!(later["movementIds"].as_array().unwrap().len(), 2, "both keys' last movements are cited");

        o.err("keys.holderAt", json!({"id": key["id"], "at": "yesterday"})).await.assert_invalid("at");
        o.err("people.holdingsAt", json!({"id": eli["id"]})).await.assert_invalid("at");
    }

    async fn another_organisations_people_and_firms_are_not_found(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let firm = o.ok("firms.create", json!({"name": "Sparks"})).await;
        let eli = person(&app, json!({"name": "Eli", "kind": "contractor", "firmId": firm["id"]})).await;
        let key = app.key(&dev["id"], "Plant room").await;
        o.ok("keys.issueKey", json!({"id": key["id"], "holderId": eli["id"]})).await;
        let me = o.ok("auth.me", json!({})).await["user"]["id"].clone();
        let audit_before = o.ok("audit.list", json!({})).await["total"].clone();

        let b = app.other_organisation().await;
        let b_dev = b.ok("developments.create", json!({"name": "Birch"})).await;
        let b_key = b.ok("keys.createKey", json!({"developmentId": b_dev["id"], "keyType": "fob", "label": "Gate"})).await;
        let missing = json!("01900000-0000-7000-8000-000000000000");
        let at = Utc::now().to_rfc3339();
        let calls: Vec<(&str, Value)> = vec![
            ("people.get", json!({})),
            ("people.update", json!({"name": "Stolen"})),
            ("people.archive", json!({})),
            ("people.holdingsAt", json!({"at": at})),
        ];
        for (method, extra) in calls {
            let with = |id: &Value| { let mut p = extra.clone(); p["id"] = id.clone(); p };
            let foreign = b.err(method, with(&eli["id"])).await;
            let absent = b.err(method, with(&missing)).await;
            assert_eq!((foreign.code, foreign.kind.clone()), (-32004, Some("NOT_FOUND".to_owned())), "{method}");
            assert_eq!(foreign, absent, "{method}");
        }
        for (method, extra) in [("firms.get", json!({})), ("firms.update", json!({"name": "Stolen"})), ("firms.archive", json!({}))] {
            let with = |id: &Value| { let mut p = extra.clone(); p["id"] = id.clone(); p };
            assert_eq!(b.err(method, with(&firm["id"])).await, b.err(method, with(&missing)).await, "{method}");
        }
        let foreign = b.err("keys.holderAt", json!({"id": key["id"], "at": at})).await;
        foreign.assert_kind(-32004, "NOT_FOUND");
        assert_eq!(foreign, b.err("keys.holderAt", json!({"id": missing, "at": at})).await);
        let issue = |holder: &Value| json!({"id": b_key["id"], "holderId": holder});
        assert_eq!(b.err("keys.issueKey", issue(&eli["id"])).await, b.err("keys.issueKey", issue(&missing)).await);
        b.err("keys.issueKey", issue(&eli["id"])).await.assert_kind(-32004, "NOT_FOUND");
        for (field, id) in [("firmId", &firm["id"]), ("developmentId", &dev["id"]), ("userId", &me)] {
            let mut params = json!({"name": "Planted", "kind": "guest"});
            params[field] = id.clone();
            b.err("people.create", params).await.assert_kind(-32004, "NOT_FOUND");
        }
        assert_eq!(b.ok("keys.listKeys", json!({"holderId": eli["id"]})).await["total"], 0);
        assert_eq!(b.ok("keys.listKeys", json!({"firmId": firm["id"]})).await["total"], 0);
        assert_eq!(b.ok("people.list", json!({})).await["total"], 0);
        assert_eq!(b.ok("firms.list", json!({})).await["total"], 0);

        assert_eq!(o.ok("people.get", json!({"id": eli["id"]})).await, eli, "nothing of ours changed");
        assert_eq!(o.ok("firms.get", json!({"id": firm["id"]})).await, firm);
        assert_eq!(b.ok("keys.getKey", json!({"id": b_key["id"]})).await, b_key);
        assert_eq!(o.ok("audit.list", json!({})).await["total"], audit_before);
    }
}
