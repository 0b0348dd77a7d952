//! The exports: the lists' filters, the documented columns, formula cells neutralised,
//! access-code values only when asked by a role that sees them (and recorded as reveals),
//! each organisation its own rows, and the row limit.

use serde_json::json;

use super::{audit_total, column, header, register, rows};
use crate::on_both_databases;
use crate::support::TestApp;

on_both_databases! {
    async fn key_exports_follow_the_list_filters_and_neutralise_formulas(app: TestApp) {
        let o = &app.owner;
        let r = register(&app).await;
        let other_dev = app.development("Elm Court").await;
        let elsewhere = app.key(&other_dev["id"], "Elsewhere").await;
        o.ok("keys.issueKey", json!({"id": r["plain"]["id"], "holderId": r["person"]["id"]})).await;

        let all = o.ok("keys.exportKeysCsv", json!({})).await;
        assert!(all["filename"].as_str().unwrap().starts_with("keys-") && all["filename"].as_str().unwrap().ends_with(".csv"), "{all}");
        assert_eq!(header(&all), [
            "keyRef", "developmentId", "keyType", "label", "securityLevel", "brand", "keyNumber", "quantity",
            "accessRestrictions", "emergencyContact", "notes", "status", "issuedTo", "holderId", "expectedReturnAt", "id",
        ]);
        // The same keys as the list, in its order.
        let listed: Vec<String> = o.ok("keys.listKeys", json!({})).await["items"].as_array().unwrap().iter()
            .map(|k| k["keyRef"].as_str().unwrap().to_owned()).collect();
        assert_eq!(column(&all, "keyRef"), listed);

        // Filters as keys.listKeys: development, status, holder, search.
        let oak = o.ok("keys.exportKeysCsv", json!({"developmentId": r["development"]["id"]})).await;
        assert_eq!(column(&oak, "id"), [r["key"]["id"].as_str().unwrap(), r["plain"]["id"].as_str().unwrap()]);
        let issued = o.ok("keys.exportKeysCsv", json!({"status": "issued"})).await;
        assert_eq!(column(&issued, "id"), [r["plain"]["id"].as_str().unwrap()]);
        assert_eq!(column(&issued, "holderId"), [r["person"]["id"].as_str().unwrap()]);
        let held = o.ok("keys.exportKeysCsv", json!({"holderId": r["person"]["id"]})).await;
        assert_eq!(column(&held, "id"), column(&issued, "id"));
        let found = o.ok("keys.exportKeysCsv", json!({"search": "elsewhere"})).await;
        assert_eq!(column(&found, "id"), [elsewhere["id"].as_str().unwrap()]);
        let none = o.ok("keys.exportKeysCsv", json!({"keyType": "fob"})).await;
        assert_eq!(none["csv"].as_str().unwrap().lines().count(), 1, "a header and no rows: {none}");

        // Formula starts are written as text; other cells as they are.
        let row = rows(&oak).into_iter().find(|row| row["id"] == r["key"]["id"].as_str().unwrap()).unwrap();
        assert_eq!(row["label"], "'=HYPERLINK(\"http://203.0.113.9\")");
        assert_eq!(row["notes"], "'+44 call first, then\r\n@desk");
        assert_eq!(row["brand"], "'-Abloy");
        assert_eq!(row["keyNumber"], "''=quoted");
        assert_eq!((row["quantity"].as_str(), row["keyType"].as_str(), row["status"].as_str()), ("3", "physical_key", "in_stock"));

        o.err("keys.exportKeysCsv", json!({"status": "mislaid"})).await.assert_invalid("status");
        o.err("keys.exportKeysCsv", json!({"page": 2})).await.assert_invalid("page");
    }

    async fn people_and_door_exports_follow_their_list_filters(app: TestApp) {
        let o = &app.owner;
        let r = register(&app).await;
        let staff = o.ok("people.create", json!({"name": "Bob Staff", "kind": "staff"})).await;
        let gone = o.ok("people.create", json!({"name": "Cy Gone", "kind": "staff"})).await;
        o.ok("people.archive", json!({"id": gone["id"]})).await;

        let people = o.ok("people.exportCsv", json!({})).await;
        assert_eq!(header(&people), ["id", "name", "kind", "phone", "email", "firmId", "developmentId", "userId", "notes", "archived"]);
        assert_eq!(column(&people, "name"), ["'@Ann Smith", "Bob Staff"], "ordered by name, archived left out");
        assert_eq!(column(&people, "phone"), ["'+447400123456", ""]);
        assert_eq!(column(&o.ok("people.exportCsv", json!({"kind": "staff"})).await, "id"), [staff["id"].as_str().unwrap()]);
        let archived = o.ok("people.exportCsv", json!({"archived": true})).await;
        assert_eq!((column(&archived, "id"), column(&archived, "archived")), (vec![gone["id"].as_str().unwrap().to_owned()], vec!["true".to_owned()]));

        let other_dev = app.development("Elm Court").await;
        o.ok("doors.create", json!({"developmentId": other_dev["id"], "name": "Bin store", "kind": "bin_store"})).await;
        let doors = o.ok("doors.exportCsv", json!({"developmentId": r["development"]["id"]})).await;
        assert_eq!(header(&doors), ["id", "developmentId", "name", "kind", "notes"]);
        assert_eq!(column(&doors, "name"), ["'=Front, \"main\""]);
        assert_eq!(column(&doors, "notes"), ["line one\nline two"]);
        assert_eq!(column(&o.ok("doors.exportCsv", json!({"kind": "bin_store"})).await, "name"), ["Bin store"]);
    }

    async fn code_values_are_exported_only_when_asked_by_roles_that_see_them_and_are_recorded(app: TestApp) {
        let o = &app.owner;
        let r = register(&app).await;
        let code_id = r["code"]["id"].clone();

        // Not asked: no value column, and nothing recorded.
        let before = audit_total(o).await;
        let plain = o.ok("keys.exportAccessCodesCsv", json!({})).await;
        assert_eq!(header(&plain), ["id", "developmentId", "codeType", "label", "status", "expiresOn", "rotateBy", "notes"]);
        assert_eq!(column(&plain, "expiresOn"), ["2030-01-31"]);
        assert_eq!(audit_total(o).await, before);

        // Asked, by roles that see values (even with values masked in lists): the value,
        // neutralised, and one reveal per code in the audit log and the code's ledger.
        o.ok("settings.update", json!({"maskCodesInLists": true})).await;
        for role in ["owner", "manager", "team"] {
            let client = if role == "owner" { o.clone() } else { app.user(role).await };
            let before = audit_total(o).await;
            let file = client.ok("keys.exportAccessCodesCsv", json!({"includeValues": true})).await;
            assert_eq!(header(&file)[4], "code");
            assert_eq!(column(&file, "code"), ["'-1234"], "{role}");
            assert_eq!(audit_total(o).await, before + 1, "{role}: one reveal");
            let last = &o.ok("audit.list", json!({"limit": 1})).await["items"][0];
            assert_eq!((last["action"].as_str(), last["entityId"].clone()), (Some("accessCode.revealed"), code_id.clone()), "{role}");
        }
        let exposure = o.ok("keys.accessCodeExposure", json!({"id": code_id})).await;
        let reveals = exposure["exposures"]["items"].as_array().unwrap().iter().filter(|e| e["channel"] == "reveal").count();
        assert_eq!(reveals, 3, "{exposure}");

        // Roles that do not see values: the file without them, and FORBIDDEN when asked.
        for role in ["installer", "housekeeping"] {
            let client = app.user(role).await;
            let file = client.ok("keys.exportAccessCodesCsv", json!({})).await;
            assert!(!header(&file).contains(&"code".to_owned()), "{role}");
            assert_eq!(column(&file, "id"), [code_id.as_str().unwrap()]);
            client.err("keys.exportAccessCodesCsv", json!({"includeValues": true})).await.assert_kind(-32003, "FORBIDDEN");
        }
    }

    async fn each_organisation_exports_only_its_own_rows(app: TestApp) {
        register(&app).await;
        let other = app.other_organisation().await;
        for method in ["keys.exportKeysCsv", "keys.exportAccessCodesCsv", "people.exportCsv", "doors.exportCsv"] {
            let file = other.ok(method, json!({})).await;
            assert_eq!(rows(&file).len(), 0, "{method}: {file}");
            assert!(!rows(&app.owner.ok(method, json!({})).await).is_empty(), "{method}");
        }
    }

    async fn an_export_over_ten_thousand_rows_is_refused(app: TestApp) {
        let dev = app.development("Big Block").await;
        let insert = |first: u32, last: u32| format!(
            "INSERT INTO doors (id, org_id, development_id, name, kind, notes, created_at, updated_at, version) \
             WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last}) \
             SELECT 'bulk-' || i, '{org}', '{dev}', 'Door ' || i, 'entrance', NULL, '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1 FROM n",
            org = app.org_id, dev = dev["id"].as_str().unwrap(),
        );
        app.db.execute(&insert(1, 10_000));
        let file = app.owner.ok("doors.exportCsv", json!({})).await;
        assert_eq!(rows(&file).len(), 10_000, "at the limit");
        app.db.execute(&insert(10_001, 10_001));
        let refused = app.owner.err("doors.exportCsv", json!({})).await;
        refused.assert_invalid("filters");
        assert!(refused.data["reason"].as_str().unwrap().contains("10000"), "{refused:?}");
        let narrowed = app.owner.ok("doors.exportCsv", json!({"kind": "gate"})).await;
        assert_eq!(rows(&narrowed).len(), 0);
    }
}
