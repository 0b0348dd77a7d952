//! Bad input: every refused call answers INVALID_INPUT naming the field and saying why,
//! changes nothing, and leaves the server answering. Then the protocol-level refusals
//! (-32700, -32600, -32601, -32010, HTTP 413), which come before any procedure runs.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::client::parse_response;
use crate::support::raw_http::{self, RawBody};
use crate::support::{Client, RpcError, TestApp};

/// A development with one key in stock, and the state to compare against.
struct Fixture<'a> {
    app: &'a TestApp,
    dev: Value,
    key: Value,
    before: Value,
}

/// Everything a bad call could have changed.
async fn state(client: &Client) -> Value {
    json!({
        "keys": client.ok("keys.listKeys", json!({"limit": 100})).await,
        "developments": client.ok("developments.list", json!({})).await,
        "users": client.ok("users.list", json!({})).await,
        "audit": client.ok("audit.list", json!({"limit": 100})).await,
    })
}

fn shorten(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
        None => text,
    }
}

impl<'a> Fixture<'a> {
    async fn new(app: &'a TestApp) -> Fixture<'a> {
        let dev = app.development("Oak Park").await;
        let key = app.key(&dev["id"], "Flat 1 front door").await;
        let before = state(&app.owner).await;
        Fixture { app, dev, key, before }
    }

    /// Calls `method` with `params`: INVALID_INPUT on `field` with a reason, nothing changed.
    async fn refused(&self, method: &str, params: Value, field: &str) {
        let err: RpcError = self
            .app
            .owner
            .call(method, params.clone())
            .await
            .expect_err(&format!("{method} {} must be refused", shorten(&params)));
        assert_eq!(
            (err.code, err.kind.as_deref(), err.field.as_deref()),
            (-32602, Some("INVALID_INPUT"), Some(field)),
            "{method} {}: {err:?}",
            shorten(&params)
        );
        assert!(
            err.data["reason"].as_str().is_some_and(|r| !r.trim().is_empty()),
            "{method} {}: no reason in {err:?}",
            shorten(&params)
        );
        assert_eq!(state(&self.app.owner).await, self.before, "{method} {} changed something", shorten(&params));
    }

    /// A good call still goes through afterwards.
    async fn still_answers(&self) {
        let issued = self.app.owner.ok("keys.issueKey", json!({"id": self.key["id"], "issuedTo": "Sam Smith"})).await;
        assert_eq!((issued["status"].clone(), issued["version"].clone()), (json!("issued"), json!(2)));
    }

    fn new_key(&self, extra: Value) -> Value {
        let mut params = json!({"developmentId": self.dev["id"], "keyType": "physical_key", "label": "Flat 2"});
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        params
    }

    fn with_key(&self, extra: Value) -> Value {
        let mut params = json!({"id": self.key["id"]});
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        params
    }
}

/// Posts a raw body as the owner; the JSON-RPC error code of the single answer.
async fn raw_error_code(app: &TestApp, body: impl Into<String>) -> i64 {
    let (_, answer) = app.owner.post_raw(body.into()).await;
    match parse_response(&answer) {
        Ok(v) => panic!("expected an error, got {v}"),
        Err(e) => e.code,
    }
}

on_both_databases! {
    async fn wrong_types_are_invalid_input_on_the_field(app: TestApp) {
        let f = Fixture::new(&app).await;
        f.refused("keys.createKey", f.new_key(json!({"label": 5})), "label").await;
        f.refused("keys.createKey", f.new_key(json!({"quantity": "x"})), "quantity").await;
        f.refused("keys.createKey", f.new_key(json!({"quantity": 1.5})), "quantity").await;
        // Integers on the wire fit in 32 bits.
        f.refused("keys.createKey", f.new_key(json!({"quantity": 3_000_000_000_i64})), "quantity").await;
        f.refused("keys.createKey", f.new_key(json!({"developmentId": 7})), "developmentId").await;
        f.refused("keys.listKeys", json!({"overdue": "yes"}), "overdue").await;
        f.refused("keys.listKeys", json!({"page": 1.5}), "page").await;
        f.refused("keys.listKeys", json!({"limit": "10"}), "limit").await;
        f.refused("audit.list", json!({"page": 1.5}), "page").await;
        f.refused("keys.issueKey", f.with_key(json!({"issuedTo": true})), "issuedTo").await;
        f.refused("keys.updateKey", f.with_key(json!({"expectedVersion": "1", "label": "x"})), "expectedVersion").await;
        f.refused("keys.getKey", json!({"id": 42}), "id").await;
        f.refused("developments.create", json!({"name": null}), "name").await;
        f.refused("users.update", json!({"id": f.key["id"], "disabled": "no"}), "disabled").await;
        f.still_answers().await;
    }

    async fn unknown_fields_are_refused_by_name(app: TestApp) {
        let f = Fixture::new(&app).await;
        f.refused("keys.createKey", f.new_key(json!({"colour": "red"})), "colour").await;
        // snake_case is not the wire's spelling.
        f.refused("keys.createKey", f.new_key(json!({"key_ref": "OP-9"})), "key_ref").await;
        // A status is changed only by the transitions.
        f.refused("keys.updateKey", f.with_key(json!({"status": "lost"})), "status").await;
        f.refused("keys.issueKey", f.with_key(json!({"issuedTo": "Sam", "issuedBy": "Someone else"})), "issuedBy").await;
        f.refused("keys.listKeys", json!({"bogus": 1}), "bogus").await;
        f.refused("developments.list", json!({"orgId": "x"}), "orgId").await;
        // The organisation always comes from the token.
        f.refused("developments.create", json!({"name": "Elm", "orgId": app.org_id}), "orgId").await;
        f.refused("audit.list", json!({"entity": "key"}), "entity").await;
        f.still_answers().await;
    }

    async fn params_as_an_array_are_refused(app: TestApp) {
        let f = Fixture::new(&app).await;
        f.refused("keys.listKeys", json!([]), "params").await;
        f.refused("keys.getKey", json!([f.key["id"]]), "params").await;
        f.refused("keys.createKey", json!([f.dev["id"], "fob", "Flat 2"]), "params").await;
        f.refused("keys.issueKey", json!([f.key["id"], "Sam"]), "params").await;
        f.still_answers().await;
    }

    async fn missing_required_fields_are_named(app: TestApp) {
        let f = Fixture::new(&app).await;
        f.refused("keys.createKey", json!({"developmentId": f.dev["id"], "keyType": "fob"}), "label").await;
        f.refused("keys.createKey", json!({"developmentId": f.dev["id"], "label": "Flat 2"}), "keyType").await;
        f.refused("keys.createKey", json!({"keyType": "fob", "label": "Flat 2"}), "developmentId").await;
        f.refused("keys.issueKey", json!({"id": f.key["id"]}), "issuedTo").await;
        f.refused("keys.issueKey", json!({"issuedTo": "Sam"}), "id").await;
        f.refused("keys.getKey", json!({}), "id").await;
        f.refused("keys.updateKey", json!({"label": "x"}), "id").await;
        f.refused("keys.suggestKeyRef", json!({}), "developmentId").await;
        f.refused("developments.create", json!({}), "name").await;
        f.refused("users.create", json!({"email": "a@acme.test", "name": "A", "role": "team"}), "password").await;
        f.still_answers().await;
    }

    async fn enum_values_in_the_wrong_case_are_refused(app: TestApp) {
        let f = Fixture::new(&app).await;
        f.refused("keys.createKey", f.new_key(json!({"keyType": "Fob"})), "keyType").await;
        f.refused("keys.createKey", f.new_key(json!({"keyType": "PHYSICAL_KEY"})), "keyType").await;
        f.refused("keys.createKey", f.new_key(json!({"keyType": "physicalKey"})), "keyType").await;
        f.refused("keys.createKey", f.new_key(json!({"securityLevel": "High"})), "securityLevel").await;
        f.refused("keys.updateKey", f.with_key(json!({"keyType": "Card"})), "keyType").await;
        f.refused("keys.listKeys", json!({"status": "Issued"}), "status").await;
        f.refused("keys.listKeys", json!({"status": "in-stock"}), "status").await;
        f.refused("keys.listKeys", json!({"keyType": "FOB"}), "keyType").await;
        f.refused("users.create", json!({"email": "a@acme.test", "name": "A", "role": "Team", "password": "correct-horse-battery"}), "role").await;
        f.still_answers().await;
    }

    async fn a_one_megabyte_label_is_invalid_input_not_an_oversized_body(app: TestApp) {
        let f = Fixture::new(&app).await;
        let huge = "x".repeat(1024 * 1024);
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "keys.createKey", "params": f.new_key(json!({"label": huge}))});
        let (status, answer) = app.owner.post_raw(body.to_string()).await;
        assert_ne!(status, 413, "a 1 MiB label fits in the 2 MiB body limit");
        let err = parse_response(&answer).expect_err("a 1 MiB label is refused");
        err.assert_invalid("label");
        assert_eq!(state(&app.owner).await, f.before);
        f.refused("keys.createKey", f.new_key(json!({"label": huge})), "label").await;
        f.refused("keys.updateKey", f.with_key(json!({"label": huge})), "label").await;
        f.refused("keys.issueKey", f.with_key(json!({"issuedTo": huge})), "issuedTo").await;
        f.refused("keys.listKeys", json!({"search": huge}), "search").await;
        f.refused("keys.createKey", f.new_key(json!({"notes": huge})), "notes").await;
        f.still_answers().await;
    }

    async fn control_characters_are_refused_in_single_line_fields(app: TestApp) {
        let f = Fixture::new(&app).await;
        for bad in ["Flat\u{0}2", "Flat\u{7}2", "Flat\n2", "Flat\r2", "Flat\u{1b}[2J"] {
            f.refused("keys.createKey", f.new_key(json!({"label": bad})), "label").await;
            f.refused("keys.updateKey", f.with_key(json!({"label": bad})), "label").await;
            f.refused("keys.issueKey", f.with_key(json!({"issuedTo": bad})), "issuedTo").await;
            f.refused("keys.listKeys", json!({"search": bad}), "search").await;
            f.refused("developments.create", json!({"name": bad}), "name").await;
        }
        // Multi-line notes take line breaks, but not other control characters.
        f.refused("keys.createKey", f.new_key(json!({"notes": "first\u{0}second"})), "notes").await;
        f.refused("keys.markLost", f.with_key(json!({"notes": "bell\u{7}"})), "notes").await;
        f.still_answers().await;
    }

    async fn percent_and_underscore_in_a_search_are_literal(app: TestApp) {
        let dev = app.development("Oak Park").await;
        for label in ["100% brass", "a_b", "ab", "100 brass"] {
            app.key(&dev["id"], label).await;
        }
        let labels = |search: &'static str| {
            let owner = &app.owner;
            async move {
                let page = owner.ok("keys.listKeys", json!({"search": search})).await;
                let labels: Vec<String> = page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k["label"].as_str().unwrap().to_owned())
                    .collect();
                assert_eq!(page["total"], labels.len(), "{search}");
                labels
            }
        };
        // Searches of three characters or more match anywhere; shorter ones only the
        // start of keyRef, which cannot hold `%`, `_` or `\`.
        assert_eq!(labels("% b").await, ["100% brass"]);
        assert_eq!(labels("00%").await, ["100% brass"]);
        assert_eq!(labels("100%").await, ["100% brass"]);
        assert_eq!(labels("a_b").await, ["a_b"]);
        assert_eq!(labels("A_B").await, ["a_b"]);
        assert_eq!(labels("%%%").await, Vec::<String>::new());
        assert_eq!(labels("0%%").await, Vec::<String>::new());
        assert_eq!(labels("\\\\\\").await, Vec::<String>::new());
        assert_eq!(labels("a\\b").await, Vec::<String>::new());
        for short in ["%", "_", "%%", "\\", "0%", "ab"] {
            assert_eq!(labels(short).await, Vec::<String>::new(), "{short}");
        }
        let mut brass = labels("brass").await;
        brass.sort();
        assert_eq!(brass, ["100 brass", "100% brass"]);
        assert_eq!(labels("a%b").await, Vec::<String>::new(), "`%` matches neither `a_b` nor `ab`");
    }

    async fn page_and_limit_out_of_range_are_refused(app: TestApp) {
        let f = Fixture::new(&app).await;
        for method in ["keys.listKeys", "audit.list"] {
            f.refused(method, json!({"limit": 0}), "limit").await;
            f.refused(method, json!({"limit": 101}), "limit").await;
            f.refused(method, json!({"limit": -1}), "limit").await;
            f.refused(method, json!({"page": 0}), "page").await;
            f.refused(method, json!({"page": -1}), "page").await;
        }
        // The bounds themselves are fine.
        for method in ["keys.listKeys", "audit.list"] {
            let page = app.owner.call(method, json!({"page": 1, "limit": 100})).await.unwrap();
            assert_eq!((page["page"].clone(), page["limit"].clone()), (json!(1), json!(100)));
            let one = app.owner.call(method, json!({"limit": 1})).await.unwrap();
            assert_eq!(one["items"].as_array().unwrap().len(), 1);
        }
        f.still_answers().await;
    }

    async fn malformed_instants_are_refused(app: TestApp) {
        let f = Fixture::new(&app).await;
        for bad in [
            "tomorrow",
            "2026-13-01T00:00:00Z",
            "2026-02-30T10:00:00Z",
            "2026-11-22",
            "2026-11-22T10:15:00",
            "",
        ] {
            f.refused("keys.issueKey", f.with_key(json!({"issuedTo": "Sam", "expectedReturnAt": bad})), "expectedReturnAt").await;
        }
        f.refused("keys.issueKey", f.with_key(json!({"issuedTo": "Sam", "expectedReturnAt": 1_790_000_000})), "expectedReturnAt").await;
        // Parseable, but outside what both databases store (PostgreSQL failed on these).
        for far in ["-5000-01-01T00:00:00Z", "+10000-01-01T00:00:00Z"] {
            f.refused("keys.issueKey", f.with_key(json!({"issuedTo": "Sam", "expectedReturnAt": far})), "expectedReturnAt").await;
            f.refused("audit.list", json!({"from": far}), "from").await;
        }
        f.refused("keys.getKey", json!({"id": "a\u{0}b"}), "id").await;
        f.refused("audit.list", json!({"from": "yesterday"}), "from").await;
        f.refused("audit.list", json!({"to": "2026-11-22"}), "to").await;
        f.refused("audit.list", json!({"from": "2026-11-22T10:15:00Z", "to": "2026-11-21T10:15:00Z"}), "to").await;
        f.still_answers().await;
    }

    async fn malformed_key_refs_and_prefixes_are_refused(app: TestApp) {
        let f = Fixture::new(&app).await;
        let too_long = "A".repeat(33);
        for bad in ["-X", "A B", too_long.as_str(), "OP%1", "ÄB", "/OP"] {
            f.refused("keys.createKey", f.new_key(json!({"keyRef": bad})), "keyRef").await;
            f.refused("keys.updateKey", f.with_key(json!({"keyRef": bad})), "keyRef").await;
        }
        for bad in ["toolongprefix", "O-P", "", "Ö"] {
            f.refused("developments.create", json!({"name": "Elm Row", "keyPrefix": bad}), "keyPrefix").await;
            f.refused("developments.update", json!({"id": f.dev["id"], "keyPrefix": bad}), "keyPrefix").await;
        }
        f.still_answers().await;
    }

    async fn quantities_below_one_are_refused(app: TestApp) {
        let f = Fixture::new(&app).await;
        for bad in [0, -1] {
            f.refused("keys.createKey", f.new_key(json!({"quantity": bad})), "quantity").await;
            f.refused("keys.updateKey", f.with_key(json!({"quantity": bad})), "quantity").await;
        }
        f.still_answers().await;
    }

    async fn a_body_that_is_not_json_is_a_parse_error(app: TestApp) {
        let f = Fixture::new(&app).await;
        for body in ["not json", "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"keys.listKeys\"", ""] {
            assert_eq!(raw_error_code(&app, body).await, -32700, "{body:?}");
        }
        assert_eq!(state(&app.owner).await, f.before);
        f.still_answers().await;
    }

    async fn a_request_that_is_not_json_rpc_2_is_an_invalid_request(app: TestApp) {
        let f = Fixture::new(&app).await;
        for body in [
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"keys.listKeys"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":42}"#,
            r#"[]"#,
        ] {
            assert_eq!(raw_error_code(&app, body).await, -32600, "{body}");
        }
        assert_eq!(state(&app.owner).await, f.before);
        f.still_answers().await;
    }

    async fn an_unknown_method_is_method_not_found(app: TestApp) {
        let f = Fixture::new(&app).await;
        for method in ["keys.fly", "Keys.listKeys", "keys.list_keys", ""] {
            let err = app.owner.call(method, json!({})).await.expect_err(method);
            assert_eq!(err.code, -32601, "{method:?}: {err:?}");
        }
        assert_eq!(state(&app.owner).await, f.before);
        f.still_answers().await;
    }

    async fn a_batch_of_more_than_fifty_calls_is_refused_whole(app: TestApp) {
        let f = Fixture::new(&app).await;
        let batch = |n: usize| {
            let calls: Vec<Value> = (0..n)
                .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "keys.createKey", "params": f.new_key(json!({"label": format!("Batch {i}")}))}))
                .collect();
            Value::Array(calls).to_string()
        };
        let (_, answer) = app.owner.post_raw(batch(51)).await;
        let err = parse_response(&answer).expect_err("51 calls are too many");
        assert_eq!(err.code, -32010, "{answer}");
        assert_eq!(state(&app.owner).await, f.before, "no call of the refused batch ran");
        // 50 is the limit, not over it.
        let (status, answer) = app.owner.post_raw(batch(50)).await;
        assert_eq!(status, 200);
        let answers = answer.as_array().expect("a batch answer");
        assert_eq!(answers.len(), 50);
        assert!(answers.iter().all(|a| a.get("result").is_some()), "{answer}");
        assert_eq!(app.owner.ok("keys.listKeys", json!({})).await["total"], 51);
        f.still_answers().await;
    }

    async fn a_body_over_two_mebibytes_is_refused_with_http_413(app: TestApp) {
        let f = Fixture::new(&app).await;
        let token = format!("Bearer {}", app.owner.token.as_deref().unwrap());
        let auth = [("authorization", token.as_str())];
        // A createKey call padded with trailing whitespace (still valid JSON) to `len` bytes.
        let padded = |len: usize| {
            let call = json!({"jsonrpc": "2.0", "id": 1, "method": "keys.createKey", "params": f.new_key(json!({"label": "x".repeat(len - 200)}))}).to_string();
            assert!(call.len() <= len);
            let mut bytes = call.into_bytes();
            bytes.resize(len, b' ');
            bytes
        };
        const LIMIT: usize = 2 * 1024 * 1024;
        // Just over the limit: 413. (Sent raw: the server answers before it has read the
        // body, which reqwest does not reliably report.)
        let over = raw_http::post(&app.url, &auth, RawBody::Sized(padded(LIMIT + 1))).await;
        assert_eq!(over.status, 413, "{over:?}");
        let far_over = raw_http::post(&app.url, &auth, RawBody::Sized(padded(3 * LIMIT))).await;
        assert_eq!(far_over.status, 413, "{far_over:?}");
        // Over the limit as a batch of small calls.
        let call = json!({"jsonrpc": "2.0", "id": 1, "method": "keys.createKey", "params": f.new_key(json!({"label": "y".repeat(50_000)}))}).to_string();
        let n = LIMIT / call.len() + 1;
        let batch = format!("[{}]", vec![call; n].join(","));
        assert!(batch.len() > LIMIT && n <= 50);
        let over = raw_http::post(&app.url, &auth, RawBody::Sized(batch.into_bytes())).await;
        assert_eq!(over.status, 413, "{over:?}");
        // Exactly at the limit is not over it: the call is read, and its label refused.
        let at_limit = raw_http::post(&app.url, &auth, RawBody::Sized(padded(LIMIT))).await;
        assert_ne!(at_limit.status, 413, "a body of exactly 2 MiB is within the limit");
        parse_response(&at_limit.json()).expect_err("a 2 MiB label").assert_invalid("label");
        assert_eq!(state(&app.owner).await, f.before);
        f.still_answers().await;
    }

    async fn a_streamed_body_over_two_mebibytes_is_refused_with_http_413(app: TestApp) {
        let f = Fixture::new(&app).await;
        let token = format!("Bearer {}", app.owner.token.as_deref().unwrap());
        let auth = [("authorization", token.as_str())];
        // A chunked body (no content-length), as a streaming client sends it, is read.
        let small = json!({"jsonrpc": "2.0", "id": 1, "method": "keys.listKeys", "params": {}}).to_string();
        let answer = raw_http::post(&app.url, &auth, RawBody::Chunked(small.into_bytes(), 16)).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(parse_response(&answer.json()).expect("listKeys")["total"], 1);
        // Over the limit, the size is known only while reading: still 413.
        let big = json!({"jsonrpc": "2.0", "id": 1, "method": "keys.createKey", "params": f.new_key(json!({"label": "x".repeat(3 * 1024 * 1024)}))}).to_string();
        let over = raw_http::post(&app.url, &auth, RawBody::Chunked(big.into_bytes(), 64 * 1024)).await;
        assert_eq!(over.status, 413, "a chunked body over 2 MiB: {over:?}");
        assert_eq!(state(&app.owner).await, f.before);
        f.still_answers().await;
    }

    async fn a_batch_answers_a_good_and_a_bad_call_each_on_its_own(app: TestApp) {
        let f = Fixture::new(&app).await;
        let batch = json!([
            {"jsonrpc": "2.0", "id": "good", "method": "keys.createKey", "params": f.new_key(json!({"label": "Flat 2"}))},
            {"jsonrpc": "2.0", "id": "bad", "method": "keys.createKey", "params": f.new_key(json!({"label": 5}))},
            {"jsonrpc": "2.0", "id": "unknown", "method": "keys.fly", "params": {}},
            {"jsonrpc": "2.0", "id": "refused", "method": "keys.returnKey", "params": {"id": f.key["id"]}},
        ]);
        let (status, answer) = app.owner.post_raw(batch.to_string()).await;
        assert_eq!(status, 200);
        let answers = answer.as_array().expect("a batch answer");
        assert_eq!(answers.len(), 4, "{answer}");
        let by_id = |id: &str| {
            let found = answers.iter().find(|a| a["id"] == id).unwrap_or_else(|| panic!("no answer for {id}: {answer}"));
            parse_response(found)
        };
        let created = by_id("good").expect("the good call succeeds");
        assert_eq!(created["label"], "Flat 2");
        by_id("bad").expect_err("the bad call fails").assert_invalid("label");
        assert_eq!(by_id("unknown").expect_err("unknown method").code, -32601);
        by_id("refused").expect_err("not issued").assert_kind(-32009, "INVALID_TRANSITION");
        let keys = app.owner.ok("keys.listKeys", json!({})).await;
        assert_eq!(keys["total"], 2, "exactly the good call's key was created");
        assert_eq!(app.owner.ok("keys.getKey", json!({"id": created["id"]})).await, created);
        f.still_answers().await;
    }
}
