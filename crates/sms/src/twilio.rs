//! The Twilio adapter: one endpoint, `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`,
//! over reqwest (rustls). No Twilio crate: each either hard-codes api.twilio.com (so it
//! cannot be tested offline) or loses Twilio's error code (docs/decisions.md).
//!
//! Retry policy: only what Twilio certainly did not process is retried — 429, 503, and a
//! connection that never opened — at most `max_attempts` times, honouring `Retry-After`
//! within the deadline. A 500/502/504, or a timeout after the request was sent, may have
//! been delivered: never retried, reported as [`SendFailure::Unknown`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use serde::Deserialize;

use crate::SmsSender;

/// An organisation's Twilio account (the auth token opened from its sealed form).
#[derive(Clone)]
pub struct Credentials {
    pub account_sid: String,
    pub auth_token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("account_sid", &self.account_sid).field("auth_token", &"***").finish()
    }
}

/// One message to send. `body` may hold a code: it is never logged.
#[derive(Clone)]
pub struct OutboundSms {
    pub to: String,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: String,
    /// Where Twilio reports delivery (`{KEYWARD_PUBLIC_URL}/twilio/status?org=…`).
    pub status_callback: Option<String>,
}

/// Twilio accepted the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Twilio's message sid (`SM…`).
    pub provider_message_id: String,
    /// Twilio's status at creation (`queued`, `accepted`).
    pub provider_status: String,
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendFailure {
    /// Twilio refused the message (a 4xx other than 429); nothing was sent.
    #[error("rejected by the provider (HTTP {http_status}, code {code:?})")]
    Rejected { http_status: u16, code: Option<i64>, attempts: u32 },
    /// Twilio could not take it (429/503 or no connection, retries exhausted); nothing was sent.
    #[error("provider unavailable (HTTP {http_status:?}, code {code:?})")]
    Unavailable { http_status: Option<u16>, code: Option<i64>, attempts: u32 },
    /// The request went out and no clear answer came back: it may have been sent.
    #[error("outcome unknown: {reason}")]
    Unknown { reason: String, http_status: Option<u16>, attempts: u32 },
}

impl SendFailure {
    pub fn attempts(&self) -> u32 {
        match self {
            SendFailure::Rejected { attempts, .. }
            | SendFailure::Unavailable { attempts, .. }
            | SendFailure::Unknown { attempts, .. } => *attempts,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// First backoff; doubles, with jitter, up to `max_delay`.
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// The whole send, retries and waits included, ends by then.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(2),
            deadline: Duration::from_secs(20),
        }
    }
}

pub struct TwilioClient {
    http: reqwest::Client,
    base_url: String,
    policy: RetryPolicy,
}

/// One attempt's failure, before the retry policy has spoken.
#[derive(Debug)]
enum AttemptError {
    /// Surely not processed: may be retried.
    Retryable {
        http_status: Option<u16>,
        code: Option<i64>,
        retry_after: Option<Duration>,
    },
    Rejected {
        http_status: u16,
        code: Option<i64>,
    },
    Unknown {
        reason: String,
        http_status: Option<u16>,
    },
}

#[derive(Deserialize)]
struct MessageResource {
    sid: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<i64>,
}

impl TwilioClient {
    /// `base_url` is `https://api.twilio.com` in production; `request_timeout` bounds one
    /// attempt (connecting is bounded at 5 s).
    pub fn new(base_url: &str, request_timeout: Duration, policy: RetryPolicy) -> Result<TwilioClient, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5).min(request_timeout))
            .timeout(request_timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(TwilioClient { http, base_url: base_url.trim_end_matches('/').to_owned(), policy })
    }

    async fn attempt(&self, credentials: &Credentials, message: &OutboundSms) -> Result<Delivery, AttemptError> {
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base_url, credentials.account_sid);
        // SmartEncoded=false: Twilio must not swap look-alike characters inside a code.
        let mut form = vec![("To", message.to.as_str()), ("Body", message.body.as_str()), ("SmartEncoded", "false")];
        if let Some(from) = &message.from {
            form.push(("From", from));
        }
        if let Some(service) = &message.messaging_service_sid {
            form.push(("MessagingServiceSid", service));
        }
        if let Some(callback) = &message.status_callback {
            form.push(("StatusCallback", callback));
        }
        let response = self
            .http
            .post(&url)
            .basic_auth(&credentials.account_sid, Some(&credentials.auth_token))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    AttemptError::Retryable { http_status: None, code: None, retry_after: None }
                } else {
                    AttemptError::Unknown { reason: format!("no answer: {e}"), http_status: None }
                }
            })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if let Some(request_id) = response.headers().get("twilio-request-id").and_then(|v| v.to_str().ok()) {
            tracing::debug!(request_id, status, "twilio answered");
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| AttemptError::Unknown { reason: format!("answer cut off: {e}"), http_status: Some(status) })?;
        if (200..300).contains(&status) {
            let resource: MessageResource = serde_json::from_slice(&bytes).map_err(|e| AttemptError::Unknown {
                reason: format!("unreadable 2xx answer: {e}"),
                http_status: Some(status),
            })?;
            let sid = resource.sid.ok_or_else(|| AttemptError::Unknown {
                reason: "2xx answer without a sid".to_owned(),
                http_status: Some(status),
            })?;
            return Ok(Delivery {
                provider_message_id: sid,
                provider_status: resource.status.unwrap_or_else(|| "queued".to_owned()),
                attempts: 0,
            });
        }
        let code = serde_json::from_slice::<ErrorBody>(&bytes).ok().and_then(|b| b.code);
        Err(match status {
            429 | 503 => AttemptError::Retryable { http_status: Some(status), code, retry_after },
            400..=499 => AttemptError::Rejected { http_status: status, code },
            _ => AttemptError::Unknown { reason: format!("HTTP {status}, code {code:?}"), http_status: Some(status) },
        })
    }

    /// Sends with the retry policy; see the module doc.
    pub async fn send_with_retry(
        &self,
        credentials: &Credentials,
        message: &OutboundSms,
    ) -> Result<Delivery, SendFailure> {
        let started = Instant::now();
        let attempts = AtomicU32::new(0);
        let policy = self.policy;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.max_attempts.saturating_sub(1) as usize)
            .with_jitter();
        let result = (|| async {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(credentials, message).await
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|e| matches!(e, AttemptError::Retryable { .. }))
        .adjust(|e, backoff| {
            // `None`: the backoff has no attempt left (at most `max_attempts`), whatever
            // Twilio says. Otherwise Twilio's Retry-After, if any, instead of our backoff;
            // no wait past the deadline.
            let backoff = backoff?;
            let wait = match e {
                AttemptError::Retryable { retry_after: Some(after), .. } => *after,
                _ => backoff,
            };
            (started.elapsed() + wait < policy.deadline).then_some(wait)
        })
        .await;
        let attempts = attempts.load(Ordering::Relaxed);
        match result {
            Ok(delivery) => Ok(Delivery { attempts, ..delivery }),
            Err(AttemptError::Retryable { http_status, code, .. }) => {
                Err(SendFailure::Unavailable { http_status, code, attempts })
            }
            Err(AttemptError::Rejected { http_status, code }) => {
                Err(SendFailure::Rejected { http_status, code, attempts })
            }
            Err(AttemptError::Unknown { reason, http_status }) => {
                Err(SendFailure::Unknown { reason, http_status, attempts })
            }
        }
    }
}

impl SmsSender for TwilioClient {
    fn send<'a>(
        &'a self,
        credentials: &'a Credentials,
        message: &'a OutboundSms,
    ) -> Pin<Box<dyn Future<Output = Result<Delivery, SendFailure>> + Send + 'a>> {
        Box::pin(self.send_with_retry(credentials, message))
    }
}
