//! One-step offboarding (issue 11 §6): `people.offboard` and `firms.offboard`, and the
//! checklist they answer (and `people.get` / `firms.get` show) until it is done.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Client, SmsApp, TestApp};

async fn person(app: &TestApp, params: Value) -> Value {
    app.owner.ok("people.create", params).await
}

async fn user_id(client: &Client) -> Value {
    client.ok("auth.me", json!({})).await["user"]["id"].clone()
}

async fn code(app: &TestApp, dev: &Value, label: &str) -> Value {
    let params = json!({"developmentId": dev["id"], "codeType": "gate", "label": label, "code": "4481#"});
    app.owner.ok("keys.createAccessCode", params).await
}

async fn issue(app: &TestApp, key: &Value, holder: &Value) -> Value {
    app.owner.ok("keys.issueKey", json!({"id": key["id"], "holderId": holder["id"]})).await
}

async fn audit_total(app: &TestApp) -> Value {
    app.owner.ok("audit.list", json!({})).await["total"].clone()
}

fn field<'a>(items: &'a Value, name: &str) -> Vec<&'a Value> {
    items.as_array().expect("a list").iter().map(|i| &i[name]).collect()
}

/// The audit events of `action`, newest first.
async fn events(app: &TestApp, action: &str) -> Vec<Value> {
    app.owner.ok("audit.list", json!({"action": action})).await["items"].as_array().unwrap().clone()
}

fn change<'a>(event: &'a Value, name: &str) -> &'a Value {
    let found = event["changes"].as_array().unwrap().iter().find(|c| c["field"] == name);
    &found.unwrap_or_else(|| panic!("{name} in {event}"))["to"]
}

on_both_databases! {
    async fn offboarding_a_person_asks_keys_back_flags_codes_and_signs_their_user_out(app: SmsApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let team = app.user("team").await;
        let team_id = user_id(&team).await;
        let pat = person(&app, json!({"name": "Pat Plumber", "kind": "contractor", "phone": "07400 123400", "userId": team_id})).await;
        let sam = person(&app, json!({"name": "Sam Other", "kind": "guest"})).await;
        let (a, b, c, d) = (code(&app, &dev, "A gate").await, code(&app, &dev, "B lift").await, code(&app, &dev, "C door").await, code(&app, &dev, "D bins").await);
        o.ok("keys.sendSms", json!({"target": {"type": "accessCode", "id": a["id"]}, "personId": pat["id"]})).await;
        o.ok("keys.recordCodeDisclosure", json!({"id": b["id"], "personId": pat["id"]})).await;
        team.ok("keys.revealAccessCode", json!({"id": c["id"]})).await;
        o.ok("keys.recordCodeDisclosure", json!({"id": d["id"], "personId": sam["id"]})).await;
        let (k1, k2, k3, k4) = (app.key(&dev["id"], "Plant").await, app.key(&dev["id"], "Roof").await, app.key(&dev["id"], "Flat 3").await, app.key(&dev["id"], "Flat 4").await);
        let issued1 = issue(&app, &k1, &pat).await;
        issue(&app, &k2, &pat).await;
        issue(&app, &k3, &sam).await;
        team.ok("auth.me", json!({})).await;
        let before = audit_total(&app).await;

        let answer = o.ok("people.offboard", json!({"id": pat["id"], "reason": "Contract ended"})).await;
        assert_eq!(answer["reason"], "Contract ended");
        assert!(answer["offboardedAt"].is_string());
        assert_eq!(answer["people"], json!([{"id": pat["id"], "name": "Pat Plumber"}]));
        assert_eq!(field(&answer["keysToRecover"], "id"), [&k1["id"], &k2["id"]]);
        let first = &answer["keysToRecover"][0];
        assert_eq!((first["keyRef"].clone(), first["label"].clone(), first["developmentId"].clone()), (k1["keyRef"].clone(), json!("Plant"), dev["id"].clone()));
        assert_eq!((first["holderId"].clone(), first["issuedTo"].clone(), first["issuedAt"].clone()), (pat["id"].clone(), json!("Pat Plumber"), issued1["issuedAt"].clone()));
        assert_eq!(first["expectedReturnAt"], Value::Null);
        assert_eq!(field(&answer["codesToRotate"], "label"), ["A gate", "B lift", "C door"], "by SMS, disclosure, and a reveal by the user they are");
        assert_eq!(answer["codesToRotate"][0], json!({"id": a["id"], "label": "A gate", "developmentId": dev["id"]}));
        assert_eq!(answer["complete"], false);

        // The person: archived, with the checklist; in lists, no checklist.
        let got = o.ok("people.get", json!({"id": pat["id"]})).await;
        assert_eq!((got["archived"].clone(), got["version"].clone()), (json!(true), json!(2)));
        assert_eq!(got["offboarding"], answer);
        assert_eq!(o.ok("people.get", json!({"id": sam["id"]})).await["offboarding"], Value::Null);
        let listed = o.ok("people.list", json!({"archived": true})).await;
        assert_eq!((listed["items"][0]["id"].clone(), listed["items"][0]["offboarding"].clone()), (pat["id"].clone(), Value::Null));

        // Keys: still issued, asked back, version moved, no movement.
        let key1 = o.ok("keys.getKey", json!({"id": k1["id"]})).await;
        assert_eq!((key1["status"].clone(), key1["returnRequested"].clone(), key1["version"].clone()), (json!("issued"), json!(true), json!(issued1["version"].as_i64().unwrap() + 1)));
        assert_eq!(o.ok("keys.keyHistory", json!({"id": k1["id"]})).await["items"].as_array().unwrap().len(), 2, "created, issued");
        assert_eq!(o.ok("keys.getKey", json!({"id": k3["id"]})).await["returnRequested"], false);
        // Codes: due, with the person as the reason.
        for (code, due) in [(&a, true), (&b, true), (&c, true), (&d, false)] {
            let listed = o.ok("keys.listAccessCodes", json!({"search": code["label"]})).await["items"][0].clone();
            assert_eq!(listed["rotationDue"], due, "{}", code["label"]);
        }
        let due = o.ok("keys.listAccessCodes", json!({"rotationDue": true})).await;
        assert_eq!(due["items"][0]["rotationReasons"][0]["kind"], "person_offboarded");
        assert_eq!(due["items"][0]["rotationReasons"][0]["personId"], pat["id"]);
        // The user they are: disabled, signed out.
        team.err("auth.me", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");
        let users = o.ok("users.list", json!({})).await;
        let user = users["items"].as_array().unwrap().iter().find(|u| u["id"] == team_id).unwrap();
        assert_eq!(user["disabled"], true);
        // Nothing new for them: no key, no code.
        o.err("keys.issueKey", json!({"id": k4["id"], "holderId": pat["id"]})).await.assert_kind(-32009, "PERSON_ARCHIVED");
        o.err("keys.sendSms", json!({"target": {"type": "accessCode", "id": d["id"]}, "personId": pat["id"]})).await.assert_kind(-32009, "PERSON_ARCHIVED");

        // One audit event, naming what it did.
        assert_eq!(audit_total(&app).await.as_i64().unwrap(), before.as_i64().unwrap() + 1);
        let event = events(&app, "person.offboarded").await.remove(0);
        assert_eq!(event["entityId"], pat["id"]);
        assert_eq!(change(&event, "offboardReason"), "Contract ended");
        let mut key_ids = [k1["id"].as_str().unwrap(), k2["id"].as_str().unwrap()];
        key_ids.sort();
        assert_eq!(change(&event, "keysToRecover"), &json!(format!("2: {}", key_ids.join(", "))));
        assert!(change(&event, "codesToRotate").as_str().unwrap().starts_with("3: "));
        assert_eq!(change(&event, "usersDisabled"), &json!(format!("1: {}", team_id.as_str().unwrap())));

        // Repeating changes nothing and answers the checklist.
        let again = o.ok("people.offboard", json!({"id": pat["id"], "reason": "Another reason"})).await;
        assert_eq!(again, answer);
        assert_eq!(audit_total(&app).await.as_i64().unwrap(), before.as_i64().unwrap() + 1);
        assert_eq!(o.ok("keys.getKey", json!({"id": k1["id"]})).await, key1);

        // The checklist shrinks as keys come back and codes change.
        o.ok("keys.returnKey", json!({"id": k1["id"]})).await;
        let now = o.ok("people.get", json!({"id": pat["id"]})).await["offboarding"].clone();
        assert_eq!(field(&now["keysToRecover"], "id"), [&k2["id"]]);
        o.ok("keys.updateAccessCode", json!({"id": a["id"], "code": "9911#"})).await;
        let now = o.ok("people.get", json!({"id": pat["id"]})).await["offboarding"].clone();
        assert_eq!(field(&now["codesToRotate"], "label"), ["B lift", "C door"]);
        assert_eq!(now["complete"], false);
        o.ok("keys.returnKey", json!({"id": k2["id"]})).await;
        for code in [&b, &c] {
            o.ok("keys.updateAccessCode", json!({"id": code["id"], "code": "7700#"})).await;
        }
        let done = o.ok("people.get", json!({"id": pat["id"]})).await["offboarding"].clone();
        assert_eq!((done["keysToRecover"].clone(), done["codesToRotate"].clone(), done["complete"].clone()), (json!([]), json!([]), json!(true)));
        assert_eq!((done["offboardedAt"].clone(), done["reason"].clone()), (answer["offboardedAt"].clone(), json!("Contract ended")));
    }

    async fn offboarding_a_firm_covers_all_its_people(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let firm = o.ok("firms.create", json!({"name": "Sparks Ltd"})).await;
        let other_firm = o.ok("firms.create", json!({"name": "Clean Co"})).await;
        let of_firm = |name: &str, firm: &Value| json!({"name": name, "kind": "contractor", "firmId": firm["id"]});
        let eli = person(&app, of_firm("Eli", &firm)).await;
        let ada = person(&app, of_firm("Ada", &firm)).await;
        let old = person(&app, of_firm("Old Hand", &firm)).await;
        let cleaner = person(&app, of_firm("Cleaner", &other_firm)).await;
        let (gate, lift) = (code(&app, &dev, "Gate").await, code(&app, &dev, "Lift").await);
        o.ok("keys.recordCodeDisclosure", json!({"id": gate["id"], "personId": eli["id"]})).await;
        o.ok("keys.recordCodeDisclosure", json!({"id": gate["id"], "personId": ada["id"]})).await;
        o.ok("keys.recordCodeDisclosure", json!({"id": lift["id"], "personId": cleaner["id"]})).await;
        let mut keys = Vec::new();
        for (holder, label) in [(&eli, "K1"), (&ada, "K2"), (&old, "K3"), (&cleaner, "K4")] {
            let key = app.key(&dev["id"], label).await;
            issue(&app, &key, holder).await;
            keys.push(key);
        }
        // Archived earlier, still holding a key: offboarded with the firm.
        o.ok("people.archive", json!({"id": old["id"]})).await;
        let before = audit_total(&app).await.as_i64().unwrap();

        let answer = o.ok("firms.offboard", json!({"id": firm["id"], "reason": "Let go"})).await;
        assert_eq!(field(&answer["people"], "name"), ["Ada", "Eli", "Old Hand"]);
        assert_eq!(field(&answer["keysToRecover"], "id"), [&keys[0]["id"], &keys[1]["id"], &keys[2]["id"]]);
        assert_eq!(field(&answer["codesToRotate"], "label"), ["Gate"]);
        assert_eq!((answer["reason"].clone(), answer["complete"].clone()), (json!("Let go"), json!(false)));
        let got = o.ok("firms.get", json!({"id": firm["id"]})).await;
        assert_eq!((got["archived"].clone(), got["offboarding"].clone()), (json!(true), answer.clone()));
        assert_eq!(o.ok("firms.list", json!({"archived": true})).await["items"][0]["offboarding"], Value::Null);
        for p in [&eli, &ada, &old] {
            let got = o.ok("people.get", json!({"id": p["id"]})).await;
            assert_eq!(got["archived"], true);
            assert_eq!(got["offboarding"]["people"], json!([{"id": p["id"], "name": p["name"]}]));
            assert_eq!(got["offboarding"]["reason"], "Let go");
        }
        let ada_list = o.ok("people.get", json!({"id": ada["id"]})).await["offboarding"].clone();
        assert_eq!(field(&ada_list["keysToRecover"], "id"), [&keys[1]["id"]]);
        assert_eq!(field(&ada_list["codesToRotate"], "label"), ["Gate"]);
        // Another firm's person: untouched.
        let cleaner_now = o.ok("people.get", json!({"id": cleaner["id"]})).await;
        assert_eq!((cleaner_now["archived"].clone(), cleaner_now["offboarding"].clone()), (json!(false), Value::Null));
        assert_eq!(o.ok("keys.getKey", json!({"id": keys[3]["id"]})).await["returnRequested"], false);
        assert_eq!(o.ok("keys.listAccessCodes", json!({"rotationDue": true})).await["total"], 1);

        // One event for the firm, none per person.
        assert_eq!(audit_total(&app).await.as_i64().unwrap(), before + 1);
        let event = events(&app, "firm.offboarded").await.remove(0);
        assert_eq!(event["entityId"], firm["id"]);
        assert!(change(&event, "people").as_str().unwrap().starts_with("3: "));
        assert!(change(&event, "keysToRecover").as_str().unwrap().starts_with("3: "));
        assert!(events(&app, "person.offboarded").await.is_empty());

        // Repeating, for the firm or one of its people, changes nothing.
        assert_eq!(o.ok("firms.offboard", json!({"id": firm["id"], "reason": "Again"})).await, answer);
        let eli_again = o.ok("people.offboard", json!({"id": eli["id"], "reason": "Again"})).await;
        assert_eq!(eli_again["reason"], "Let go");
        assert_eq!(audit_total(&app).await.as_i64().unwrap(), before + 1);

        // The firm's checklist shrinks too.
        o.ok("keys.returnKey", json!({"id": keys[2]["id"]})).await;
        o.ok("keys.updateAccessCode", json!({"id": gate["id"], "code": "1212#"})).await;
        let now = o.ok("firms.get", json!({"id": firm["id"]})).await["offboarding"].clone();
        assert_eq!(field(&now["keysToRecover"], "id"), [&keys[0]["id"], &keys[1]["id"]]);
        assert_eq!(now["codesToRotate"], json!([]));
    }

    async fn offboarding_refuses_bad_reasons_oneself_and_other_organisations_ids(app: TestApp) {
        let o = &app.owner;
        let firm = o.ok("firms.create", json!({"name": "Sparks Ltd"})).await;
        let me = person(&app, json!({"name": "Me", "kind": "staff", "userId": user_id(o).await, "firmId": firm["id"]})).await;
        let pat = person(&app, json!({"name": "Pat", "kind": "contractor"})).await;
        let other = app.other_organisation().await;
        let other_firm = other.ok("firms.create", json!({"name": "Theirs"})).await;
        let before = audit_total(&app).await;
        let people_before = o.ok("people.list", json!({})).await;

        for (procedure, id) in [("people.offboard", &pat["id"]), ("firms.offboard", &firm["id"])] {
            o.err(procedure, json!({"id": id, "reason": " "})).await.assert_invalid("reason");
            o.err(procedure, json!({"id": id, "reason": "x".repeat(2001)})).await.assert_invalid("reason");
            o.err(procedure, json!({"id": id, "reason": "two\nlines"})).await.assert_invalid("reason");
            o.err(procedure, json!({"id": id})).await.assert_invalid("reason");
            o.err(procedure, json!({"id": "01900000-0000-7000-8000-000000000000", "reason": "r"})).await.assert_kind(-32004, "NOT_FOUND");
            // Another organisation's id looks missing, and changes nothing.
            other.err(procedure, json!({"id": id, "reason": "r"})).await.assert_kind(-32004, "NOT_FOUND");
        }
        o.err("firms.offboard", json!({"id": other_firm["id"], "reason": "r"})).await.assert_kind(-32004, "NOT_FOUND");
        // Oneself, or one's own firm: the caller would be signed out.
        o.err("people.offboard", json!({"id": me["id"], "reason": "r"})).await.assert_invalid("id");
        o.err("firms.offboard", json!({"id": firm["id"], "reason": "r"})).await.assert_invalid("id");
        assert_eq!(audit_total(&app).await, before, "nothing changed");
        assert_eq!(o.ok("people.list", json!({})).await, people_before);
        assert_eq!(o.ok("firms.get", json!({"id": firm["id"]})).await["archived"], false);
        assert_eq!(other.ok("firms.get", json!({"id": other_firm["id"]})).await["offboarding"], Value::Null);

        // A reason of exactly 2,000 characters is accepted.
        let long = "y".repeat(2000);
        assert_eq!(o.ok("people.offboard", json!({"id": pat["id"], "reason": long})).await["reason"], json!(long));
    }

    async fn offboarding_racing_an_issue_never_misses_the_key(app: TestApp) {
        // Both take the organisation's lock first: either the issue sees the person
        // archived (PERSON_ARCHIVED), or the key was issued before the offboarding, which
        // then asks it back and lists it. Never an issued key missing from the checklist.
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let team = app.user("team").await;
        let mut outcomes = (0, 0);
        for round in 0..12 {
            let p = person(&app, json!({"name": format!("Racer {round}"), "kind": "guest"})).await;
            let key = app.key(&dev["id"], &format!("Race {round}")).await;
            let (issued, offboarded) = tokio::join!(
                team.call("keys.issueKey", json!({"id": key["id"], "holderId": p["id"]})),
                o.call("people.offboard", json!({"id": p["id"], "reason": "Race"})),
            );
            let offboarded = offboarded.expect("the offboarding always goes through");
            let listed = o.ok("people.get", json!({"id": p["id"]})).await["offboarding"].clone();
            let now = o.ok("keys.getKey", json!({"id": key["id"]})).await;
            match issued {
                Ok(_) => {
                    outcomes.0 += 1;
                    assert_eq!((now["status"].clone(), now["returnRequested"].clone()), (json!("issued"), json!(true)));
                    assert_eq!(field(&offboarded["keysToRecover"], "id"), [&key["id"]]);
                    assert_eq!(field(&listed["keysToRecover"], "id"), [&key["id"]]);
                }
                Err(e) => {
                    outcomes.1 += 1;
                    e.assert_kind(-32009, "PERSON_ARCHIVED");
                    assert_eq!(now, key, "a refused issue changes nothing");
                    assert_eq!(listed["keysToRecover"], json!([]));
                }
            }
        }
        assert_eq!(outcomes.0 + outcomes.1, 12);
    }
}
