//! A change delivers exactly one signed event per subscribed endpoint, in the change's
//! transaction; a refused change delivers nothing; resend delivers again under the same id.

use serde_json::json;

use super::{SETTINGS, deliveries, issued_key, subscribe};
use crate::on_both_databases_with;
use crate::support::TestApp;
use crate::support::webhooks::Receiver;

on_both_databases_with! { SETTINGS;
    async fn a_key_issue_delivers_one_signed_event(app: TestApp) {
        let receiver = Receiver::start().await;
        let endpoint = subscribe(&app, &receiver, &["key.issued", "key.lost"]).await;
        assert_eq!(endpoint["enabled"], true);
        assert_eq!(endpoint["events"], json!(["key.issued", "key.lost"]));
        let listed = app.owner.ok("webhooks.list", json!({})).await;
        assert_eq!(listed["items"], json!([endpoint]), "listed, without its secret");

        let key = issued_key(&app).await;
        // Written with the change (key.created is not subscribed): one pending delivery.
        let pending = deliveries(&app).await;
        assert_eq!(pending.len(), 1, "{pending:?}");
        assert_eq!(pending[0]["status"], "pending");
        assert_eq!(pending[0]["event"], "key.issued");
        assert_eq!(receiver.received().len(), 0, "nothing is sent before the job runs");

        let moved = app.clock(json!({})).await;
        assert_eq!(moved["jobsRun"], 1, "{moved}");
        let received = receiver.received();
        assert_eq!(received.len(), 1);
        let request = &received[0];
        assert!(request.verified, "the signature verifies: {request:?}");
        assert_eq!(request.id, pending[0]["id"].as_str().unwrap());
        let now = chrono::DateTime::parse_from_rfc3339(moved["now"].as_str().unwrap()).unwrap();
        assert_eq!(request.timestamp, now.timestamp().to_string());
        let body = &request.body;
        assert_eq!(body["type"], "key.issued");
        assert_eq!(body["data"]["entityType"], "key");
        assert_eq!(body["data"]["entityId"], key["id"]);
        assert_eq!(body["data"]["action"], "key.issued");
        assert_eq!(body["data"]["actorName"], "Acme Estates Owner");
        assert_eq!(body["data"]["organisationId"], app.org_id.as_str());
        assert_eq!(body["data"]["auditEventId"], pending[0]["auditEventId"]);
        assert_eq!(serde_json::to_string(body).unwrap(), serde_json::to_string(&serde_json::from_str::<serde_json::Value>(pending[0]["payload"].as_str().unwrap()).unwrap()).unwrap());

        let done = deliveries(&app).await;
        assert_eq!(done[0]["status"], "delivered");
        assert_eq!(done[0]["attempts"], 1);
        assert_eq!(done[0]["lastStatusCode"], 200);
        assert!(done[0]["deliveredAt"].is_string());
        assert_eq!(done[0]["nextAttemptAt"], json!(null));
        // Moving the clock again sends nothing more.
        app.clock(json!({"advanceSeconds": 3600})).await;
        assert_eq!(receiver.received().len(), 1);

        // Resend: pending again, delivered again under the same id, audited.
        let resent = app.owner.ok("webhooks.resend", json!({"deliveryId": done[0]["id"]})).await;
        assert_eq!(resent["status"], "pending");
        app.clock(json!({})).await;
        let received = receiver.received();
        assert_eq!(received.len(), 2);
        assert_eq!(received[1].id, received[0].id, "the same webhook-id");
        assert!(received[1].verified);
        assert_eq!(deliveries(&app).await[0]["attempts"], 2);
        let audit = app.owner.ok("audit.list", json!({"entityType": "webhook"})).await;
        let actions: Vec<_> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].clone()).collect();
        assert_eq!(actions, [json!("webhook.resent"), json!("webhook.created")]);

        // A new secret signs from now on; the old one no longer verifies.
        let rotated = app.owner.ok("webhooks.rotateSecret", json!({"id": endpoint["id"]})).await;
        let secret = rotated["secret"].as_str().unwrap();
        assert!(secret.starts_with("whsec_") && secret.len() >= 6 + 32, "{secret}");
        app.owner.ok("keys.markLost", json!({"id": key["id"]})).await;
        app.clock(json!({})).await;
        let last = receiver.received().pop().unwrap();
        assert_eq!(last.body["type"], "key.lost");
        assert!(!last.verified, "the old secret does not verify");
        receiver.set_secret(secret);
        let again = app.owner.ok("webhooks.resend", json!({"deliveryId": deliveries(&app).await[0]["id"]})).await;
        assert_eq!(again["event"], "key.lost");
        app.clock(json!({})).await;
        assert!(receiver.received().pop().unwrap().verified, "the new secret verifies");
    }

    async fn a_refused_change_writes_no_delivery(app: TestApp) {
        let receiver = Receiver::start().await;
        subscribe(&app, &receiver, &["key.issued", "key.returned"]).await;
        let key = issued_key(&app).await;
        assert_eq!(deliveries(&app).await.len(), 1);
        // Issuing an issued key is refused: no event, no delivery.
        app.owner.err("keys.issueKey", json!({"id": key["id"], "issuedTo": "Kim"})).await.assert_kind(-32009, "INVALID_TRANSITION");
        assert_eq!(deliveries(&app).await.len(), 1);
        assert_eq!(app.db.texts("SELECT CAST(COUNT(*) AS TEXT) AS v FROM webhook_deliveries"), ["1"]);
        app.clock(json!({})).await;
        assert_eq!(receiver.received().len(), 1);
        // A disabled endpoint gets nothing; an event nobody wants is not written.
        let endpoint_id = app.owner.ok("webhooks.list", json!({})).await["items"][0]["id"].clone();
        app.owner.ok("webhooks.update", json!({"id": endpoint_id, "enabled": false})).await;
        app.owner.ok("keys.returnKey", json!({"id": key["id"]})).await;
        app.owner.ok("developments.create", json!({"name": "Elm Court"})).await;
        assert_eq!(deliveries(&app).await.len(), 1);
        app.clock(json!({"advanceSeconds": 60})).await;
        assert_eq!(receiver.received().len(), 1, "only the issue");
    }

    async fn two_endpoints_get_one_delivery_each(app: TestApp) {
        let (a, b) = (Receiver::start().await, Receiver::start().await);
        subscribe(&app, &a, &["key.issued"]).await;
        subscribe(&app, &b, &["key.issued"]).await;
        issued_key(&app).await;
        let pending = deliveries(&app).await;
        assert_eq!(pending.len(), 2);
        assert_ne!(pending[0]["id"], pending[1]["id"]);
        app.clock(json!({})).await;
        assert_eq!((a.received().len(), b.received().len()), (1, 1));
        assert!(a.received()[0].verified && b.received()[0].verified, "each signed with its own secret");
        assert_eq!(a.received()[0].body, b.received()[0].body);
    }
}
