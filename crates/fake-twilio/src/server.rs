//! The HTTP side: the accept loop, one task per connection, routing, and the §7 rules for
//! `POST /2010-04-01/Accounts/{sid}/Messages.json`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::numbers::*;
use crate::{Inbound, Recorded, Scripted, Shared, segments};

type Body = Full<Bytes>;

/// Twilio caps `Body` at 1,600 characters; anything far beyond that is not a real client.
const MAX_REQUEST_BODY: usize = 1024 * 1024;
const MAX_BODY_CHARS: usize = 1600;
const MESSAGES_PREFIX: &str = "/2010-04-01/Accounts/";
const MESSAGES_SUFFIX: &str = "/Messages.json";

/// Accepts until `shutdown`'s sender is dropped.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<()>) {
    loop {
        let stream = tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let shared = shared.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(shared.clone(), req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            // Dropping the connection future also drops any handler waiting in a delay; that
            // is safe because every state change happens before the wait or after it.
            tokio::select! {
                _ = conn => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

/// `Some(sid)` when `path` is `/2010-04-01/Accounts/{sid}/Messages.json`.
pub(crate) fn messages_path_sid(path: &str) -> Option<&str> {
    let sid = path.strip_prefix(MESSAGES_PREFIX)?.strip_suffix(MESSAGES_SUFFIX)?;
    (!sid.is_empty() && !sid.contains('/')).then_some(sid)
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let mut response = route(&shared, req).await;
    let id = shared.request_ids.fetch_add(1, Ordering::Relaxed) + 1;
    let headers = response.headers_mut();
    headers.insert(header("twilio-request-id"), header_value(&format!("RQ{id:032x}")));
    headers.insert(header("twilio-concurrent-requests"), HeaderValue::from_static("1"));
    Ok(response)
}

async fn route(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let body = Limited::new(body, MAX_REQUEST_BODY).collect().await.map(|b| b.to_bytes());

    if (&parts.method, path.as_str()) == (&Method::POST, "/_fake/inbound") {
        return match body.map(|b| serde_json::from_slice::<Inbound>(&b)) {
            Ok(Ok(inbound)) => match shared.inbound(&inbound).await {
                Ok(reply) => response(StatusCode::OK, &json!(reply)),
                Err(e) => error_body(StatusCode::BAD_GATEWAY, &e),
            },
            Ok(Err(e)) => error_body(StatusCode::BAD_REQUEST, &format!("expected {{from, to, body, url}}: {e}")),
            Err(_) => error_body(StatusCode::PAYLOAD_TOO_LARGE, "request body too large or unreadable"),
        };
    }
    if path.starts_with("/_fake/") {
        return match body {
            Ok(body) => control(shared, &parts.method, &path, &body),
            Err(_) => error_body(StatusCode::PAYLOAD_TOO_LARGE, "request body too large or unreadable"),
        };
    }

    let credentials = basic_credentials(&parts.headers);
    let form = match &body {
        Ok(body) if is_form(&parts.headers) => serde_urlencoded::from_bytes(body).unwrap_or_default(),
        _ => Vec::new(),
    };
    // Recorded before anything can fail or wait, so a test sees the request even when the
    // client gave up on it.
    shared.state().requests.push(Recorded {
        method: parts.method.to_string(),
        path: path.clone(),
        auth_user: credentials.as_ref().map(|(user, _)| user.clone()),
        form: form.clone(),
        received_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });

    if body.is_err() {
        return twilio_error(StatusCode::PAYLOAD_TOO_LARGE, None, "Request body too large or unreadable");
    }
    match messages_path_sid(&path) {
        Some(sid) if parts.method == Method::POST => create_message(shared, credentials, sid, &path, &form).await,
        Some(_) => twilio_error(StatusCode::METHOD_NOT_ALLOWED, Some(20004), "Method not allowed"),
        None => not_found(&path),
    }
}

/// The fake's own endpoints; not recorded.
fn control(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Response<Body> {
    match (method, path) {
        (&Method::GET, "/_fake/requests") => {
            let requests = shared.state().requests.clone();
            response(StatusCode::OK, &json!(requests))
        }
        (&Method::POST, "/_fake/reset") => {
            shared.reset();
            empty(StatusCode::NO_CONTENT)
        }
        (&Method::POST, "/_fake/next") => match serde_json::from_slice::<Vec<Scripted>>(body) {
            Ok(next) if next.iter().all(Scripted::is_valid) => {
                shared.state().script.extend(next);
                empty(StatusCode::NO_CONTENT)
            }
            Ok(_) => error_body(StatusCode::BAD_REQUEST, "every status must be 200..=599"),
            Err(e) => error_body(StatusCode::BAD_REQUEST, &format!("expected a JSON array of scripted answers: {e}")),
        },
        _ => not_found(path),
    }
}

/// The form fields rules 3–11 look at. An empty value counts as absent, as it does for Twilio.
struct NewMessage<'a> {
    to: &'a str,
    from: Option<&'a str>,
    messaging_service_sid: Option<&'a str>,
    body: &'a str,
    num_media: usize,
}

/// Rules 1–11 of §7, in order; the first that matches answers.
async fn create_message(
    shared: &Shared,
    credentials: Option<(String, String)>,
    path_sid: &str,
    path: &str,
    form: &[(String, String)],
) -> Response<Body> {
    let config = &shared.config;

    // 1. Credentials: the Account SID with its Auth Token, or an API key with its secret.
    let Some((user, password)) = credentials else {
        return unauthorized("Authentication Error - No credentials provided");
    };
    let account = user == config.account_sid && password == config.auth_token;
    let api_key = config.api_keys.iter().any(|(sid, secret)| *sid == user && *secret == password);
    if !account && !api_key {
        let known_user = user == config.account_sid || config.api_keys.iter().any(|(sid, _)| *sid == user);
        return unauthorized(if known_user {
            "Authentication Error - invalid password"
        } else {
            "Authentication Error - invalid username"
        });
    }

    // 2. API keys belong to the configured account too, so the path must name that account.
    if path_sid != config.account_sid {
        return not_found(path);
    }

    // 3–7. Validation.
    let field = |name: &str| form.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str());
    let Some(to) = field("To") else {
        return rejected(21604, "A 'To' phone number is required.");
    };
    let from = field("From");
    let messaging_service_sid = field("MessagingServiceSid");
    if from.is_none() && messaging_service_sid.is_none() {
        return rejected(21603, "A 'From' phone number is required.");
    }
    let num_media = form.iter().filter(|(k, v)| k == "MediaUrl" && !v.is_empty()).count();
    let body = field("Body");
    if body.is_none() && num_media == 0 {
        return rejected(21602, "Message body is required.");
    }
    let body = body.unwrap_or_default();
    if body.chars().count() > MAX_BODY_CHARS {
        return rejected(21617, "The concatenated message body exceeds the 1600 character limit.");
    }
    if !is_e164(to) {
        return rejected(21211, &format!("Invalid 'To' Phone Number: {to}"));
    }
    let message = NewMessage { to, from, messaging_service_sid, body, num_media };

    // 8. The scripted queue.
    let scripted = shared.state().script.pop_front();
    if let Some(scripted) = scripted {
        return answer_scripted(shared, &scripted, &message).await;
    }

    // 9. Twilio's magic test numbers: the sender first, then the recipient.
    match from {
        Some(FROM_INVALID) => {
            return rejected(
                21212,
                &format!(
                    "The 'From' number {FROM_INVALID} is not a valid phone number, shortcode, or alphanumeric sender ID."
                ),
            );
        }
        Some(FROM_NOT_OWNED) => {
            return rejected(
                21606,
                "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination/account.",
            );
        }
        Some(FROM_QUEUE_FULL) => {
            return rejected(21611, "This 'From' number has exceeded the maximum number of queued messages.");
        }
        _ => {}
    }
    match to {
        TO_INVALID => return rejected(21211, &format!("Invalid 'To' Phone Number: {to}")),
        TO_UNROUTABLE => {
            return rejected(21612, &format!("The 'To' phone number: {to}, is not currently reachable via SMS."));
        }
        TO_REGION_DISABLED => {
            return rejected(
                21408,
                &format!(
                    "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}."
                ),
            );
        }
        TO_OPTED_OUT => return rejected(21610, "Attempt to send to unsubscribed recipient"),
        TO_NOT_MOBILE => return rejected(21614, &format!("'To' number {to} is not a valid mobile number")),
        _ => {}
    }

    // 10. keyward's fault numbers.
    match to {
        FAULT_429 => {
            let mut response = twilio_error(StatusCode::TOO_MANY_REQUESTS, Some(20429), "Too Many Requests");
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        FAULT_500 => {
            twilio_error(StatusCode::INTERNAL_SERVER_ERROR, Some(20500), "An internal server error has occurred")
        }
        FAULT_503 => twilio_error(StatusCode::SERVICE_UNAVAILABLE, Some(20503), "Service Unavailable"),
        FAULT_SLOW => {
            // Cancel-safe: if the client hangs up, hyper drops this future here and nothing
            // has been changed yet; the sid is only taken once the wait is over.
            tokio::time::sleep(config.slow_delay).await;
            created(shared, StatusCode::CREATED, &message)
        }
        // 11. Accepted.
        _ => created(shared, StatusCode::CREATED, &message),
    }
}

async fn answer_scripted(shared: &Shared, scripted: &Scripted, message: &NewMessage<'_>) -> Response<Body> {
    if let Some(ms) = scripted.delay_ms {
        // Cancel-safe for the same reason as the slow number: the entry is already popped and
        // nothing else changes until the wait is over.
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    // `is_valid` was checked when the entry was queued.
    let status = StatusCode::from_u16(scripted.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = if status.is_success() {
        created(shared, status, message)
    } else {
        let (default_code, default_message) = default_error(status);
        let code = scripted.code.or(default_code);
        let message = scripted.message.as_deref().unwrap_or(default_message);
        twilio_error(status, code, message)
    };
    if let Some(value) = scripted.retry_after.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

/// The §1.3 code and text for a scripted status that did not give its own.
fn default_error(status: StatusCode) -> (Option<i64>, &'static str) {
    match status.as_u16() {
        401 => (Some(20003), "Authentication Error - invalid username"),
        404 => (Some(20404), "The requested resource was not found"),
        429 => (Some(20429), "Too Many Requests"),
        500 => (Some(20500), "An internal server error has occurred"),
        503 => (Some(20503), "Service Unavailable"),
        _ => (None, status.canonical_reason().unwrap_or("Error")),
    }
}

/// The §1.2 body. `accepted` with `from: null` and `num_segments: "0"` when only a Messaging
/// Service was given, because Twilio has not picked a sender (and so an encoding) yet.
fn created(shared: &Shared, status: StatusCode, message: &NewMessage<'_>) -> Response<Body> {
    let sid = shared.next_sid();
    let account = &shared.config.account_sid;
    let now = chrono::Utc::now().to_rfc2822();
    let accepted = message.from.is_none();
    let num_segments = if accepted { 0 } else { segments::count(message.body).segments };
    let body = json!({
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": message.body,
        "date_created": now,
        "date_sent": null,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": message.from,
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": message.num_media.to_string(),
        "num_segments": num_segments.to_string(),
        "price": null,
        "price_unit": null,
        "sid": sid,
        "status": if accepted { "accepted" } else { "queued" },
        "subresource_uris": {
            "media": format!("/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"),
        },
        "to": message.to,
        "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json"),
    });
    response(status, &body)
}

fn rejected(code: i64, message: &str) -> Response<Body> {
    twilio_error(StatusCode::BAD_REQUEST, Some(code), message)
}

fn not_found(path: &str) -> Response<Body> {
    twilio_error(StatusCode::NOT_FOUND, Some(20404), &format!("The requested resource {path} was not found"))
}

fn unauthorized(message: &str) -> Response<Body> {
    let body = json!({
        "code": 20003,
        "detail": "Your AccountSid or AuthToken was incorrect.",
        "message": message,
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    });
    let mut response = response(StatusCode::UNAUTHORIZED, &body);
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Twilio API\""));
    response
}

/// Twilio's legacy 2010 error body (§1.3).
fn twilio_error(status: StatusCode, code: Option<i64>, message: &str) -> Response<Body> {
    let more_info = match code {
        Some(code) => format!("https://www.twilio.com/docs/errors/{code}"),
        None => "https://www.twilio.com/docs/errors".to_owned(),
    };
    let body = json!({ "code": code, "message": message, "more_info": more_info, "status": status.as_u16() });
    response(status, &body)
}

/// Errors of the control endpoints, which are the fake's own and need no Twilio shape.
fn error_body(status: StatusCode, message: &str) -> Response<Body> {
    response(status, &json!({ "error": message }))
}

fn response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

fn header(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}

/// Only called with ASCII we formatted ourselves.
fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// User and password of an `Authorization: Basic` header, if it decodes.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Twilio reads the body as a form only when the client says it is one.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// `^\+[1-9]\d{1,14}$`
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164() {
        for ok in ["+447400123456", "+12", "+123456789012345"] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in ["447400123456", "+0447400123456", "+1", "+1234567890123456", "+44 7400", "+४४७४", ""] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn messages_path() {
        assert_eq!(messages_path_sid("/2010-04-01/Accounts/ACx/Messages.json"), Some("ACx"));
        assert_eq!(messages_path_sid("/2010-04-01/Accounts//Messages.json"), None);
        assert_eq!(messages_path_sid("/2010-04-01/Accounts/AC/x/Messages.json"), None);
        assert_eq!(messages_path_sid("/2010-04-01/Accounts/ACx/Messages"), None);
    }

    #[test]
    fn basic_auth_decoding() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwYTpzcw=="));
        assert_eq!(basic_credentials(&headers), Some(("user".into(), "pa:ss".into())));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer dXNlcjpwYTpzcw=="));
        assert_eq!(basic_credentials(&headers), None);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&headers), None);
    }
}
