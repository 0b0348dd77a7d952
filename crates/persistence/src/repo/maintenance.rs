//! Work after data arrived by other ways than the procedures: the benchmark seed
//! (`cargo xtask seed`) bulk-loads rows with `COPY` or multi-row `INSERT` between
//! [`before_bulk_load`] and [`after_bulk_load`].
//!
//! Before the load, the secondary indexes and triggers are dropped (their definitions kept
//! as the database itself prints them, so that the migrations stay their only source):
//! building an index once over a million rows is many times faster than maintaining it
//! row by row. After the load they are created again, whatever the procedures maintain
//! row by row is made right in one pass, and the planner's statistics are gathered.
//! Unique indexes and those that back a constraint stay: the load is
//! checked by them as any write is.

use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use crate::StoreResult;
use crate::connection::AnyConnection;

/// What [`before_bulk_load`] took away, to be put back by [`after_bulk_load`].
#[must_use = "pass it to after_bulk_load, or the indexes stay dropped"]
pub struct BulkLoad {
    /// The `CREATE INDEX` / `CREATE TRIGGER` statements of what was dropped.
    recreate: Vec<String>,
}

#[derive(diesel::QueryableByName)]
struct Dropped {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
    #[diesel(sql_type = Text)]
    kind: String,
}

/// Drops the secondary indexes and triggers of an empty, migrated database before a bulk
/// load.
pub fn before_bulk_load(conn: &mut AnyConnection) -> StoreResult<BulkLoad> {
    let mut recreate = Vec::new();
    match conn {
        AnyConnection::Pg(c) => {
            let dropped: Vec<Dropped> = diesel::sql_query(
                "SELECT i.indexname AS name, i.indexdef AS definition, 'index' AS kind \
                 FROM pg_indexes i \
                 WHERE i.schemaname = current_schema() \
                   AND i.indexdef NOT LIKE 'CREATE UNIQUE%' \
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname) \
                 ORDER BY i.indexname",
            )
            .load(c)?;
            for d in dropped {
                diesel::sql_query(format!("DROP INDEX \"{}\"", d.name)).execute(c)?;
                recreate.push(d.definition);
            }
        }
        AnyConnection::Sqlite(c) => {
            let dropped: Vec<Dropped> = diesel::sql_query(
                "SELECT name, sql AS definition, type AS kind FROM sqlite_master \
                 WHERE type IN ('index', 'trigger') AND sql IS NOT NULL \
                   AND sql NOT LIKE 'CREATE UNIQUE%' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                 ORDER BY type, name",
            )
            .load(c)?;
            for d in dropped {
                diesel::sql_query(format!("DROP {} \"{}\"", d.kind.to_uppercase(), d.name)).execute(c)?;
                recreate.push(d.definition);
            }
        }
    }
    Ok(BulkLoad { recreate })
}

/// Creates again what [`before_bulk_load`] dropped, makes everything derived from the
/// loaded rows right, then gathers the planner's statistics.
pub fn after_bulk_load(conn: &mut AnyConnection, load: BulkLoad) -> StoreResult<()> {
    match conn {
        AnyConnection::Pg(c) => {
            for statement in &load.recreate {
                diesel::sql_query(statement).execute(c)?;
            }
            diesel::sql_query("ANALYZE").execute(c)?;
        }
        AnyConnection::Sqlite(c) => {
            for statement in &load.recreate {
                diesel::sql_query(statement).execute(c)?;
            }
            diesel::sql_query("ANALYZE").execute(c)?;
        }
    }
    Ok(())
}
