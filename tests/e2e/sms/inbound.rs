//! Two-way SMS (issue 13 §3): texts to the organisation's number, simulated by the fake
//! Twilio (`POST /_fake/inbound`: the form Twilio posts, signed with the account's token)
//! and answered by `POST /twilio/inbound` with TwiML. RETURNED, EXTEND, the help, STOP and
//! START, a refused signature, and one organisation's number never reaching another's keys.

use fake_twilio::{FakeTwilio, InboundReply};
use serde_json::{Value, json};

use crate::on_both_databases_with;
use crate::reminders::{history, issue_in, texts};
use crate::support::sms::{FROM, PHONE};
use crate::support::{Client, SmsApp};

const PUBLIC_URL: &str = "https://keys.example.com";
/// The test clock, year-long sessions, and the public URL Twilio's webhook is configured at.
const INBOUND: &[(&str, &str)] =
    &[("KEYWARD_TEST_CLOCK", "true"), ("KEYWARD_TOKEN_TTL_MINUTES", "527040"), ("KEYWARD_PUBLIC_URL", PUBLIC_URL)];
const HELP: &str = "Reply RETURNED when your keys are back (RETURNED OP-001 for one key), EXTEND 2 for 2 more days, STOP to stop texts.";
/// A number that holds nothing anywhere.
const STRANGER: &str = "+447400123488";

/// A text from `from` to `to`, delivered by `fake` through the public URL (a proxy in
/// front of the server: signed over the public URL, delivered to the server's address).
async fn text_via(fake: &FakeTwilio, app: &SmsApp, from: &str, to: &str, body: &str) -> InboundReply {
    let answer = reqwest::Client::new()
        .post(format!("{}/_fake/inbound", fake.url()))
        .json(&json!({
            "from": from, "to": to, "body": body,
            "url": format!("{PUBLIC_URL}/twilio/inbound"), "deliverTo": format!("{}twilio/inbound", app.url),
        }))
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(answer.status(), 200, "the fake delivered the text");
    answer.json().await.expect("the webhook's answer")
}

/// A text from `from` to the organisation's number; returns the reply's text (`None`: an
/// empty `<Response/>`).
async fn text(app: &SmsApp, from: &str, body: &str) -> Option<String> {
    reply(&text_via(&app.fake, app, from, FROM, body).await)
}

/// The reply TwiML carries.
#[track_caller]
fn reply(answer: &InboundReply) -> Option<String> {
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type.as_deref(), Some("text/xml; charset=utf-8"));
    let twiml = answer.body.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").expect("an XML declaration");
    if twiml == "<Response/>" {
        return None;
    }
    let message = twiml.strip_prefix("<Response><Message>").and_then(|m| m.strip_suffix("</Message></Response>"));
    Some(message.unwrap_or_else(|| panic!("not a TwiML message: {twiml}")).replace("&apos;", "'").replace("&amp;", "&"))
}

/// Two keys of Oak Park (OP-001, OP-002) issued to a walk-in whose number is written
/// nationally, due 11 Jan 10:00.
async fn two_keys(client: &Client) -> (Value, Value, Value) {
    let dev = client.ok("developments.create", json!({"name": "Oak Park", "keyPrefix": "OP"})).await;
    let mut issued = Vec::new();
    for label in ["Flat 12", "Flat 14"] {
        let key = client
            .ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "physical_key", "label": label}))
            .await;
        let params = json!({"id": key["id"], "issuedTo": "Sam Holder", "issuedToPhone": "07400 123456", "expectedReturnAt": "2027-01-11T10:00:00Z"});
        issued.push(client.ok("keys.issueKey", params).await);
    }
    (dev, issued[0].clone(), issued[1].clone())
}

async fn get(client: &Client, key: &Value) -> Value {
    client.ok("keys.getKey", json!({"id": key["id"]})).await
}

async fn audit_total(app: &SmsApp) -> Value {
    app.owner.ok("audit.list", json!({})).await["total"].clone()
}

on_both_databases_with! { INBOUND;
    async fn returned_flags_the_numbers_keys_or_the_one_named_for_staff_to_confirm(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        let (dev, first, second) = two_keys(&app.owner).await;

        assert_eq!(text(&app, PHONE, " returned  op-002 ").await.unwrap(), "Thanks: OP-002 marked as returned, for staff to confirm.");
        assert_eq!(get(&app.owner, &second).await["returnClaimedAt"], "2027-01-11T09:00:00Z");
        assert_eq!(get(&app.owner, &first).await["returnClaimedAt"], Value::Null);
        assert_eq!(get(&app.owner, &second).await["status"], "issued", "staff confirm the return");
        let events = app.owner.ok("audit.list", json!({"entityType": "key", "entityId": second["id"], "action": "key.return_claimed"})).await;
        assert_eq!(events["total"], 1, "{events}");
        assert_eq!(events["items"][0]["actorName"], "SMS from •••3456", "the number masked");
        assert_eq!(events["items"][0]["actorId"], Value::Null);
        let moves = app.owner.ok("keys.keyHistory", json!({"id": second["id"]})).await;
        assert_eq!((moves["items"][0]["action"].clone(), moves["items"][0]["actorName"].clone()), (json!("return_claimed"), json!("SMS from •••3456")));

        app.clock(json!({"advanceSeconds": 60})).await;
        assert_eq!(text(&app, PHONE, "RETURNED").await.unwrap(), "Thanks: OP-001, OP-002 marked as returned, for staff to confirm.");
        assert_eq!(get(&app.owner, &first).await["returnClaimedAt"], "2027-01-11T09:01:00Z");
        assert_eq!(get(&app.owner, &second).await["returnClaimedAt"], "2027-01-11T09:00:00Z", "the first claim stands");
        assert_eq!(
            text(&app, PHONE, "RETURNED OP-999").await.unwrap(),
            "No key OP-999 is issued to this number. Yours: OP-001, OP-002."
        );

        // Staff confirm: the claim is cleared with the return.
        app.clock(json!({"advanceSeconds": 60})).await;
        let returned = app.owner.ok("keys.returnKey", json!({"id": first["id"]})).await;
        assert_eq!((returned["status"].clone(), returned["returnClaimedAt"].clone()), (json!("returned"), Value::Null));
        assert_eq!(history(&app, &first).await, ["created", "issued", "return_claimed", "returned"]);
        assert_eq!(
            app.owner.ok("keys.holderAt", json!({"id": first["id"], "at": "2027-01-11T09:01:30Z"})).await["status"],
            "issued",
            "a claim is not a status"
        );

        // A person of the directory is found by their phone too.
        let person = app.owner.ok("people.create", json!({"name": "Pat", "kind": "contractor", "phone": "07400 123457"})).await;
        let third = app.key(&dev["id"], "Plant room").await;
        app.owner.ok("keys.issueKey", json!({"id": third["id"], "holderId": person["id"], "issuedToPhone": "000"})).await;
        assert_eq!(text(&app, "+447400123457", "RETURNED").await.unwrap(), "Thanks: OP-003 marked as returned, for staff to confirm.");
    }

    async fn extend_moves_the_due_time_up_to_the_policy_maximum(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        assert_eq!(app.owner.ok("settings.getReminders", json!({})).await["maxExtendDays"], 7);
        let (_, first, second) = two_keys(&app.owner).await;

        assert_eq!(text(&app, PHONE, "extend 2 OP-001").await.unwrap(), "OP-001 now due back 13 Jan 10:00.");
        assert_eq!(get(&app.owner, &first).await["expectedReturnAt"], "2027-01-13T10:00:00Z");
        assert_eq!(get(&app.owner, &second).await["expectedReturnAt"], "2027-01-11T10:00:00Z");
        let events = app.owner.ok("audit.list", json!({"entityType": "key", "entityId": first["id"], "action": "key.extended"})).await;
        assert_eq!(events["items"][0]["actorName"], "SMS from •••3456");
        assert_eq!(events["items"][0]["changes"], json!([{"field": "expectedReturnAt", "from": "2027-01-11T10:00:00Z", "to": "2027-01-13T10:00:00Z"}]));

        let before = audit_total(&app).await;
        for body in ["EXTEND 8", "EXTEND 0"] {
            assert_eq!(text(&app, PHONE, body).await.unwrap(), "You can extend by 1 to 7 days: reply EXTEND 2 for 2 more days.");
        }
        assert_eq!(audit_total(&app).await, before, "beyond the maximum changes nothing");
        app.owner.err("settings.updateReminders", json!({"maxExtendDays": 91})).await.assert_invalid("maxExtendDays");
        app.owner.err("settings.updateReminders", json!({"maxExtendDays": 0})).await.assert_invalid("maxExtendDays");
        app.owner.ok("settings.updateReminders", json!({"maxExtendDays": 10})).await;
        assert_eq!(text(&app, PHONE, "EXTEND 8").await.unwrap(), "OP-001 now due back 21 Jan 10:00, OP-002 now due back 19 Jan 10:00.");
        assert_eq!(history(&app, &second).await, ["created", "issued", "extended"]);
    }

    async fn an_extension_replans_the_reminders(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        app.owner.ok("settings.updateReminders", json!({"enabled": true, "firstAfterMinutes": 30, "repeatEveryHours": 2, "maxReminders": 3})).await;
        let dev = app.owner.ok("developments.create", json!({"name": "Oak Park", "keyPrefix": "OP"})).await;
        issue_in(&app, &dev, "Flat 12", Some("07400 123456"), "2027-01-11T10:00:00Z").await;
        app.clock(json!({"set": "2027-01-11T10:30:00Z"})).await;
        assert_eq!(texts(&app).len(), 1, "the first reminder");

        app.clock(json!({"set": "2027-01-11T10:31:00Z"})).await;
        assert_eq!(text(&app, PHONE, "EXTEND 1").await.unwrap(), "OP-001 now due back 12 Jan 10:00.");
        app.clock(json!({"set": "2027-01-11T12:30:00Z"})).await;
        assert_eq!(texts(&app).len(), 1, "the old cycle's repeat does not come");
        app.clock(json!({"set": "2027-01-12T10:29:00Z"})).await;
        assert_eq!(texts(&app).len(), 1);
        app.clock(json!({"set": "2027-01-12T10:30:00Z"})).await;
        let sent = texts(&app);
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert_eq!(sent[1].1, "Oak Park: key OP-001 (Flat 12) was due back 12 Jan 10:00. Please return it as soon as you can.");
    }

    async fn anything_else_gets_the_help_and_a_stranger_learns_nothing(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        let (_, first, _) = two_keys(&app.owner).await;
        let before = audit_total(&app).await;
        for body in ["hello", "RETURNED OP-001 OP-002", "EXTEND two", ""] {
            assert_eq!(text(&app, PHONE, body).await.as_deref(), Some(HELP), "{body:?}");
        }
        assert_eq!(text(&app, PHONE, "HELP").await, None, "Twilio answers HELP itself");
        for body in ["RETURNED", "EXTEND 2", "hello"] {
            assert_eq!(text(&app, STRANGER, body).await.as_deref(), Some("No keys are issued to this number."));
        }
        assert_eq!(audit_total(&app).await, before, "nothing changed");
        assert_eq!(get(&app.owner, &first).await["returnClaimedAt"], Value::Null);
    }

    async fn stop_stops_reminders_until_start(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        app.owner.ok("settings.updateReminders", json!({"enabled": true, "firstAfterMinutes": 0, "repeatEveryHours": 1, "maxReminders": 3, "escalateAfterHours": 24})).await;
        let dev = app.owner.ok("developments.create", json!({"name": "Oak Park", "keyPrefix": "OP"})).await;
        let key = issue_in(&app, &dev, "Flat 12", Some("07400 123456"), "2027-01-11T10:00:00Z").await;

        assert_eq!(text(&app, PHONE, "Stop").await, None, "Twilio replies to STOP itself");
        let events = app.owner.ok("audit.list", json!({"action": "sms.optedOut"})).await;
        assert_eq!(events["items"][0]["actorName"], "SMS from •••3456", "{events}");
        app.clock(json!({"set": "2027-01-11T10:00:00Z"})).await;
        assert!(texts(&app).is_empty(), "no reminder to a number that sent STOP");
        let moves = app.owner.ok("keys.keyHistory", json!({"id": key["id"]})).await;
        assert_eq!(moves["items"][0]["action"], "reminder_skipped", "{moves}");
        assert_eq!(moves["items"][0]["notes"], "Reminder 1 of 3 not sent: •••3456 texted STOP");

        app.clock(json!({"set": "2027-01-11T10:30:00Z"})).await;
        assert_eq!(text(&app, PHONE, "unstop").await, None);
        app.clock(json!({"set": "2027-01-11T11:00:00Z"})).await;
        let sent = texts(&app);
        assert_eq!(sent.len(), 1, "the next reminder after START: {sent:?}");
        assert_eq!(sent[0].0, PHONE);
        assert_eq!(history(&app, &key).await, ["created", "issued", "reminder_skipped", "reminder_sent"]);
    }

    async fn a_wrong_signature_is_refused_and_changes_nothing(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        let (_, first, _) = two_keys(&app.owner).await;
        let before = audit_total(&app).await;
        // Signed with another token.
        let impostor = FakeTwilio::start(fake_twilio::Config { auth_token: "not the token".to_owned(), ..fake_twilio::Config::default() })
            .await
            .expect("a second fake");
        let refused = text_via(&impostor, &app, PHONE, FROM, "RETURNED").await;
        assert_eq!((refused.status, refused.body.as_str()), (403, ""));
        // To a number no organisation sends from; with no signature at all.
        assert_eq!(text_via(&app.fake, &app, PHONE, "+15005550001", "RETURNED").await.status, 403);
        let unsigned = reqwest::Client::new()
            .post(format!("{}twilio/inbound", app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string([("From", PHONE), ("To", FROM), ("Body", "RETURNED"), ("AccountSid", fake_twilio::DEFAULT_ACCOUNT_SID)]).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status(), 403);
        assert_eq!(get(&app.owner, &first).await["returnClaimedAt"], Value::Null);
        assert_eq!(audit_total(&app).await, before);
        // The genuine text goes through.
        assert!(text(&app, PHONE, "RETURNED").await.is_some());
        assert!(get(&app.owner, &first).await["returnClaimedAt"].is_string());
    }

    async fn a_number_holding_keys_in_one_organisation_cannot_touch_anothers(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        let (_, ours, _) = two_keys(&app.owner).await;
        let other = app.other_organisation().await;
        let other_number = "+447400000111";
        other.ok("settings.updateSms", json!({
            "accountSid": fake_twilio::DEFAULT_ACCOUNT_SID, "authToken": fake_twilio::DEFAULT_AUTH_TOKEN, "fromNumber": other_number,
        })).await;
        let (_, theirs, _) = two_keys(&other).await;
        // The stranger holds a key of the other organisation only.
        let dev = other.ok("developments.create", json!({"name": "Elm Court", "keyPrefix": "EC"})).await;
        let elm = other.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "physical_key", "label": "Gate"})).await;
        other.ok("keys.issueKey", json!({"id": elm["id"], "issuedTo": "Stranger", "issuedToPhone": STRANGER})).await;

        assert_eq!(text(&app, STRANGER, "RETURNED").await.as_deref(), Some("No keys are issued to this number."));
        assert_eq!(text(&app, STRANGER, "RETURNED EC-001").await.as_deref(), Some("No keys are issued to this number."));
        assert_eq!(get(&other, &elm).await["returnClaimedAt"], Value::Null);

        // The same holder in both: a text to our number touches only ours.
        assert!(text(&app, PHONE, "EXTEND 3").await.is_some());
        assert_eq!(get(&app.owner, &ours).await["expectedReturnAt"], "2027-01-14T10:00:00Z");
        assert_eq!(get(&other, &theirs).await["expectedReturnAt"], "2027-01-11T10:00:00Z");
        assert_eq!(text(&app, PHONE, "STOP").await, None);
        let to_theirs = reply(&text_via(&app.fake, &app, STRANGER, other_number, "RETURNED").await);
        assert_eq!(to_theirs.as_deref(), Some("Thanks: EC-001 marked as returned, for staff to confirm."));
        assert_eq!(other.ok("audit.list", json!({"action": "sms.optedOut"})).await["total"], 0, "STOP is per organisation");
    }
}
