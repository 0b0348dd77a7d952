//! The one error type of keyward. Every failure a caller can see is a variant here; the
//! rpc crate maps each variant, in one place, to the contract's JSON-RPC code and
//! `data.kind`.

use crate::status::KeyStatus;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Wrong shape, type, range, length or format. `field` is a dotted path.
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: String, reason: String },
    #[error("not signed in, or the session has ended")]
    Unauthenticated,
    #[error("your role may not do this")]
    Forbidden,
    /// No such entity in the caller's organisation.
    #[error("not found")]
    NotFound,
    #[error("key ref {0} is already used in this organisation")]
    KeyRefTaken(String),
    #[error("not allowed while the key is {current}")]
    InvalidTransition { current: KeyStatus },
    #[error("changed by someone else since you read it (now version {current})")]
    VersionConflict { current: i32 },
    #[error("the development still has keys or access codes")]
    DevelopmentNotEmpty,
    #[error("the database is unavailable; try again")]
    Unavailable,
    /// A bug. The text is for the log only, never for the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput { field: field.into(), reason: reason.into() }
    }
}
