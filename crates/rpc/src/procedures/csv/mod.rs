//! `*.exportCsv` and `*.importCsv` of keys, access codes, people and doors (issue 14 §2;
//! decisions 160–164). Each area's module holds its columns (the file's documented
//! shape, docs/api.md § CSV files), its export (the list's filters, one query through
//! the list's indexes, at most [`EXPORT_MAX_ROWS`]) and its import, whose rows become the
//! same inputs as the area's create and update procedures and are validated there.
//! Writing and reading the file is `csv_export` and `csv_import`.

pub(super) mod access_codes;
pub(super) mod doors;
pub(super) mod keys;
pub(super) mod people;

use chrono::{DateTime, SecondsFormat, Utc};
use keyward_domain::{Actor, Error};
use keyward_persistence::connection::AnyConnection;
use keyward_persistence::{StoreResult, time};

use crate::csv_export::{CsvBuilder, CsvFile};
use crate::csv_import::{self, Applied, Column, ImportCsvInput, ImportReport, Row};
use crate::procedure::Call;

/// At most this many rows in one exported file, as the door log's CSV.
pub const EXPORT_MAX_ROWS: usize = super::reports::CSV_MAX_ROWS;

/// The refusal of an export whose filters match more than [`EXPORT_MAX_ROWS`].
fn too_many_rows() -> Error {
    Error::invalid("filters", format!("match more than {EXPORT_MAX_ROWS} rows: narrow them and export in parts"))
}

/// An instant as the files write it (RFC 3339, UTC).
fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The file of `items`, one row each by `cells` (in the order of `columns`), named
/// `<what>-<today>.csv`; more than [`EXPORT_MAX_ROWS`] items is INVALID_INPUT `filters`.
fn export<T>(
    what: &str,
    columns: &[Column],
    items: &[T],
    cells: impl Fn(&T) -> Vec<Option<String>>,
) -> Result<CsvFile, Error> {
    if items.len() > EXPORT_MAX_ROWS {
        return Err(too_many_rows());
    }
    let header: Vec<&str> = columns.iter().map(|c| c.name).collect();
    let mut csv = CsvBuilder::new(&header)?;
    for item in items {
        let row = cells(item);
        csv.row(row.iter().map(Option::as_deref))?;
    }
    let filename = format!("{what}-{}.csv", time::now_utc().format("%Y%m%d"));
    Ok(CsvFile { filename, csv: csv.finish()? })
}

/// The entity a row's `id` names: one of another organisation, or none, refuses the row
/// on `id`.
fn existing<T>(found: StoreResult<T>, what: &str) -> StoreResult<T> {
    match found.map_err(Error::from) {
        Err(Error::NotFound) => Err(Error::invalid("id", format!("no such {what} in the organisation")).into()),
        other => other.map_err(Into::into),
    }
}

/// An import's call: the file read against `columns`, then every row through `import_row`
/// in one write (`csv_import::apply`).
async fn import<F>(
    call: Call<'_>,
    input: ImportCsvInput,
    columns: &[Column],
    mut import_row: F,
) -> Result<ImportReport, Error>
where
    F: FnMut(&mut AnyConnection, &Actor, &Row) -> StoreResult<Applied> + Send + 'static,
{
    let actor = call.actor()?.clone();
    let rows = csv_import::parse(&input.csv, columns)?;
    let dry_run = input.dry_run;
    call.app.db.write(move |c| csv_import::apply(c, &rows, dry_run, |c, row| import_row(c, &actor, row))).await
}
