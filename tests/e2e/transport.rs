//! The transport under hostile clients: bodies that never arrive, headers that never end,
//! malformed chunks, too many connections from one address or in all, and the size
//! limits of headers and WebSocket messages. Each server is started with small caps and
//! short timeouts, so that every test finishes in seconds.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::on_both_databases_with;
use crate::support::TestApp;
use crate::support::client::parse_response;
use crate::support::raw_http::{self, RawConnection, RawResponse};

const MAX_BODY: usize = 2 * 1024 * 1024;
const MAX_HEADER: usize = 16 * 1024;

/// A refusal answered as JSON-RPC-shaped JSON: INVALID_REQUEST with a reason, id null.
#[track_caller]
fn assert_json_refusal(resp: &RawResponse, status: u16) {
    assert_eq!(resp.status, status, "{resp:?}");
    assert_eq!(resp.header("content-type"), Some("application/json"), "{resp:?}");
    let body = resp.json();
    assert_eq!(body["id"], Value::Null, "{resp:?}");
    let err = parse_response(&body).expect_err("an error body");
    err.assert_kind(-32600, "INVALID_REQUEST");
    assert!(err.data["reason"].as_str().is_some_and(|r| !r.is_empty()), "{err:?}");
}

/// Opens `n` connections from `from`, each proven open (served) by a keep-alive call.
async fn open_connections(app: &TestApp, from: IpAddr, n: usize) -> Vec<RawConnection> {
    let mut open = Vec::new();
    for _ in 0..n {
        let mut conn = RawConnection::open_from(from, &app.url).await;
        let answer =
            conn.request(&raw_http::post_json(&app.url, r#"{"jsonrpc":"2.0","id":1,"method":"keys.fly"}"#)).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(parse_response(&answer.json()).expect_err("unknown").code, -32601);
        open.push(conn);
    }
    open
}

/// Retries `GET /health` on new connections until its answer satisfies `done` (bounded:
/// the server notices closed connections asynchronously); returns that connection, open.
async fn health_until(app: &TestApp, done: impl Fn(&RawResponse) -> bool) -> (RawConnection, RawResponse) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut conn = RawConnection::open(&app.url).await;
        let health = conn.request(&raw_http::get(&app.url, "/health")).await;
        if done(&health) {
            return (conn, health);
        }
        assert!(Instant::now() < deadline, "/health never got there: {health:?}");
        tokio::task::yield_now().await;
    }
}

on_both_databases_with! { &[("KEYWARD_BODY_TIMEOUT_MS", "1000"), ("KEYWARD_HEADER_TIMEOUT_MS", "1000")];
    async fn a_body_over_the_limit_is_413_at_once_and_a_slow_one_408(app: TestApp) {
        // Declares a terabyte and sends nothing: refused at once, without waiting.
        let mut conn = RawConnection::open(&app.url).await;
        let started = Instant::now();
        conn.send(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000000000000\r\n\r\n").await;
        let resp = conn.response().await;
        assert_json_refusal(&resp, 413);
        assert!(started.elapsed() < Duration::from_millis(900), "answered before the body timeout: {:?}", started.elapsed());
        assert!(conn.closed_within(Duration::from_secs(5)).await, "the connection is closed after the refusal");

        // Within the limit but slow: 408 after the body timeout, then closed.
        let mut slow = RawConnection::open(&app.url).await;
        let started = Instant::now();
        slow.send(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"jsonrpc\"").await;
        let resp = slow.response().await;
        assert_json_refusal(&resp, 408);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(10), "{waited:?}");
        assert!(slow.closed_within(Duration::from_secs(5)).await);

        // Headers that never end: the connection is closed after the header timeout.
        let mut silent = RawConnection::open(&app.url).await;
        silent.send(b"POST / HTTP/1.1\r\nhost: x\r\n").await;
        let started = Instant::now();
        assert!(silent.closed_within(Duration::from_secs(10)).await, "a half-sent head is not kept open");
        assert!(started.elapsed() >= Duration::from_millis(800), "{:?}", started.elapsed());
        // So is a connection that sends nothing at all.
        let mut idle = RawConnection::open(&app.url).await;
        assert!(idle.closed_within(Duration::from_secs(10)).await, "an idle connection is not kept open");

        // And the server still answers.
        app.owner.ok("auth.me", json!({})).await;
    }

    async fn a_malformed_chunk_size_is_400_and_other_transport_errors_are_json(app: TestApp) {
        let mut conn = RawConnection::open(&app.url).await;
        conn.send(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n").await;
        assert_json_refusal(&conn.response().await, 400);

        let mut conn = RawConnection::open(&app.url).await;
        let not_json = b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\n{}";
        assert_json_refusal(&conn.request(not_json).await, 415);
        let resp = conn.request(&raw_http::get(&app.url, "/")).await;
        assert_json_refusal(&resp, 405);
        assert_eq!(resp.header("allow"), Some("POST, GET"));
        assert_json_refusal(&conn.request(&raw_http::get(&app.url, "/nowhere")).await, 404);
        app.owner.ok("auth.me", json!({})).await;
    }

    async fn headers_up_to_sixteen_kibibytes_are_read_and_more_are_431(app: TestApp) {
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"auth.me"}"#;
        let token = app.owner.token.clone().unwrap();
        // A request head of exactly `len` bytes (padded with one filler header).
        let request = |len: usize| {
            let head = |filler: &str| {
                format!(
                    "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer {token}\r\ncontent-length: {}\r\nx-filler: {filler}\r\n\r\n",
                    body.len()
                )
            };
            let filler = "f".repeat(len - head("").len());
            let head = head(&filler);
            assert_eq!(head.len(), len);
            format!("{head}{body}").into_bytes()
        };
        let mut conn = RawConnection::open(&app.url).await;
        let at_limit = conn.request(&request(MAX_HEADER)).await;
        assert_eq!(at_limit.status, 200, "{at_limit:?}");
        assert_eq!(parse_response(&at_limit.json()).expect("auth.me")["user"]["email"], "owner@acme.test");
        let mut conn = RawConnection::open(&app.url).await;
        let past = conn.request(&request(MAX_HEADER + 1)).await;
        assert_eq!(past.status, 431, "{past:?}");
        app.owner.ok("auth.me", json!({})).await;
    }
}

on_both_databases_with! { &[("KEYWARD_MAX_CONNECTIONS_PER_IP", "4")];
    async fn connections_past_the_per_address_cap_are_refused_without_starving_others(app: TestApp) {
        let mine: IpAddr = "127.0.0.3".parse().unwrap();
        let held = open_connections(&app, mine, 4).await;
        // The fifth from the same address: 429 at once, JSON, closed.
        let mut fifth = RawConnection::open_from(mine, &app.url).await;
        let started = Instant::now();
        let resp = fifth.request(&raw_http::get(&app.url, "/health")).await;
        assert_json_refusal(&resp, 429);
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert!(fifth.closed_within(Duration::from_secs(5)).await);

        // Another address is served as usual, calls included.
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let mut theirs = open_connections(&app, other, 1).await;
        let token = app.owner.token.clone().unwrap();
        let call = format!(
            "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer {token}\r\ncontent-length: 43\r\n\r\n{}",
            r#"{"jsonrpc":"2.0","id":1,"method":"auth.me"}"#
        );
        let answer = theirs[0].request(call.as_bytes()).await;
        assert_eq!(parse_response(&answer.json()).expect("auth.me")["user"]["email"], "owner@acme.test");

        // Closing one frees its slot (the server notices the close asynchronously: bounded retry).
        drop(held.into_iter().next());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut again = RawConnection::open_from(mine, &app.url).await;
            if again.request(&raw_http::get(&app.url, "/health")).await.status == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "the closed connection's slot was never freed");
        }
    }
}

on_both_databases_with! { &[("KEYWARD_MAX_CONNECTIONS", "4")];
    async fn at_the_total_cap_health_reports_saturation_and_calls_get_503(app: TestApp) {
        // Once the harness's own connections have gone, this one is the only one open.
        let (first, _) = health_until(&app, |h| h.json()["connections"] == 1).await;
        let mut held = vec![first];
        held.extend(open_connections(&app, "127.0.0.1".parse().unwrap(), 3).await);
        // On a connection already open, /health now says saturated.
        let health = held[0].request(&raw_http::get(&app.url, "/health")).await;
        assert_eq!(health.status, 503, "{health:?}");
        assert_eq!(health.json(), json!({"status": "saturated", "connections": 4, "maxConnections": 4, "jobs": null}));
        // A new connection is still answered, but only to say so.
        let mut extra = RawConnection::open(&app.url).await;
        let health = extra.request(&raw_http::get(&app.url, "/health")).await;
        assert_eq!((health.status, health.json()["status"].clone()), (503, json!("saturated")), "{health:?}");
        assert_eq!(health.header("connection"), Some("close"));
        let mut extra = RawConnection::open(&app.url).await;
        let call = extra.request(&raw_http::post_json(&app.url, r#"{"jsonrpc":"2.0","id":1,"method":"auth.me"}"#)).await;
        assert_json_refusal(&call, 503);
        // The held connections still work.
        let call = held[1].request(&raw_http::post_json(&app.url, r#"{"jsonrpc":"2.0","id":1,"method":"keys.fly"}"#)).await;
        assert_eq!(parse_response(&call.json()).expect_err("unknown").code, -32601);
        // Once they close, the server is healthy again.
        drop(held);
        let (_, health) = health_until(&app, |h| h.status == 200).await;
        assert_eq!(health.json()["status"], "ok");
    }
}

on_both_databases_with! { &[];
    async fn a_websocket_message_up_to_the_body_limit_is_read_and_a_larger_one_closes_with_1009(app: TestApp) {
        let url = app.url.replacen("http://", "ws://", 1) + &format!("?access_token={}", app.owner.token.as_deref().unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("upgrade");
        // Exactly the limit: a call padded with whitespace, read and answered.
        let call = r#"{"jsonrpc":"2.0","id":"big","method":"auth.me"}"#;
        let mut at_limit = call.to_owned();
        at_limit.push_str(&" ".repeat(MAX_BODY - call.len()));
        socket.send(Message::text(at_limit)).await.unwrap();
        let answer = loop {
            match socket.next().await.expect("an answer").expect("a frame") {
                Message::Text(text) => break serde_json::from_str::<Value>(&text).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(answer["id"], "big");
        parse_response(&answer).expect("auth.me");
        // One byte more: the socket is closed with 1009 (message too big).
        let mut past = call.to_owned();
        past.push_str(&" ".repeat(MAX_BODY + 1 - call.len()));
        socket.send(Message::text(past)).await.unwrap();
        let close = loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        };
        assert_eq!(close.map(|f| f.code), Some(CloseCode::Size));
        // The close handshake completes: the server waits for our close, then ends the
        // stream (a reset here would be an error instead).
        let after = socket.next().await;
        assert!(after.is_none(), "expected the end of the stream, got {after:?}");
        app.owner.ok("auth.me", json!({})).await;
    }
}

crate::on_both_databases! {
    async fn stopping_closes_open_websockets_with_1001_and_exits(app: TestApp) {
        let server = app.spawn_logged_server(&[]).await;
        let url = server.url.replacen("http://", "ws://", 1) + &format!("?access_token={}", app.owner.token.as_deref().unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("upgrade");
        socket.send(Message::text(r#"{"jsonrpc":"2.0","id":1,"method":"auth.me"}"#)).await.unwrap();
        let answer = socket.next().await.expect("an answer").expect("a frame");
        assert!(matches!(&answer, Message::Text(t) if t.contains("owner@acme.test")), "{answer:?}");
        // SIGTERM: the open socket is told the server is going away, and the server exits
        // cleanly (`stop` asserts it) well within its 25 s drain.
        let started = Instant::now();
        let stopping = tokio::spawn(server.stop());
        let close = loop {
            match tokio::time::timeout(Duration::from_secs(20), socket.next()).await.expect("a close within 20 s") {
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        };
        assert_eq!(close.map(|f| f.code), Some(CloseCode::Away));
        stopping.await.expect("the server stopped");
        assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    }
}

on_both_databases_with! { &[("KEYWARD_MAX_BODY_MEMORY_MIB", "4")];
    async fn bodies_in_flight_share_a_memory_budget(app: TestApp) {
        // Two bodies declaring 2 MiB each, then stalled: the 4 MiB budget is spent. The
        // server asks for each body (`100 Continue`) once it has reserved room for it.
        let mut stalled = Vec::new();
        for _ in 0..2 {
            let mut conn = RawConnection::open(&app.url).await;
            let head = format!("POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nexpect: 100-continue\r\ncontent-length: {MAX_BODY}\r\n\r\n");
            conn.send(head.as_bytes()).await;
            assert_eq!(conn.response().await.status, 100, "room reserved, body asked for");
            conn.send(b"[").await;
            stalled.push(conn);
        }
        let call = raw_http::post_json(&app.url, r#"{"jsonrpc":"2.0","id":1,"method":"keys.fly"}"#);
        let mut conn = RawConnection::open(&app.url).await;
        let refused = conn.request(&call).await;
        assert_json_refusal(&refused, 503);
        assert_eq!(refused.header("retry-after"), Some("1"));
        // /health needs no body: still answered.
        let mut conn = RawConnection::open(&app.url).await;
        assert_eq!(conn.request(&raw_http::get(&app.url, "/health")).await.status, 200);
        // A stalled client gone, its reservation is given back.
        drop(stalled.pop());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut conn = RawConnection::open(&app.url).await;
            let resp = conn.request(&call).await;
            if resp.status == 200 {
                assert_eq!(parse_response(&resp.json()).expect_err("unknown").code, -32601);
                break;
            }
            assert!(Instant::now() < deadline, "the reservation was never given back: {resp:?}");
            tokio::task::yield_now().await;
        }
    }
}

crate::on_both_databases! {
    async fn a_flood_of_unsent_terabyte_bodies_leaves_the_server_answering(app: TestApp) {
        // The issue's reproduction, scaled down: many connections at once from one address
        // (not the test client's), each declaring a terabyte and sending nothing. None is held open: each is answered 413 (or 429
        // past the per-address cap) and closed, or, once more refusals are being written
        // than the server writes at once, closed without an answer.
        let flood: Vec<_> = (0..300)
            .map(|_| {
                let url = app.url.clone();
                tokio::spawn(async move {
                    let mut conn = RawConnection::open_from("127.0.0.4".parse().unwrap(), &url).await;
                    conn.send(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000000000000\r\n\r\n").await;
                    let answer = conn.all_until_closed(Duration::from_secs(10)).await.expect("closed within 10 s");
                    String::from_utf8_lossy(&answer).split(' ').nth(1).map(str::to_owned)
                })
            })
            .collect();
        // Other addresses are served meanwhile.
        app.owner.ok("auth.me", json!({})).await;
        let mut too_large = 0;
        for answered in flood {
            match answered.await.expect("the flooding task").as_deref() {
                Some("413") => too_large += 1,
                Some("429") | None => {}
                other => panic!("unexpected answer {other:?}"),
            }
        }
        assert!(too_large >= 1, "the connections within the cap are answered 413");
        let health = reqwest::get(format!("{}health", app.url)).await.expect("the server answers");
        assert_eq!(health.status(), 200);
        app.owner.ok("auth.me", json!({})).await;
    }
}
