//! A door's key log (`reports.doorLog`, `reports.doorLogCsv`; issue 12 §6): the key
//! movements and doorcode events of one door, in order, paged, bounded, per role and per
//! organisation, and the same as CSV read back with the `csv` crate.

use serde_json::{Value, json};

use super::door;
use crate::support::server;
use crate::support::sms::PHONE;
use crate::support::{Backend, Client, SmsApp, TestApp};
use crate::{on_both_databases, on_both_databases_with};

const TEST_CLOCK: &[(&str, &str)] = &[("KEYWARD_TEST_CLOCK", "true")];
/// A name a spreadsheet would run as a formula.
const FORMULA_NAME: &str = "=2+3 Ann";

/// The instant after moving the test clock by a minute.
async fn minute_later(app: &SmsApp) -> String {
    app.clock(json!({"advanceSeconds": 60})).await["now"].as_str().expect("now").to_owned()
}

async fn log(client: &Client, door: &Value, from: &str, to: &str) -> Vec<Value> {
    let page = client.ok("reports.doorLog", json!({"doorId": door["id"], "from": from, "to": to})).await;
    assert_eq!(page["nextCursor"], Value::Null, "one page: {page}");
    page["items"].as_array().expect("items").clone()
}

/// `(source, action)` of each entry.
fn actions(items: &[Value]) -> Vec<(String, String)> {
    items.iter().map(|i| (i["source"].as_str().unwrap().to_owned(), i["action"].as_str().unwrap().to_owned())).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(s, a)| (s.to_string(), a.to_string())).collect()
}

on_both_databases_with! { TEST_CLOCK;
    async fn a_doors_log_is_its_keys_and_doorcodes_in_order_and_as_csv(app: SmsApp) {
        let o = &app.owner;
        let start = app.clock(json!({})).await["now"].as_str().unwrap().to_owned();
        let dev = app.development("Oak Park").await;
        let (front, side) = (door(&app, &dev["id"], "Front entrance", "entrance").await, door(&app, &dev["id"], "Side gate", "gate").await);
        let master = o.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "master_key", "label": "Master"})).await;
        let side_key = app.key(&dev["id"], "Side gate key").await;
        o.ok("keys.setDoors", json!({"id": master["id"], "doorIds": [front["id"], side["id"]]})).await;
        o.ok("keys.setDoors", json!({"id": side_key["id"], "doorIds": [side["id"]]})).await;
        let ann = o.ok("people.create", json!({"name": FORMULA_NAME, "kind": "staff", "phone": PHONE})).await;

        let issued_at = minute_later(&app).await;
        o.ok("keys.issueKey", json!({"id": master["id"], "holderId": ann["id"]})).await;
        minute_later(&app).await;
        o.ok("keys.issueKey", json!({"id": side_key["id"], "issuedTo": "Bob Walk-in"})).await;
        let allocated_at = minute_later(&app).await;
        let grant = o.ok("grants.create", json!({
            "developmentId": dev["id"], "name": "Cleaners", "startsAt": "2027-01-01T00:00:00Z",
            "doors": [{"doorId": front["id"]}, {"doorId": side["id"]}], "personIds": [ann["id"]],
            "doorcode": {"policy": "strict", "code": "583920"},
        })).await;
        let sent_at = minute_later(&app).await;
        o.ok("grants.sendCredentials", json!({"id": grant["id"], "personId": ann["id"]})).await;
        let returned_at = minute_later(&app).await;
        o.ok("keys.returnKey", json!({"id": master["id"]})).await;
        minute_later(&app).await;
        o.ok("keys.markLost", json!({"id": master["id"]})).await;
        minute_later(&app).await;
        o.ok("keys.markFound", json!({"id": master["id"]})).await;
        let ended_at = minute_later(&app).await;
        o.ok("grants.removePeople", json!({"id": grant["id"], "personIds": [ann["id"]]})).await;
        let end = minute_later(&app).await;

        // The front door: the master key's movements and Ann's doorcode there, in order;
        // the side key (it opens the side gate only) is not in it.
        let items = log(o, &front, &start, &end).await;
        assert_eq!(actions(&items), pairs(&[
            ("key", "created"), ("key", "issued"), ("doorcode", "allocated"), ("doorcode", "sent"),
            ("key", "returned"), ("key", "marked_lost"), ("key", "marked_found"), ("doorcode", "ended"),
        ]));
        assert!(items.iter().all(|i| i["keyId"].is_null() || i["keyId"] == master["id"]), "{items:?}");
        let issued = &items[1];
        assert_eq!(issued["at"], issued_at.as_str());
        assert_eq!((issued["keyRef"].clone(), issued["personId"].clone(), issued["personName"].clone()), (master["keyRef"].clone(), ann["id"].clone(), json!(FORMULA_NAME)));
        assert_eq!(issued["actorName"], "Acme Estates Owner");
        let allocated = &items[2];
        assert_eq!(allocated["at"], allocated_at.as_str());
        assert_eq!((allocated["grantId"].clone(), allocated["grantName"].clone(), allocated["personName"].clone()), (grant["id"].clone(), json!("Cleaners"), json!(FORMULA_NAME)));
        assert_eq!(allocated["actorName"], Value::Null);
        let front_code = grant["doorcodes"].as_array().unwrap().iter().find(|c| c["doorId"] == front["id"]).unwrap();
        assert_eq!(allocated["doorcodeId"], front_code["id"]);
        assert_eq!(allocated["id"], format!("{}:allocated", front_code["id"].as_str().unwrap()));
        assert_eq!((items[3]["at"].clone(), items[3]["actorName"].clone(), items[3]["doorcodeId"].clone()), (json!(sent_at), json!("Acme Estates Owner"), front_code["id"].clone()));
        assert_eq!(items[4]["at"], returned_at.as_str());
        assert_eq!((items[7]["at"].clone(), items[7]["endReason"].clone()), (json!(ended_at), json!("person_removed")));
        assert!(!serde_json::to_string(&items).unwrap().contains("583920"), "never a doorcode's value");

        // The side gate has both keys.
        let side_items = log(o, &side, &start, &end).await;
        assert_eq!(side_items.iter().filter(|i| i["keyId"] == side_key["id"]).count(), 2, "created and issued");
        assert_eq!(side_items.len(), 10);

        // A range is [from, to): from the instant of the issue, to that of the return.
        let part = log(o, &front, &issued_at, &returned_at).await;
        assert_eq!(actions(&part), pairs(&[("key", "issued"), ("doorcode", "allocated"), ("doorcode", "sent")]));

        // Pages of 3 by cursor are the whole log, in order, then no cursor.
        let mut paged: Vec<Value> = Vec::new();
        let mut cursor = Value::Null;
        for round in 0.. {
            assert!(round < 5, "the pages end");
            let page = o.ok("reports.doorLog", json!({"doorId": front["id"], "from": start, "to": end, "limit": 3, "cursor": cursor})).await;
            paged.extend(page["items"].as_array().unwrap().iter().cloned());
            cursor = page["nextCursor"].clone();
            if cursor.is_null() {
                break;
            }
        }
        assert_eq!(paged, items);

        // Installers and housekeeping read key history, not grants: key events only.
        let installer = app.user("installer").await;
        let key_only = log(&installer, &front, &start, &end).await;
        assert_eq!(key_only, items.iter().filter(|i| i["source"] == "key").cloned().collect::<Vec<_>>());

        // CSV: the same events, read back with the csv crate; the formula name is neutralised.
        let file = o.ok("reports.doorLogCsv", json!({"doorId": front["id"], "from": start, "to": end})).await;
        let filename = file["filename"].as_str().unwrap();
        assert!(filename.starts_with(&format!("door-log-{}-", front["id"].as_str().unwrap())) && filename.ends_with(".csv"), "{filename}");
        let text = file["csv"].as_str().unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header, ["at", "source", "action", "actor", "keyRef", "keyId", "person", "personId", "grant", "grantId", "doorcodeId", "endReason", "id"]);
        let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
        assert_eq!(rows.len(), items.len());
        for (row, item) in rows.iter().zip(&items) {
            let text = |field: &str| item[field].as_str().unwrap_or("").to_owned();
            assert_eq!(row[0], text("at"));
            assert_eq!((row[1].clone(), row[2].clone(), row[3].clone()), (text("source"), text("action"), text("actorName")));
            assert_eq!((row[4].clone(), row[5].clone(), row[12].clone()), (text("keyRef"), text("keyId"), text("id")));
            let person = text("personName");
            let shown = if person.is_empty() { person } else { format!("'{person}") };
            assert_eq!((row[6].clone(), row[7].clone()), (shown, text("personId")), "the formula is text");
            assert_eq!((row[8].clone(), row[9].clone(), row[10].clone(), row[11].clone()), (text("grantName"), text("grantId"), text("doorcodeId"), text("endReason")));
        }
        assert!(text.contains(",'=2+3 Ann,"), "{text}");
    }

    async fn a_key_is_in_a_doors_log_while_it_opens_the_door_and_only_then(app: TestApp) {
        let o = &app.owner;
        let clock = &app;
        let minute = || async move { clock.clock(json!({"advanceSeconds": 60})).await["now"].as_str().unwrap().to_owned() };
        let start = app.clock(json!({})).await["now"].as_str().unwrap().to_owned();
        let dev = app.development("Oak Park").await;
        let (a, b) = (door(&app, &dev["id"], "Flat A", "flat").await, door(&app, &dev["id"], "Flat B", "flat").await);
        let key = app.key(&dev["id"], "Flat key").await;
        let late = app.key(&dev["id"], "Late key").await;
        let late_issued_at = minute().await;
        o.ok("keys.issueKey", json!({"id": late["id"], "issuedTo": "Bob Before"})).await;
        minute().await;
        o.ok("keys.setDoors", json!({"id": key["id"], "doorIds": [a["id"]]})).await;

        // Issued while it opens A; then taken off A, returned and issued again.
        let issued_at = minute().await;
        o.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Ann Early"})).await;
        let removed_at = minute().await;
        o.ok("keys.setDoors", json!({"id": key["id"], "doorIds": []})).await;
        minute().await;
        o.ok("keys.returnKey", json!({"id": key["id"]})).await;
        minute().await;
        o.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Carl After"})).await;

        // A key added to B later: issued and returned before, then on B, returned, issued.
        minute().await;
        o.ok("keys.returnKey", json!({"id": late["id"]})).await;
        let added_at = minute().await;
        o.ok("keys.setDoors", json!({"id": late["id"], "doorIds": [b["id"]]})).await;
        // A movement at the instant a door is added counts.
        o.ok("keys.issueKey", json!({"id": late["id"], "issuedTo": "Dan Later"})).await;
        let returned_at = minute().await;
        o.ok("keys.returnKey", json!({"id": late["id"]})).await;

        // The first key back on A: what it did away from A stays out of A's log.
        let back_at = minute().await;
        o.ok("keys.setDoors", json!({"id": key["id"], "doorIds": [a["id"]]})).await;
        let back_returned_at = minute().await;
        o.ok("keys.returnKey", json!({"id": key["id"]})).await;
        // A movement at the instant a door is removed does not.
        minute().await;
        o.ok("keys.setDoors", json!({"id": late["id"], "doorIds": []})).await;
        o.ok("keys.issueKey", json!({"id": late["id"], "issuedTo": "Eve Gone"})).await;
        let end = minute().await;

        let seen = |items: &[Value]| -> Vec<(String, String, Value, Value)> {
            items.iter().map(|i| (i["action"].as_str().unwrap().to_owned(), i["at"].as_str().unwrap().to_owned(), i["keyId"].clone(), i["personName"].clone())).collect()
        };
        let row = |action: &str, at: &str, key: &Value, person: Value| (action.to_owned(), at.to_owned(), key["id"].clone(), person);
        assert_eq!(seen(&log(o, &a, &start, &end).await), vec![
            row("issued", &issued_at, &key, json!("Ann Early")),
            // The return of the holding that began away from A: A saw it come back.
            row("returned", &back_returned_at, &key, json!("Carl After")),
        ]);
        assert_eq!(seen(&log(o, &b, &start, &end).await), vec![
            row("issued", &added_at, &late, json!("Dan Later")),
            row("returned", &returned_at, &late, json!("Dan Later")),
        ]);
        // A range inside one period, and one that ends before a key opened the door.
        assert_eq!(seen(&log(o, &a, &issued_at, &back_at).await), vec![row("issued", &issued_at, &key, json!("Ann Early"))]);
        assert_eq!(log(o, &b, &late_issued_at, &added_at).await, Vec::<Value>::new());
        assert_eq!(log(o, &a, &removed_at, &back_at).await, Vec::<Value>::new());
        // The keys' own histories still have every movement.
        let history = |id: Value| async move { o.ok("keys.keyHistory", json!({"id": id})).await["items"].as_array().unwrap().len() };
        assert_eq!((history(key["id"].clone()).await, history(late["id"].clone()).await), (5, 6));
    }

    async fn the_log_refuses_bad_ranges_and_other_organisations(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let front = door(&app, &dev["id"], "Front entrance", "entrance").await;
        let at = |s: &str| format!("2027-01-{s}Z");
        let base = json!({"doorId": front["id"], "from": at("01T00:00:00"), "to": at("02T00:00:00")});
        let with = |patch: Value| {
            let mut params = base.clone();
            for (k, v) in patch.as_object().unwrap() {
                params[k] = v.clone();
            }
            params
        };
        for (patch, field) in [
            (json!({"to": at("01T00:00:00")}), "to"),
            (json!({"to": "2026-12-31T00:00:00Z"}), "to"),
            (json!({"to": "2028-01-03T00:00:00Z"}), "to"),
            (json!({"limit": 0}), "limit"),
            (json!({"limit": 501}), "limit"),
            (json!({"cursor": "not-a-cursor"}), "cursor"),
        ] {
            o.err("reports.doorLog", with(patch.clone())).await.assert_invalid(field);
            if field == "to" {
                let mut csv_params = with(patch);
                csv_params.as_object_mut().unwrap().remove("limit");
                o.err("reports.doorLogCsv", csv_params).await.assert_invalid(field);
            }
        }
        // 366 days is allowed; a missing door is NOT_FOUND.
        let year = o.ok("reports.doorLog", with(json!({"to": "2028-01-02T00:00:00Z"}))).await;
        assert_eq!(year["items"], json!([]));
        let missing = with(json!({"doorId": "01900000-0000-7000-8000-000000000000"}));
        o.err("reports.doorLog", missing).await.assert_kind(-32004, "NOT_FOUND");

        // Another organisation's door is NOT_FOUND, and its log is never shown.
        let other = app.other_organisation().await;
        other.err("reports.doorLog", base.clone()).await.assert_kind(-32004, "NOT_FOUND");
        other.err("reports.doorLogCsv", base.clone()).await.assert_kind(-32004, "NOT_FOUND");
    }
}

on_both_databases! {
    // The upgrade: a database from before the door-set periods (the real `down.sql`, and
    // the migration forgotten) gets an open period for each door a key opens, from the
    // key's creation, so a door's log shows what it showed before the upgrade.
    async fn existing_links_get_their_periods_when_keyward_migrates(app: TestApp) {
        let mut app = app;
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let (a, b) = (door(&app, &dev["id"], "Flat A", "flat").await, door(&app, &dev["id"], "Flat B", "flat").await);
        let key = app.key(&dev["id"], "Master").await;
        o.ok("keys.setDoors", json!({"id": key["id"], "doorIds": [a["id"], b["id"]]})).await;
        o.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Ann"})).await;
        let spare = app.key(&dev["id"], "Spare").await;
        o.ok("keys.setDoors", json!({"id": spare["id"], "doorIds": [a["id"]]})).await;
        o.ok("keys.setDoors", json!({"id": spare["id"], "doorIds": [b["id"]]})).await;
        assert!(app.terminate().await.success());

        let down = match app.db.backend {
            Backend::Sqlite => include_str!("../../../migrations/sqlite/2026-12-11-100000_key_door_periods/down.sql"),
            Backend::Postgres => include_str!("../../../migrations/postgres/2026-12-11-100000_key_door_periods/down.sql"),
        };
        app.db.execute(down);
        app.db.execute("DELETE FROM __diesel_schema_migrations WHERE version = '20261211100000'");
        let out = server::command()
            .arg("migrate")
            .env("KEYWARD_DATABASE_URL", &app.db.url)
            .output()
            .await
            .expect("run keyward migrate");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

        // One open period per link, from the key's creation; none for the door the spare left.
        let mut periods = app.db.texts(
            "SELECT k.label || ' ' || d.name AS v FROM key_door_periods p \
             JOIN keys k ON k.id = p.key_id JOIN doors d ON d.id = p.door_id \
             WHERE p.to_at IS NULL AND p.from_at = k.created_at AND p.org_id = k.org_id",
        );
        periods.sort();
        assert_eq!(periods, ["Master Flat A", "Master Flat B", "Spare Flat B"]);
        assert_eq!(app.db.texts("SELECT CAST(COUNT(*) AS TEXT) AS v FROM key_door_periods"), ["3"]);

        // A server on the upgraded database reads the log through them and keeps them.
        let upgraded = app.spawn_logged_server(&[]).await;
        let token = Client::new(&upgraded.url, None)
            .ok("auth.login", json!({"email": "owner@acme.test", "password": server::PASSWORD}))
            .await["token"]
            .as_str()
            .map(str::to_owned);
        let owner = Client::new(&upgraded.url, token);
        let created: chrono::DateTime<chrono::Utc> = key["createdAt"].as_str().unwrap().parse().unwrap();
        let (from, to) = (created - chrono::Duration::hours(1), created + chrono::Duration::hours(1));
        let range = |door: &Value| json!({"doorId": door["id"], "from": from, "to": to});
        let actions = |page: Value| -> Vec<(Value, Value)> {
            page["items"].as_array().unwrap().iter().map(|i| (i["keyId"].clone(), i["action"].clone())).collect()
        };
        let created_issued = vec![(key["id"].clone(), json!("created")), (key["id"].clone(), json!("issued"))];
        assert_eq!(actions(owner.ok("reports.doorLog", range(&a)).await), created_issued);
        let mut on_b = created_issued.clone();
        on_b.push((spare["id"].clone(), json!("created")));
        assert_eq!(actions(owner.ok("reports.doorLog", range(&b)).await), on_b);
        owner.ok("keys.setDoors", json!({"id": key["id"], "doorIds": [b["id"]]})).await;
        assert_eq!(app.db.texts("SELECT CAST(COUNT(*) AS TEXT) AS v FROM key_door_periods WHERE to_at IS NULL"), ["2"]);
        assert_eq!(actions(owner.ok("reports.doorLog", range(&a)).await), created_issued, "the past stays");
        upgraded.stop().await;
    }
}
