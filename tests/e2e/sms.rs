//! `keys.sendSms` end to end: the real binary, a fake Twilio over HTTP.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::SmsApp;
use crate::support::sms::{FROM, PHONE};

const CODE: &str = "4821#";

/// A development with a key and an active access code.
async fn register(app: &SmsApp) -> (Value, Value) {
    let dev = app.development("Oak Park").await;
    let key = app.key(&dev["id"], "Flat 12 front door").await;
    let code = app
        .owner
        .ok(
            "keys.createAccessCode",
            json!({"developmentId": dev["id"], "codeType": "gate", "label": "Main Gate", "code": CODE}),
        )
        .await;
    (key, code)
}

on_both_databases! {
    async fn a_key_ref_and_a_code_are_sent_and_recorded_without_the_code(app: SmsApp) {
        let (key, code) = register(&app).await;
        let sent = app
            .owner
            .ok("keys.sendSms", json!({"target": {"type": "key", "id": key["id"]}, "recipientName": "Sam Smith", "phone": "07400 123456"}))
            .await;
        assert_eq!(sent["status"], "sent");
        assert!(sent["providerMessageId"].as_str().unwrap().starts_with("SM"));
        let sent_code = app
            .owner
            .ok("keys.sendSms", json!({"target": {"type": "accessCode", "id": code["id"]}, "recipientName": "Sam Smith", "phone": "+44 (0) 7400 123456"}))
            .await;
        assert_eq!(sent_code["status"], "sent");

        let requests = app.fake.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].auth_user.as_deref(), Some(fake_twilio::Config::default().account_sid.as_str()));
        assert_eq!(requests[0].field("To"), Some(PHONE));
        assert_eq!(requests[0].field("From"), Some(FROM));
        assert_eq!(requests[0].field("SmartEncoded"), Some("false"));
        assert_eq!(requests[0].field("Body"), Some("Oak Park: key ref OP-001 (Flat 12 front door)."));
        assert_eq!(requests[1].field("Body"), Some("Oak Park: Main Gate code 4821#."));

        let events = app.owner.ok("audit.list", json!({"entityType": "sms"})).await;
        assert_eq!(events["total"], 2);
        assert_eq!(events["items"][0]["action"], "sms.sent");
        assert!(!events.to_string().contains(CODE), "the audit log never holds the code");
        let raw = app.db.raw_contents(&["sms_messages", "audit_events"]);
        assert!(raw.contains(PHONE), "the check reads the stored rows");
        assert!(!raw.contains(CODE), "no code value stored");
        assert_eq!(app.owner.ok("keys.summary", json!({})).await["smsReady"], true);
    }
}
