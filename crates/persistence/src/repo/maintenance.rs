//! Work after data arrived by other ways than the procedures: the benchmark seed
//! (`cargo xtask seed`) bulk-loads rows with `COPY` or multi-row `INSERT`, then calls
//! [`before_bulk_load`] and [`after_bulk_load`] around the load so that whatever the
//! procedures maintain row by row (planner statistics today) is made right in one pass.

use diesel::RunQueryDsl;

use crate::StoreResult;
use crate::connection::AnyConnection;

/// Prepares an empty, migrated database for a bulk load.
pub fn before_bulk_load(_conn: &mut AnyConnection) -> StoreResult<()> {
    Ok(())
}

/// Makes everything derived from the loaded rows right, then gathers the planner's
/// statistics.
pub fn after_bulk_load(conn: &mut AnyConnection) -> StoreResult<()> {
    match conn {
        AnyConnection::Pg(c) => {
            diesel::sql_query("ANALYZE").execute(c)?;
        }
        AnyConnection::Sqlite(c) => {
            diesel::sql_query("ANALYZE").execute(c)?;
        }
    }
    Ok(())
}
