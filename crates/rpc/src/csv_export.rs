//! CSV exports, one way for every procedure that answers a file (`reports.doorLogCsv`,
//! issue 14's `*.exportCsv`; decisions 126, 160). The `csv` crate quotes and escapes (RFC 4180,
//! CRLF line ends); this module adds the one rule a spreadsheet needs on top: a cell
//! that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel,
//! LibreOffice and Google Sheets as a formula, so such a cell is written with a leading
//! `'` (OWASP's "CSV injection" advice), which they show as text. Every cell goes through
//! [`neutralise`]: callers cannot forget it.

use std::borrow::Cow;

use keyward_domain::Error;
use serde::Serialize;
use specta::Type;

/// A file answered inside JSON-RPC: its suggested name and its text.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CsvFile {
    /// `something.csv`: ASCII letters, digits, `-`, `_` and `.` only.
    pub filename: String,
    /// UTF-8, a header line first, CRLF line ends.
    pub csv: String,
}

/// Whether a cell, past any leading `'`, starts as a formula does. A cell that already
/// starts with `'` and then a formula start (`'=x` as the register holds it) gets one
/// more `'` too, so that [`unneutralise`] gives back exactly what was exported.
fn formula_like(cell: &str) -> bool {
    matches!(cell.trim_start_matches('\'').as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

/// The cell as a spreadsheet must read it: text, never a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if formula_like(cell) { Cow::Owned(format!("'{cell}")) } else { Cow::Borrowed(cell) }
}

/// The cell as it was before [`neutralise`]: one leading `'` taken off a cell that
/// neutralising would have marked (imports, `csv_import`). Any other cell is as written.
pub fn unneutralise(cell: &str) -> Cow<'_, str> {
    match cell.strip_prefix('\'') {
        Some(rest) if formula_like(rest) => Cow::Borrowed(rest),
        _ => Cow::Borrowed(cell),
    }
}

/// Builds one CSV text: a header, then rows of the same width.
pub struct CsvBuilder {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvBuilder {
    pub fn new(header: &[&str]) -> Result<CsvBuilder, Error> {
        let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
        writer.write_record(header.iter().map(|cell| neutralise(cell).into_owned())).map_err(internal)?;
        Ok(CsvBuilder { writer })
    }

    /// One row; `None` is an empty cell.
    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = Option<&'a str>>) -> Result<(), Error> {
        let cells = cells.into_iter().map(|cell| neutralise(cell.unwrap_or("")).into_owned());
        self.writer.write_record(cells).map_err(internal)
    }

    pub fn finish(self) -> Result<String, Error> {
        let bytes = self.writer.into_inner().map_err(|e| Error::Internal(format!("CSV: {e}")))?;
        String::from_utf8(bytes).map_err(|e| Error::Internal(format!("CSV: {e}")))
    }
}

fn internal(e: csv::Error) -> Error {
    Error::Internal(format!("CSV: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_neutralised_and_nothing_else() {
        for (cell, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Front gate", "Front gate"),
            ("a=b", "a=b"),
            ("", ""),
            ("2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            ("'=1", "''=1"),
            ("'plain", "'plain"),
        ] {
            assert_eq!(neutralise(cell), written, "{cell:?}");
            assert_eq!(unneutralise(written), cell, "{written:?}");
        }
    }

    #[test]
    fn cells_are_quoted_and_read_back() {
        let mut builder = CsvBuilder::new(&["name", "notes"]).unwrap();
        builder.row([Some("Smith, \"Jo\""), Some("line\nbreak")]).unwrap();
        builder.row([Some("=1+1"), None]).unwrap();
        let text = builder.finish().unwrap();
        assert!(text.starts_with("name,notes\r\n"));
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
        assert_eq!(
            rows,
            vec![vec!["Smith, \"Jo\"".to_owned(), "line\nbreak".to_owned()], vec!["'=1+1".to_owned(), String::new()]]
        );
    }
}
