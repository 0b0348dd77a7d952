//! [`Kept`]: a statement that each connection prepares once and keeps, where diesel would
//! prepare it on every call (decision 186).
//!
//! Diesel keeps no `UPDATE`, no `ON CONFLICT … DO UPDATE`, no multi-row `INSERT` and no
//! `INSERT` with a `DEFAULT` value: their text may differ from one call to the next (the
//! columns a changeset sets, the number of rows), and its cache has no bound. A key's
//! transition wrote four such statements, so SQLite compiled the key's `UPDATE` (its
//! search triggers included) and PostgreSQL parsed and planned them on every call, inside
//! the write. Wrapped in `Kept`, a statement is kept under its text and bind types, as
//! diesel keeps any statement without a static query id: one entry per distinct text.
//! Use it only where the texts are few (the columns a transition sets, up to four counts
//! rows), never where a caller's input shapes the text (an edit's columns).

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// `query`, kept by the connection's statement cache under its text (module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kept<Q>(pub Q);

impl<Q, DB> QueryFragment<DB> for Kept<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

/// Never a static id: the cache keys the statement by its text.
impl<Q> QueryId for Kept<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Kept<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Kept<Q> {}
