//! JSON-RPC 2.0 itself (spec §4–§7) over the real server: notifications get no answer,
//! any string or number id comes back byte for byte, JSON that is not a request is
//! -32600, at most one `auth.login` per batch, and the nesting limit.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::on_both_databases;
use crate::support::TestApp;
use crate::support::client::parse_response;

/// Posts a raw body as the owner; the HTTP status and the body text, untouched.
async fn post_text(app: &TestApp, body: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(&app.url)
        .header("content-type", "application/json")
        .bearer_auth(app.owner.token.as_deref().unwrap())
        .body(body.to_owned())
        .send()
        .await
        .expect("the server answers");
    (resp.status().as_u16(), resp.text().await.expect("a body"))
}

async fn development_names(app: &TestApp) -> Vec<String> {
    let listed = app.owner.ok("developments.list", json!({})).await;
    let mut names: Vec<String> =
        listed["items"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    names
}

/// The error code and id of a single answer (a JSON-RPC error object).
fn code_and_id(answer: &Value) -> (i64, Value) {
    let err = parse_response(answer).expect_err("an error answer");
    (err.code, answer["id"].clone())
}

async fn ws_socket(
    app: &TestApp,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = app.url.replacen("http://", "ws://", 1).into_client_request().unwrap();
    let token = format!("Bearer {}", app.owner.token.as_deref().unwrap());
    request.headers_mut().insert("authorization", token.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.expect("upgrade").0
}

async fn ws_next_text<S>(socket: &mut S) -> String
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(30), socket.next())
            .await
            .expect("an answer within 30 s")
            .expect("an open socket")
            .expect("a frame");
        match frame {
            Message::Text(text) => return text.to_string(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

on_both_databases! {
    async fn a_notification_is_run_and_answered_with_nothing(app: TestApp) {
        let (status, body) = post_text(&app, r#"{"jsonrpc":"2.0","method":"developments.create","params":{"name":"Quiet Row"}}"#).await;
        assert_eq!((status, body.as_str()), (204, ""), "no answer to a notification");
        assert_eq!(development_names(&app).await, ["Quiet Row"], "the notification ran");

        // A batch of notifications only: no answer either.
        let batch = r#"[{"jsonrpc":"2.0","method":"developments.create","params":{"name":"Elm"}},
                        {"jsonrpc":"2.0","method":"auth.me"}]"#;
        assert_eq!(post_text(&app, batch).await, (204, String::new()));
        assert_eq!(development_names(&app).await, ["Elm", "Quiet Row"]);

        // Mixed: only the call is answered.
        let mixed = r#"[{"jsonrpc":"2.0","method":"auth.me"},{"jsonrpc":"2.0","id":"me","method":"auth.me"}]"#;
        let (status, body) = post_text(&app, mixed).await;
        assert_eq!(status, 200);
        let answers: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answers.as_array().map(Vec::len), Some(1), "{body}");
        assert_eq!(answers[0]["id"], "me");

        // Over WebSocket: no message for the notification; the next message answers the call.
        let mut socket = ws_socket(&app).await;
        socket.send(Message::text(r#"{"jsonrpc":"2.0","method":"developments.create","params":{"name":"Ash"}}"#)).await.unwrap();
        socket.send(Message::text(r#"{"jsonrpc":"2.0","id":"after","method":"auth.me"}"#)).await.unwrap();
        let next: Value = serde_json::from_str(&ws_next_text(&mut socket).await).unwrap();
        assert_eq!(next["id"], "after", "the first message answers the call, not the notification: {next}");
        // The notification ran (messages of a socket may run concurrently: wait for it, bounded).
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !development_names(&app).await.contains(&"Ash".to_owned()) {
            assert!(tokio::time::Instant::now() < deadline, "the WebSocket notification never ran");
            tokio::task::yield_now().await;
        }
    }

    async fn any_string_or_number_id_is_answered_with_that_exact_id(app: TestApp) {
        let ids = [
            "-1", "0", "-0", "0.5", "-2.5e-3", "1e400", "1E+2", "123456789012345678901234567890",
            "18446744073709551616", r#""""#, r#""a \"quoted\" id""#, r#""\u00e9""#, "null",
        ];
        for (n, id) in ids.iter().enumerate() {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"developments.create","params":{{"name":"Dev {n}"}}}}"#);
            let (status, answer) = post_text(&app, &body).await;
            assert_eq!(status, 200, "{id}");
            assert!(answer.starts_with(&format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"#)), "id {id}: {answer}");
        }
        assert_eq!(development_names(&app).await.len(), ids.len(), "every call ran");

        // In a batch, each answer carries its own id, in order.
        let batch = r#"[{"jsonrpc":"2.0","id":-7,"method":"auth.me"},{"jsonrpc":"2.0","id":1e400,"method":"auth.me"}]"#;
        let (_, answer) = post_text(&app, batch).await;
        assert!(answer.starts_with(r#"[{"jsonrpc":"2.0","id":-7,"result":"#), "{answer}");
        assert!(answer.contains(r#"{"jsonrpc":"2.0","id":1e400,"result":"#), "{answer}");

        // Over WebSocket too.
        let mut socket = ws_socket(&app).await;
        socket.send(Message::text(r#"{"jsonrpc":"2.0","id":-3.25,"method":"auth.me"}"#)).await.unwrap();
        let answer = ws_next_text(&mut socket).await;
        assert!(answer.starts_with(r#"{"jsonrpc":"2.0","id":-3.25,"result":"#), "{answer}");
    }

    async fn json_that_is_not_a_request_is_an_invalid_request(app: TestApp) {
        for body in [
            r#"{"jsonrpc":"2.0","method":1,"params":"bar"}"#,
            "42",
            r#""text""#,
            "true",
            "null",
            r#"{"jsonrpc":"2.0","id":{},"method":"auth.me"}"#,
            r#"{"jsonrpc":"2.0","id":[],"method":"auth.me"}"#,
            r#"{"jsonrpc":"2.0","id":true,"method":"auth.me"}"#,
            r#"{"jsonrpc":"2.0","id":{"a":1},"method":"developments.create","params":{"name":"Sneaky"}}"#,
        ] {
            let (status, text) = post_text(&app, body).await;
            assert_eq!(status, 200, "{body}");
            let answer: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(code_and_id(&answer), (-32600, Value::Null), "{body}: {answer}");
            assert_eq!(answer["error"]["data"]["kind"], "INVALID_REQUEST");
            assert!(answer["error"]["data"]["reason"].as_str().is_some_and(|r| !r.is_empty()), "{answer}");
        }
        // With a valid id, the error carries it.
        for body in [
            r#"{"id":9,"method":"developments.create","params":{"name":"Sneaky"}}"#,
            r#"{"jsonrpc":"1.0","id":9,"method":"developments.create","params":{"name":"Sneaky"}}"#,
            r#"{"jsonrpc":"2.0","id":9,"method":"developments.create","params":"Sneaky"}"#,
            r#"{"jsonrpc":"2.0","id":9,"method":["developments.create"]}"#,
        ] {
            let (_, text) = post_text(&app, body).await;
            assert_eq!(code_and_id(&serde_json::from_str(&text).unwrap()), (-32600, json!(9)), "{body}");
        }
        // Not JSON at all: -32700, id null.
        let (_, text) = post_text(&app, r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#).await;
        assert_eq!(code_and_id(&serde_json::from_str(&text).unwrap()), (-32700, Value::Null));
        // An empty batch: one -32600.
        let (_, text) = post_text(&app, "[]").await;
        assert_eq!(code_and_id(&serde_json::from_str(&text).unwrap()), (-32600, Value::Null));
        // A batch of non-requests: one -32600 each; good neighbours still run.
        let (_, text) = post_text(&app, r#"[1,{"jsonrpc":"2.0","id":"ok","method":"auth.me"},"x",{"foo":"boo"}]"#).await;
        let answers: Value = serde_json::from_str(&text).unwrap();
        let answers = answers.as_array().expect("a batch answer");
        assert_eq!(answers.len(), 4, "{text}");
        for i in [0, 2, 3] {
            assert_eq!(code_and_id(&answers[i]), (-32600, Value::Null), "{text}");
        }
        assert_eq!(parse_response(&answers[1]).unwrap()["user"]["email"], "owner@acme.test");
        assert!(development_names(&app).await.is_empty(), "no refused request ran");
    }

    async fn a_batch_may_hold_one_login_only(app: TestApp) {
        let login = |id: u32| json!({"jsonrpc": "2.0", "id": id, "method": "auth.login", "params": {"email": "owner@acme.test", "password": "wrong-password-here"}});
        let batch = json!([login(1), login(2), {"jsonrpc": "2.0", "id": 3, "method": "auth.me"}, login(4)]);
        let (status, answer) = app.owner.post_raw(batch.to_string()).await;
        assert_eq!(status, 200);
        let answers = answer.as_array().expect("a batch answer");
        assert_eq!(answers.len(), 4, "{answer}");
        // The first login ran (and failed on its password), the others were refused unrun.
        parse_response(&answers[0]).expect_err("wrong password").assert_kind(-32001, "UNAUTHENTICATED");
        for i in [1, 3] {
            let err = parse_response(&answers[i]).expect_err("a second login");
            err.assert_kind(-32029, "RATE_LIMITED");
            assert_eq!(err.data["retryAfterMs"], 0, "{err:?}");
            assert!(err.data["reason"].as_str().unwrap().contains("one auth.login per batch"), "{err:?}");
        }
        assert_eq!(answers[3]["id"], 4);
        parse_response(&answers[2]).expect("the other call runs");
        // On its own, a login goes through.
        let good = json!([{"jsonrpc": "2.0", "id": 1, "method": "auth.login", "params": {"email": "owner@acme.test", "password": crate::support::server::PASSWORD}}]);
        let (_, answer) = app.anonymous().post_raw(good.to_string()).await;
        assert!(parse_response(&answer[0]).expect("one login")["token"].is_string());
    }

    async fn json_nested_64_levels_is_read_and_65_is_refused(app: TestApp) {
        // The body's object is level 1, params level 2, then arrays down to `depth`.
        let body = |depth: usize| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"developments.create","params":{{"name":{}"Deep"{}}}}}"#,
                "[".repeat(depth - 2),
                "]".repeat(depth - 2)
            )
        };
        let (_, at_limit) = post_text(&app, &body(64)).await;
        let err = parse_response(&serde_json::from_str(&at_limit).unwrap()).expect_err("not a string");
        err.assert_invalid("name");
        let (_, past) = post_text(&app, &body(65)).await;
        let answer: Value = serde_json::from_str(&past).unwrap();
        assert_eq!(code_and_id(&answer), (-32600, Value::Null), "{answer}");
        assert!(answer["error"]["data"]["reason"].as_str().unwrap().contains("nested deeper than 64"), "{answer}");
        // Far deeper (past serde_json's own limit): the same answer, and the server lives.
        let (_, far) = post_text(&app, &"[".repeat(100_000)).await;
        assert_eq!(code_and_id(&serde_json::from_str(&far).unwrap()), (-32600, Value::Null));
        app.owner.ok("auth.me", json!({})).await;
        assert!(development_names(&app).await.is_empty());
    }
}

on_both_databases! {
    async fn a_trace_log_holds_no_body_password_token_or_code(app: TestApp) {
        let logged = app.spawn_logged_server(&[("RUST_LOG", "trace")]).await;
        let client = crate::support::Client::new(&logged.url, None);
        let wrong_password = "wrong-horse-7731-battery";
        client.err("auth.login", json!({"email": "owner@acme.test", "password": wrong_password})).await;
        let signed = client.ok("auth.login", json!({"email": "owner@acme.test", "password": crate::support::server::PASSWORD})).await;
        let token = signed["token"].as_str().unwrap().to_owned();
        let owner = client.with_token(Some(token.clone()));
        let dev = owner.ok("developments.create", json!({"name": "Oak Park"})).await;
        let http_code = "HTTP-CODE-5521#";
        let params = json!({"developmentId": dev["id"], "codeType": "gate", "label": "Main gate", "code": http_code});
        owner.ok("keys.createAccessCode", params).await;
        // Over WebSocket, with the token in the query.
        let url = logged.url.replacen("http://", "ws://", 1) + &format!("?access_token={token}");
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("upgrade");
        let ws_code = "WS-CODE-8834*";
        let create = json!({"jsonrpc": "2.0", "id": 1, "method": "keys.createAccessCode",
            "params": {"developmentId": dev["id"], "codeType": "door", "label": "Side door", "code": ws_code}});
        socket.send(Message::text(create.to_string())).await.unwrap();
        parse_response(&serde_json::from_str(&ws_next_text(&mut socket).await).unwrap()).expect("created over WebSocket");
        // Both values come back in an answer, which is not logged either.
        let listed = owner.ok("keys.listAccessCodes", json!({})).await;
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));
        socket.close(None).await.unwrap();
        let log = logged.stop().await;

        assert!(log.contains("TRACE") && log.contains("connection accepted"), "a trace log was captured: {log}");
        assert!(log.contains("keys.createAccessCode"), "the calls were logged: {log}");
        let plain = [wrong_password, crate::support::server::PASSWORD, token.as_str(), http_code, ws_code, "Main gate", "Side door"];
        // Frame dumps print payloads in hex.
        let hex: Vec<String> = plain.iter().map(|s| s.bytes().map(|b| format!("{b:02x}")).collect()).collect();
        for needle in plain.iter().copied().chain(hex.iter().map(String::as_str)) {
            let at = log.find(needle);
            let context = at.and_then(|i| log.get(i.saturating_sub(300)..(i + 300).min(log.len())));
            assert!(at.is_none(), "{needle:?} is in the log: …{context:?}…");
        }
    }
}
