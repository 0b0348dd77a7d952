//! CSV import and export (issue 14 §2): `keys.exportKeysCsv`, `keys.exportAccessCodesCsv`,
//! `people.exportCsv`, `doors.exportCsv` and their `*Csv` imports, read back and written
//! with the `csv` crate, on both databases.

mod exports;
mod hostile;
mod imports;

use serde_json::{Value, json};

use crate::support::{Client, TestApp};

/// A file's rows (after the header) as maps from column to cell.
pub fn rows(file: &Value) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = file["csv"].as_str().expect("csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().expect("a header").clone();
    reader
        .records()
        .map(|r| header.iter().map(str::to_owned).zip(r.expect("a record").iter().map(str::to_owned)).collect())
        .collect()
}

/// A file's header.
pub fn header(file: &Value) -> Vec<String> {
    let text = file["csv"].as_str().expect("csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader.headers().expect("a header").iter().map(str::to_owned).collect()
}

/// One column of every row.
pub fn column(file: &Value, name: &str) -> Vec<String> {
    rows(file).into_iter().map(|r| r[name].clone()).collect()
}

/// How many audit events the organisation has.
pub async fn audit_total(client: &Client) -> i64 {
    client.ok("audit.list", json!({"limit": 1})).await["total"].as_i64().expect("total")
}

/// An import's `(outcome, line, field)` of each row.
pub fn outcomes(report: &Value) -> Vec<(String, u64, Option<String>)> {
    report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().expect("outcome").to_owned(),
                r["line"].as_u64().expect("line"),
                r["field"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// A development with a door, two keys and a person whose texts a spreadsheet would run
/// as formulas or has to quote.
pub async fn register(app: &TestApp) -> Value {
    let o = &app.owner;
    let dev = app.development("Oak Park").await;
    let door = o.ok("doors.create", json!({"developmentId": dev["id"], "name": "=Front, \"main\"", "kind": "entrance", "notes": "line one\nline two"})).await;
    let key = o
        .ok(
            "keys.createKey",
            json!({
                "developmentId": dev["id"], "keyType": "physical_key", "label": "=HYPERLINK(\"http://203.0.113.9\")",
                "notes": "+44 call first, then\r\n@desk", "brand": "-Abloy", "keyNumber": "'=quoted", "quantity": 3,
            }),
        )
        .await;
    let plain = app.key(&dev["id"], "Plain key").await;
    let person = o
        .ok("people.create", json!({"name": "@Ann Smith", "kind": "contractor", "phone": "+44 7400 123456", "email": "ann@example.test", "notes": "-"}))
        .await;
    let code = o
        .ok("keys.createAccessCode", json!({"developmentId": dev["id"], "codeType": "gate", "label": "Gate", "code": "-1234", "expiresOn": "2030-01-31", "doorIds": [door["id"]]}))
        .await;
    json!({"development": dev, "door": door, "key": key, "plain": plain, "person": person, "code": code})
}
