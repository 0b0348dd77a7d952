//! A node killed (`kill -9`) between a reminder's send and its record: the provider got
//! the message, keyward never recorded the step. After the claim's lease, the step runs
//! again on another node, finds the first attempt under its idempotency key (its outcome
//! settled as `unknown`: it may have gone out) and texts nobody again; the step is
//! recorded once. On both databases (on SQLite the second node starts after the first
//! died, as SQLite runs one node).

use std::time::Duration;

use fake_twilio::Scripted;
use serde_json::json;

use super::{TEST_CLOCK, history, issued_key, texts};
use crate::on_both_databases_with;
use crate::support::SmsApp;
use crate::support::server::move_clock;
use crate::support::sms::{PHONE, eventually, kill};

on_both_databases_with! { TEST_CLOCK;
    async fn a_node_killed_between_the_send_and_its_record_never_sends_the_step_twice(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        app.owner.ok("settings.updateReminders", json!({"enabled": true, "firstAfterMinutes": 0, "maxReminders": 1})).await;
        let key = issued_key(&app, Some(PHONE), "2027-01-11T10:00:00Z").await;

        // The provider takes the message and does not answer before the node dies.
        app.fake.script(vec![Scripted { status: 201, delay_ms: Some(60_000), ..Scripted::default() }]);
        let (mut doomed, doomed_url) = app.spawn_server(TEST_CLOCK).await;
        let stuck = tokio::spawn(async move { move_clock(&doomed_url, json!({"set": "2027-01-11T10:00:00Z"})).await });
        eventually("the provider holds the reminder", || app.fake.message_posts() == 1).await;
        kill(&mut doomed).await;
        assert!(tokio::time::timeout(Duration::from_secs(10), stuck).await.expect("the caller notices").is_err());
        assert_eq!(history(&app, &key).await, ["created", "issued"], "the step was never recorded");
        let running = app.db.texts("SELECT state AS v FROM jobs WHERE kind = 'reminder_step'");
        assert_eq!(running, ["running"], "the dead node's claim holds");

        // Past the lease (5 minutes), the first server runs the step again: nothing re-sent.
        app.clock(json!({"set": "2027-01-11T10:06:00Z"})).await;
        app.clock(json!({"set": "2027-01-11T10:08:00Z"})).await;
        assert_eq!(app.fake.message_posts(), 1, "never sent twice: {:?}", texts(&app));
        assert_eq!(history(&app, &key).await, ["created", "issued", "reminder_sent"], "recorded once");
        let steps = app.db.texts("SELECT state AS v FROM jobs WHERE kind = 'reminder_step'");
        assert_eq!(steps, ["done"]);
        let outcome = app.owner.ok("audit.list", json!({"entityType": "sms"})).await;
        let actions: Vec<&str> = outcome["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["sms.unknown"], "the cut-off send is told as unknown");
        // Later moves send nothing more.
        app.clock(json!({"advanceSeconds": 3600})).await;
        assert_eq!(app.fake.message_posts(), 1);
    }
}
