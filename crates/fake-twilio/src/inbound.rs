//! Simulated incoming messages: what Twilio does when someone texts one of the account's
//! numbers. It POSTs the number's webhook URL a form (`MessageSid`, `AccountSid`, `From`,
//! `To`, `Body`, …) signed with the account's auth token in `X-Twilio-Signature`, and
//! reads the TwiML answer as the reply to send. The signature is Twilio's published
//! algorithm: base64(HMAC-SHA1(auth token, the URL + each parameter's name and value,
//! sorted by name)).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;

/// A text to simulate (`POST /_fake/inbound`, or [`crate::FakeTwilio::inbound`]).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inbound {
    pub from: String,
    /// One of the account's numbers.
    pub to: String,
    pub body: String,
    /// The webhook URL configured on the number: posted to and signed.
    pub url: String,
    /// Where the request actually arrives, when a proxy stands between Twilio and the
    /// server (the server's public URL differs from its address): still signed over `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_to: Option<String>,
}

/// What the webhook answered.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InboundReply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// The form Twilio posts for an SMS, in its order.
pub fn form(account_sid: &str, message_sid: &str, inbound: &Inbound) -> Vec<(String, String)> {
    [
        ("ToCountry", "GB"),
        ("SmsMessageSid", message_sid),
        ("NumMedia", "0"),
        ("SmsSid", message_sid),
        ("SmsStatus", "received"),
        ("Body", inbound.body.as_str()),
        ("FromCountry", "GB"),
        ("To", inbound.to.as_str()),
        ("NumSegments", "1"),
        ("MessageSid", message_sid),
        ("AccountSid", account_sid),
        ("From", inbound.from.as_str()),
        ("ApiVersion", "2010-04-01"),
    ]
    .iter()
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect()
}

/// `X-Twilio-Signature` for a POST of `form` to `url`.
pub fn signature(auth_token: &str, url: &str, form: &[(String, String)]) -> String {
    let mut pairs: Vec<String> = form.iter().map(|(name, value)| format!("{name}{value}")).collect();
    pairs.sort();
    let signed = format!("{url}{}", pairs.concat());
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts any key");
    mac.update(signed.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Posts the signed form and returns the answer.
pub async fn deliver(auth_token: &str, form: &[(String, String)], inbound: &Inbound) -> Result<InboundReply, String> {
    let signature = signature(auth_token, &inbound.url, form);
    let target = inbound.deliver_to.as_deref().unwrap_or(&inbound.url);
    let answer = reqwest::Client::new()
        .post(target)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .header("i-twilio-idempotency-token", form_value(form, "MessageSid"))
        .body(serde_urlencoded::to_string(form).map_err(|e| e.to_string())?)
        .send()
        .await
        .map_err(|e| format!("the webhook at {target} did not answer: {e}"))?;
    let status = answer.status().as_u16();
    let content_type = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = answer.text().await.map_err(|e| e.to_string())?;
    Ok(InboundReply { status, content_type, body })
}

fn form_value(form: &[(String, String)], name: &str) -> String {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twilio's published example (its security docs and the helper libraries' tests).
    #[test]
    fn signs_as_twilio_does() {
        let form: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &form),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
    }
}
