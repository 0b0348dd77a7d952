//! CSV imports, one way for every `*.importCsv` (issue 14 §2; decisions 161–163). The
//! `csv` crate reads the file (RFC 4180 quoting, CRLF or LF, ragged rows allowed so that
//! each is refused on its own line); this module adds what every import shares: the size
//! and row limits, the header matched case-insensitively against the area's documented
//! columns, cells un-neutralised ([`crate::csv_export::unneutralise`]), and [`apply`]:
//! one transaction, each row in its own savepoint, everything undone for a dry run or
//! when any row is refused. What a row means is the area's (`procedures::csv`): it builds
//! the same inputs as the create and update procedures and validates them there.

use std::collections::HashMap;

use keyward_domain::Error;
use keyward_persistence::connection::AnyConnection;
use keyward_persistence::{StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::csv_export::unneutralise;

/// The largest file an import takes, in bytes of UTF-8 (inside the 2 MiB request body).
pub const MAX_BYTES: usize = 1024 * 1024;
/// The most rows (after the header) an import takes.
pub const MAX_ROWS: usize = 5_000;

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportCsvInput {
    /// The file: UTF-8 (a leading BOM is skipped), a header line first, CRLF or LF line
    /// ends; at most 1 MiB and 5,000 rows.
    pub csv: String,
    /// `true`: answer what the import would do, and change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What became of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum RowOutcome {
    Created,
    Updated,
    Unchanged,
    Refused,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportRow {
    /// The line the row starts on (the header is line 1).
    pub line: u32,
    pub outcome: RowOutcome,
    /// The entity updated or left unchanged, or created (null when nothing was saved).
    pub id: Option<String>,
    /// Refused: the column at fault, or null when the row as a whole is.
    pub field: Option<String>,
    /// Refused: why, as the create or update procedure would say it.
    pub reason: Option<String>,
}

/// The answer of every `*.importCsv`.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub dry_run: bool,
    /// Whether the changes were saved: never for a dry run, and not when any row was
    /// refused (then nothing is saved).
    pub applied: bool,
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub refused: u32,
    /// Every row, in the file's order.
    pub rows: Vec<ImportRow>,
}

/// One column of an area's file.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    /// The header must have it.
    pub required: bool,
    /// Written by the export for reading; an import takes the column and ignores it.
    pub read_only: bool,
}

impl Column {
    pub const fn required(name: &'static str) -> Column {
        Column { name, required: true, read_only: false }
    }
    pub const fn optional(name: &'static str) -> Column {
        Column { name, required: false, read_only: false }
    }
    pub const fn read_only(name: &'static str) -> Column {
        Column { name, required: false, read_only: true }
    }
}

/// One row of the file, by column name: only the columns the header has (and that an
/// import reads), un-neutralised and trimmed.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u32,
    cells: HashMap<&'static str, String>,
    /// Set when the row cannot be read as a whole (another number of cells than the header).
    ragged: Option<String>,
}

impl Row {
    /// The cell of `column`; `None` when the file has no such column (the field is left
    /// as it is), `Some("")` for an empty cell.
    pub fn cell(&self, column: &str) -> Option<&str> {
        self.cells.get(column).map(String::as_str)
    }

    /// The cell as an optional value: absent or empty is `None`.
    pub fn value(&self, column: &str) -> Option<&str> {
        self.cell(column).filter(|v| !v.is_empty())
    }

    /// A cell a create needs: absent or empty is INVALID_INPUT on the column.
    pub fn required(&self, column: &str) -> Result<&str, Error> {
        self.value(column).ok_or_else(|| Error::invalid(column, "must not be empty"))
    }

    /// The cell as a patch of an optional field: absent → unchanged, empty → cleared.
    pub fn patch(&self, column: &str) -> Option<Option<String>> {
        self.cell(column).map(|v| Some(v.to_owned()).filter(|v| !v.is_empty()))
    }

    /// The cell parsed by `parse` (an enum of the domain, a number, a date); empty is `None`.
    pub fn parsed<T>(&self, column: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<Option<T>, Error> {
        match self.value(column) {
            None => Ok(None),
            Some(v) => parse(v).map(Some).ok_or_else(|| Error::invalid(column, format!("{v:?} is not a valid value"))),
        }
    }
}

/// Reads a file against an area's columns. The whole file is refused (INVALID_INPUT
/// `csv`, naming what is wrong) when it is over [`MAX_BYTES`] or [`MAX_ROWS`], has no
/// header, or its header has unknown, repeated or missing required columns.
pub fn parse(text: &str, columns: &[Column]) -> Result<Vec<Row>, Error> {
    if text.len() > MAX_BYTES {
        return Err(Error::invalid("csv", format!("is over {MAX_BYTES} bytes: import it in parts")));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| Error::invalid("csv", format!("cannot read the header: {e}")))?.clone();
    if header.iter().all(|name| name.trim().is_empty()) {
        return Err(Error::invalid("csv", "has no header line"));
    }
    let mut positions: Vec<Option<Column>> = Vec::with_capacity(header.len());
    let (mut unknown, mut repeated) = (Vec::new(), Vec::new());
    for name in &header {
        let name = unneutralise(name.trim());
        match columns.iter().find(|c| c.name.eq_ignore_ascii_case(&name)) {
            Some(column) if positions.iter().flatten().any(|seen| seen.name == column.name) => {
                repeated.push(column.name);
                positions.push(None);
            }
            Some(column) => positions.push(Some(*column)),
            None => {
                unknown.push(name.into_owned());
                positions.push(None);
            }
        }
    }
    let all = || columns.iter().map(|c| c.name).collect::<Vec<_>>().join(", ");
    if !unknown.is_empty() {
        return Err(Error::invalid(
            "csv",
            format!("unknown columns: {}; the columns are: {}", unknown.join(", "), all()),
        ));
    }
    if !repeated.is_empty() {
        return Err(Error::invalid("csv", format!("repeated columns: {}", repeated.join(", "))));
    }
    let missing: Vec<&str> = columns
        .iter()
        .filter(|c| c.required && !positions.iter().flatten().any(|seen| seen.name == c.name))
        .map(|c| c.name)
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid("csv", format!("missing required columns: {}", missing.join(", "))));
    }
    let mut rows = Vec::new();
    // The crate's own line numbers drift on CRLF files and blank lines, and its byte
    // position is where it began looking (before a CRLF's `\n` and any blank lines): lines
    // are counted here, up to the record's first byte (a record never starts with a line
    // end: blank lines are skipped).
    let (mut counted_to, mut line) = (0, 1);
    for record in reader.records() {
        let record = record.map_err(|e| Error::invalid("csv", format!("cannot be read: {e}")))?;
        if rows.len() == MAX_ROWS {
            return Err(Error::invalid("csv", format!("has more than {MAX_ROWS} rows: import it in parts")));
        }
        let start = record.position().map_or(counted_to, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        let mut start = start.clamp(counted_to, text.len());
        while matches!(text.as_bytes().get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        line += line_ends(&text.as_bytes()[counted_to..start]);
        counted_to = start;
        let ragged = (record.len() != header.len())
            .then(|| format!("has {} cells where the header has {}", record.len(), header.len()));
        let cells = positions
            .iter()
            .zip(record.iter())
            .filter_map(|(column, cell)| column.filter(|c| !c.read_only).map(|c| (c.name, cell)))
            .map(|(name, cell)| (name, unneutralise(cell).trim().to_owned()))
            .collect();
        rows.push(Row { line: u32::try_from(line).unwrap_or(u32::MAX), cells, ragged });
    }
    Ok(rows)
}

/// How many line ends `bytes` hold: `\n`, `\r\n` or a lone `\r`, as the `csv` crate reads them.
fn line_ends(bytes: &[u8]) -> usize {
    bytes.iter().enumerate().filter(|&(i, b)| *b == b'\n' || (*b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))).count()
}

/// What a row did.
pub struct Applied {
    pub outcome: RowOutcome,
    pub id: String,
}

impl Applied {
    /// `Updated`, or `Unchanged` when the update left the version as it was (an update
    /// that changes nothing records nothing).
    pub fn updated(id: String, version_before: i32, version_after: i32) -> Applied {
        let outcome = if version_after == version_before { RowOutcome::Unchanged } else { RowOutcome::Updated };
        Applied { outcome, id }
    }
}

/// Runs every row through `apply_row` in one write transaction (the caller's `Db::write`),
/// each in a savepoint: a refused row (a rule of the domain: INVALID_INPUT, NOT_FOUND,
/// KEY_REF_TAKEN…) is undone and reported with its line and field, and the next row goes
/// on. The changes are kept only when this is not a dry run and no row was refused
/// (all or nothing, decision 162). A failure of the database itself ends the import.
pub fn apply<F>(conn: &mut AnyConnection, rows: &[Row], dry_run: bool, mut apply_row: F) -> StoreResult<ImportReport>
where
    F: FnMut(&mut AnyConnection, &Row) -> StoreResult<Applied>,
{
    conn.savepoint(
        |report: &ImportReport| report.applied,
        |c| {
            let mut report = ImportReport {
                dry_run,
                applied: false,
                created: 0,
                updated: 0,
                unchanged: 0,
                refused: 0,
                rows: Vec::with_capacity(rows.len()),
            };
            for row in rows {
                let result = match &row.ragged {
                    Some(reason) => Err((None, reason.clone())),
                    None => match c.savepoint(|_| true, |c| apply_row(c, row)) {
                        Ok(applied) => Ok(applied),
                        Err(e) => Err(refusal(Error::from(e))?),
                    },
                };
                let (outcome, id, field, reason) = match result {
                    Ok(Applied { outcome, id }) => (outcome, Some(id), None, None),
                    Err((field, reason)) => (RowOutcome::Refused, None, field, Some(reason)),
                };
                *match outcome {
                    RowOutcome::Created => &mut report.created,
                    RowOutcome::Updated => &mut report.updated,
                    RowOutcome::Unchanged => &mut report.unchanged,
                    RowOutcome::Refused => &mut report.refused,
                } += 1;
                report.rows.push(ImportRow { line: row.line, outcome, id, field, reason });
            }
            report.applied = !dry_run && report.refused == 0;
            if !report.applied {
                // Created rows were undone: their ids name nothing.
                for row in report.rows.iter_mut().filter(|r| r.outcome == RowOutcome::Created) {
                    row.id = None;
                }
            }
            Ok(report)
        },
    )
}

/// A row's failure as a refusal (`field`, `reason`), or the error that ends the import
/// (the database failed: nothing is saved, the call answers it).
fn refusal(e: Error) -> Result<(Option<String>, String), StoreError> {
    match e {
        Error::Unavailable | Error::CannotStore(_) | Error::MaybeCommitted | Error::Internal(_) => Err(e.into()),
        Error::InvalidInput { field, reason } => Ok((Some(field), reason)),
        Error::KeyRefTaken(_) => Ok((Some("keyRef".to_owned()), e.to_string())),
        Error::NotFound => Ok((None, "names something that is not in the organisation (NOT_FOUND)".to_owned())),
        other => Ok((None, other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [Column; 3] = [Column::required("name"), Column::optional("notes"), Column::read_only("id")];

    #[test]
    fn headers_match_whatever_their_case_and_cells_are_unneutralised() {
        let rows = parse("\u{feff}NAME,Notes,ID\r\n'=1+1, x ,abc\r\n\"a,\"\"b\"\"\",,\n", &COLUMNS).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[0].cell("name"), rows[0].cell("notes")), (2, Some("=1+1"), Some("x")));
        assert_eq!(rows[0].cell("id"), None, "read-only columns are not read");
        assert_eq!((rows[1].line, rows[1].cell("name"), rows[1].patch("notes")), (3, Some("a,\"b\""), Some(None)));
    }

    #[test]
    fn unknown_repeated_and_missing_columns_are_named() {
        let invalid = |text: &str| match parse(text, &COLUMNS) {
            Err(Error::InvalidInput { field, reason }) => format!("{field}: {reason}"),
            other => panic!("{other:?}"),
        };
        assert_eq!(invalid("name,colour\n"), "csv: unknown columns: colour; the columns are: name, notes, id");
        assert_eq!(invalid("name,Name\n"), "csv: repeated columns: name");
        assert_eq!(invalid("notes\n"), "csv: missing required columns: name");
        assert_eq!(invalid(""), "csv: has no header line");
    }

    #[test]
    fn lines_are_counted_whatever_the_line_ends() {
        let rows = parse("name,notes\na,\"x\ny\"\nb,c\r\n\r\nd,e\r\rf,g\n", &COLUMNS).unwrap();
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 4, 6, 8]);
    }

    #[test]
    fn a_ragged_row_is_its_own_refusal() {
        let rows = parse("name,notes\na\nb,c,d\ne,f\n", &COLUMNS).unwrap();
        let ragged: Vec<_> = rows.iter().map(|r| r.ragged.as_deref()).collect();
        assert_eq!(
            ragged,
            vec![Some("has 1 cells where the header has 2"), Some("has 3 cells where the header has 2"), None]
        );
    }
}
