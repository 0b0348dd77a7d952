//! The read paths of decisions 37–40: the maintained counts (checked against a COUNT(*)
//! the test runs through the database itself), the ref floors, and keyset paging.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp};
use crate::{on_both_databases, on_both_databases_with};

/// Every maintained count equals what the keys and codes tables say, and every ref floor
/// has all numbers below it taken.
fn assert_counts_exact(app: &TestApp) {
    let db = &app.db;
    let due_day = match db.backend {
        Backend::Postgres => "CAST(CAST(expected_return_at AS DATE) AS TEXT)",
        Backend::Sqlite => "date(expected_return_at)",
    };
    // Days more than a week past may have been folded by the hourly job (decision 182):
    // on both sides they count as one day, 0001-01-01.
    let horizon = (chrono::Utc::now() - chrono::Duration::days(7)).format("%Y-%m-%d");
    let folded = |day: &str| format!("CASE WHEN {day} < '{horizon}' THEN '0001-01-01' ELSE {day} END");
    let (kept_day, counted_day) = (folded("CAST(due_day AS TEXT)"), folded(due_day));
    let kept = db.texts(
        "SELECT org_id || ' ' || development_id || ' ' || status || ' ' || CAST(n AS TEXT) AS v \
         FROM key_counts WHERE n <> 0 ORDER BY v",
    );
    let counted = db.texts(
        "SELECT org_id || ' ' || development_id || ' ' || status || ' ' || CAST(COUNT(*) AS TEXT) AS v \
         FROM keys GROUP BY org_id, development_id, status ORDER BY v",
    );
    assert_eq!(kept, counted, "key_counts");
    let kept = db.texts(&format!(
        "SELECT org_id || ' ' || {kept_day} || ' ' || development_id || ' ' || CAST(SUM(n) AS TEXT) AS v \
         FROM key_due_days GROUP BY org_id, {kept_day}, development_id HAVING SUM(n) <> 0 ORDER BY v"
    ));
    let counted = db.texts(&format!(
        "SELECT org_id || ' ' || {counted_day} || ' ' || development_id || ' ' || CAST(COUNT(*) AS TEXT) AS v \
         FROM keys WHERE status = 'issued' AND expected_return_at IS NOT NULL \
         GROUP BY org_id, {counted_day}, development_id ORDER BY v"
    ));
    assert_eq!(kept, counted, "key_due_days");
    let kept = db.texts(
        "SELECT org_id || ' ' || development_id || ' ' || CAST(n AS TEXT) AS v \
         FROM access_code_counts WHERE n <> 0 ORDER BY v",
    );
    let counted = db.texts(
        "SELECT org_id || ' ' || development_id || ' ' || CAST(COUNT(*) AS TEXT) AS v \
         FROM access_codes GROUP BY org_id, development_id ORDER BY v",
    );
    assert_eq!(kept, counted, "access_code_counts");
    let broken_floors = db.texts(
        "SELECT f.ref_prefix || ' ' || CAST(f.floor AS TEXT) AS v FROM key_ref_floors f \
         WHERE f.floor < 1 OR (SELECT COUNT(DISTINCT k.ref_number) FROM keys k WHERE k.org_id = f.org_id \
           AND k.ref_prefix = f.ref_prefix AND k.ref_number >= 1 AND k.ref_number < f.floor) <> f.floor - 1",
    );
    assert!(broken_floors.is_empty(), "floors with a free number below them: {broken_floors:?}");
}

/// The summary as the database's own COUNT(*)s give it.
fn summary_from_database(app: &TestApp, org_id: &str) -> Value {
    let count = |condition: &str| -> i64 {
        let sql = format!("SELECT CAST(COUNT(*) AS TEXT) AS v FROM keys WHERE org_id = '{org_id}' AND {condition}");
        app.db.texts(&sql)[0].parse().unwrap()
    };
    let codes: i64 =
        app.db.texts(&format!("SELECT CAST(COUNT(*) AS TEXT) AS v FROM access_codes WHERE org_id = '{org_id}'"))[0]
            .parse()
            .unwrap();
    // The test's due dates are days away from now, so the instant does not matter.
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S");
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let due: i64 = app.db.texts(&format!(
        "SELECT CAST(COUNT(*) AS TEXT) AS v FROM access_codes WHERE org_id = '{org_id}' \
         AND (rotation_flagged_at IS NOT NULL OR rotate_by <= '{today}')"
    ))[0]
        .parse()
        .unwrap();
    // Doors opened by lost keys, from the keys' statuses (not from the maintained flag).
    let exposed: i64 = app.db.texts(&format!(
        "SELECT CAST(COUNT(DISTINCT kd.door_id) AS TEXT) AS v FROM key_doors kd JOIN keys k ON k.id = kd.key_id \
         WHERE k.org_id = '{org_id}' AND k.status = 'lost'"
    ))[0]
        .parse()
        .unwrap();
    json!({
        "totalKeys": count("1 = 1"), "inStock": count("status = 'in_stock'"), "issued": count("status = 'issued'"),
        "returned": count("status = 'returned'"), "lost": count("status = 'lost'"),
        "damaged": count("status = 'damaged'"), "deactivated": count("status = 'deactivated'"),
        "overdue": count(&format!("status = 'issued' AND expected_return_at < '{now}'")),
        "accessCodes": codes, "codesDueForRotation": due,
        "doorsExposedByLostKeys": exposed, "auditsOverdue": 0, "smsReady": false
    })
}

fn days_from_now(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

on_both_databases! {
    async fn counts_stay_exact_through_every_kind_of_write(app: TestApp) {
        let owner = &app.owner;
        let oak = app.development("Oak Park").await;
        let elm = app.development("Elm Yard").await;
        let mut keys = Vec::new();
        for n in 0..10 {
            keys.push(app.key(&oak["id"], &format!("Oak {n}")).await["id"].clone());
        }
        let elm_key = app.key(&elm["id"], "Elm 0").await["id"].clone();
        // Doors, so that lost keys expose some (decision 123).
        let door = |name: &str| owner.ok("doors.create", json!({"developmentId": oak["id"], "name": name, "kind": "entrance"}));
        let (gate, bins) = (door("Gate").await["id"].clone(), door("Bins").await["id"].clone());
        for (key, doors) in [(&keys[0], json!([gate, bins])), (&keys[4], json!([gate])), (&keys[9], json!([bins]))] {
            owner.ok("keys.setDoors", json!({"id": key, "doorIds": doors})).await;
        }
        assert_counts_exact(&app);

        let steps: Vec<(&str, Value)> = vec![
            ("keys.issueKey", json!({"id": keys[0], "issuedTo": "A", "expectedReturnAt": days_from_now(-3)})),
            ("keys.issueKey", json!({"id": keys[1], "issuedTo": "B", "expectedReturnAt": days_from_now(-3)})),
            ("keys.issueKey", json!({"id": keys[2], "issuedTo": "C", "expectedReturnAt": days_from_now(5)})),
            ("keys.issueKey", json!({"id": keys[3], "issuedTo": "D"})),
            ("keys.returnKey", json!({"id": keys[1]})),
            ("keys.returnToStock", json!({"id": keys[1]})),
            ("keys.markLost", json!({"id": keys[4]})),
            ("keys.markFound", json!({"id": keys[4]})),
            ("keys.markDamaged", json!({"id": keys[5]})),
            ("keys.deactivateKey", json!({"id": keys[6]})),
            ("keys.reactivateKey", json!({"id": keys[6]})),
            ("keys.markLost", json!({"id": keys[0]})),
            ("keys.markLost", json!({"id": keys[9]})),
            ("keys.setDoors", json!({"id": keys[9], "doorIds": [gate]})),
            ("keys.deleteKey", json!({"id": keys[9]})),
            // A move to the other development, and a new ref.
            ("keys.updateKey", json!({"id": keys[2], "developmentId": elm["id"]})),
            ("keys.updateKey", json!({"id": keys[7], "keyRef": "OP-500"})),
            ("keys.deleteKey", json!({"id": keys[8]})),
            ("keys.deleteKey", json!({"id": elm_key})),
            ("keys.createAccessCode", json!({"developmentId": oak["id"], "codeType": "gate", "label": "Gate", "code": "1"})),
            ("keys.createAccessCode", json!({"developmentId": elm["id"], "codeType": "gate", "label": "Door", "code": "2"})),
        ];
        for (method, params) in steps {
            owner.ok(method, params).await;
            assert_counts_exact(&app);
            assert_eq!(owner.ok("keys.summary", json!({})).await, summary_from_database(&app, &app.org_id), "after {method}");
        }
        let codes = owner.ok("keys.listAccessCodes", json!({})).await;
        owner.ok("keys.deleteAccessCode", json!({"id": codes["items"][0]["id"]})).await;
        assert_counts_exact(&app);
        let summary = owner.ok("keys.summary", json!({})).await;
        assert_eq!(summary, summary_from_database(&app, &app.org_id));
        assert_eq!((summary["issued"].clone(), summary["overdue"].clone()), (json!(2), json!(0)));

        // Another organisation's writes are counted apart.
        let other = app.other_organisation().await;
        let dev = other.ok("developments.create", json!({"name": "Oak Park"})).await;
        let key = other.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "F"})).await;
        other.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Z", "expectedReturnAt": days_from_now(-1)})).await;
        assert_counts_exact(&app);
        assert_eq!(owner.ok("keys.summary", json!({})).await, summary);
        assert_eq!(other.ok("keys.summary", json!({})).await["overdue"], 1);
    }

    async fn a_key_due_earlier_today_is_overdue_and_one_due_later_today_is_not(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let past = app.key(&dev["id"], "Past").await;
        let later = app.key(&dev["id"], "Later").await;
        // Both are due today (UTC) unless the test runs within a minute of midnight, in
        // which case one of them is due on a neighbouring day: the counts hold either way.
        let now = chrono::Utc::now();
        let at = |minutes: i64| (now + chrono::Duration::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        app.owner.ok("keys.issueKey", json!({"id": past["id"], "issuedTo": "A", "expectedReturnAt": at(-1)})).await;
        app.owner.ok("keys.issueKey", json!({"id": later["id"], "issuedTo": "B", "expectedReturnAt": at(60)})).await;
        let summary = app.owner.ok("keys.summary", json!({})).await;
        assert_eq!((summary["issued"].clone(), summary["overdue"].clone()), (json!(2), json!(1)));
        assert_counts_exact(&app);
    }

    async fn suggested_refs_follow_the_floor_through_deletes_and_renames(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let mut ids = Vec::new();
        for n in 1..=5 {
            let key = app.key(&dev["id"], &format!("Flat {n}")).await;
            assert_eq!(key["keyRef"], format!("OP-{n:03}"));
            ids.push(key["id"].clone());
        }
        let suggest = || app.owner.ok("keys.suggestKeyRef", json!({"developmentId": dev["id"]}));
        assert_eq!(suggest().await["keyRef"], "OP-006");
        app.owner.ok("keys.deleteKey", json!({"id": ids[3]})).await;
        assert_eq!(suggest().await["keyRef"], "OP-004");
        app.owner.ok("keys.updateKey", json!({"id": ids[1], "keyRef": "OP-900"})).await;
        assert_eq!(suggest().await["keyRef"], "OP-002");
        assert_counts_exact(&app);
        // Filling the gaps moves the floor past every number taken.
        assert_eq!(app.key(&dev["id"], "Refill").await["keyRef"], "OP-002");
        assert_eq!(app.key(&dev["id"], "Refill").await["keyRef"], "OP-004");
        assert_eq!(suggest().await["keyRef"], "OP-006");
        app.owner.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "x", "keyRef": "op-6"})).await;
        assert_eq!(suggest().await["keyRef"], "OP-007");
        assert_counts_exact(&app);
    }

    async fn concurrent_transitions_keep_the_counts_exact(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let mut ids = Vec::new();
        for n in 0..12 {
            ids.push(app.key(&dev["id"], &format!("Flat {n}")).await["id"].clone());
        }
        // Every key raced by three callers at once: each transition lands once per key.
        let due = days_from_now(-2);
        let calls = ids.iter().flat_map(|id| {
            let issue = json!({"id": id, "issuedTo": "Racer", "expectedReturnAt": due});
            [
                app.owner.call("keys.issueKey", issue.clone()),
                app.owner.call("keys.issueKey", issue),
                app.owner.call("keys.markLost", json!({"id": id})),
            ]
        });
        let results = join_all(calls).await;
        let errors: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        for error in &errors {
            error.assert_kind(-32009, "INVALID_TRANSITION");
        }
        assert_counts_exact(&app);
        assert_eq!(app.owner.ok("keys.summary", json!({})).await, summary_from_database(&app, &app.org_id));
        let returns = ids.iter().map(|id| app.owner.call("keys.returnKey", json!({"id": id})));
        join_all(returns).await;
        assert_counts_exact(&app);
        assert_eq!(app.owner.ok("keys.summary", json!({})).await, summary_from_database(&app, &app.org_id));
    }
}

/// Creates `n` keys `Flat 1` … in the development, fifty calls at a time.
async fn many_keys(app: &TestApp, development_id: &Value, n: usize) {
    let labels: Vec<String> = (1..=n).map(|i| format!("Flat {i}")).collect();
    for chunk in labels.chunks(50) {
        let calls = chunk.iter().map(|label| {
            app.owner.call(
                "keys.createKey",
                json!({"developmentId": development_id, "keyType": "physical_key", "label": label}),
            )
        });
        for created in join_all(calls).await {
            created.expect("createKey");
        }
    }
}

fn refs(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|k| k["keyRef"].as_str().unwrap().to_owned()).collect()
}

/// Every ref of a listing, walked by cursor from the first page.
async fn cursor_walk(app: &TestApp, params: Value) -> Vec<String> {
    let mut seen = Vec::new();
    let mut page = app.owner.ok("keys.listKeys", params.clone()).await;
    loop {
        seen.extend(refs(&page));
        let Some(cursor) = page["nextCursor"].as_str() else { break };
        let mut next = params.clone();
        next["cursor"] = json!(cursor);
        page = app.owner.ok("keys.listKeys", next).await;
        assert_eq!(page["page"], 0);
    }
    seen
}

on_both_databases! {
    async fn a_cursor_walk_equals_the_page_walk_and_broad_totals_are_capped(app: TestApp) {
        let oak = app.development("Oak Park").await;
        let elm = app.development("Elm Yard").await;
        many_keys(&app, &oak["id"], 1003).await;
        app.key(&elm["id"], "Gate fob").await;
        let mut by_page = Vec::new();
        for page in 1.. {
            let answer = app.owner.ok("keys.listKeys", json!({"page": page, "limit": 100})).await;
            assert_eq!((answer["total"].clone(), answer["totalCapped"].clone()), (json!(1004), json!(false)));
            assert_eq!(answer["nextCursor"].is_string(), page < 11, "page {page}: {}", answer["nextCursor"]);
            if answer["items"].as_array().unwrap().is_empty() {
                break;
            }
            by_page.extend(refs(&answer));
        }
        let mut sorted = by_page.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!((by_page.len(), &by_page), (1004, &sorted), "every key once, in keyRef order");
        assert_eq!(cursor_walk(&app, json!({"limit": 100})).await, by_page);
        assert_eq!(cursor_walk(&app, json!({"limit": 7, "developmentId": elm["id"]})).await, ["EY-001"]);

        // A search or a filter the counts cannot answer counts to 1,000 and says so.
        let search = app.owner.ok("keys.listKeys", json!({"search": "flat", "limit": 100})).await;
        assert_eq!((search["total"].clone(), search["totalCapped"].clone()), (json!(1000), json!(true)));
        let flats = cursor_walk(&app, json!({"search": "flat", "limit": 100})).await;
        assert_eq!(flats, by_page.iter().filter(|r| r.starts_with("OP-")).cloned().collect::<Vec<_>>());
        // An export reads every match, past the 1,001 a page's count looks for (on
        // PostgreSQL the matching heads in key_search are taken up to what the query reads).
        let exported = crate::csv::column(&app.owner.ok("keys.exportKeysCsv", json!({"search": "flat"})).await, "keyRef");
        assert_eq!(exported, flats);
        // A search with another condition finds its few matches among the 1,003 others.
        let elm_flat = app.key(&elm["id"], "Flat over the yard").await;
        let mut in_elm = app.owner.ok("keys.listKeys", json!({"search": "flat", "developmentId": elm["id"]})).await;
        assert_eq!((in_elm["total"].clone(), refs(&in_elm)), (json!(1), vec![elm_flat["keyRef"].as_str().unwrap().to_owned()]));
        in_elm = app.owner.ok("keys.exportKeysCsv", json!({"search": "flat", "developmentId": elm["id"]})).await;
        assert_eq!(crate::csv::column(&in_elm, "keyRef"), [elm_flat["keyRef"].as_str().unwrap()]);
        let typed = app.owner.ok("keys.listKeys", json!({"keyType": "physical_key"})).await;
        assert_eq!((typed["total"].clone(), typed["totalCapped"].clone()), (json!(1000), json!(true)));
        let narrow = app.owner.ok("keys.listKeys", json!({"search": "flat 100"})).await;
        // (The keys were created concurrently: labels and refs are numbered apart.)
        let mut labels: Vec<&str> = narrow["items"].as_array().unwrap().iter().map(|k| k["label"].as_str().unwrap()).collect();
        labels.sort();
        assert_eq!(labels, ["Flat 100", "Flat 1000", "Flat 1001", "Flat 1002", "Flat 1003"]);
        assert_eq!((narrow["total"].clone(), narrow["totalCapped"].clone()), (json!(5), json!(false)));
        assert_eq!(narrow["nextCursor"], Value::Null);
        // Filters the counts answer are exact, however many match.
        let in_stock = app.owner.ok("keys.listKeys", json!({"developmentId": oak["id"], "status": "in_stock", "limit": 1})).await;
        assert_eq!((in_stock["total"].clone(), in_stock["totalCapped"].clone()), (json!(1003), json!(false)));
        assert_eq!(refs(&in_stock), ["OP-001"]);

        // Page numbers reach page × limit = 10,000; past it, the cursor.
        let deepest = app.owner.ok("keys.listKeys", json!({"page": 100, "limit": 100})).await;
        assert_eq!(refs(&deepest), Vec::<String>::new());
        app.owner.err("keys.listKeys", json!({"page": 101, "limit": 100})).await.assert_invalid("page");
        app.owner.err("keys.listKeys", json!({"page": 1, "cursor": "T1AtMDAx"})).await.assert_invalid("cursor");
        for bad in ["", "%%%", "////", "_w"] {
            app.owner.err("keys.listKeys", json!({"cursor": bad})).await.assert_invalid("cursor");
        }
    }

    async fn a_narrow_search_pages_by_number_and_cursor_and_follows_edits(app: TestApp) {
        // A search of at most 1,000 matches is read through the organisation's trigrams
        // (decision 173): its pages, by number or by cursor, are its matches in ref
        // order; it follows edits, issues and deletions; another organisation's keys
        // with the same words never show.
        let oak = app.development("Oak Park").await;
        let other = app.other_organisation().await;
        let theirs = other.ok("developments.create", json!({"name": "Their Park"})).await;
        let mut ours = Vec::new();
        for i in 1..=12 {
            let label = if i % 3 == 0 { format!("Boiler room {i}") } else { format!("Flat {i} front door") };
            let key = app.key(&oak["id"], &label).await;
            ours.push((key["keyRef"].as_str().unwrap().to_owned(), label, key["id"].clone()));
            other.ok("keys.createKey", json!({"developmentId": theirs["id"], "keyType": "fob", "label": "Boiler room"})).await;
        }
        let boilers: Vec<String> =
            ours.iter().filter(|(_, label, _)| label.starts_with("Boiler")).map(|(r, _, _)| r.clone()).collect();
        assert_eq!(boilers.len(), 4);
        let mut by_page = Vec::new();
        for page in 1..=3 {
            let answer = app.owner.ok("keys.listKeys", json!({"search": "oiler", "page": page, "limit": 3})).await;
            assert_eq!((answer["total"].clone(), answer["totalCapped"].clone()), (json!(4), json!(false)));
            assert_eq!(answer["nextCursor"].is_string(), page == 1, "page {page}");
            by_page.extend(refs(&answer));
        }
        assert_eq!(by_page, boilers);
        assert_eq!(cursor_walk(&app, json!({"search": "BOILER", "limit": 3})).await, boilers);
        assert_eq!(cursor_walk(&app, json!({"search": "oiler room", "limit": 1})).await, boilers);
        let past = app.owner.ok("keys.listKeys", json!({"search": "oiler", "page": 9, "limit": 3})).await;
        assert_eq!((past["total"].clone(), refs(&past)), (json!(4), Vec::<String>::new()));
        // Their twelve boiler rooms are theirs alone.
        assert_eq!(other.ok("keys.listKeys", json!({"search": "oiler"})).await["total"], 12);

        // A new label is found, the old one is not; a holder's name while the key is out.
        let (first_ref, _, first_id) = &ours[0];
        app.owner.ok("keys.updateKey", json!({"id": first_id, "label": "Boiler annexe"})).await;
        assert_eq!(refs(&app.owner.ok("keys.listKeys", json!({"search": "annexe"})).await), std::slice::from_ref(first_ref));
        assert_eq!(app.owner.ok("keys.listKeys", json!({"search": "oiler"})).await["total"], 5);
        assert_eq!(app.owner.ok("keys.listKeys", json!({"search": "flat 1 front"})).await["total"], 0);
        app.owner.ok("keys.issueKey", json!({"id": first_id, "issuedTo": "Priya Okonkwo"})).await;
        assert_eq!(refs(&app.owner.ok("keys.listKeys", json!({"search": "okonk"})).await), std::slice::from_ref(first_ref));
        app.owner.ok("keys.returnKey", json!({"id": first_id})).await;
        // A returned key still names who had it, until it is back in stock.
        assert_eq!(refs(&app.owner.ok("keys.listKeys", json!({"search": "okonk"})).await), std::slice::from_ref(first_ref));
        app.owner.ok("keys.returnToStock", json!({"id": first_id})).await;
        assert_eq!(app.owner.ok("keys.listKeys", json!({"search": "okonk"})).await["total"], 0);
        let (_, _, boiler_id) = ours.iter().find(|(_, label, _)| label == "Boiler room 3").unwrap();
        app.owner.ok("keys.deleteKey", json!({"id": boiler_id})).await;
        assert_eq!(app.owner.ok("keys.listKeys", json!({"search": "oiler"})).await["total"], 4);
    }

    async fn searches_of_one_or_two_characters_match_the_start_of_key_refs(app: TestApp) {
        let oak = app.development("Oak Park").await;
        let elm = app.development("Elm Yard").await;
        app.key(&oak["id"], "Yard gate").await;
        app.key(&elm["id"], "Elm door").await;
        let owner = &app.owner;
        let search = |search: &'static str| async move {
            let page = owner.ok("keys.listKeys", json!({"search": search})).await;
            assert_eq!(page["total"], page["items"].as_array().unwrap().len(), "{search}");
            refs(&page)
        };
        assert_eq!(search("e").await, ["EY-001"]);
        assert_eq!(search("Ey").await, ["EY-001"]);
        assert_eq!(search("o").await, ["OP-001"]);
        // Not a ref's start, though labels and refs contain them.
        assert_eq!(search("y").await, Vec::<String>::new());
        assert_eq!(search("ya").await, Vec::<String>::new());
        assert_eq!(search("-0").await, Vec::<String>::new());
        // Three characters search everywhere.
        assert_eq!(search("yar").await, ["OP-001"]);
        assert_eq!(search("y-0").await, ["EY-001"]);
    }
}

const TEST_CLOCK: &[(&str, &str)] = &[("KEYWARD_TEST_CLOCK", "true")];

/// The organisation's due-day counts as `day development n`, by day.
fn due_days(app: &TestApp) -> Vec<String> {
    app.db.texts(&format!(
        "SELECT CAST(due_day AS TEXT) || ' ' || development_id || ' ' || CAST(n AS TEXT) AS v \
         FROM key_due_days WHERE org_id = '{}' AND n <> 0 ORDER BY v",
        app.org_id
    ))
}

on_both_databases_with! { TEST_CLOCK;
    async fn due_days_older_than_a_week_fold_and_the_overdue_figure_holds(app: TestApp) {
        app.clock(json!({"set": "2027-01-11T09:00:30Z"})).await;
        let o = app.login("owner@acme.test").await;
        let dev = o.ok("developments.create", json!({"name": "Oak Park"})).await;
        let d = dev["id"].as_str().unwrap().to_owned();
        let mut keys = Vec::new();
        for (label, due) in [("A", "2027-01-12T10:00:00Z"), ("B", "2027-01-13T10:00:00Z"), ("C", "2027-01-20T10:00:00Z")] {
            let key = o.ok("keys.createKey", json!({"developmentId": d, "keyType": "physical_key", "label": label})).await;
            o.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": label, "expectedReturnAt": due})).await;
            keys.push(key);
        }
        assert_eq!(due_days(&app), [format!("2027-01-12 {d} 1"), format!("2027-01-13 {d} 1"), format!("2027-01-20 {d} 1")]);

        // Ten days on, the hourly fold has run: the days before 2027-01-14 are one row.
        app.clock(json!({"set": "2027-01-21T09:00:30Z"})).await;
        let o = app.login("owner@acme.test").await;
        assert_eq!(due_days(&app), [format!("0001-01-01 {d} 2"), format!("2027-01-20 {d} 1")]);
        assert_eq!(o.ok("keys.summary", json!({})).await["overdue"], 3);
        assert_eq!(o.ok("keys.summary", json!({"developmentId": d})).await["overdue"], 3);

        // A key of a folded day comes back: its -1 goes to its own day until the next fold.
        o.ok("keys.returnKey", json!({"id": keys[0]["id"]})).await;
        assert_eq!(
            due_days(&app),
            [format!("0001-01-01 {d} 2"), format!("2027-01-12 {d} -1"), format!("2027-01-20 {d} 1")]
        );
        assert_eq!(o.ok("keys.summary", json!({})).await["overdue"], 2);
        app.clock(json!({"advanceSeconds": 3600})).await;
        assert_eq!(due_days(&app), [format!("0001-01-01 {d} 1"), format!("2027-01-20 {d} 1")]);
        assert_eq!(o.ok("keys.summary", json!({})).await["overdue"], 2);

        // Another week: the last day folds too, and the figure is still every overdue key.
        app.clock(json!({"set": "2027-01-28T09:00:30Z"})).await;
        let o = app.login("owner@acme.test").await;
        assert_eq!(due_days(&app), [format!("0001-01-01 {d} 2")]);
        assert_eq!(o.ok("keys.summary", json!({})).await["overdue"], 2);
        assert_eq!(o.ok("keys.listKeys", json!({"overdue": true})).await["total"], 2);
    }
}
