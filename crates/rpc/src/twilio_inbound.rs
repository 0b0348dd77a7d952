//! `POST /twilio/inbound`: Twilio's incoming-message webhook (issue 13 §3), the number
//! owner configures `{KEYWARD_PUBLIC_URL}/twilio/inbound` on the Twilio number. Not
//! JSON-RPC: Twilio posts a form and reads the TwiML answer as the reply to send.
//!
//! The organisation is the one whose SMS settings own the `To` number (or the messaging
//! service) under the `AccountSid`, and whose auth token verifies `X-Twilio-Signature`
//! over the configured URL (decision 150); no other text is trusted (403, nothing
//! changes). From a number that holds issued keys there: `RETURNED [ref]`, `EXTEND n
//! [ref]`, else the help; STOP and START (and Twilio's synonyms) switch reminders off and
//! on for the number, and Twilio itself replies to them.

use http::StatusCode;
use keyward_domain::inbound::{Command, Outcome};
use keyward_persistence::repo::sms;
use keyward_sms::{phone, signature};

use crate::App;
use crate::twilio_status::{form, form_field};

pub const PATH: &str = "/twilio/inbound";

/// What to answer Twilio: the status and, with 200, the TwiML reply.
pub struct Answer {
    pub status: StatusCode,
    pub twiml: Option<String>,
}

impl Answer {
    fn refused(status: StatusCode) -> Answer {
        Answer { status, twiml: None }
    }

    /// `<Response><Message>…</Message></Response>`, or `<Response/>` for no reply.
    fn reply(message: Option<&str>) -> Answer {
        let body = match message {
            Some(text) => format!("<Response><Message>{}</Message></Response>", xml_escaped(text)),
            None => "<Response/>".to_owned(),
        };
        Answer { status: StatusCode::OK, twiml: Some(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{body}")) }
    }
}

/// Handles one incoming message.
pub async fn handle(app: &App, signature_header: Option<&str>, body: &[u8]) -> Answer {
    let Some(public_url) = app.sms.public_url.as_deref() else { return Answer::refused(StatusCode::NOT_FOUND) };
    let Some(params) = form(body) else { return Answer::refused(StatusCode::BAD_REQUEST) };
    let field = |name: &str| form_field(&params, name);
    let (Some(header), Some(account_sid), Some(to), Some(from)) =
        (signature_header, field("AccountSid"), field("To"), field("From"))
    else {
        return Answer::refused(StatusCode::FORBIDDEN);
    };
    let (service, text) = (field("MessagingServiceSid"), field("Body").unwrap_or_default());
    let url = format!("{}{PATH}", public_url.trim_end_matches('/'));
    let (sealer, header) = (app.sealer.clone(), header.to_owned());
    let verified = app
        .db
        .run(move |c| {
            let mut verified = Vec::new();
            for org_id in sms::organisations_for(c, &account_sid, &to, service.as_deref())? {
                let account = sms::account(c, &sealer, &org_id)?;
                if account.is_some_and(|a| signature::verify(a.auth_token.expose(), &url, &params, &header)) {
                    verified.push(org_id);
                }
            }
            Ok(verified)
        })
        .await;
    let org_id = match verified.as_deref() {
        Err(_) => return Answer::refused(StatusCode::SERVICE_UNAVAILABLE),
        Ok([]) => {
            tracing::warn!("a Twilio inbound message with a bad signature or an unknown number was refused");
            return Answer::refused(StatusCode::FORBIDDEN);
        }
        Ok([org_id]) => org_id.clone(),
        Ok(_) => {
            tracing::warn!("a Twilio inbound message matches several organisations' number: ignored (decision 150)");
            return Answer::reply(None);
        }
    };
    let Ok(from) = phone::normalise(&from, app.sms.default_region) else {
        return Answer::reply(Outcome::NoKeys.reply().as_deref());
    };
    let command = Command::parse(&text);
    match app.db.write(move |c| sms::answer(c, &org_id, &from, command)).await {
        Ok(outcome) => Answer::reply(outcome.reply().as_deref()),
        // Twilio retries a failed webhook: let it.
        Err(_) => Answer::refused(StatusCode::SERVICE_UNAVAILABLE),
    }
}

/// Text as XML character data (TwiML's `<Message>`).
fn xml_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_twiml_with_its_text_escaped() {
        let answer = Answer::reply(Some("No key <A&B> is \"yours\""));
        assert_eq!(
            answer.twiml.as_deref(),
            Some(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>No key &lt;A&amp;B&gt; is &quot;yours&quot;</Message></Response>"
            )
        );
        assert_eq!(Answer::reply(None).twiml.as_deref(), Some("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"));
    }
}
