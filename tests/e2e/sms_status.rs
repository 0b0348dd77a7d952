//! Twilio's delivery reports: `POST /twilio/status?org=…`, trusted only with a valid
//! `X-Twilio-Signature`, moving a message only forward, audited.

use keyward_sms::signature;
use serde_json::{Value, json};

use crate::on_both_databases_with;
use crate::support::sms::{FROM, PHONE};
use crate::support::{Backend, SmsApp};

const PUBLIC_URL: &str = "https://keys.example.com";
const WITH_PUBLIC_URL: &[(&str, &str)] = &[("KEYWARD_PUBLIC_URL", PUBLIC_URL)];

/// Sends a key ref; returns Twilio's message sid.
async fn send(app: &SmsApp) -> String {
    let dev = app.development("Oak Park").await;
    let key = app.key(&dev["id"], "Flat 12 front door").await;
    let sent = app
        .owner
        .ok("keys.sendSms", json!({"target": {"type": "key", "id": key["id"]}, "recipientName": "Sam", "phone": PHONE}))
        .await;
    sent["providerMessageId"].as_str().unwrap().to_owned()
}

fn report(message_sid: &str, status: &str) -> Vec<(String, String)> {
    let account = fake_twilio::Config::default().account_sid;
    [
        ("MessageSid", message_sid),
        ("SmsSid", message_sid),
        ("MessageStatus", status),
        ("SmsStatus", status),
        ("AccountSid", account.as_str()),
        ("From", FROM),
        ("To", PHONE),
        ("ApiVersion", "2010-04-01"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// Posts a report as Twilio would, for `org`, with `signature` (None: no header).
async fn post(app: &SmsApp, org: &str, params: &[(String, String)], signature: Option<&str>) -> u16 {
    let mut req = reqwest::Client::new()
        .post(format!("{}twilio/status?org={org}", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(params).expect("a form"));
    if let Some(signature) = signature {
        req = req.header("x-twilio-signature", signature);
    }
    req.send().await.unwrap().status().as_u16()
}

fn sign(org: &str, params: &[(String, String)]) -> String {
    let url = format!("{PUBLIC_URL}/twilio/status?org={org}");
    signature::compute(&fake_twilio::Config::default().auth_token, &url, params)
}

async fn sms_events(app: &SmsApp) -> Vec<Value> {
    app.owner.ok("audit.list", json!({"entityType": "sms"})).await["items"].as_array().unwrap().clone()
}

on_both_databases_with! { WITH_PUBLIC_URL;
    async fn signed_reports_move_a_message_forward_and_nothing_else_gets_in(app: SmsApp) {
        let sid = send(&app).await;
        let expected_callback = format!("{PUBLIC_URL}/twilio/status?org={}", app.org_id);
        assert_eq!(app.fake.requests()[0].field("StatusCallback"), Some(expected_callback.as_str()));

        // Tampered: signed for `undelivered`, sent as `delivered`.
        let undelivered = report(&sid, "undelivered");
        let signature_of_undelivered = sign(&app.org_id, &undelivered);
        assert_eq!(post(&app, &app.org_id, &report(&sid, "delivered"), Some(&signature_of_undelivered)).await, 403);
        // No signature; another organisation's URL; a wrong token.
        assert_eq!(post(&app, &app.org_id, &report(&sid, "delivered"), None).await, 403);
        let other = app.other_organisation().await;
        let other_org = other.ok("auth.me", json!({})).await["organisation"]["id"].as_str().unwrap().to_owned();
        assert_eq!(post(&app, &other_org, &report(&sid, "delivered"), Some(&sign(&other_org, &report(&sid, "delivered")))).await, 403);
        let forged = signature::compute("not the token", &format!("{PUBLIC_URL}/twilio/status?org={}", app.org_id), &report(&sid, "delivered"));
        assert_eq!(post(&app, &app.org_id, &report(&sid, "delivered"), Some(&forged)).await, 403);
        assert_eq!(sms_events(&app).await.len(), 1, "only the send itself is in the log");

        // Genuine: delivered, recorded once, attributed to Twilio.
        let delivered = report(&sid, "delivered");
        assert_eq!(post(&app, &app.org_id, &delivered, Some(&sign(&app.org_id, &delivered))).await, 200);
        let events = sms_events(&app).await;
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["action"], "sms.delivered");
        assert_eq!(events[0]["actorName"], "Twilio");
        assert!(events[0]["actorId"].is_null());
        // The same report again, and a late `sent`: nothing moves back, nothing is added.
        assert_eq!(post(&app, &app.org_id, &delivered, Some(&sign(&app.org_id, &delivered))).await, 200);
        let late = report(&sid, "sent");
        assert_eq!(post(&app, &app.org_id, &late, Some(&sign(&app.org_id, &late))).await, 200);
        assert_eq!(sms_events(&app).await.len(), 2);
        // A report for a message we never sent is accepted and ignored.
        let unknown = report("SM00000000000000000000000000009999", "delivered");
        assert_eq!(post(&app, &app.org_id, &unknown, Some(&sign(&app.org_id, &unknown))).await, 200);
        assert_eq!(sms_events(&app).await.len(), 2);
    }
}

on_both_databases_with! { WITH_PUBLIC_URL;
    async fn a_replay_after_a_delivery_report_answers_the_first_result(app: SmsApp) {
        let dev = app.development("Oak Park").await;
        let key = app.key(&dev["id"], "Flat 12 front door").await;
        let params = json!({"target": {"type": "key", "id": key["id"]}, "recipientName": "Sam", "phone": PHONE, "idempotencyKey": "send-1"});
        let first = app.owner.ok("keys.sendSms", params.clone()).await;
        let sid = first["providerMessageId"].as_str().unwrap();
        for status in ["delivered", "undelivered", "failed"] {
            let report = report(sid, status);
            assert_eq!(post(&app, &app.org_id, &report, Some(&sign(&app.org_id, &report))).await, 200);
            assert_eq!(app.owner.ok("keys.sendSms", params.clone()).await, first, "after `{status}`");
        }
        assert_eq!(app.fake.message_posts(), 1, "sent once");
    }
}

/// Without KEYWARD_PUBLIC_URL no callback is asked for and the endpoint does not exist.
#[tokio::test]
async fn without_a_public_url_there_are_no_reports() {
    let app = SmsApp::start(Backend::Sqlite).await.unwrap();
    let sid = send(&app).await;
    assert_eq!(app.fake.requests()[0].field("StatusCallback"), None);
    let delivered = report(&sid, "delivered");
    assert_eq!(post(&app, &app.org_id, &delivered, Some(&sign(&app.org_id, &delivered))).await, 404);
}
