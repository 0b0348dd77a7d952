//! Hostile files: whatever the bytes, an import answers a report or INVALID_INPUT `csv`,
//! changes nothing it reports refused, and the server goes on answering.

use serde_json::json;

use super::audit_total;
use crate::on_both_databases;
use crate::support::TestApp;

on_both_databases! {
    async fn hostile_files_never_break_an_import(app: TestApp) {
        let o = &app.owner;
        let huge_cell = format!("name,kind\n\"{}\",staff\n", "y".repeat(900_000));
        let files: Vec<String> = vec![
            "\u{feff}name,kind\r\n".to_owned(),
            "\u{feff}\u{feff}name,kind\r\n".to_owned(),
            "name,kind\n\"unterminated,staff\n".to_owned(),
            "name,kind\n\"a\"b\"c,staff\n".to_owned(),
            "name,kind\n\"\",\"\"\n".to_owned(),
            "name,kind\na,staff,extra,cells\n,\n\n\n".to_owned(),
            "name,kind\r\r\n\ra,staff\r".to_owned(),
            "name,kind\n\0,\0\n".to_owned(),
            "\"name\nkind\"\nx\n".to_owned(),
            "name;kind\nA;staff\n".to_owned(),
            "\"\n".to_owned(),
            ",,,\n".to_owned(),
            "name,kind\n=cmd|' /C calc'!A0,staff\n".to_owned(),
            "name,kind\n'=1,staff\n".to_owned(),
            format!("name,kind\n{},staff\n", "\u{202e}é漢字🙂".repeat(50)),
            huge_cell,
        ];
        let before = audit_total(o).await;
        for (i, csv) in files.iter().enumerate() {
            match o.call("people.importCsv", json!({"csv": csv, "dryRun": true})).await {
                Ok(report) => {
                    assert_eq!(report["applied"], false, "file {i}");
                    assert!(report["rows"].is_array(), "file {i}: {report}");
                }
                Err(e) => e.assert_invalid("csv"),
            }
        }
        assert_eq!(audit_total(o).await, before, "dry runs change nothing");

        // The formula cell is taken as text (a name), the quoted one un-neutralised.
        let report = o.ok("people.importCsv", json!({"csv": "name,kind\n=cmd|' /C calc'!A0,staff\n'=1,staff\n"})).await;
        let mut names = Vec::new();
        for row in report["rows"].as_array().unwrap() {
            names.push(o.ok("people.get", json!({"id": row["id"]})).await["name"].as_str().unwrap().to_owned());
        }
        assert_eq!(names, ["=cmd|' /C calc'!A0", "=1"]);
        // A huge cell is refused on its field, not by a panic.
        let report = o.ok("people.importCsv", json!({"csv": files.last().unwrap(), "dryRun": true})).await;
        assert_eq!(report["rows"][0]["field"], "name");
        o.ok("auth.me", json!({})).await;
    }
}
