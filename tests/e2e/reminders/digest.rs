//! The daily overdue digest (decision 171): at 06:00 UTC an organisation with reminders on
//! and keys overdue records one `overdue.digest` audit event, delivered as the webhook
//! event of that name; at most one a day; none with nothing overdue or reminders off.

use serde_json::{Value, json};

use super::{issue_in, issued_key};
use crate::on_both_databases_with;
use crate::support::webhooks::Receiver;
use crate::support::{Client, TestApp};

/// The test clock, loopback webhook targets (the receiver), long sessions.
const SETTINGS: &[(&str, &str)] = &[
    ("KEYWARD_TEST_CLOCK", "true"),
    ("KEYWARD_ALLOW_PRIVATE_WEBHOOKS", "true"),
    ("KEYWARD_TOKEN_TTL_MINUTES", "527040"),
];

async fn digests(client: &Client) -> Vec<Value> {
    let events = client.ok("audit.list", json!({"action": "overdue.digest"})).await;
    events["items"].as_array().expect("a list").clone()
}

on_both_databases_with! { SETTINGS;
    async fn one_digest_a_morning_while_keys_are_overdue(app: TestApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        app.owner.ok("settings.updateReminders", json!({"enabled": true, "firstAfterMinutes": 30})).await;
        let receiver = Receiver::start().await;
        let created = app.owner.ok("webhooks.create", json!({"url": receiver.url(), "events": ["overdue.digest"]})).await;
        receiver.set_secret(created["secret"].as_str().expect("a secret"));
        let first = issued_key(&app, None, "2027-01-11T10:00:00Z").await;
        let dev = json!({"id": first["developmentId"]});
        let second = issue_in(&app, &dev, "Bin store", None, "2027-01-11T12:00:00Z").await;
        // Reminders off elsewhere: that organisation's overdue key gets no digest.
        let other = app.other_organisation().await;
        let elsewhere = other.ok("developments.create", json!({"name": "Elm Court"})).await;
        let theirs = other.ok("keys.createKey", json!({"developmentId": elsewhere["id"], "keyType": "fob", "label": "Gate"})).await;
        other.ok("keys.issueKey", json!({"id": theirs["id"], "issuedTo": "Kim", "expectedReturnAt": "2027-01-11T10:00:00Z"})).await;

        app.clock(json!({"set": "2027-01-12T05:59:00Z"})).await;
        assert!(digests(&app.owner).await.is_empty(), "not before 06:00 UTC");
        app.clock(json!({"set": "2027-01-12T06:00:00Z"})).await;
        app.clock(json!({})).await;
        let recorded = digests(&app.owner).await;
        assert_eq!(recorded.len(), 1, "{recorded:?}");
        let event = &recorded[0];
        assert_eq!(event["entityType"], "organisation");
        assert_eq!(event["entityId"], app.org_id.as_str());
        assert_eq!(event["actorId"], Value::Null);
        assert_eq!(event["actorName"], "keyward reminders");
        assert_eq!(
            event["summary"],
            "2 keys overdue: OP-001 Flat 12 (Oak Park, 20 h); OP-002 Bin store (Oak Park, 18 h)"
        );
        assert_eq!(event["changes"], json!([{"field": "overdueKeys", "from": null, "to": "2"}]));
        let received = receiver.received();
        assert_eq!(received.len(), 1, "one webhook delivery");
        assert!(received[0].verified, "signed: {:?}", received[0]);
        assert_eq!(received[0].body["type"], "overdue.digest");
        assert_eq!(received[0].body["data"]["auditEventId"], event["id"]);
        assert!(digests(&other).await.is_empty(), "reminders are off there");

        // The same day again: nothing more.
        app.clock(json!({"set": "2027-01-12T23:00:00Z"})).await;
        assert_eq!(digests(&app.owner).await.len(), 1);
        // The next morning, one more, with what is still overdue.
        app.owner.ok("keys.returnKey", json!({"id": first["id"]})).await;
        app.clock(json!({"set": "2027-01-13T06:00:00Z"})).await;
        let recorded = digests(&app.owner).await;
        assert_eq!(recorded.len(), 2, "{recorded:?}");
        assert_eq!(recorded[0]["summary"], "1 key overdue: OP-002 Bin store (Oak Park, 42 h)");
        // Nothing overdue: no digest.
        app.owner.ok("keys.returnKey", json!({"id": second["id"]})).await;
        app.clock(json!({"set": "2027-01-14T06:00:00Z"})).await;
        assert_eq!(digests(&app.owner).await.len(), 2);
        app.clock(json!({})).await;
        assert_eq!(receiver.received().len(), 2, "one delivery per digest");
    }
}
