//! The domain's errors as JSON-RPC error objects: code, human message, and `data` with
//! the stable `kind` the SPA switches on. The contract's error table lives here.

use keyward_domain::{Error, KeyStatus};
use serde::{Deserialize, Serialize};
use specta::Type;

/// The stable machine-readable kind of an error (`data.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorKind {
    ParseError,
    InvalidRequest,
    BatchTooLarge,
    MethodNotFound,
    InvalidInput,
    Unauthenticated,
    Forbidden,
    NotFound,
    KeyRefTaken,
    InvalidTransition,
    VersionConflict,
    DevelopmentNotEmpty,
    DoorInUse,
    CodeNotActive,
    PersonArchived,
    CodeTaken,
    KeycardUnavailable,
    KeysNotInStock,
    HandoverRefused,
    RateLimited,
    SmsNotConfigured,
    SmsRejected,
    SmsUnavailable,
    Unavailable,
    Internal,
}

/// `error.data` of every error raised by a procedure.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ErrorData {
    pub kind: ErrorKind,
    /// The offending input field, as a dotted path (INVALID_INPUT, KEY_REF_TAKEN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Why the input (INVALID_INPUT) or the request (PARSE_ERROR, INVALID_REQUEST,
    /// BATCH_TOO_LARGE, METHOD_NOT_FOUND, a second `auth.login` in a batch) was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The key's status now (INVALID_TRANSITION).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status: Option<KeyStatus>,
    /// The entity's version now (VERSION_CONFLICT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i32>,
    /// How long to wait before trying again (RATE_LIMITED).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u32>,
    /// The SMS provider's error code (SMS_REJECTED, SMS_NOT_CONFIGURED), e.g. 21610 when
    /// the person replied STOP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_code: Option<i32>,
    /// The message may have gone out (SMS_UNAVAILABLE): do not simply send it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maybe_sent: Option<bool>,
    /// UNAVAILABLE: `false` when nothing was changed (safe to retry); `true` when the
    /// database stopped answering after the change was sent for commit, so it may have
    /// been saved: read before trying again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maybe_committed: Option<bool>,
    /// The door where the code is already in use (CODE_TAKEN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub door_id: Option<String>,
    /// The card asked for that is not free (KEYCARD_UNAVAILABLE with `strict`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<String>,
    /// The members of a key set that are not in stock (KEYS_NOT_IN_STOCK).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_refs: Option<Vec<String>>,
    /// Tries left before the code locks (HANDOVER_REFUSED with `reason: "wrong_code"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<i32>,
}

impl ErrorData {
    fn kind(kind: ErrorKind) -> Self {
        ErrorData {
            kind,
            field: None,
            reason: None,
            current_status: None,
            current_version: None,
            retry_after_ms: None,
            provider_code: None,
            maybe_sent: None,
            maybe_committed: None,
            door_id: None,
            key_ref: None,
            key_refs: None,
            tries_left: None,
        }
    }
}

/// A JSON-RPC error object: `code`, a human `message`, and `data` (always with `kind`).
#[derive(Debug, Clone, Serialize)]
pub struct ErrorObject {
    pub code: i32,
    pub message: String,
    pub data: ErrorData,
}

pub const PARSE_ERROR: i32 = -32700;
pub const INVALID_REQUEST: i32 = -32600;
pub const METHOD_NOT_FOUND: i32 = -32601;
pub const BATCH_TOO_LARGE: i32 = -32010;
pub const INVALID_INPUT: i32 = -32602;
pub const UNAUTHENTICATED: i32 = -32001;
pub const FORBIDDEN: i32 = -32003;
pub const NOT_FOUND: i32 = -32004;
pub const CONFLICT: i32 = -32009;
pub const RATE_LIMITED: i32 = -32029;
pub const SMS_NOT_CONFIGURED: i32 = -32050;
pub const SMS_REJECTED: i32 = -32051;
pub const SMS_UNAVAILABLE: i32 = -32052;
pub const UNAVAILABLE: i32 = -32503;
pub const INTERNAL: i32 = -32603;

impl ErrorKind {
    /// The JSON-RPC `code` of every error of this kind: the contract's error table.
    pub fn code(self) -> i32 {
        use ErrorKind::*;
        match self {
            ParseError => PARSE_ERROR,
            InvalidRequest => INVALID_REQUEST,
            BatchTooLarge => BATCH_TOO_LARGE,
            MethodNotFound => METHOD_NOT_FOUND,
            InvalidInput => INVALID_INPUT,
            Unauthenticated => UNAUTHENTICATED,
            Forbidden => FORBIDDEN,
            NotFound => NOT_FOUND,
            KeyRefTaken | InvalidTransition | VersionConflict | DevelopmentNotEmpty | DoorInUse | CodeNotActive
            | PersonArchived | CodeTaken | KeycardUnavailable | KeysNotInStock | HandoverRefused => CONFLICT,
            RateLimited => RATE_LIMITED,
            SmsNotConfigured => SMS_NOT_CONFIGURED,
            SmsRejected => SMS_REJECTED,
            SmsUnavailable => SMS_UNAVAILABLE,
            Unavailable => UNAVAILABLE,
            Internal => INTERNAL,
        }
    }
}

/// The code and `data` for a domain error. Internal details are logged by the caller and
/// never reach the message.
pub fn to_rpc(error: &Error) -> ErrorObject {
    let data = match error {
        Error::InvalidInput { field, reason } => ErrorData {
            field: Some(field.clone()),
            reason: Some(reason.clone()),
            ..ErrorData::kind(ErrorKind::InvalidInput)
        },
        Error::Unauthenticated | Error::WrongCredentials => ErrorData::kind(ErrorKind::Unauthenticated),
        Error::Forbidden => ErrorData::kind(ErrorKind::Forbidden),
        Error::NotFound => ErrorData::kind(ErrorKind::NotFound),
        Error::KeyRefTaken(_) => {
            ErrorData { field: Some("keyRef".to_owned()), ..ErrorData::kind(ErrorKind::KeyRefTaken) }
        }
        Error::InvalidTransition { current } => {
            ErrorData { current_status: Some(*current), ..ErrorData::kind(ErrorKind::InvalidTransition) }
        }
        Error::VersionConflict { current } => {
            ErrorData { current_version: Some(*current), ..ErrorData::kind(ErrorKind::VersionConflict) }
        }
        Error::DevelopmentNotEmpty => ErrorData::kind(ErrorKind::DevelopmentNotEmpty),
        Error::DoorInUse => ErrorData::kind(ErrorKind::DoorInUse),
        Error::CodeNotActive => ErrorData::kind(ErrorKind::CodeNotActive),
        Error::PersonArchived => ErrorData::kind(ErrorKind::PersonArchived),
        Error::CodeTaken { door_id } => {
            ErrorData { door_id: Some(door_id.clone()), ..ErrorData::kind(ErrorKind::CodeTaken) }
        }
        Error::RateLimited { retry_after_ms } => {
            ErrorData { retry_after_ms: Some(*retry_after_ms), ..ErrorData::kind(ErrorKind::RateLimited) }
        }
        Error::SmsNotConfigured { provider_code } => {
            ErrorData { provider_code: *provider_code, ..ErrorData::kind(ErrorKind::SmsNotConfigured) }
        }
        Error::KeycardUnavailable { key_ref } => {
            ErrorData { key_ref: key_ref.clone(), ..ErrorData::kind(ErrorKind::KeycardUnavailable) }
        }
        Error::KeysNotInStock { key_refs } => {
            ErrorData { key_refs: Some(key_refs.clone()), ..ErrorData::kind(ErrorKind::KeysNotInStock) }
        }
        Error::HandoverRefused { reason, tries_left } => ErrorData {
            reason: Some(reason.as_str().to_owned()),
            tries_left: *tries_left,
            ..ErrorData::kind(ErrorKind::HandoverRefused)
        },
        Error::SmsRejected { provider_code } => {
            ErrorData { provider_code: *provider_code, ..ErrorData::kind(ErrorKind::SmsRejected) }
        }
        Error::SmsUnavailable { maybe_sent } => {
            ErrorData { maybe_sent: Some(*maybe_sent), ..ErrorData::kind(ErrorKind::SmsUnavailable) }
        }
        Error::Unavailable | Error::CannotStore(_) => {
            ErrorData { maybe_committed: Some(false), ..ErrorData::kind(ErrorKind::Unavailable) }
        }
        Error::MaybeCommitted => ErrorData { maybe_committed: Some(true), ..ErrorData::kind(ErrorKind::Unavailable) },
        Error::Internal(_) => ErrorData::kind(ErrorKind::Internal),
    };
    let message = match error {
        Error::Internal(_) => "internal error; it has been logged".to_owned(),
        other => other.to_string(),
    };
    ErrorObject { code: data.kind.code(), message, data }
}

/// A refusal before any procedure runs, with the reason in `data.reason`.
fn protocol(kind: ErrorKind, message: &str, reason: String) -> ErrorObject {
    ErrorObject {
        code: kind.code(),
        message: message.to_owned(),
        data: ErrorData { reason: Some(reason), ..ErrorData::kind(kind) },
    }
}

/// -32700: the body is not JSON.
pub fn parse_error(reason: impl Into<String>) -> ErrorObject {
    protocol(ErrorKind::ParseError, "Parse error", reason.into())
}

/// -32600: JSON, but not a JSON-RPC 2.0 request (or refused by the transport: too big,
/// too slow, malformed framing).
pub fn invalid_request(reason: impl Into<String>) -> ErrorObject {
    protocol(ErrorKind::InvalidRequest, "Invalid request", reason.into())
}

/// -32601: no procedure has this name.
pub fn method_not_found() -> ErrorObject {
    protocol(ErrorKind::MethodNotFound, "Method not found", "no procedure has this name".to_owned())
}

/// -32010: more calls in one batch than the limit.
pub fn batch_too_large(calls: usize, max: usize) -> ErrorObject {
    protocol(ErrorKind::BatchTooLarge, "Batch too large", format!("{calls} calls in one batch; at most {max}"))
}

/// RATE_LIMITED for every `auth.login` of a batch after its first: password hashing is
/// costly on purpose, so one request may start at most one. Sent on its own, it is
/// answered at once (`retryAfterMs` 0).
pub fn second_login_in_batch() -> ErrorObject {
    let mut error = to_rpc(&Error::RateLimited { retry_after_ms: 0 });
    error.data.reason = Some("at most one auth.login per batch; send it on its own".to_owned());
    error
}
