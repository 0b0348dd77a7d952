//! Storage failures and how they become the domain's errors.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use keyward_domain::{Error, StorageFault};

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
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _)
        | DieselError::BrokenTransactionManager => Error::Unavailable,
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => Error::Unavailable,
        // PostgreSQL in recovery, or with default_transaction_read_only.
        DieselError::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _) => {
            Error::CannotStore(StorageFault::ReadOnly)
        }
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => match unknown_fault(info.message()) {
            Some(error) => error,
            None => Error::Internal(format!("database: {}", info.message())),
        },
        other => Error::Internal(format!("database: {other}")),
    }
}

/// What the errors both databases report only as text mean. SQLite reports a lock it
/// waited for in vain, PostgreSQL a deadlock or its `statement_timeout`: all safe to
/// retry. A full disk, a read-only file or a failing write: nothing was stored.
fn unknown_fault(message: &str) -> Option<Error> {
    const RETRY: [&str; 3] =
        ["database is locked", "deadlock detected", "canceling statement due to statement timeout"];
    if RETRY.iter().any(|m| message.contains(m)) {
        return Some(Error::Unavailable);
    }
    // SQLite: SQLITE_FULL; PostgreSQL: "could not extend file …: No space left on device".
    if message.contains("database or disk is full") || message.contains("No space left on device") {
        return Some(Error::CannotStore(StorageFault::Full));
    }
    // SQLite, on a connection opened after the file became read-only.
    if message.contains("readonly database") {
        return Some(Error::CannotStore(StorageFault::ReadOnly));
    }
    // SQLite, on a connection opened before (the write to the file or its log failed).
    if message.contains("disk I/O error") {
        return Some(Error::CannotStore(StorageFault::WriteFailed));
    }
    None
}

/// Whether the connection that returned this error should not be used again: it was
/// closed, or its file's state changed under it (a SQLite connection opened on a
/// read-only file stays read-only after the file is writable again).
pub(crate) fn breaks_connection(e: &StoreError) -> bool {
    match e {
        StoreError::Db(
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _)
            | DieselError::BrokenTransactionManager,
        ) => true,
        StoreError::Db(DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)) => {
            matches!(
                unknown_fault(info.message()),
                Some(Error::CannotStore(StorageFault::ReadOnly | StorageFault::WriteFailed))
            )
        }
        StoreError::Rule(Error::CannotStore(StorageFault::ReadOnly | StorageFault::WriteFailed)) => true,
        _ => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(message: &str) -> DieselError {
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(message.to_owned()))
    }

    #[test]
    fn database_faults_become_clear_errors() {
        let cases = [
            ("database is locked", Error::Unavailable),
            ("canceling statement due to statement timeout", Error::Unavailable),
            ("database or disk is full", Error::CannotStore(StorageFault::Full)),
            ("could not extend file \"base/1/2\": No space left on device", Error::CannotStore(StorageFault::Full)),
            ("attempt to write a readonly database", Error::CannotStore(StorageFault::ReadOnly)),
            ("disk I/O error", Error::CannotStore(StorageFault::WriteFailed)),
        ];
        for (message, expected) in cases {
            assert_eq!(from_diesel(unknown(message)), expected, "{message}");
        }
        assert!(matches!(from_diesel(unknown("syntax error")), Error::Internal(_)));
        let closed = DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, Box::new(String::new()));
        assert_eq!(from_diesel(closed), Error::Unavailable);
    }

    #[test]
    fn only_broken_connections_are_dropped() {
        assert!(breaks_connection(&StoreError::Db(unknown("disk I/O error"))));
        assert!(breaks_connection(&StoreError::Db(unknown("attempt to write a readonly database"))));
        assert!(breaks_connection(&StoreError::Db(DieselError::BrokenTransactionManager)));
        assert!(!breaks_connection(&StoreError::Db(unknown("database or disk is full"))));
        assert!(!breaks_connection(&StoreError::Db(DieselError::NotFound)));
        assert!(!breaks_connection(&StoreError::Rule(Error::NotFound)));
    }
}
