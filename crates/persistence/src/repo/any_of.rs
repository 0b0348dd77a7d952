//! `column IN (a list whose length varies per call)` as one statement text, so that each
//! database prepares it once per connection and keeps it (decision 183).
//!
//! Diesel writes `eq_any` as `= ANY($1)` with one array on PostgreSQL, one statement
//! whatever the length; on SQLite as `IN (?, ?, …)`, a new text for every length, which
//! diesel never caches: a page of 50 keys parsed and planned its doors' and handovers'
//! statements on every call. Here SQLite gets `IN (SELECT value FROM json_each(?))`, the
//! list bound as one JSON array.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Text};

use crate::connection::{AnyConnection, MultiBackend};

/// The condition `column IN values` for `conn`'s database ([`any_of`]).
pub(crate) enum AnyOf<C: Column<SqlType = Text>> {
    Postgres(diesel::dsl::EqAny<C, Vec<String>>),
    Sqlite { column: C, values: String },
}

/// `column IN values`, written so that its statement is kept whatever the number of
/// values (module docs).
pub(crate) fn any_of<C, S>(conn: &AnyConnection, column: C, values: &[S]) -> AnyOf<C>
where
    C: Column<SqlType = Text> + ExpressionMethods,
    S: AsRef<str>,
{
    let values = values.iter().map(AsRef::as_ref);
    match conn {
        AnyConnection::Pg(_) => AnyOf::Postgres(column.eq_any(values.map(str::to_owned).collect::<Vec<_>>())),
        AnyConnection::Sqlite(_) => AnyOf::Sqlite {
            column,
            values: serde_json::to_string(&values.collect::<Vec<_>>()).expect("a list of strings is JSON"),
        },
    }
}

impl<C: Column<SqlType = Text>> Expression for AnyOf<C> {
    type SqlType = Bool;
}

impl<C: Column<SqlType = Text>, QS> AppearsOnTable<QS> for AnyOf<C> where C: AppearsOnTable<QS> {}

impl<C: Column<SqlType = Text>, QS> SelectableExpression<QS> for AnyOf<C> where C: SelectableExpression<QS> {}

impl<C: Column<SqlType = Text>, GB> ValidGrouping<GB> for AnyOf<C> {
    type IsAggregate = is_aggregate::Never;
}

impl<C: Column<SqlType = Text>> QueryId for AnyOf<C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C> QueryFragment<MultiBackend> for AnyOf<C>
where
    C: Column<SqlType = Text> + QueryFragment<MultiBackend>,
    diesel::dsl::EqAny<C, Vec<String>>: QueryFragment<MultiBackend>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        match self {
            AnyOf::Postgres(condition) => condition.walk_ast(out),
            AnyOf::Sqlite { column, values } => {
                column.walk_ast(out.reborrow())?;
                out.push_sql(" IN (SELECT value FROM json_each(");
                out.push_bind_param::<Text, _>(values)?;
                out.push_sql("))");
                Ok(())
            }
        }
    }
}
