//! `kill -9` in the middle of a burst of writes: after a restart on the same database,
//! every acknowledged call is there with its history entry and audit event, and every
//! key's status and version are what its history, replayed, says.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::on_both_databases;
use crate::support::{Client, TestApp};

const CLIENTS: usize = 8;
/// The server is killed once this many calls (of all clients) were acknowledged.
const KILL_AFTER: usize = 80;
/// A client stops here even if the kill never came (the test then fails).
const MAX_CALLS: usize = 60;

/// The calls each client makes, in a loop on its own key: (procedure, history action).
const CYCLE: [(&str, &str); 3] =
    [("keys.issueKey", "issued"), ("keys.returnKey", "returned"), ("keys.returnToStock", "returned_to_stock")];

/// What one client saw: the calls the server acknowledged (each tagged in its `notes`),
/// and the call that was under way when the server died (it may or may not have
/// committed).
struct Seen {
    acknowledged: Vec<(String, Value)>,
    unanswered: Option<String>,
}

async fn burst(client: Client, n: usize, key: Value, acknowledged: Arc<AtomicUsize>, enough: Arc<Notify>) -> Seen {
    let mut seen = Seen { acknowledged: Vec::new(), unanswered: None };
    for call in 0..MAX_CALLS {
        let (method, _) = CYCLE[call % CYCLE.len()];
        let tag = format!("client {n} call {call}");
        let params = match call % CYCLE.len() {
            0 => json!({"id": key["id"], "issuedTo": tag, "notes": tag}),
            _ => json!({"id": key["id"], "notes": tag}),
        };
        match client.try_call(method, params).await {
            Ok(Ok(key)) => {
                seen.acknowledged.push((tag, key));
                if acknowledged.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                    enough.notify_one();
                }
            }
            Ok(Err(e)) => panic!("{method} failed while the server was up: {e:?}"),
            Err(_) => {
                seen.unanswered = Some(tag);
                break;
            }
        }
    }
    seen
}

/// A key's history, oldest first: (action, notes).
async fn history(client: &Client, id: &Value) -> Vec<(String, Option<String>)> {
    let items = client.ok("keys.keyHistory", json!({"id": id})).await;
    let mut all: Vec<(String, Option<String>)> = items["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| (m["action"].as_str().unwrap().to_owned(), m["notes"].as_str().map(str::to_owned)))
        .collect();
    all.reverse();
    all
}

/// A key's audit actions, oldest first (every page).
async fn audit_actions(client: &Client, id: &Value) -> Vec<String> {
    let mut all = Vec::new();
    for page in 1.. {
        let answer = client.ok("audit.list", json!({"entityId": id, "page": page, "limit": 100})).await;
        let items = answer["items"].as_array().expect("items");
        all.extend(items.iter().map(|e| e["action"].as_str().unwrap().to_owned()));
        if items.len() < 100 {
            break;
        }
    }
    all.reverse();
    all
}

/// The status a key reaches by the movements in its history, from `in_stock`; panics on
/// a movement its status at the time did not allow (the contract's transition table).
fn replay(movements: &[(String, Option<String>)]) -> Vec<&'static str> {
    let mut status = "in_stock";
    let mut after = Vec::new();
    for (action, notes) in movements {
        status = match (action.as_str(), status) {
            ("issued", "in_stock" | "returned") => "issued",
            ("returned", "issued") => "returned",
            ("returned_to_stock", "returned") => "in_stock",
            _ => panic!("history has {action} ({notes:?}) while the key was {status}"),
        };
        after.push(status);
    }
    after
}

on_both_databases! {
    async fn kill_9_mid_burst_loses_nothing_acknowledged(app: TestApp) {
        let mut app = app;
        let development = app.development("Riverside").await;
        let mut keys = Vec::new();
        for n in 0..CLIENTS {
            keys.push(app.key(&development["id"], &format!("Flat {n}")).await);
        }
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let enough = Arc::new(Notify::new());
        let clients: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(n, key)| {
                let client = Client::new(&app.url, app.owner.token.clone());
                tokio::spawn(burst(client, n, key.clone(), Arc::clone(&acknowledged), Arc::clone(&enough)))
            })
            .collect();
        tokio::time::timeout(Duration::from_secs(60), enough.notified())
            .await
            .expect("the clients made enough calls within 60 s");
        app.kill().await;
        let mut seen = Vec::new();
        for client in clients {
            seen.push(
                tokio::time::timeout(Duration::from_secs(30), client)
                    .await
                    .expect("every client stops once the server is gone")
                    .expect("the client task"),
            );
        }
        assert!(
            seen.iter().all(|s| s.unanswered.is_some()),
            "the kill came mid-burst: every client still had calls to make"
        );

        app.restart().await;
        for (key, seen) in keys.iter().zip(&seen) {
            let now = app.owner.ok("keys.getKey", json!({"id": key["id"]})).await;
            let movements = history(&app.owner, &key["id"]).await;
            assert_eq!(movements.first().map(|m| m.0.as_str()), Some("created"));
            let moved = &movements[1..];

            // Every acknowledged call is there, in order; at most the unanswered one more.
            let tags: Vec<&str> = moved.iter().map(|m| m.1.as_deref().expect("each call's notes")).collect();
            let acked: Vec<&str> = seen.acknowledged.iter().map(|(tag, _)| tag.as_str()).collect();
            let unanswered = seen.unanswered.as_deref().expect("an unanswered call");
            assert!(
                tags == acked || tags == [acked.as_slice(), &[unanswered]].concat(),
                "history {tags:?} against acknowledged {acked:?} (then {unanswered})"
            );
            for (call, (action, _)) in moved.iter().enumerate() {
                assert_eq!(action, CYCLE[call % CYCLE.len()].1, "call {call} of {}", key["id"]);
            }

            // The history explains the key: its status and version, and every answer given.
            let statuses = replay(&movements[1..]);
            assert_eq!(now["status"], *statuses.last().unwrap_or(&"in_stock"), "{now}");
            assert_eq!(now["version"], movements.len(), "one version per change: {now}");
            for (call, (tag, answer)) in seen.acknowledged.iter().enumerate() {
                assert_eq!(answer["status"], statuses[call], "{tag}");
                assert_eq!(answer["version"], call + 2, "{tag}");
            }

            // And each change has its audit event.
            let expected: Vec<String> = movements.iter().map(|(action, _)| format!("key.{action}")).collect();
            assert_eq!(audit_actions(&app.owner, &key["id"]).await, expected);
        }

        // The restarted server takes writes again.
        app.owner.ok("keys.markLost", json!({"id": keys[0]["id"]})).await;
    }
}
