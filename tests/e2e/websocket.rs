//! JSON-RPC over WebSocket on the same port: the token as a header, or as
//! `?access_token=` (browsers cannot set headers on a WebSocket).

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::on_both_databases;
use crate::support::TestApp;
use crate::support::client::parse_response;

fn ws_url(app: &TestApp, query: &str) -> String {
    format!("{}{query}", app.url.replacen("http://", "ws://", 1))
}

/// Sends one call on a socket and reads its answer.
pub(crate) async fn call<S>(socket: &mut S, id: u32, method: &str, params: Value) -> Value
where
    S: SinkExt<Message> + StreamExt<Item = Result<Message, WsError>> + Unpin,
    <S as futures_util::Sink<Message>>::Error: std::fmt::Debug,
{
    let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    socket.send(Message::text(request.to_string())).await.expect("send");
    loop {
        match socket.next().await.expect("an answer").expect("a frame") {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

on_both_databases! {
    async fn calls_work_over_websocket_with_a_header_or_a_query_token(app: TestApp) {
        let token = app.owner.token.clone().unwrap();

        let mut request = ws_url(&app, "").into_client_request().unwrap();
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("upgrade with a header");
        let me = parse_response(&call(&mut socket, 1, "auth.me", json!({})).await).unwrap();
        assert_eq!(me["user"]["email"], "owner@acme.test");
        let dev = parse_response(&call(&mut socket, 2, "developments.create", json!({"name": "Oak Park"})).await).unwrap();
        assert_eq!(dev["keyPrefix"], "OP");

        let (mut browser, _) = tokio_tungstenite::connect_async(ws_url(&app, &format!("?access_token={token}")))
            .await
            .expect("upgrade with a query token");
        let listed = parse_response(&call(&mut browser, 1, "developments.list", json!({})).await).unwrap();
        assert_eq!(listed["items"][0]["name"], "Oak Park");

        let (mut anonymous, _) = tokio_tungstenite::connect_async(ws_url(&app, "")).await.expect("upgrade");
        let refused = parse_response(&call(&mut anonymous, 1, "keys.listKeys", json!({})).await).unwrap_err();
        refused.assert_kind(-32001, "UNAUTHENTICATED");
    }
}
