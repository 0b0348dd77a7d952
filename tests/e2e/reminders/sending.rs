//! What is sent, to whom and when: the first reminder at its minute and not before, the
//! repeats up to the maximum, the escalation (to a number, to a user's phone, at once
//! when the holder has no phone), quiet hours across the spring change in Europe/London,
//! and a returned key that gets nothing more.

use serde_json::json;

use super::{ESCALATION, TEST_CLOCK, history, issued_key, texts};
use crate::on_both_databases_with;
use crate::support::SmsApp;
use crate::support::sms::PHONE;

on_both_databases_with! { TEST_CLOCK;
    async fn reminders_come_at_their_minute_repeat_up_to_the_maximum_then_escalate(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        app.owner.ok("settings.updateReminders", json!({
            "enabled": true, "firstAfterMinutes": 30, "repeatEveryHours": 2, "maxReminders": 2,
            "escalateAfterHours": 5, "escalatePhone": ESCALATION,
        })).await;
        let key = issued_key(&app, Some("07400 123456"), "2027-01-11T10:00:00Z").await;

        app.clock(json!({"set": "2027-01-11T10:29:00Z"})).await;
        assert!(texts(&app).is_empty(), "not before firstAfterMinutes");
        app.clock(json!({"set": "2027-01-11T10:30:00Z"})).await;
        let sent = texts(&app);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].0, PHONE);
        assert_eq!(sent[0].1, "Oak Park: key OP-001 (Flat 12) was due back 11 Jan 10:00. Please return it as soon as you can.");

        app.clock(json!({"set": "2027-01-11T12:29:00Z"})).await;
        assert_eq!(texts(&app).len(), 1);
        app.clock(json!({"set": "2027-01-11T12:30:00Z"})).await;
        assert_eq!(texts(&app).len(), 2, "the repeat");
        app.clock(json!({"set": "2027-01-11T14:59:00Z"})).await;
        assert_eq!(texts(&app).len(), 2, "at most maxReminders");
        app.clock(json!({"set": "2027-01-11T15:00:00Z"})).await;
        let sent = texts(&app);
        assert_eq!(sent.len(), 3, "{sent:?}");
        assert_eq!(sent[2].0, ESCALATION);
        assert!(sent[2].1.contains("issued to Sam Holder was due back 11 Jan 10:00"), "{}", sent[2].1);
        app.clock(json!({"advanceSeconds": 3 * 24 * 3600})).await;
        assert_eq!(texts(&app).len(), 3, "nothing more, ever");

        assert_eq!(history(&app, &key).await, ["created", "issued", "reminder_sent", "reminder_sent", "escalated"]);
        let moves = app.owner.ok("keys.keyHistory", json!({"id": key["id"]})).await;
        let moves = moves["items"].as_array().expect("a list");
        // Newest first: the escalation, then the second reminder.
        assert_eq!(moves[1]["notes"], format!("Reminder 2 of 2 sent to {PHONE}"));
        assert_eq!(moves[1]["actorName"], "keyward reminders");
        let events = app.owner.ok("audit.list", json!({"entityType": "key", "entityId": key["id"], "action": "key.reminderSent"})).await;
        assert_eq!(events["total"], 2);
        assert_eq!(events["items"][0]["actorId"], serde_json::Value::Null);
        let report = app.owner.ok("reports.overdue", json!({})).await;
        let item = &report["items"][0];
        assert_eq!((item["remindersSent"].clone(), item["escalated"].clone()), (json!(2), json!(true)), "{report}");
        assert_eq!(item["overdueMinutes"], 3 * 24 * 60 + 5 * 60);
        assert_eq!(item["issuedTo"], "Sam Holder");
    }

    async fn no_phone_goes_straight_to_escalation_to_a_users_phone(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        let manager = app.owner.ok("users.create", json!({
            "email": "mo@acme.test", "name": "Mo Manager", "role": "manager", "password": crate::support::server::PASSWORD,
        })).await;
        app.owner.ok("people.create", json!({"name": "Mo", "kind": "staff", "phone": "07400 123477", "userId": manager["id"]})).await;
        app.owner.ok("settings.updateReminders", json!({
            "enabled": true, "firstAfterMinutes": 0, "escalateToUserIds": [manager["id"]], "escalatePhone": ESCALATION,
        })).await;
        let key = issued_key(&app, None, "2027-01-11T10:00:00Z").await;

        app.clock(json!({"set": "2027-01-11T09:59:00Z"})).await;
        assert!(texts(&app).is_empty());
        app.clock(json!({"set": "2027-01-11T10:00:00Z"})).await;
        let mut to: Vec<String> = texts(&app).into_iter().map(|(to, _)| to).collect();
        to.sort();
        assert_eq!(to, ["+447400123477", ESCALATION], "the user's phone and the number, at the first reminder's time");
        app.clock(json!({"advanceSeconds": 3 * 24 * 3600})).await;
        assert_eq!(texts(&app).len(), 2, "no reminder to a holder with no phone, no second escalation");
        assert_eq!(history(&app, &key).await, ["created", "issued", "escalated"]);
    }

    async fn quiet_hours_hold_a_reminder_until_they_end_across_the_spring_change(app: SmsApp) {
        // London goes from GMT to BST at 01:00 UTC on 28 March 2027: 08:00 is then 07:00 UTC.
        app.clock(json!({"set": "2027-03-27T20:00:00Z"})).await;
        app.owner.ok("settings.updateReminders", json!({
            "enabled": true, "firstAfterMinutes": 0, "quietHours": {"start": "22:00", "end": "08:00"},
        })).await;
        issued_key(&app, Some(PHONE), "2027-03-28T01:30:00Z").await;
        app.clock(json!({"set": "2027-03-28T06:59:00Z"})).await;
        assert!(texts(&app).is_empty(), "quiet until 08:00 BST");
        app.clock(json!({"set": "2027-03-28T07:00:00Z"})).await;
        let sent = texts(&app);
        assert_eq!(sent.len(), 1, "sent when the quiet hours end on the wall clock");
        assert!(sent[0].1.contains("was due back 28 Mar 02:30"), "the due time on the development's clock: {}", sent[0].1);
    }

    async fn a_returned_key_gets_nothing_more_and_leaves_the_report(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        app.owner.ok("settings.updateReminders", json!({
            "enabled": true, "firstAfterMinutes": 0, "repeatEveryHours": 1, "maxReminders": 3,
            "escalateAfterHours": 2, "escalatePhone": ESCALATION,
        })).await;
        let key = issued_key(&app, Some(PHONE), "2027-01-11T10:00:00Z").await;
        app.clock(json!({"set": "2027-01-11T10:00:00Z"})).await;
        assert_eq!(texts(&app).len(), 1);
        app.clock(json!({"advanceSeconds": 60})).await;
        assert_eq!(app.owner.ok("reports.overdue", json!({"developmentId": key["developmentId"]})).await["total"], 1);

        app.owner.ok("keys.returnKey", json!({"id": key["id"]})).await;
        app.clock(json!({"set": "2027-01-11T13:00:00Z"})).await;
        assert_eq!(texts(&app).len(), 1, "no repeat and no escalation after the return");
        assert_eq!(app.owner.ok("reports.overdue", json!({})).await["total"], 0);

        // Issued again: a new cycle, from reminder 1.
        app.owner.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Sam Holder", "issuedToPhone": PHONE, "expectedReturnAt": "2027-01-11T14:00:00Z"})).await;
        app.clock(json!({"set": "2027-01-11T14:01:00Z"})).await;
        assert_eq!(texts(&app).len(), 2);
        let report = app.owner.ok("reports.overdue", json!({})).await;
        assert_eq!((report["items"][0]["remindersSent"].clone(), report["items"][0]["escalated"].clone()), (json!(1), json!(false)));
    }

    async fn reminders_off_send_nothing(app: SmsApp) {
        app.clock(json!({"set": "2027-01-11T09:00:00Z"})).await;
        issued_key(&app, Some(PHONE), "2027-01-11T10:00:00Z").await;
        app.clock(json!({"set": "2027-01-12T10:00:00Z"})).await;
        assert!(texts(&app).is_empty());
    }
}
