//! Acknowledged handover (issue 13 §6): `keys.issueKey {acknowledge: "sms_code"}` texts
//! the holder a code through the fake Twilio; `keys.confirmHandover` takes it within 15
//! minutes of the test clock and 5 tries; `keys.listKeys {unacknowledged}` finds the rest.

use serde_json::{Value, json};

use crate::on_both_databases_with;
use crate::support::SmsApp;
use crate::support::sms::PHONE;

/// The test clock, and sessions that outlast its moves.
const TEST_CLOCK: &[(&str, &str)] = &[("KEYWARD_TEST_CLOCK", "true"), ("KEYWARD_TOKEN_TTL_MINUTES", "527040")];

/// The messages the fake Twilio received: `(to, body)`.
fn texts(app: &SmsApp) -> Vec<(String, String)> {
    app.fake.requests().iter().filter_map(|r| Some((r.field("To")?.to_owned(), r.field("Body")?.to_owned()))).collect()
}

/// The code in the last text.
fn last_code(app: &SmsApp) -> String {
    let (_, body) = texts(app).pop().expect("a text");
    let code: String = body.split(" is ").nth(1).expect("a code").chars().take(6).collect();
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()), "{body}");
    code
}

/// A code that is not `code`.
fn wrong(code: &str) -> String {
    if code == "000000" { "000001".to_owned() } else { "000000".to_owned() }
}

/// A key of a new development issued to Sam at `07400 123456`, asking for acknowledgement.
async fn issued(app: &SmsApp) -> Value {
    let dev = app.owner.ok("developments.create", json!({"name": "Oak Park", "keyPrefix": "OP"})).await;
    let key = app.key(&dev["id"], "Plant room").await;
    app.owner
        .ok(
            "keys.issueKey",
            json!({"id": key["id"], "issuedTo": "Sam", "issuedToPhone": "07400 123456", "acknowledge": "sms_code"}),
        )
        .await
}

async fn actions(app: &SmsApp, key: &Value) -> Vec<String> {
    let moves = app.owner.ok("keys.keyHistory", json!({"id": key["id"]})).await;
    moves["items"].as_array().unwrap().iter().rev().map(|m| m["action"].as_str().unwrap().to_owned()).collect()
}

on_both_databases_with! { TEST_CLOCK;
    async fn the_right_code_acknowledges_the_handover_and_the_history_shows_it(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        let key = issued(&app).await;
        assert_eq!(key["status"], "issued");
        assert_eq!(key["handover"], json!({"state": "awaiting", "phone": PHONE, "expiresAt": "2027-01-11T09:15:00Z", "acknowledgedAt": null}));
        let sent = texts(&app);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, PHONE);
        let code = last_code(&app);
        assert_eq!(sent[0].1, format!("Oak Park: your code for key OP-001 (Plant room) is {code}. Give it to the staff member to confirm you have the key."));
        assert_eq!(app.owner.ok("keys.listKeys", json!({"unacknowledged": true})).await["total"], 1);

        // The code is nowhere in the register: not in the audit log, not in the key.
        let audit = app.owner.ok("audit.list", json!({"limit": 100})).await.to_string();
        assert!(!audit.contains(&code), "the code leaked into the audit log");
        assert!(audit.contains("sms.sent"), "the send is audited as every SMS: {audit}");

        app.clock(json!({"set": "2027-01-11T09:15:00Z"})).await;
        let done = app.owner.ok("keys.confirmHandover", json!({"id": key["id"], "code": code})).await;
        assert_eq!(done["handover"], json!({"state": "acknowledged", "phone": PHONE, "expiresAt": "2027-01-11T09:15:00Z",
            "acknowledgedAt": "2027-01-11T09:15:00Z"}));
        assert_eq!(done["version"], key["version"].as_i64().unwrap() + 1);
        assert_eq!(app.owner.ok("keys.getKey", json!({"id": key["id"]})).await, done);
        assert_eq!(actions(&app, &key).await, ["created", "issued", "handover_acknowledged"]);
        let moves = app.owner.ok("keys.keyHistory", json!({"id": key["id"]})).await;
        assert_eq!(moves["items"][0]["notes"], format!("Acknowledged with the code sent to {PHONE}"));
        let event = &app.owner.ok("audit.list", json!({"limit": 1})).await["items"][0];
        assert_eq!(event["action"], "key.handover_acknowledged");
        assert_eq!(app.owner.ok("keys.listKeys", json!({"unacknowledged": true})).await["total"], 0);
        assert_eq!(app.owner.ok("keys.listKeys", json!({"unacknowledged": false})).await["total"], 1);

        // Once is enough; a returned key has no handover.
        let again = app.owner.err("keys.confirmHandover", json!({"id": key["id"], "code": code})).await;
        again.assert_kind(-32009, "HANDOVER_REFUSED");
        assert_eq!(again.data["reason"], "not_awaiting");
        let returned = app.owner.ok("keys.returnKey", json!({"id": key["id"]})).await;
        assert_eq!(returned["handover"], Value::Null);
    }

    async fn a_wrong_code_uses_a_try_and_the_fifth_locks_the_handover(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        let key = issued(&app).await;
        let code = last_code(&app);
        // Not six digits: INVALID_INPUT, no try used.
        for bad in [json!("12345"), json!("1234567"), json!("12a456"), json!(123456)] {
            app.owner.err("keys.confirmHandover", json!({"id": key["id"], "code": bad})).await.assert_invalid("code");
        }
        for tries_left in [4, 3, 2, 1] {
            let refused = app.owner.err("keys.confirmHandover", json!({"id": key["id"], "code": wrong(&code)})).await;
            refused.assert_kind(-32009, "HANDOVER_REFUSED");
            assert_eq!((refused.data["reason"].clone(), refused.data["triesLeft"].clone()), (json!("wrong_code"), json!(tries_left)));
            assert!(!refused.message.contains(&code));
        }
        let fifth = app.owner.err("keys.confirmHandover", json!({"id": key["id"], "code": wrong(&code)})).await;
        assert_eq!((fifth.data["reason"].clone(), fifth.data["triesLeft"].clone()), (json!("wrong_code"), json!(0)));
        let now = app.owner.ok("keys.getKey", json!({"id": key["id"]})).await;
        assert_eq!(now["handover"]["state"], "locked");
        let locked = app.owner.err("keys.confirmHandover", json!({"id": key["id"], "code": code})).await;
        locked.assert_kind(-32009, "HANDOVER_REFUSED");
        assert_eq!(locked.data["reason"], "locked", "even the right code");
        assert_eq!(actions(&app, &key).await, ["created", "issued", "handover_locked"]);
        assert_eq!(app.owner.ok("keys.listKeys", json!({"unacknowledged": true})).await["total"], 1, "locked is not acknowledged");

        // Issued again with acknowledge: a new code, new tries.
        app.owner.ok("keys.returnKey", json!({"id": key["id"]})).await;
        app.owner.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Sam", "issuedToPhone": PHONE, "acknowledge": "sms_code"})).await;
        let fresh = last_code(&app);
        assert_eq!(app.owner.ok("keys.confirmHandover", json!({"id": key["id"], "code": fresh})).await["handover"]["state"], "acknowledged");
    }

    async fn a_code_expires_after_fifteen_minutes_of_the_clock(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        let key = issued(&app).await;
        let code = last_code(&app);
        app.clock(json!({"set": "2027-01-11T09:15:01Z"})).await;
        let late = app.owner.err("keys.confirmHandover", json!({"id": key["id"], "code": code})).await;
        late.assert_kind(-32009, "HANDOVER_REFUSED");
        assert_eq!(late.data["reason"], "expired");
        let now = app.owner.ok("keys.getKey", json!({"id": key["id"]})).await;
        assert_eq!((now["handover"]["state"].clone(), now["version"].clone()), (json!("awaiting"), key["version"].clone()));
        assert_eq!(app.owner.ok("keys.listKeys", json!({"unacknowledged": true})).await["total"], 1);
    }

    async fn without_a_phone_or_sms_settings_nothing_is_issued(app: SmsApp) {
        let dev = app.owner.ok("developments.create", json!({"name": "Oak Park", "keyPrefix": "OP"})).await;
        let key = app.key(&dev["id"], "Plant room").await;
        app.owner.err("keys.issueKey", json!({"id": key["id"], "issuedTo": "Sam", "acknowledge": "sms_code"})).await.assert_invalid("acknowledge");
        app.owner.err("keys.issueKey", json!({"id": key["id"], "issuedTo": "Sam", "issuedToPhone": "123", "acknowledge": "sms_code"})).await
            .assert_invalid("issuedToPhone");
        app.owner.err("keys.issueKey", json!({"id": key["id"], "issuedTo": "Sam", "acknowledge": "pigeon"})).await.assert_invalid("acknowledge");
        let person = app.owner.ok("people.create", json!({"name": "No Phone", "kind": "contractor"})).await;
        app.owner.err("keys.issueKey", json!({"id": key["id"], "holderId": person["id"], "acknowledge": "sms_code"})).await.assert_invalid("acknowledge");
        assert_eq!(app.owner.ok("keys.getKey", json!({"id": key["id"]})).await["status"], "in_stock");
        assert!(texts(&app).is_empty());
        // From the person's phone.
        let jo = app.owner.ok("people.create", json!({"name": "Jo", "kind": "contractor", "phone": "07400 123456"})).await;
        let issued = app.owner.ok("keys.issueKey", json!({"id": key["id"], "holderId": jo["id"], "acknowledge": "sms_code"})).await;
        assert_eq!(issued["handover"]["phone"], PHONE);
        assert_eq!(texts(&app).len(), 1);
        // A key issued without acknowledge has no handover, and confirming it is refused.
        let plain = app.key(&dev["id"], "Gate").await;
        let plain = app.owner.ok("keys.issueKey", json!({"id": plain["id"], "issuedTo": "Ann"})).await;
        assert_eq!(plain["handover"], Value::Null);
        let refused = app.owner.err("keys.confirmHandover", json!({"id": plain["id"], "code": "123456"})).await;
        assert_eq!(refused.data["reason"], "not_awaiting");
        app.owner.err("keys.confirmHandover", json!({"id": "01900000-0000-7000-8000-000000000000", "code": "123456"})).await
            .assert_kind(-32004, "NOT_FOUND");
        assert_eq!(app.owner.ok("keys.listKeys", json!({"unacknowledged": true})).await["total"], 1);
        // Housekeeping may not confirm.
        let housekeeping = app.user("housekeeping").await;
        housekeeping.err("keys.confirmHandover", json!({"id": issued["id"], "code": "123456"})).await.assert_kind(-32003, "FORBIDDEN");

        // No SMS settings: SMS_NOT_CONFIGURED, and nothing issued.
        let other = app.other_organisation().await;
        let odev = other.ok("developments.create", json!({"name": "Elm"})).await;
        let okey = other.ok("keys.createKey", json!({"developmentId": odev["id"], "keyType": "fob", "label": "Fob"})).await;
        other.err("keys.issueKey", json!({"id": okey["id"], "issuedTo": "Sam", "issuedToPhone": PHONE, "acknowledge": "sms_code"})).await
            .assert_kind(-32050, "SMS_NOT_CONFIGURED");
        assert_eq!(other.ok("keys.getKey", json!({"id": okey["id"]})).await["status"], "in_stock");
    }
}
