//! JSON-RPC over WebSocket on `GET /`: hyper's upgrade, then tokio-tungstenite on the
//! server side. Each text (or binary) message is one JSON-RPC message, answered by a text
//! message (nothing for notifications); a connection runs a few messages at once.

use std::sync::Arc;

use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::http::{HttpResponse, refusal};
use super::{ConnectionRef, Shared};
use crate::jsonrpc::CallContext;

/// Messages of one connection being answered at once; reading pauses beyond it, or
/// once the messages in flight hold a whole body's worth of bytes.
const IN_FLIGHT: usize = 8;

/// How long a close the server started waits for the peer's close frame.
const CLOSE_LINGER: std::time::Duration = std::time::Duration::from_secs(2);

/// A WebSocket handshake request (RFC 6455 §4.2.1).
pub fn is_upgrade(req: &Request<Incoming>) -> bool {
    let has = |name: header::HeaderName, token: &str| {
        req.headers()
            .get_all(name)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|part| part.trim().eq_ignore_ascii_case(token))))
    };
    has(header::UPGRADE, "websocket") && has(header::CONNECTION, "upgrade")
}

/// Answers the handshake (101) and serves the socket once hyper hands it over.
pub fn upgrade(
    shared: Arc<Shared>,
    connection: ConnectionRef,
    ctx: CallContext,
    mut req: Request<Incoming>,
) -> HttpResponse {
    let version_ok = req.headers().get(header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v == "13");
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).filter(|_| version_ok) else {
        return refusal(StatusCode::BAD_REQUEST, "a WebSocket upgrade needs Sec-WebSocket-Key and version 13");
    };
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                // A frame may be up to twice the message limit: a message a little too big
                // is then read whole and refused with a close handshake (1009), rather
                // than cut off mid-frame, which makes the peer's unread bytes a TCP reset.
                // Past twice the limit the connection is dropped at the frame's header.
                let config = WebSocketConfig::default()
                    .max_message_size(Some(shared.limits.max_body_bytes))
                    .max_frame_size(Some(shared.limits.max_body_bytes.saturating_mul(2)));
                let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
                serve(socket, &shared, &ctx).await;
            }
            Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
        }
        // The connection counts as open until the socket is done.
        drop(connection);
    });
    let mut response = Response::new(Full::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// Where reading the socket stands.
enum Reading {
    Open,
    /// The peer closed, or the server is stopping: answer what is in flight, then close.
    Draining(Option<CloseFrame>),
}

async fn serve<S>(socket: WebSocketStream<S>, shared: &Shared, ctx: &CallContext)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = socket.split();
    let mut in_flight = FuturesUnordered::new();
    let mut in_flight_bytes = 0usize;
    let mut shutdown = shared.shutdown.clone();
    let mut reading = Reading::Open;
    loop {
        let open = matches!(reading, Reading::Open);
        tokio::select! {
            message = stream.next(), if open && in_flight.len() < IN_FLIGHT && in_flight_bytes < shared.limits.max_body_bytes => match message {
                Some(Ok(Message::Text(text))) => {
                    in_flight_bytes += text.len();
                    in_flight.push(answer(shared, ctx, text.as_bytes().to_vec()));
                }
                Some(Ok(Message::Binary(bytes))) => {
                    in_flight_bytes += bytes.len();
                    in_flight.push(answer(shared, ctx, bytes.to_vec()));
                }
                Some(Ok(Message::Close(_))) | None => reading = Reading::Draining(None),
                Some(Ok(_)) => {} // ping, pong: tungstenite answers pings itself
                Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => {
                    let reason = format!("a message is at most {} bytes", shared.limits.max_body_bytes);
                    reading = Reading::Draining(Some(CloseFrame { code: CloseCode::Size, reason: reason.into() }));
                }
                Some(Err(_)) => return,
            },
            Some((size, answer)) = in_flight.next(), if !in_flight.is_empty() => {
                in_flight_bytes -= size;
                if let Some(text) = answer
                    && sink.send(Message::text(text)).await.is_err()
                {
                    return;
                }
            }
            _ = shutdown.changed(), if open => {
                let going_away = CloseFrame { code: CloseCode::Away, reason: "the server is stopping".into() };
                reading = Reading::Draining(Some(going_away));
            }
        }
        if let Reading::Draining(close) = &reading
            && in_flight.is_empty()
        {
            // A close from the peer has been answered by tungstenite already.
            if let Some(close) = close {
                let _ = sink.send(Message::Close(Some(close.clone()))).await;
                // RFC 6455 §7.1.1: the server waits (bounded) for the peer's close before
                // dropping TCP, so that what the peer sent meanwhile is read, not reset.
                let _ = tokio::time::timeout(CLOSE_LINGER, async {
                    while let Some(Ok(message)) = stream.next().await {
                        if message.is_close() {
                            break;
                        }
                    }
                })
                .await;
            }
            let _ = sink.close().await;
            return;
        }
    }
}

/// The message's size (to give back) and its answer.
async fn answer(shared: &Shared, ctx: &CallContext, body: Vec<u8>) -> (usize, Option<String>) {
    (body.len(), shared.rpc.handle_message(&body, ctx).await)
}
