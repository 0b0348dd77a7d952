//! One HTTP request: `POST /` (JSON-RPC), a WebSocket upgrade on `GET /`, `GET /health`,
//! `GET /metrics` (when enabled), `POST /twilio/status`, `POST /twilio/inbound`, `POST /test/clock` (with
//! `--test-clock` only). Every refusal with a body answers
//! JSON-RPC-shaped JSON.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use keyward_persistence::repo::jobs;
use tower_http::request_id::RequestId;

use super::{Shared, test_clock, websocket};
use crate::error::{self, ErrorObject};
use crate::jsonrpc::{CallContext, envelope};
use crate::procedure::{BearerToken, ClientAddr};
use crate::{twilio_inbound, twilio_status};

pub type HttpResponse = Response<Full<Bytes>>;

/// How a connection is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Over the total connection cap: every request is answered "saturated".
    Saturated,
}

/// Answers one request.
pub async fn handle(
    shared: Arc<Shared>,
    mode: Mode,
    guard: super::ConnectionRef,
    req: Request<Incoming>,
) -> HttpResponse {
    let path = req.uri().path();
    if mode == Mode::Saturated {
        let mut response = if req.method() == Method::GET && path == "/health" {
            saturated_health(&shared)
        } else {
            refusal(StatusCode::SERVICE_UNAVAILABLE, "the server is at its connection limit; retry later")
        };
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    match (req.method(), path) {
        (&Method::GET, "/health") => health(&shared).await,
        (&Method::GET, "/metrics") if shared.metrics.is_some() => metrics(&shared),
        (&Method::POST, twilio_status::PATH) => twilio_report(&shared, req).await,
        (&Method::POST, twilio_inbound::PATH) => twilio_message(&shared, req).await,
        (&Method::POST, test_clock::PATH) if shared.test_clock.is_some() => move_test_clock(&shared, req).await,
        (&Method::POST, "/") => rpc(&shared, req).await,
        (&Method::GET, "/") if websocket::is_upgrade(&req) => {
            let ctx = call_context(&req);
            websocket::upgrade(shared, guard, ctx, req)
        }
        (_, "/") => {
            let mut response =
                refusal(StatusCode::METHOD_NOT_ALLOWED, "JSON-RPC is POST / (or a WebSocket upgrade on GET /)");
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST, GET"));
            response
        }
        _ => refusal(StatusCode::NOT_FOUND, "no such path: JSON-RPC is served on /"),
    }
}

/// `GET /health`: 503 `saturated` at the connection cap, 503 `unavailable` when the
/// database does not answer, else 200 `ok`; with the connection count either way, and
/// the jobs' counts when the database answered.
async fn health(shared: &Shared) -> HttpResponse {
    if shared.connections.saturated() {
        return saturated_health(shared);
    }
    let db = &shared.rpc.app().db;
    if !db.ping().await {
        return health_answer(shared, StatusCode::SERVICE_UNAVAILABLE, "unavailable", None);
    }
    let jobs = db.run(jobs::counts).await.ok();
    health_answer(shared, StatusCode::OK, "ok", jobs)
}

fn saturated_health(shared: &Shared) -> HttpResponse {
    health_answer(shared, StatusCode::SERVICE_UNAVAILABLE, "saturated", None)
}

/// `{"status", "connections", "maxConnections", "jobs"}`: the connections served now and
/// the cap; the jobs due, running and failed (`null` when not read).
fn health_answer(shared: &Shared, status: StatusCode, word: &str, jobs: Option<jobs::Counts>) -> HttpResponse {
    let (connections, max) = shared.connections.load();
    let jobs = match jobs {
        Some(c) => format!(r#"{{"due":{},"running":{},"failed":{}}}"#, c.due, c.running, c.failed),
        None => "null".to_owned(),
    };
    json(status, format!(r#"{{"status":"{word}","connections":{connections},"maxConnections":{max},"jobs":{jobs}}}"#))
}

/// `GET /metrics`: every series in Prometheus' text format, the pool's gauges read now.
/// No token: nothing in it belongs to an organisation (see [`crate::metrics`]).
fn metrics(shared: &Shared) -> HttpResponse {
    crate::metrics::record_pool(shared.rpc.app().db.pool_status());
    let body = shared.metrics.as_ref().map(|render| render()).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// `POST /`: the body (bounded in size and time) to [`crate::jsonrpc::Rpc::handle_message`].
async fn rpc(shared: &Shared, req: Request<Incoming>) -> HttpResponse {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, "the body must be JSON (content-type: application/json)");
    }
    let ctx = call_context(&req);
    // Held until the answer is built: the body's bytes count against the budget.
    let Some(_budget) = shared.body_budget.reserve(declared_length(&req), shared.limits.max_body_bytes) else {
        let mut response =
            refusal(StatusCode::SERVICE_UNAVAILABLE, "too many request bodies are being read at once; retry shortly");
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let body = match read_body(req, shared.limits.max_body_bytes, shared.limits.body_timeout).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    match shared.rpc.handle_message(&body, &ctx).await {
        Some(answer) => json(StatusCode::OK, answer),
        None => {
            let mut response = Response::new(Full::default());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
    }
}

/// Reads a whole body: 413 over `max` (at once when the declared length says so), 408
/// when it takes longer than `timeout`, 400 when its framing is malformed.
async fn read_body(req: Request<Incoming>, max: usize, timeout: Duration) -> Result<Bytes, HttpResponse> {
    let too_big = || refusal(StatusCode::PAYLOAD_TOO_LARGE, &format!("the body is over the limit of {max} bytes"));
    if declared_length(&req).is_some_and(|len| len > max as u64) {
        return Err(too_big());
    }
    match tokio::time::timeout(timeout, Limited::new(req.into_body(), max).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(too_big()),
        Ok(Err(_)) => Err(refusal(StatusCode::BAD_REQUEST, "the body's framing is malformed")),
        Err(_) => Err(refusal(
            StatusCode::REQUEST_TIMEOUT,
            &format!("the body did not arrive within {} ms", timeout.as_millis()),
        )),
    }
}

/// The body's length as its `Content-Length` declares it (none when chunked).
fn declared_length(req: &Request<Incoming>) -> Option<u64> {
    req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
}

/// Twilio's delivery reports: a small form, outside JSON-RPC.
async fn twilio_report(shared: &Shared, req: Request<Incoming>) -> HttpResponse {
    let query = req.uri().query().map(str::to_owned);
    let signature = req.headers().get("x-twilio-signature").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let status = match read_body(req, 64 * 1024, shared.limits.body_timeout).await {
        Ok(body) => twilio_status::handle(shared.rpc.app(), query.as_deref(), signature.as_deref(), &body).await,
        Err(refused) => return refused,
    };
    let mut response = Response::new(Full::default());
    *response.status_mut() = status;
    response
}

/// A text to the organisation's number: a small form, answered with TwiML.
async fn twilio_message(shared: &Shared, req: Request<Incoming>) -> HttpResponse {
    let signature = req.headers().get("x-twilio-signature").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let answer = match read_body(req, 64 * 1024, shared.limits.body_timeout).await {
        Ok(body) => twilio_inbound::handle(shared.rpc.app(), signature.as_deref(), &body).await,
        Err(refused) => return refused,
    };
    let mut response = Response::new(Full::new(Bytes::from(answer.twiml.clone().unwrap_or_default())));
    *response.status_mut() = answer.status;
    if answer.twiml.is_some() {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml; charset=utf-8"));
    }
    response
}

/// `POST /test/clock` (tests only): a small JSON body.
async fn move_test_clock(shared: &Shared, req: Request<Incoming>) -> HttpResponse {
    match read_body(req, 1024, shared.limits.body_timeout).await {
        Ok(body) => test_clock::handle(shared, &body).await,
        Err(refused) => refused,
    }
}

/// The bearer token, from `Authorization: Bearer …`, or `?access_token=` on a GET (a
/// browser cannot set headers on a WebSocket); and the request id.
fn call_context(req: &Request<Incoming>) -> CallContext {
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let from_query = || {
        (req.method() == Method::GET)
            .then(|| req.uri().query())
            .flatten()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("access_token=")))
            .map(str::to_owned)
    };
    let request_id =
        req.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or("-").to_owned();
    let client_addr = req.extensions().get::<ClientAddr>().map(|a| a.0);
    CallContext { token: from_header.or_else(from_query).map(BearerToken), request_id, client_addr }
}

/// A JSON-RPC error body (id null) for a request refused before JSON-RPC.
pub fn rpc_error_body(error: &ErrorObject) -> String {
    envelope::response(None, &Err(error.clone()))
}

/// A refusal with `status` and an INVALID_REQUEST body saying why.
pub fn refusal(status: StatusCode, reason: &str) -> HttpResponse {
    json(status, rpc_error_body(&error::invalid_request(reason)))
}

pub fn json(status: StatusCode, body: String) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
