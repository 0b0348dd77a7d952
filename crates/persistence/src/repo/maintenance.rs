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
//!
//! A loader with a second connection may take one table's definitions out of the load
//! ([`BulkLoad::split_off`]) once that table's rows are committed, and create them there
//! ([`create_again`]) while it loads the other tables on the first: on PostgreSQL an index
//! build uses a core the load leaves idle.

use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use super::counts;
use crate::StoreResult;
use crate::connection::AnyConnection;

/// What [`before_bulk_load`] took away, to be put back by [`after_bulk_load`].
#[must_use = "pass it to after_bulk_load, or the indexes stay dropped"]
pub struct BulkLoad {
    /// What was dropped: the table it belongs to and its `CREATE INDEX` / `CREATE TRIGGER`.
    recreate: Vec<Definition>,
}

struct Definition {
    table: String,
    statement: String,
}

impl BulkLoad {
    /// Takes the definitions on `table` out of this load, to be created again on their own.
    pub fn split_off(&mut self, table: &str) -> BulkLoad {
        let (taken, kept) = std::mem::take(&mut self.recreate).into_iter().partition(|d| d.table == table);
        self.recreate = kept;
        BulkLoad { recreate: taken }
    }
}

#[derive(diesel::QueryableByName)]
struct Dropped {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    table_name: String,
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
                "SELECT i.indexname AS name, i.tablename AS table_name, i.indexdef AS definition, \
                        'index' AS kind \
                 FROM pg_indexes i \
                 WHERE i.schemaname = current_schema() \
                   AND i.indexdef NOT LIKE 'CREATE UNIQUE%' \
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname) \
                 UNION ALL \
                 SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid), 'trigger' \
                 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
                 WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace \
                 ORDER BY 4, 1",
            )
            .load(c)?;
            for d in dropped {
                let on = if d.kind == "trigger" { format!(" ON \"{}\"", d.table_name) } else { String::new() };
                diesel::sql_query(format!("DROP {} \"{}\"{on}", d.kind.to_uppercase(), d.name)).execute(c)?;
                recreate.push(Definition { table: d.table_name, statement: d.definition });
            }
        }
        AnyConnection::Sqlite(c) => {
            // The load writes its pages into the file once, under a rollback journal that
            // holds next to nothing (the pages are new), instead of into the WAL and then
            // again into the file at the checkpoint (2 GB twice for the benchmark's data
            // set). Back to WAL in after_bulk_load.
            diesel::sql_query("PRAGMA journal_mode = TRUNCATE").execute(c)?;
            let dropped: Vec<Dropped> = diesel::sql_query(
                "SELECT name, tbl_name AS table_name, sql AS definition, type AS kind FROM sqlite_master \
                 WHERE type IN ('index', 'trigger') AND sql IS NOT NULL \
                   AND sql NOT LIKE 'CREATE UNIQUE%' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                 ORDER BY type, name",
            )
            .load(c)?;
            for d in dropped {
                diesel::sql_query(format!("DROP {} \"{}\"", d.kind.to_uppercase(), d.name)).execute(c)?;
                recreate.push(Definition { table: d.table_name, statement: d.definition });
            }
        }
    }
    Ok(BulkLoad { recreate })
}

/// Creates again what `load` holds of what [`before_bulk_load`] dropped.
pub fn create_again(conn: &mut AnyConnection, load: BulkLoad) -> StoreResult<()> {
    match conn {
        AnyConnection::Pg(c) => {
            // Index builds sort in memory up to this much (the default 64 MB made the
            // search index's build spill); for this session only.
            diesel::sql_query("SET maintenance_work_mem = '512MB'").execute(c)?;
            for d in &load.recreate {
                diesel::sql_query(&d.statement).execute(c)?;
            }
            diesel::sql_query("RESET maintenance_work_mem").execute(c)?;
        }
        AnyConnection::Sqlite(c) => {
            for d in &load.recreate {
                diesel::sql_query(&d.statement).execute(c)?;
            }
        }
    }
    Ok(())
}

/// Creates again what [`before_bulk_load`] dropped (but what was split off), makes
/// everything derived from the loaded rows right (the counts `repo::counts` maintains,
/// the search tables), then gathers the planner's statistics. Whatever was split off
/// must have been created again first: the statistics are gathered for its expressions too.
pub fn after_bulk_load(conn: &mut AnyConnection, load: BulkLoad) -> StoreResult<()> {
    if let AnyConnection::Pg(c) = conn {
        // Keys loaded while the search triggers were away have no head in key_search
        // (migration key_search): written here, before its index is built over them.
        diesel::sql_query(
            "INSERT INTO key_search (key_id, org_id, head) \
             SELECT k.id, k.org_id, keyward_search_head(k.search_text) FROM keys k \
             WHERE NOT EXISTS (SELECT 1 FROM key_search s WHERE s.key_id = k.id)",
        )
        .execute(c)?;
    }
    create_again(conn, load)?;
    match conn {
        AnyConnection::Pg(c) => {
            recount(c, "CAST(expected_return_at AS DATE)")?;
            // VACUUM, not only ANALYZE: it marks the loaded pages all-visible, so that an
            // index-only scan is one from the first call (as autovacuum keeps a table
            // that lives long), rather than visiting the heap until autovacuum comes by
            // in the middle of whatever runs next.
            diesel::sql_query("VACUUM (ANALYZE)").execute(c)?;
        }
        AnyConnection::Sqlite(c) => {
            // Keys loaded while the search triggers were away have no search_id and no
            // row in keys_grams: number them after the existing ones, rebuild the table.
            // Their holders' names are added to holder_names (whose trigger, back now,
            // indexes them in holder_grams). Migration holder_names.
            diesel::sql_query(
                "UPDATE keys SET search_id = rowid + (SELECT IFNULL(MAX(search_id), 0) FROM keys) \
                 WHERE search_id IS NULL",
            )
            .execute(c)?;
            diesel::sql_query("INSERT INTO keys_grams (keys_grams) VALUES ('delete-all')").execute(c)?;
            diesel::sql_query(
                "INSERT INTO keys_grams (rowid, grams) \
                 SELECT search_id, keyward_search_grams(org_id, keyward_search_head(search_text)) FROM keys",
            )
            .execute(c)?;
            diesel::sql_query(
                "INSERT INTO holder_names (org_id, name, search) \
                 SELECT org_id, issued_to, keyward_search_holder(MIN(search_text)) FROM keys \
                 WHERE issued_to IS NOT NULL GROUP BY org_id, issued_to \
                 ON CONFLICT (org_id, name) DO NOTHING",
            )
            .execute(c)?;
            recount(c, "date(expected_return_at)")?;
            diesel::sql_query("ANALYZE").execute(c)?;
            diesel::sql_query("PRAGMA journal_mode = WAL").execute(c)?;
        }
    }
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Optimization {
    #[diesel(sql_type = Text)]
    optimize: String,
}

/// Gathers the query planner's statistics again where they are missing or stale
/// (decision 188), returning the tables analyzed. SQLite gathers them only when told:
/// without them on an index a migration added beside analyzed ones, the planner guessed
/// that index cheap and read an organisation's whole audit log on every write.
/// `PRAGMA optimize` with `0x10000` checks every table (not only those this connection
/// queried) and with `0x2` analyzes those with an index that has no statistics (empty
/// tables stay so, and are listed every time) or that grew or shrank tenfold; `0x10`
/// bounds each `ANALYZE` to a sample (SQLite's temporary `analysis_limit`), so that it
/// takes milliseconds, not the minutes of reading every index of a large file under the
/// write lock. PostgreSQL's autovacuum analyzes by itself: nothing to do there.
pub fn refresh_planner_stats(conn: &mut AnyConnection) -> StoreResult<Vec<String>> {
    let AnyConnection::Sqlite(c) = conn else { return Ok(Vec::new()) };
    // 0x1: only say what would be done.
    let planned: Vec<Optimization> = diesel::sql_query("PRAGMA optimize(0x10013)").load(c)?;
    if !planned.is_empty() {
        diesel::connection::SimpleConnection::batch_execute(c, "PRAGMA optimize(0x10012)")?;
    }
    Ok(planned.into_iter().map(|p| p.optimize.trim_start_matches("ANALYZE ").replace('"', "")).collect())
}

/// Recomputes the maintained counts (migration `read_paths`; the due days older than a
/// week folded as the job folds them) and the lost flags of
/// `key_doors` (decision 123) from the rows, and gives a
/// code loaded without one its value period (the ledger's `access_code_values`); `due_day`
/// is the backend's expression for the day of `expected_return_at`.
fn recount<C>(c: &mut C, due_day: &str) -> diesel::QueryResult<()>
where
    C: diesel::connection::SimpleConnection,
{
    // The days the fold job would have folded by now are folded already (decision 182).
    let folded = counts::FOLDED_DAY.format("%Y-%m-%d");
    let horizon = counts::fold_horizon(crate::time::now()).format("%Y-%m-%d");
    let day = format!("CASE WHEN {due_day} < '{horizon}' THEN '{folded}' ELSE {due_day} END");
    c.batch_execute(&format!(
        "DELETE FROM key_counts; DELETE FROM key_due_days; DELETE FROM access_code_counts; \
         DELETE FROM key_ref_floors;
         INSERT INTO key_counts (org_id, development_id, status, n)
         SELECT org_id, development_id, status, COUNT(*) FROM keys GROUP BY org_id, development_id, status;
         INSERT INTO key_due_days (org_id, due_day, development_id, n)
         SELECT org_id, {day}, development_id, COUNT(*) FROM keys
         WHERE status = 'issued' AND expected_return_at IS NOT NULL
         GROUP BY org_id, {day}, development_id;
         INSERT INTO access_code_counts (org_id, development_id, n)
         SELECT org_id, development_id, COUNT(*) FROM access_codes GROUP BY org_id, development_id;
         INSERT INTO access_code_values (org_id, code_id, value_version, started_at, started_by)
         SELECT c.org_id, c.id, c.value_version, c.updated_at, '' FROM access_codes c
         WHERE NOT EXISTS (SELECT 1 FROM access_code_values v
                           WHERE v.code_id = c.id AND v.value_version = c.value_version);
         INSERT INTO key_ref_floors (org_id, ref_prefix, floor)
         SELECT k.org_id, k.ref_prefix,
                CASE WHEN NOT EXISTS (SELECT 1 FROM keys o WHERE o.org_id = k.org_id
                                        AND o.ref_prefix = k.ref_prefix AND o.ref_number = 1)
                     THEN 1 ELSE MIN(k.ref_number + 1) END
         FROM keys k
         WHERE k.ref_prefix IS NOT NULL AND k.ref_number >= 1
           AND NOT EXISTS (SELECT 1 FROM keys o WHERE o.org_id = k.org_id
                             AND o.ref_prefix = k.ref_prefix AND o.ref_number = k.ref_number + 1)
         GROUP BY k.org_id, k.ref_prefix;
         UPDATE key_doors SET key_lost = EXISTS (SELECT 1 FROM keys
             WHERE keys.id = key_doors.key_id AND keys.status = 'lost');"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::DatabaseUrl;

    #[test]
    fn an_index_added_beside_analyzed_ones_gets_statistics() {
        let mut conn = AnyConnection::open(&DatabaseUrl::Sqlite(":memory:".into()), None).unwrap();
        conn.run_migrations(None).unwrap();
        let AnyConnection::Sqlite(c) = &mut conn else { unreachable!() };
        diesel::connection::SimpleConnection::batch_execute(
            c,
            "CREATE TABLE t (a INTEGER, b INTEGER); CREATE INDEX t_a ON t (a);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
             INSERT INTO t SELECT i % 7, i FROM n;
             ANALYZE; CREATE INDEX t_b ON t (b);",
        )
        .unwrap();
        let analyzed = refresh_planner_stats(&mut conn).unwrap();
        assert!(analyzed.contains(&"main.t".to_owned()), "{analyzed:?}");
        #[derive(diesel::QueryableByName)]
        struct Stat {
            #[diesel(sql_type = Text)]
            stat: String,
        }
        let AnyConnection::Sqlite(c) = &mut conn else { unreachable!() };
        let stats: Vec<Stat> = diesel::sql_query("SELECT stat FROM sqlite_stat1 WHERE idx = 't_b'").load(c).unwrap();
        assert!(matches!(stats.as_slice(), [one] if one.stat.starts_with("500 ")), "the new index has statistics");
        // Empty tables have no statistics to keep, and stay on the list; `t` does not.
        assert!(!refresh_planner_stats(&mut conn).unwrap().contains(&"main.t".to_owned()), "nothing stale now");
    }
}
