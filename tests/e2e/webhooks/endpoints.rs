//! Endpoints: URLs whose host is private, loopback or link-local are refused without
//! `--allow-private-webhooks` (when created, and again at delivery, when DNS or the
//! server's flag changed); bad input changes nothing; another organisation sees and
//! reaches nothing of ours.

use serde_json::json;

use super::{SETTINGS, deliveries, issued_key, subscribe};
use crate::support::database::Backend;
use crate::support::server::{SECRET_KEY, move_clock, spawn_server};
use crate::support::webhooks::Receiver;
use crate::support::{Client, TestApp};
use crate::{on_both_databases, on_both_databases_with};

on_both_databases! {
    async fn private_targets_are_refused_without_the_flag(app: TestApp) {
        let events_before = app.owner.ok("audit.list", json!({})).await["total"].clone();
        for url in [
            "https://127.0.0.1/hook",
            "https://localhost:8443/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.7/",
            "https://[::1]/",
            "https://0.0.0.0/",
        ] {
            let err = app.owner.err("webhooks.create", json!({"url": url, "events": ["key.issued"]})).await;
            err.assert_invalid("url");
            assert!(err.data["reason"].as_str().unwrap().contains("non-public address"), "{url}: {err:?}");
        }
        let err = app.owner.err("webhooks.create", json!({"url": "http://hooks.example.com/", "events": ["key.issued"]})).await;
        err.assert_invalid("url");
        assert!(err.data["reason"].as_str().unwrap().contains("https"), "{err:?}");
        assert_eq!(app.owner.ok("webhooks.list", json!({})).await["items"], json!([]));
        assert_eq!(app.owner.ok("audit.list", json!({})).await["total"], events_before, "nothing changed");
    }
}

on_both_databases_with! { SETTINGS;
    async fn a_delivery_checks_its_target_again(app: TestApp) {
        let receiver = Receiver::start().await;
        // Allowed by this server's flag: https to loopback, by name and by address.
        let port = receiver.addr.port();
        for url in [format!("https://localhost:{port}/hook"), format!("https://127.0.0.1:{port}/hook")] {
            app.owner.ok("webhooks.create", json!({"url": url, "events": ["key.issued"]})).await;
        }
        // A second server on the same database, without the flag: its attempts are
        // refused before connecting (the name by the client's resolver, the address
        // before the request), and retried later (the flag or DNS may change).
        let mut env = vec![("KEYWARD_TEST_CLOCK", "true")];
        if app.db.backend == Backend::Postgres {
            env.push(("KEYWARD_SECRET_KEY", SECRET_KEY));
        }
        let (_strict, strict_url) = spawn_server(&app.db.url, &env).await;
        let strict = Client::new(&strict_url, app.owner.token.clone());
        let dev = strict.ok("developments.create", json!({"name": "Oak Park"})).await;
        let key = strict.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "Fob 1"})).await;
        strict.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Sam"})).await;
        let (status, _) = move_clock(&strict_url, json!({})).await;
        assert_eq!(status, 200);
        assert!(receiver.received().is_empty(), "nothing reached the receiver");
        let refused = deliveries(&app).await;
        assert_eq!(refused.len(), 2);
        for delivery in &refused {
            assert_eq!(delivery["status"], "pending", "{delivery}");
            assert_eq!(delivery["attempts"], 1);
            let error = delivery["lastError"].as_str().unwrap();
            assert!(error.starts_with("refused") && error.contains("not a public address"), "{delivery}");
        }
    }

    async fn bad_input_is_refused_and_changes_nothing(app: TestApp) {
        let receiver = Receiver::start().await;
        let url = receiver.url();
        let create = |params| app.owner.err("webhooks.create", params);
        create(json!({"url": url, "events": []})).await.assert_invalid("events");
        let unknown = create(json!({"url": url, "events": ["key.stolen"]})).await;
        unknown.assert_kind(-32602, "INVALID_INPUT");
        assert!(unknown.field.as_deref().unwrap().starts_with("events"), "{unknown:?}");
        create(json!({"url": "not a url", "events": ["key.issued"]})).await.assert_invalid("url");
        create(json!({"url": "ftp://example.com/", "events": ["key.issued"]})).await.assert_invalid("url");
        create(json!({"url": "https://a:b@example.com/", "events": ["key.issued"]})).await.assert_invalid("url");
        create(json!({"url": "https://no-such-host.invalid/", "events": ["key.issued"]})).await.assert_invalid("url");
        // The secret is keyward's to generate.
        create(json!({"url": url, "events": ["key.issued"], "secret": "whsec_mine"})).await.assert_kind(-32602, "INVALID_INPUT");
        assert_eq!(app.owner.ok("webhooks.list", json!({})).await["items"], json!([]));

        let endpoint = subscribe(&app, &receiver, &["key.issued", "key.issued"]).await;
        assert_eq!(endpoint["events"], json!(["key.issued"]), "repeats are ignored");
        let update = |params| app.owner.err("webhooks.update", params);
        update(json!({"id": endpoint["id"], "events": []})).await.assert_invalid("events");
        update(json!({"id": endpoint["id"], "url": "gopher://x/"})).await.assert_invalid("url");
        update(json!({"id": "01900000-0000-7000-8000-000000000000", "enabled": false})).await.assert_kind(-32004, "NOT_FOUND");
        assert_eq!(app.owner.ok("webhooks.list", json!({})).await["items"], json!([endpoint]), "unchanged");
        let resend = |params| app.owner.err("webhooks.resend", params);
        resend(json!({"deliveryId": "01900000-0000-7000-8000-000000000000"})).await.assert_kind(-32004, "NOT_FOUND");
        issued_key(&app).await;
        let pending = &deliveries(&app).await[0];
        resend(json!({"deliveryId": pending["id"]})).await.assert_invalid("deliveryId");
        app.owner.err("webhooks.deliveries", json!({"status": "lost"})).await.assert_invalid("status");
    }

    async fn another_organisation_sees_and_reaches_nothing_of_ours(app: TestApp) {
        let receiver = Receiver::start().await;
        let endpoint = subscribe(&app, &receiver, &["key.issued"]).await;
        issued_key(&app).await;
        let ours = deliveries(&app).await;
        let other = app.other_organisation().await;
        // Their events never reach our endpoint.
        let dev = other.ok("developments.create", json!({"name": "Their Court"})).await;
        let key = other.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "Fob"})).await;
        other.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Lee"})).await;
        assert_eq!(deliveries(&app).await.len(), 1);
        assert_eq!(other.ok("webhooks.list", json!({})).await["items"], json!([]));
        let theirs = other.ok("webhooks.deliveries", json!({"endpointId": endpoint["id"]})).await;
        assert_eq!(theirs["items"], json!([]));
        for (method, params) in [
            ("webhooks.update", json!({"id": endpoint["id"], "enabled": false})),
            ("webhooks.delete", json!({"id": endpoint["id"]})),
            ("webhooks.rotateSecret", json!({"id": endpoint["id"]})),
            ("webhooks.resend", json!({"deliveryId": ours[0]["id"]})),
        ] {
            other.err(method, params).await.assert_kind(-32004, "NOT_FOUND");
        }
        assert_eq!(app.owner.ok("webhooks.list", json!({})).await["items"], json!([endpoint]));
        app.clock(json!({})).await;
        assert_eq!(receiver.received().len(), 1, "ours only");

        // Deleting the endpoint deletes its deliveries.
        app.owner.ok("webhooks.delete", json!({"id": endpoint["id"]})).await;
        assert_eq!(deliveries(&app).await.len(), 0);
        assert_eq!(app.owner.ok("webhooks.list", json!({})).await["items"], json!([]));
    }
}
