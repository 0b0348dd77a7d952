//! The jsonrpsee server: JSON-RPC over HTTP `POST /` and WebSocket on one port,
//! request ids, bearer tokens, `GET /health`, body and batch limits, a span per call.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::future::{Either, join_all};
use http::{HeaderName, Method, StatusCode, header};
use jsonrpsee::server::middleware::rpc::{Batch, BatchEntry, Notification, Request, RpcServiceBuilder, RpcServiceT};
use jsonrpsee::server::{
    BatchRequestConfig, BatchResponseBuilder, HttpBody, HttpRequest, HttpResponse, MethodResponse, Server,
    ServerConfig, ServerHandle,
};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tracing::Instrument;

use crate::procedure::{self, BearerToken};
use crate::{App, twilio_status};

/// Bodies up to 2 MiB: large enough that an oversized text field is refused as
/// INVALID_INPUT on its field, small enough to bound memory. Larger bodies get HTTP 413.
pub const MAX_BODY_BYTES: u32 = 2 * 1024 * 1024;
pub const MAX_RESPONSE_BYTES: u32 = 16 * 1024 * 1024;
/// The most calls in one batch (-32010 BATCH_TOO_LARGE above it).
pub const MAX_BATCH: u32 = 50;

/// How the server listens and whom browsers may let call it.
#[derive(Debug, Clone)]
pub struct Options {
    /// Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Origins (`https://app.example.com`) whose pages may call the API from a browser.
    /// Empty: none (the default).
    pub cors_origins: Vec<http::HeaderValue>,
}

/// Starts serving; returns the handle and the address bound.
pub async fn start(app: App, options: Options) -> std::io::Result<(ServerHandle, SocketAddr)> {
    let app = Arc::new(app);
    let config = ServerConfig::builder()
        .max_request_body_size(MAX_BODY_BYTES)
        .max_response_body_size(MAX_RESPONSE_BYTES)
        .set_batch_request_config(BatchRequestConfig::Limit(MAX_BATCH))
        .max_connections(10_000)
        .build();
    let http = tower::ServiceBuilder::new()
        // Outermost, so that a preflight is answered before anything else looks at it.
        .layer(cors(options.cors_origins))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(FrontDoorLayer { app: Arc::clone(&app) })
        .map_request(extract_bearer_token);
    let rpc = RpcServiceBuilder::new().layer_fn(|inner| CallLog { inner });
    let server = Server::builder()
        .set_config(config)
        .set_http_middleware(http)
        .set_rpc_middleware(rpc)
        .build(options.listen)
        .await?;
    let addr = server.local_addr()?;
    Ok((server.start(procedure::module(app)), addr))
}

/// Lets the listed origins call from a browser: POST with JSON and a bearer token, the
/// request id readable. Other origins get no CORS headers, so browsers refuse them.
fn cors(origins: Vec<http::HeaderValue>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST, Method::GET])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, HeaderName::from_static("x-request-id")])
        .expose_headers([HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(600))
}

/// Puts the bearer token, if any, into the request's extensions, where every call of the
/// request (or of the WebSocket connection) finds it. Checking it is the procedure's job:
/// only it knows whether it needs one, and its error is a JSON-RPC error per call.
fn extract_bearer_token(mut req: HttpRequest<HttpBody>) -> HttpRequest<HttpBody> {
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    // A browser cannot set headers on a WebSocket: accept ?access_token= on the upgrade.
    let from_query = || {
        (req.method() == Method::GET)
            .then(|| req.uri().query())
            .flatten()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("access_token=")))
            .map(str::to_owned)
    };
    if let Some(token) = from_header.or_else(from_query) {
        req.extensions_mut().insert(BearerToken(token));
    }
    // What jsonrpsee logs of the request at TRACE must not show the token.
    if let Some(value) = req.headers_mut().get_mut(header::AUTHORIZATION) {
        value.set_sensitive(true);
    }
    if req.uri().query().is_some_and(|q| q.contains("access_token=")) {
        let path = req.uri().path().to_owned();
        if let Ok(uri) = path.parse() {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// What the server answers before JSON-RPC sees a request: `GET /health`, Twilio's
/// delivery reports (`POST /twilio/status`), and bodies without a length (chunked) that
/// exceed the limit. jsonrpsee checks a declared
/// `Content-Length` itself, but a streamed body over the limit would reach it as a read
/// error and be answered 500; here it is buffered up to the limit and refused with 413.
#[derive(Clone)]
struct FrontDoorLayer {
    app: Arc<App>,
}

impl<S> tower::Layer<S> for FrontDoorLayer {
    type Service = FrontDoor<S>;

    fn layer(&self, inner: S) -> FrontDoor<S> {
        FrontDoor { inner, app: Arc::clone(&self.app) }
    }
}

#[derive(Clone)]
struct FrontDoor<S> {
    inner: S,
    app: Arc<App>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> tower::Service<HttpRequest<HttpBody>> for FrontDoor<S>
where
    S: tower::Service<HttpRequest<HttpBody>, Response = HttpResponse<HttpBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse<HttpBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest<HttpBody>) -> Self::Future {
        // The clone that was made ready answers this request; `self` keeps a fresh one.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let app = Arc::clone(&self.app);
        Box::pin(async move {
            match front_door(req, &app).await {
                Ok(req) => inner.call(req).await,
                Err(answer) => Ok(answer),
            }
        })
    }
}

async fn front_door(req: HttpRequest<HttpBody>, app: &App) -> Result<HttpRequest<HttpBody>, HttpResponse<HttpBody>> {
    if req.method() == Method::GET && req.uri().path() == "/health" {
        return Err(if app.db.ping().await {
            json_response(StatusCode::OK, r#"{"status":"ok"}"#.to_owned())
        } else {
            json_response(StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"unavailable"}"#.to_owned())
        });
    }
    if req.method() == Method::POST && req.uri().path() == twilio_status::PATH {
        let query = req.uri().query().map(str::to_owned);
        let signature = req.headers().get("x-twilio-signature").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let limited = http_body_util::Limited::new(req.into_body(), 64 * 1024);
        let status = match http_body_util::BodyExt::collect(limited).await {
            Ok(body) => twilio_status::handle(app, query.as_deref(), signature.as_deref(), &body.to_bytes()).await,
            Err(_) => StatusCode::PAYLOAD_TOO_LARGE,
        };
        let mut response = HttpResponse::new(HttpBody::empty());
        *response.status_mut() = status;
        return Err(response);
    }
    if req.method() != Method::POST || req.headers().contains_key(header::CONTENT_LENGTH) {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_BODY_BYTES as usize)).await {
        Ok(collected) => Ok(HttpRequest::from_parts(parts, HttpBody::from(collected.to_bytes().to_vec()))),
        Err(_) => Err(json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                r#"{{"jsonrpc":"2.0","id":null,"error":{{"code":-32007,"message":"Request is too big","data":"Exceeded max limit of {MAX_BODY_BYTES}"}}}}"#
            ),
        )),
    }
}

fn json_response(status: StatusCode, body: String) -> HttpResponse<HttpBody> {
    let mut response = HttpResponse::new(HttpBody::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    response
}

/// A span per call (request id, procedure, organisation) and one log line with the
/// outcome and duration. Also runs the calls of a batch concurrently: jsonrpsee's own
/// batch handling would run them one after another and skip this middleware.
#[derive(Clone)]
struct CallLog<S> {
    inner: S,
}

impl<S> RpcServiceT for CallLog<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type BatchResponse = MethodResponse;
    type NotificationResponse = MethodResponse;

    fn call<'a>(&self, req: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .and_then(|id| id.header_value().to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let span = tracing::info_span!(
            "rpc",
            procedure = %req.method_name(),
            %request_id,
            org = tracing::field::Empty,
        );
        let inner = self.inner.clone();
        async move {
            let started = Instant::now();
            let response = inner.call(req).await;
            let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
            match response.as_error_code() {
                None => tracing::info!(duration_ms, "ok"),
                Some(code) => tracing::info!(duration_ms, code, "error"),
            }
            response
        }
        .instrument(span)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let this = self.clone();
        async move {
            let mut calls = Vec::with_capacity(batch.len());
            let mut got_notification = false;
            for entry in batch {
                match entry {
                    Ok(BatchEntry::Call(req)) => calls.push(Either::Left(this.call(req))),
                    Ok(BatchEntry::Notification(n)) => {
                        got_notification = true;
                        this.notification(n).await;
                    }
                    Err(err) => {
                        let (err, id) = err.into_parts();
                        calls.push(Either::Right(std::future::ready(MethodResponse::error(id, err))));
                    }
                }
            }
            let mut responses = BatchResponseBuilder::new_with_limit(MAX_RESPONSE_BYTES as usize);
            for response in join_all(calls).await {
                if let Err(too_large) = responses.append(response) {
                    return too_large;
                }
            }
            if responses.is_empty() && got_notification {
                MethodResponse::notification()
            } else {
                MethodResponse::from_batch(responses.finish())
            }
        }
    }

    fn notification<'a>(&self, n: Notification<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(n)
    }
}
