//! The imports: our own export changes nothing, a dry run answers what the real run does,
//! refused rows name their line and field and save nothing, headers in any case, bad
//! headers named, the size and row limits, one audit event per row changed, roles and
//! organisations.

use serde_json::{Value, json};

use super::{audit_total, outcomes, register, rows};
use crate::on_both_databases;
use crate::support::{Client, TestApp};

const AREAS: [(&str, &str); 4] = [
    ("keys.exportKeysCsv", "keys.importKeysCsv"),
    ("keys.exportAccessCodesCsv", "keys.importAccessCodesCsv"),
    ("people.exportCsv", "people.importCsv"),
    ("doors.exportCsv", "doors.importCsv"),
];

async fn import(client: &Client, method: &'static str, csv: &str, dry_run: bool) -> Value {
    client.ok(method, json!({"csv": csv, "dryRun": dry_run})).await
}

fn summary(report: &Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| report[k].as_u64().unwrap();
    (n("created"), n("updated"), n("unchanged"), n("refused"))
}

on_both_databases! {
    async fn importing_our_own_export_changes_nothing(app: TestApp) {
        let o = &app.owner;
        register(&app).await;
        let firm = o.ok("firms.create", json!({"name": "Sparks Ltd"})).await;
        o.ok("people.create", json!({"name": "Dee", "kind": "staff", "firmId": firm["id"]})).await;
        for (export, import_method) in AREAS {
            let params = if export == "keys.exportAccessCodesCsv" { json!({"includeValues": true}) } else { json!({}) };
            let file = o.ok(export, params.clone()).await;
            let before = audit_total(o).await;
            for dry_run in [true, false] {
                let report = import(o, import_method, file["csv"].as_str().unwrap(), dry_run).await;
                let n = rows(&file).len() as u64;
                assert_eq!(summary(&report), (0, 0, n, 0), "{import_method}: {report}");
                assert_eq!(report["applied"], !dry_run, "{import_method}");
            }
            assert_eq!(audit_total(o).await, before, "{import_method}: nothing recorded");
            // Exported again, the file is the same (values revealed again, so the codes'
            // audit grew; the file did not change).
            let again = o.ok(export, params).await;
            assert_eq!(again["csv"], file["csv"], "{import_method}");
        }
    }

    async fn a_dry_run_answers_what_the_real_run_does_and_each_changed_row_is_one_audit_event(app: TestApp) {
        let o = &app.owner;
        let r = register(&app).await;
        let dev = r["development"]["id"].as_str().unwrap();
        let key_ref = r["key"]["keyRef"].as_str().unwrap();
        let plain_ref = r["plain"]["keyRef"].as_str().unwrap();
        // Line 2 creates, line 3 updates the label, line 4 (three lines, a quoted cell)
        // changes nothing but is read as one row, line 7 creates.
        let text = format!(
            "keyRef,developmentId,keyType,label,notes\r\n\
             NEW-1,{dev},fob,New fob,\r\n\
             {plain_ref},{dev},physical_key,Renamed,\r\n\
             {key_ref},{dev},physical_key,\"'=HYPERLINK(\"\"http://203.0.113.9\"\")\",\"'+44 call first, then\r\n@desk\"\r\n\
             new-2,{dev},card,Card two,\"a, b\"\r\n"
        );
        let before = audit_total(o).await;
        let dry = import(o, "keys.importKeysCsv", &text, true).await;
        assert_eq!(summary(&dry), (2, 1, 1, 0), "{dry}");
        assert_eq!(dry["applied"], false);
        assert_eq!(outcomes(&dry), [
            ("created".to_owned(), 2, None), ("updated".to_owned(), 3, None),
            ("unchanged".to_owned(), 4, None), ("created".to_owned(), 6, None),
        ]);
        assert!(dry["rows"][0]["id"].is_null(), "a dry run's creation names nothing: {dry}");
        assert_eq!(audit_total(o).await, before, "a dry run changes nothing");
        assert_eq!(o.ok("keys.listKeys", json!({"search": "NEW"})).await["total"], 0);

        let real = import(o, "keys.importKeysCsv", &text, false).await;
        assert_eq!(real["applied"], true);
        assert_eq!((summary(&real), outcomes(&real)), (summary(&dry), outcomes(&dry)), "the same answer");
        assert_eq!(audit_total(o).await, before + 3, "one audit event per row changed");
        let created = o.ok("keys.getKey", json!({"id": real["rows"][3]["id"]})).await;
        assert_eq!((created["keyRef"].as_str(), created["label"].as_str(), created["notes"].as_str()), (Some("NEW-2"), Some("Card two"), Some("a, b")));
        assert_eq!(o.ok("keys.getKey", json!({"id": r["plain"]["id"]})).await["label"], "Renamed");
        let actions: Vec<String> = o.ok("audit.list", json!({"limit": 3})).await["items"].as_array().unwrap().iter()
            .map(|e| e["action"].as_str().unwrap().to_owned()).collect();
        assert_eq!(actions, ["key.created", "key.updated", "key.created"]);

        // People and doors: no id creates, an id updates; absent columns stay as they are.
        let people = "NAME,Kind,Email\r\nEve New,guest,EVE@EXAMPLE.TEST\r\n";
        let report = import(o, "people.importCsv", people, false).await;
        assert_eq!(summary(&report), (1, 0, 0, 0));
        let eve = o.ok("people.get", json!({"id": report["rows"][0]["id"]})).await;
        assert_eq!((eve["name"].as_str(), eve["email"].as_str()), (Some("Eve New"), Some("eve@example.test")));
        let person = &r["person"];
        let rename = format!("id,name,kind\n{},Ann Jones,contractor\n", person["id"].as_str().unwrap());
        assert_eq!(summary(&import(o, "people.importCsv", &rename, false).await), (0, 1, 0, 0));
        let ann = o.ok("people.get", json!({"id": person["id"]})).await;
        assert_eq!((ann["name"].as_str(), ann["phone"].clone()), (Some("Ann Jones"), person["phone"].clone()), "phone kept");
        let doors = format!("developmentId,name,kind\n{dev},Lift,lift\n");
        assert_eq!(summary(&import(o, "doors.importCsv", &doors, false).await), (1, 0, 0, 0));
        let codes = format!("developmentId,codeType,label,code\n{dev},door,Back door,4321\n");
        let report = import(o, "keys.importAccessCodesCsv", &codes, false).await;
        assert_eq!(summary(&report), (1, 0, 0, 0));
        let revealed = o.ok("keys.revealAccessCode", json!({"id": report["rows"][0]["id"]})).await;
        assert_eq!(revealed["code"], "4321");
    }

    async fn refused_rows_name_their_line_and_field_and_nothing_is_saved(app: TestApp) {
        let o = &app.owner;
        let r = register(&app).await;
        let dev = r["development"]["id"].as_str().unwrap();
        let text = format!(
            "keyRef,developmentId,keyType,label,quantity\n\
             OK-1,{dev},fob,Fine,1\n\
             BAD-1,{dev},spoon,Bad type,1\n\
             BAD-2,{dev},fob,,1\n\
             BAD-3,{dev},fob,\"multi\nline\",1\n\
             BAD-4,{dev},fob,Many,0\n\
             BAD-5,no-such-development,fob,Lost,1\n\
             bad ref!,{dev},fob,Ref,1\n\
             BAD-6,{dev},fob\n"
        );
        let before = audit_total(o).await;
        for dry_run in [true, false] {
            let report = import(o, "keys.importKeysCsv", &text, dry_run).await;
            assert_eq!(report["applied"], false, "refused rows: nothing saved");
            assert_eq!(outcomes(&report), [
                ("created".to_owned(), 2, None),
                ("refused".to_owned(), 3, Some("keyType".to_owned())),
                ("refused".to_owned(), 4, Some("label".to_owned())),
                ("refused".to_owned(), 5, Some("label".to_owned())),
                ("refused".to_owned(), 7, Some("quantity".to_owned())),
                ("refused".to_owned(), 8, None),
                ("refused".to_owned(), 9, Some("keyRef".to_owned())),
                ("refused".to_owned(), 10, None),
            ], "{report}");
            assert!(report["rows"].as_array().unwrap().iter().skip(1).all(|row| row["reason"].as_str().is_some_and(|r| !r.is_empty())), "{report}");
            assert!(report["rows"][0]["id"].is_null(), "the valid row was not saved: {report}");
        }
        assert_eq!(audit_total(o).await, before);
        assert_eq!(o.ok("keys.listKeys", json!({"search": "OK-1"})).await["total"], 0);

        // An id of nothing, and a door moved to another development, are refused on their
        // column; a bad email on `email`.
        let other_dev = app.development("Elm Court").await;
        let doors = format!("id,developmentId,name,kind\nnope,{dev},X,gate\n{},{},Moved,gate\n", r["door"]["id"].as_str().unwrap(), other_dev["id"].as_str().unwrap());
        let report = import(o, "doors.importCsv", &doors, false).await;
        assert_eq!(outcomes(&report), [("refused".to_owned(), 2, Some("id".to_owned())), ("refused".to_owned(), 3, Some("developmentId".to_owned()))]);
        let people = "name,kind,email\nZed,staff,not-an-email\n";
        assert_eq!(outcomes(&import(o, "people.importCsv", people, false).await), [("refused".to_owned(), 2, Some("email".to_owned()))]);
        let codes = format!("developmentId,codeType,label\n{dev},gate,No value\n");
        assert_eq!(outcomes(&import(o, "keys.importAccessCodesCsv", &codes, false).await), [("refused".to_owned(), 2, Some("code".to_owned()))]);
    }

    async fn headers_match_in_any_case_and_bad_headers_are_named(app: TestApp) {
        let o = &app.owner;
        let r = register(&app).await;
        let dev = r["development"]["id"].as_str().unwrap();
        let text = format!("KEYREF, DevelopmentID ,keytype,Label\nCASE-1,{dev},fob,Cased\n");
        assert_eq!(summary(&import(o, "keys.importKeysCsv", &text, false).await), (1, 0, 0, 0));

        let unknown = o.err("keys.importKeysCsv", json!({"csv": format!("keyRef,developmentId,keyType,label,colour\nX,{dev},fob,L,red\n")})).await;
        unknown.assert_invalid("csv");
        assert!(unknown.data["reason"].as_str().unwrap().contains("unknown columns: colour"), "{unknown:?}");
        let missing = o.err("keys.importKeysCsv", json!({"csv": "keyRef,developmentId\nX,Y\n"})).await;
        missing.assert_invalid("csv");
        assert!(missing.data["reason"].as_str().unwrap().contains("missing required columns: keyType, label"), "{missing:?}");
        let repeated = o.err("people.importCsv", json!({"csv": "name,kind,Name\n"})).await;
        repeated.assert_invalid("csv");
        o.err("doors.importCsv", json!({"csv": ""})).await.assert_invalid("csv");
        o.err("doors.importCsv", json!({"csv": "name", "dryRun": "yes"})).await.assert_invalid("dryRun");
    }

    async fn files_over_the_size_or_row_limit_are_refused_whole(app: TestApp) {
        let o = &app.owner;
        let too_big = format!("name,kind,notes\nBig,staff,{}\n", "x".repeat(1024 * 1024));
        let e = o.err("people.importCsv", json!({"csv": too_big})).await;
        e.assert_invalid("csv");
        assert!(e.data["reason"].as_str().unwrap().contains("1048576 bytes"), "{e:?}");

        // 5,000 rows are read (each refused, ragged, without touching the register)…
        let at_limit = format!("name,kind\n{}", "a\n".repeat(5_000));
        let report = import(o, "people.importCsv", &at_limit, true).await;
        assert_eq!(summary(&report), (0, 0, 0, 5_000));
        // …5,001 are not.
        let over = format!("name,kind\n{}", "a\n".repeat(5_001));
        let e = o.err("people.importCsv", json!({"csv": over})).await;
        e.assert_invalid("csv");
        assert!(e.data["reason"].as_str().unwrap().contains("more than 5000 rows"), "{e:?}");
    }

    async fn only_editors_import_and_each_organisation_its_own_rows(app: TestApp) {
        let r = register(&app).await;
        let dev = r["development"]["id"].as_str().unwrap();
        let text = format!("keyRef,developmentId,keyType,label\nROLE-1,{dev},fob,By role\n");
        for role in ["installer", "housekeeping"] {
            let client = app.user(role).await;
            for (_, method) in AREAS {
                client.err(method, json!({"csv": text, "dryRun": true})).await.assert_kind(-32003, "FORBIDDEN");
            }
        }
        let team = app.user("team").await;
        assert_eq!(summary(&import(&team, "keys.importKeysCsv", &text, false).await), (1, 0, 0, 0));

        // Another organisation cannot reach our rows by id, nor our development.
        let other = app.other_organisation().await;
        let person = format!("id,name,kind\n{},Stolen,staff\n", r["person"]["id"].as_str().unwrap());
        assert_eq!(outcomes(&import(&other, "people.importCsv", &person, false).await), [("refused".to_owned(), 2, Some("id".to_owned()))]);
        let code = format!("id,developmentId,codeType,label\n{},{dev},gate,Stolen\n", r["code"]["id"].as_str().unwrap());
        assert_eq!(outcomes(&import(&other, "keys.importAccessCodesCsv", &code, false).await), [("refused".to_owned(), 2, Some("id".to_owned()))]);
        let key = format!("keyRef,developmentId,keyType,label\n{},{dev},fob,Theirs\n", r["key"]["keyRef"].as_str().unwrap());
        assert_eq!(outcomes(&import(&other, "keys.importKeysCsv", &key, false).await), [("refused".to_owned(), 2, None)], "our development is not theirs");
        assert_eq!(app.owner.ok("people.get", json!({"id": r["person"]["id"]})).await["name"], r["person"]["name"]);
        assert_eq!(app.owner.ok("keys.getKey", json!({"id": r["key"]["id"]})).await["label"], r["key"]["label"]);
    }
}
