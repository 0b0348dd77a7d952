//! Two nodes on one PostgreSQL never send a reminder step twice: both sweep and both run
//! steps at the same instants; the jobs' subjects, claims and the sends' idempotency keys
//! leave one message per key and step.

use serde_json::json;

use super::{TEST_CLOCK, issue_in, texts};
use crate::on_one_database;
use crate::support::SmsApp;
use crate::support::database::{Backend, postgres_skipped};
use crate::support::server::move_clock;

on_one_database! { postgres:
    async fn two_nodes_never_send_a_step_twice() {
        if postgres_skipped() {
            eprintln!("PostgreSQL half skipped (KEYWARD_TEST_POSTGRES=skip)");
            return;
        }
        let app = SmsApp::start_with(Backend::Postgres, TEST_CLOCK).await.expect("PostgreSQL");
        let (_b, b_url) = app.spawn_server(TEST_CLOCK).await;
        let both = |body: serde_json::Value| {
            let (a, b) = (app.url.clone(), b_url.clone());
            async move {
                let ((sa, a), (sb, b)) = tokio::join!(move_clock(&a, body.clone()), move_clock(&b, body));
                assert_eq!((sa, sb), (200, 200), "{a} {b}");
            }
        };
        both(json!({"set": "2027-01-11T09:00:00Z"})).await;
        app.owner.ok("settings.updateReminders", json!({
            "enabled": true, "firstAfterMinutes": 0, "repeatEveryHours": 1, "maxReminders": 2,
        })).await;
        let dev = app.owner.ok("developments.create", json!({"name": "Oak Park", "keyPrefix": "OP"})).await;
        for (label, phone) in [("A", "+447400123401"), ("B", "+447400123402"), ("C", "+447400123403")] {
            issue_in(&app, &dev, label, Some(phone), "2027-01-11T10:00:00Z").await;
        }
        // Each node moves its own clock to the same instants, at once.
        for at in ["2027-01-11T10:00:00Z", "2027-01-11T10:30:00Z", "2027-01-11T11:00:00Z", "2027-01-11T12:00:00Z"] {
            both(json!({"set": at})).await;
        }
        let mut to: Vec<String> = texts(&app).into_iter().map(|(to, _)| to).collect();
        to.sort();
        assert_eq!(
            to,
            ["+447400123401", "+447400123401", "+447400123402", "+447400123402", "+447400123403", "+447400123403"],
            "two reminders per key, each once"
        );
        let recorded = app.db.texts("SELECT CAST(COUNT(*) AS TEXT) AS v FROM key_movements WHERE action = 'reminder_sent'");
        assert_eq!(recorded, ["6"]);
    }
}
