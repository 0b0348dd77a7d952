//! `POST /twilio/status?org={orgId}`: Twilio's delivery reports for the messages keyward
//! sent with a `StatusCallback` (only when `KEYWARD_PUBLIC_URL` is set). Not JSON-RPC:
//! Twilio posts a form and expects 200.
//!
//! A report is trusted only with a valid `X-Twilio-Signature`, computed over the URL
//! keyward gave Twilio (from configuration, never from the Host header) with the
//! organisation's auth token. It can only move a message forward; it is audited.

use http::StatusCode;
use keyward_persistence::repo::sms;
use keyward_sms::signature;

use crate::App;

pub const PATH: &str = "/twilio/status";

/// The callback URL for one organisation's messages.
pub fn url(public_url: &str, org_id: &str) -> String {
    format!("{}{PATH}?org={org_id}", public_url.trim_end_matches('/'))
}

/// A Twilio webhook's form, every pair as sent (the signature covers them all).
pub fn form(body: &[u8]) -> Option<Vec<(String, String)>> {
    serde_urlencoded::from_bytes(body).ok()
}

/// The first value of `name` in a form.
pub fn form_field(params: &[(String, String)], name: &str) -> Option<String> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// Handles one report; answers the HTTP status to send back.
pub async fn handle(app: &App, query: Option<&str>, signature_header: Option<&str>, body: &[u8]) -> StatusCode {
    let Some(public_url) = app.sms.public_url.as_deref() else { return StatusCode::NOT_FOUND };
    let Some(org_id) = query.and_then(|q| q.strip_prefix("org=")).filter(|org| !org.contains('&')) else {
        return StatusCode::FORBIDDEN;
    };
    let Some(params) = form(body) else { return StatusCode::BAD_REQUEST };
    let Some(header) = signature_header else { return StatusCode::FORBIDDEN };
    let (sealer, owner) = (app.sealer.clone(), org_id.to_owned());
    let account = match app.db.run(move |c| sms::account(c, &sealer, &owner)).await {
        Ok(Some(account)) => account,
        Ok(None) => return StatusCode::FORBIDDEN,
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE,
    };
    if !signature::verify(account.auth_token.expose(), &url(public_url, org_id), &params, header) {
        tracing::warn!(org = org_id, "a Twilio status report with a bad signature was refused");
        return StatusCode::FORBIDDEN;
    }
    let field = |name: &str| form_field(&params, name);
    let (Some(message_sid), Some(status)) = (field("MessageSid"), field("MessageStatus")) else {
        return StatusCode::OK; // nothing we track
    };
    let error_code = field("ErrorCode").and_then(|c| c.parse::<i32>().ok());
    let org_id = org_id.to_owned();
    match app.db.write(move |c| sms::apply_report(c, &org_id, &message_sid, &status, error_code)).await {
        Ok(_) => StatusCode::OK,
        // Twilio retries a failed callback: let it.
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}
