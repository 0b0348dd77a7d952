//! The transport: `GET /health`, request ids, batches, bearer tokens, and missing params.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::TestApp;
use crate::support::client::parse_response;
use crate::support::raw_http::{self, RawBody};

/// Posts one call with extra headers (and no token unless given as a header).
async fn post_with_headers(app: &TestApp, headers: &[(&str, &str)], body: Value) -> reqwest::Response {
    let mut req =
        reqwest::Client::new().post(&app.url).header("content-type", "application/json").body(body.to_string());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.expect("the server answers")
}

fn call(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
}

fn request_id(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get("x-request-id").map(|v| v.to_str().expect("an ASCII header").to_owned())
}

on_both_databases! {
    async fn health_answers_ok(app: TestApp) {
        let resp = reqwest::get(format!("{}health", app.url)).await.expect("the server answers");
        assert_eq!(resp.status(), 200);
        let body: Value = serde_json::from_str(&resp.text().await.unwrap()).expect("a JSON body");
        assert_eq!(body["status"], "ok", "{body}");
        // The connections served now (this one at least) and the cap.
        assert!(body["connections"].as_u64().is_some_and(|n| n >= 1), "{body}");
        assert_eq!(body["maxConnections"], 900, "{body}");
        // No token needed, and the JSON-RPC endpoint is untouched by it.
        app.owner.ok("auth.me", json!({})).await;
    }

    async fn a_request_id_sent_is_echoed_and_a_missing_one_is_generated(app: TestApp) {
        let token = format!("Bearer {}", app.owner.token.as_deref().unwrap());
        let sent = post_with_headers(&app, &[("authorization", &token), ("x-request-id", "e2e-req-42")], call("auth.me", json!({}))).await;
        assert_eq!(request_id(&sent).as_deref(), Some("e2e-req-42"));
        assert!(parse_response(&sent.json().await.unwrap()).is_ok());

        // Echoed on an error answer too.
        let failed = post_with_headers(&app, &[("x-request-id", "e2e-req-43")], call("auth.me", json!({}))).await;
        assert_eq!(request_id(&failed).as_deref(), Some("e2e-req-43"));
        parse_response(&failed.json().await.unwrap()).unwrap_err().assert_kind(-32001, "UNAUTHENTICATED");

        // And on an answer given before the body was read (413).
        let too_big = raw_http::post(&app.url, &[("x-request-id", "e2e-req-44")], RawBody::Sized(vec![b' '; 3 * 1024 * 1024])).await;
        assert_eq!((too_big.status, too_big.header("x-request-id")), (413, Some("e2e-req-44")));

        let first = post_with_headers(&app, &[("authorization", &token)], call("auth.me", json!({}))).await;
        let second = post_with_headers(&app, &[("authorization", &token)], call("auth.me", json!({}))).await;
        let (a, b) = (request_id(&first), request_id(&second));
        let a = a.expect("a generated request id");
        let b = b.expect("a generated request id");
        assert!(!a.trim().is_empty());
        assert_ne!(a, b, "each request gets its own id");
    }

    async fn a_batch_of_two_calls_answers_both_in_order_with_their_ids(app: TestApp) {
        let dev = app.development("Oak Park").await;
        app.key(&dev["id"], "Flat 1").await;
        let batch = json!([
            {"jsonrpc": "2.0", "id": "first", "method": "auth.me", "params": {}},
            {"jsonrpc": "2.0", "id": 2, "method": "keys.listKeys", "params": {"developmentId": dev["id"]}},
        ]);
        let (status, body) = app.owner.post_raw(batch.to_string()).await;
        assert_eq!(status, 200);
        let answers = body.as_array().expect("a batch answers with an array");
        assert_eq!(answers.len(), 2, "{body}");
        // In order: JSON-RPC 2.0 would allow any order, but this server answers a batch in
        // the order of its calls (clients rely on the ids all the same). Ids come back
        // exactly as sent (a string stays a string, a number a number).
        assert_eq!(answers[0]["id"], "first");
        assert_eq!(answers[1]["id"], 2);
        let me = parse_response(&answers[0]).expect("auth.me");
        assert_eq!(me["user"]["email"], "owner@acme.test");
        let keys = parse_response(&answers[1]).expect("keys.listKeys");
        assert_eq!(keys["total"], 1);
        assert_eq!(keys["items"][0]["label"], "Flat 1");
    }

    async fn a_signed_procedure_without_a_token_is_unauthenticated(app: TestApp) {
        for (method, params) in [
            ("keys.listKeys", json!({})),
            ("auth.me", json!({})),
            ("developments.create", json!({"name": "Sneaky"})),
            ("audit.list", json!({})),
        ] {
            let err = app.anonymous().call(method, params).await.expect_err(method);
            assert_eq!((err.code, err.kind.as_deref()), (-32001, Some("UNAUTHENTICATED")), "{method}: {err:?}");
        }
        // Nothing was created by the refused call.
        assert_eq!(app.owner.ok("developments.list", json!({})).await, json!({"items": []}));
    }

    async fn a_garbage_token_is_unauthenticated(app: TestApp) {
        let real = app.owner.token.clone().unwrap();
        for token in ["garbage", "", "Bearer", &format!("{real}x"), &real[..real.len() - 1]] {
            let err = app.owner.with_token(Some(token.to_owned())).call("keys.listKeys", json!({})).await.expect_err(token);
            assert_eq!((err.code, err.kind.as_deref()), (-32001, Some("UNAUTHENTICATED")), "token {token:?}: {err:?}");
        }
        // Not a bearer token at all.
        for header in [format!("Basic {real}"), real.clone(), format!("Token {real}")] {
            let resp = post_with_headers(&app, &[("authorization", &header)], call("keys.listKeys", json!({}))).await;
            let err = parse_response(&resp.json().await.unwrap()).expect_err(&header);
            assert_eq!((err.code, err.kind.as_deref()), (-32001, Some("UNAUTHENTICATED")), "{header}: {err:?}");
        }
        // The real token still works.
        app.owner.ok("keys.listKeys", json!({})).await;
    }

    async fn missing_params_are_the_same_as_an_empty_object(app: TestApp) {
        let dev = app.development("Oak Park").await;
        app.key(&dev["id"], "Flat 1").await;
        app.key(&dev["id"], "Flat 2").await;
        let with_empty = app.owner.ok("keys.listKeys", json!({})).await;
        assert_eq!(with_empty["total"], 2);
        for method in ["keys.listKeys", "developments.list", "audit.list", "auth.me", "users.list"] {
            let (status, body) = app.owner.post_raw(json!({"jsonrpc": "2.0", "id": 1, "method": method}).to_string()).await;
            assert_eq!(status, 200);
            let without = parse_response(&body).unwrap_or_else(|e| panic!("{method} without params: {e:?}"));
            let with = app.owner.call(method, json!({})).await.unwrap();
            assert_eq!(without, with, "{method}");
        }
        // A procedure with required fields then names the first one missing.
        let (_, body) = app.owner.post_raw(json!({"jsonrpc": "2.0", "id": 1, "method": "keys.getKey"}).to_string()).await;
        parse_response(&body).expect_err("an id is required").assert_invalid("id");
    }
}
