//! A failing endpoint: each failure is retried after the backoff (30 s, then 60 s, …),
//! whether it answered an error or went away; after 24 hours the delivery fails and the
//! endpoint is disabled with an audit event; re-enabled, a resend delivers.

use serde_json::json;

use super::{SETTINGS, deliveries, issued_key, subscribe};
use crate::on_both_databases_with;
use crate::support::TestApp;
use crate::support::webhooks::Receiver;

on_both_databases_with! { SETTINGS;
    async fn failures_are_retried_then_the_endpoint_is_disabled(app: TestApp) {
        let mut receiver = Receiver::start().await;
        receiver.answer(500);
        let endpoint = subscribe(&app, &receiver, &["key.issued"]).await;
        let key = issued_key(&app).await;

        let first = app.clock(json!({})).await;
        assert_eq!(receiver.received().len(), 1);
        let failed = &deliveries(&app).await[0];
        assert_eq!(failed["status"], "pending");
        assert_eq!(failed["attempts"], 1);
        assert_eq!(failed["lastStatusCode"], 500);
        assert_eq!(failed["lastError"], "receiver says no", "the start of the answer's body");
        let at = |value: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap();
        assert_eq!((at(&failed["nextAttemptAt"]) - at(&first["now"])).num_seconds(), 30);

        // Not before the backoff; at it, once.
        app.clock(json!({"advanceSeconds": 29})).await;
        assert_eq!(receiver.received().len(), 1);
        app.clock(json!({"advanceSeconds": 1})).await;
        assert_eq!(receiver.received().len(), 2);
        assert_eq!(deliveries(&app).await[0]["attempts"], 2);

        // The endpoint goes away: a connection error is a failure like any other.
        receiver.stop();
        app.clock(json!({"advanceSeconds": 60})).await;
        let gone = &deliveries(&app).await[0];
        assert_eq!(gone["attempts"], 3);
        assert_eq!(gone["lastStatusCode"], json!(null));
        assert!(gone["lastError"].as_str().unwrap().starts_with("could not connect"), "{gone}");

        // A day later: the next attempt fails, and the 24 hours are over.
        app.clock(json!({"advanceSeconds": 24 * 3600})).await;
        let given_up = &deliveries(&app).await[0];
        assert_eq!(given_up["status"], "failed", "{given_up}");
        assert_eq!(given_up["attempts"], 4);
        assert_eq!(given_up["nextAttemptAt"], json!(null));
        let listed = &app.owner.ok("webhooks.list", json!({})).await["items"][0];
        assert_eq!(listed["enabled"], false);
        assert_eq!(listed["disabledReason"], "deliveries failed for 24 hours");
        let audit = app.owner.ok("audit.list", json!({"action": "webhook.disabled"})).await;
        assert_eq!(audit["total"], 1);
        assert_eq!(audit["items"][0]["entityId"], endpoint["id"]);
        assert_eq!(audit["items"][0]["actorId"], json!(null));

        // Disabled: new events are not written for it, and resend is refused.
        app.owner.ok("keys.returnKey", json!({"id": key["id"]})).await;
        app.owner.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Kim"})).await;
        assert_eq!(deliveries(&app).await.len(), 1);
        app.owner
            .err("webhooks.resend", json!({"deliveryId": given_up["id"]}))
            .await
            .assert_invalid("deliveryId");

        // Re-enabled at a new address, a resend delivers, signed with the same secret.
        let back = Receiver::start().await;
        back.set_secret(&receiver_secret(&app, &endpoint).await);
        let enabled = app.owner.ok("webhooks.update", json!({"id": endpoint["id"], "url": back.url(), "enabled": true})).await;
        assert_eq!(enabled["disabledReason"], json!(null));
        let resent = app.owner.ok("webhooks.resend", json!({"deliveryId": given_up["id"]})).await;
        assert_eq!(resent["status"], "pending");
        app.clock(json!({})).await;
        assert_eq!(back.received().len(), 1);
        assert!(back.received()[0].verified);
        assert_eq!(deliveries(&app).await[0]["status"], "delivered");
    }
}

/// The endpoint's secret: rotating is the only way to see one again.
async fn receiver_secret(app: &TestApp, endpoint: &serde_json::Value) -> String {
    let rotated = app.owner.ok("webhooks.rotateSecret", json!({"id": endpoint["id"]})).await;
    rotated["secret"].as_str().unwrap().to_owned()
}
