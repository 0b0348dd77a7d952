//! What opens a door, raced (decision 146): `keys.setDoors` against `keys.markLost` on
//! the same key, and against `doors.delete` of the door, twenty calls at once.

use std::collections::BTreeSet;

use futures_util::future::join_all;
use serde_json::{Value, json};

use super::door;
use crate::on_both_databases;
use crate::support::TestApp;

const RACERS: usize = 20;

fn text_set(values: &[Value]) -> BTreeSet<String> {
    values.iter().map(|v| v.as_str().expect("an id").to_owned()).collect()
}

on_both_databases! {
    async fn marking_a_key_lost_while_its_doors_change_leaves_flags_and_codes_consistent(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        let mut doors = Vec::new();
        let mut codes = Vec::new();
        for name in ["Lobby", "Gate", "Bins", "Lift"] {
            let d = door(&app, &dev["id"], name, "other").await;
            let code = o.ok("keys.createAccessCode", json!({"developmentId": dev["id"], "codeType": "door",
                "label": format!("{name} code"), "code": "4821", "doorIds": [d["id"]]})).await;
            codes.push((d["id"].clone(), code["id"].clone()));
            doors.push(d["id"].clone());
        }
        let key = o.ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "master_key", "label": "Master"})).await;
        o.ok("keys.setDoors", json!({"id": key["id"], "doorIds": [doors[0], doors[1]]})).await;

        // One markLost among nineteen setDoors, each to another set of doors.
        let sets: Vec<Vec<Value>> = (0..RACERS - 1).map(|i| match i % 4 {
            0 => vec![doors[2].clone()],
            1 => vec![doors[0].clone(), doors[3].clone()],
            2 => vec![],
            _ => vec![doors[1].clone(), doors[2].clone(), doors[3].clone()],
        }).collect();
        let mut calls: Vec<_> = sets.iter().map(|set| o.call("keys.setDoors", json!({"id": key["id"], "doorIds": set}))).collect();
        calls.insert(RACERS / 2, o.call("keys.markLost", json!({"id": key["id"]})));
        let results = join_all(calls).await;
        for (i, result) in results.iter().enumerate() {
            assert!(result.is_ok(), "call {i}: {result:?}");
        }
        let lost = results[RACERS / 2].as_ref().unwrap();
        assert_eq!(lost["status"], "lost");
        let opened_when_lost: Vec<Value> = lost["blastRadius"]["doors"].as_array().unwrap().iter().map(|d| d["id"].clone()).collect();
        assert_eq!(text_set(&opened_when_lost), text_set(lost["doorIds"].as_array().unwrap()), "one moment");

        // The lost flag is on exactly the doors the key opens at the end.
        let now = o.ok("keys.getKey", json!({"id": key["id"]})).await;
        assert_eq!(now["status"], "lost");
        let opens = text_set(now["doorIds"].as_array().unwrap());
        let flagged: BTreeSet<String> = app.db.texts(&format!("SELECT door_id AS v FROM key_doors WHERE key_id = '{}' AND key_lost", key["id"].as_str().unwrap())).into_iter().collect();
        let linked: BTreeSet<String> = app.db.texts(&format!("SELECT door_id AS v FROM key_doors WHERE key_id = '{}'", key["id"].as_str().unwrap())).into_iter().collect();
        assert_eq!((&flagged, &linked), (&opens, &opens));
        assert_eq!(o.ok("keys.summary", json!({})).await["doorsExposedByLostKeys"], opens.len());
        // The codes at the doors it opened when it was marked lost are due, once each;
        // the others are not.
        let page = o.ok("keys.listAccessCodes", json!({"rotationDue": true})).await;
        let due: BTreeSet<String> = page["items"].as_array().unwrap().iter().map(|c| {
            let reasons = c["rotationReasons"].as_array().unwrap();
            assert_eq!(reasons.iter().filter(|r| r["kind"] == "key_lost" && r["keyId"] == key["id"]).count(), 1, "{c}");
            c["id"].as_str().unwrap().to_owned()
        }).collect();
        let at_lost_doors = text_set(&codes.iter().filter(|(d, _)| opened_when_lost.contains(d)).map(|(_, c)| c.clone()).collect::<Vec<_>>());
        assert_eq!(due, at_lost_doors);
        // Each door-set period is closed or the key's current door, one open per door.
        let open: Vec<String> = app.db.texts(&format!("SELECT door_id AS v FROM key_door_periods WHERE key_id = '{}' AND to_at IS NULL", key["id"].as_str().unwrap()));
        assert_eq!(open.len(), opens.len());
        assert_eq!(open.into_iter().collect::<BTreeSet<_>>(), opens);
    }

    async fn deleting_a_door_while_keys_are_set_to_open_it_leaves_no_dangling_link(app: TestApp) {
        let o = &app.owner;
        let dev = app.development("Oak Park").await;
        for round in 0..3 {
            let d = door(&app, &dev["id"], &format!("Door {round}"), "other").await;
            let mut keys = Vec::new();
            for i in 0..RACERS / 2 {
                keys.push(app.key(&dev["id"], &format!("Key {round}-{i}")).await);
            }
            // Deletes first, last or in between: the order the server sees varies by round.
            let mut calls = Vec::new();
            let mut is_set = Vec::new();
            for (i, key) in keys.iter().enumerate() {
                let delete = o.call("doors.delete", json!({"id": d["id"]}));
                let set = o.call("keys.setDoors", json!({"id": key["id"], "doorIds": [d["id"]]}));
                if (i + round) % 2 == 0 {
                    calls.extend([delete, set]);
                    is_set.extend([false, true]);
                } else {
                    calls.extend([set, delete]);
                    is_set.extend([true, false]);
                }
            }
            let results = join_all(calls).await;
            let (mut sets_ok, mut deleted) = (0, 0);
            for (result, is_set) in results.iter().zip(is_set) {
                match (result, is_set) {
                    (Ok(_), true) => sets_ok += 1,
                    (Ok(_), false) => deleted += 1,
                    // The door was gone (for a delete: another delete took it).
                    (Err(e), _) if e.kind.as_deref() == Some("NOT_FOUND") => {}
                    (Err(e), false) => e.assert_kind(-32009, "DOOR_IN_USE"),
                    (Err(e), true) => panic!("setDoors: {e:?}"),
                }
            }
            let exists = o.call("doors.get", json!({"id": d["id"]})).await.is_ok();
            let openers: Vec<Value> = o.ok("keys.listKeys", json!({"doorId": d["id"]})).await["items"].as_array().unwrap().iter().map(|k| k["id"].clone()).collect();
            if exists {
                // No delete got through: every key was set, and every key opens it.
                assert_eq!((deleted, sets_ok), (0, RACERS / 2), "{results:?}");
                assert_eq!(openers.len(), RACERS / 2);
            } else {
                // The door went first: one delete, and no key opens it (or ever recorded it).
                assert_eq!(deleted, 1, "{results:?}");
                assert_eq!(sets_ok, 0, "{results:?}");
                assert!(openers.is_empty());
            }
            for table in ["key_doors", "key_door_periods"] {
                let dangling = app.db.texts(&format!("SELECT CAST(COUNT(*) AS TEXT) AS v FROM {table} WHERE door_id NOT IN (SELECT id FROM doors)"));
                assert_eq!(dangling, ["0"], "{table}");
            }
        }
    }
}
