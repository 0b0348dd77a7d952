//! The domain's errors as JSON-RPC error objects: code, human message, and `data` with
//! the stable `kind` the SPA switches on. The contract's error table lives here.

use jsonrpsee::types::ErrorObjectOwned;
use keyward_domain::{Error, KeyStatus};
use serde::Serialize;
use specta::Type;

/// The stable machine-readable kind of an error (`data.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
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
    CodeNotActive,
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
    /// Why the input was refused (INVALID_INPUT).
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
        }
    }
}

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

/// The code and `data` for a domain error. Internal details are logged by the caller and
/// never reach the message.
pub fn to_rpc(error: &Error) -> ErrorObjectOwned {
    let (code, data) = match error {
        Error::InvalidInput { field, reason } => (
            INVALID_INPUT,
            ErrorData {
                field: Some(field.clone()),
                reason: Some(reason.clone()),
                ..ErrorData::kind(ErrorKind::InvalidInput)
            },
        ),
        Error::Unauthenticated | Error::WrongCredentials => {
            (UNAUTHENTICATED, ErrorData::kind(ErrorKind::Unauthenticated))
        }
        Error::Forbidden => (FORBIDDEN, ErrorData::kind(ErrorKind::Forbidden)),
        Error::NotFound => (NOT_FOUND, ErrorData::kind(ErrorKind::NotFound)),
        Error::KeyRefTaken(_) => {
            (CONFLICT, ErrorData { field: Some("keyRef".to_owned()), ..ErrorData::kind(ErrorKind::KeyRefTaken) })
        }
        Error::InvalidTransition { current } => {
            (CONFLICT, ErrorData { current_status: Some(*current), ..ErrorData::kind(ErrorKind::InvalidTransition) })
        }
        Error::VersionConflict { current } => {
            (CONFLICT, ErrorData { current_version: Some(*current), ..ErrorData::kind(ErrorKind::VersionConflict) })
        }
        Error::DevelopmentNotEmpty => (CONFLICT, ErrorData::kind(ErrorKind::DevelopmentNotEmpty)),
        Error::CodeNotActive => (CONFLICT, ErrorData::kind(ErrorKind::CodeNotActive)),
        Error::RateLimited { retry_after_ms } => (
            RATE_LIMITED,
            ErrorData { retry_after_ms: Some(*retry_after_ms), ..ErrorData::kind(ErrorKind::RateLimited) },
        ),
        Error::SmsNotConfigured { provider_code } => (
            SMS_NOT_CONFIGURED,
            ErrorData { provider_code: *provider_code, ..ErrorData::kind(ErrorKind::SmsNotConfigured) },
        ),
        Error::SmsRejected { provider_code } => {
            (SMS_REJECTED, ErrorData { provider_code: *provider_code, ..ErrorData::kind(ErrorKind::SmsRejected) })
        }
        Error::SmsUnavailable { maybe_sent } => {
            (SMS_UNAVAILABLE, ErrorData { maybe_sent: Some(*maybe_sent), ..ErrorData::kind(ErrorKind::SmsUnavailable) })
        }
        Error::Unavailable => (UNAVAILABLE, ErrorData::kind(ErrorKind::Unavailable)),
        Error::Internal(_) => (INTERNAL, ErrorData::kind(ErrorKind::Internal)),
    };
    let message = match error {
        Error::Internal(_) => "internal error; it has been logged".to_owned(),
        other => other.to_string(),
    };
    ErrorObjectOwned::owned(code, message, Some(data))
}
