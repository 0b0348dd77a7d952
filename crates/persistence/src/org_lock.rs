//! Which organisation's row the write transaction running on this thread locked last, so
//! that `repo::lock_organisation` sends its `SELECT … FOR UPDATE` once per transaction
//! of one organisation and not once per helper that needs the lock (a key transition asked for it three
//! times: the transition, the key's write, the audit append; decision 181).
//!
//! Invariants:
//! - The memo exists only inside [`crate::connection::AnyConnection::write_transaction`]
//!   (a [`Scope`] opens and closes it), which runs its closure synchronously on one
//!   thread with one connection; outside it, nothing is remembered and every call locks.
//! - It names an organisation only once the lock statement succeeded in this
//!   transaction. A savepoint that rolls back restores what was remembered before it
//!   (PostgreSQL releases a row lock taken inside a savepoint rolled back to).
//! - A lock is held until the transaction ends, so what is remembered stays true until
//!   the scope closes.

use std::cell::RefCell;

thread_local! {
    /// `None`: no write transaction on this thread. `Some(None)`: one, without the lock.
    static HELD: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

/// A write transaction under way on this thread (see the module documentation).
pub(crate) struct Scope(());

impl Scope {
    pub(crate) fn open() -> Scope {
        HELD.with(|held| *held.borrow_mut() = Some(None));
        Scope(())
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        HELD.with(|held| *held.borrow_mut() = None);
    }
}

/// Whether this thread's write transaction already holds `org_id`'s lock.
pub(crate) fn is_held(org_id: &str) -> bool {
    HELD.with(|held| matches!(&*held.borrow(), Some(Some(org)) if org == org_id))
}

/// Remembers that the transaction took `org_id`'s lock (nothing outside a scope).
pub(crate) fn taken(org_id: &str) {
    HELD.with(|held| {
        if let Some(slot) = held.borrow_mut().as_mut() {
            *slot = Some(org_id.to_owned());
        }
    });
}

/// What is remembered now, to [`restore`] when a savepoint rolls back.
pub(crate) fn snapshot() -> Option<Option<String>> {
    HELD.with(|held| held.borrow().clone())
}

pub(crate) fn restore(before: Option<Option<String>>) {
    HELD.with(|held| *held.borrow_mut() = before);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_scope_remembers_and_only_until_it_closes() {
        taken("o1");
        assert!(!is_held("o1"), "outside a write transaction every call locks");
        let scope = Scope::open();
        assert!(!is_held("o1"));
        taken("o1");
        assert!(is_held("o1"));
        assert!(!is_held("o2"));
        let before = snapshot();
        taken("o2");
        assert!(is_held("o2") && !is_held("o1"));
        restore(before);
        assert!(is_held("o1"));
        drop(scope);
        assert!(!is_held("o1"));
        let _again = Scope::open();
        assert!(!is_held("o1"), "a new transaction starts without the lock");
    }
}
