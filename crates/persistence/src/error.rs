//! Storage failures and how they become the domain's errors.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use keyward_domain::Error;

/// What a repository function can fail with: a rule of the domain (NOT_FOUND,
/// INVALID_TRANSITION…) or the database itself.
#[derive(Debug)]
pub enum StoreError {
    Rule(Error),
    Db(DieselError),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        StoreError::Db(e)
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        StoreError::Rule(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Rule(e) => e,
            StoreError::Db(e) => from_diesel(e),
        }
    }
}

fn from_diesel(e: DieselError) -> Error {
    match e {
        DieselError::NotFound => Error::NotFound,
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => Error::Unavailable,
        // SQLite reports a lock it waited for in vain, PostgreSQL a deadlock, as unknown
        // errors: both are safe to retry.
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
            if info.message().contains("database is locked") || info.message().contains("deadlock detected") =>
        {
            Error::Unavailable
        }
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => Error::Unavailable,
        other => Error::Internal(format!("database: {other}")),
    }
}

/// Whether a database error is a unique-constraint violation. Both backends report the
/// kind; only PostgreSQL names the constraint, so callers decide what it means from the
/// table they wrote (each of our tables has at most one unique constraint besides its key).
pub fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Db(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)))
}

/// Whether a database error is a foreign-key violation: on PostgreSQL, a key or code
/// created in a development that a concurrent call just deleted (or the reverse).
pub fn is_foreign_key_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Db(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)))
}
