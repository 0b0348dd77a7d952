//! Overdue reminders with escalation (issue 13 §2), end to end: the real binary on the
//! test clock (no sleeps: a move of the clock answers once the due jobs ran) with a fake
//! Twilio. `settings.*Reminders` here; the sending in `sending.rs`; two nodes in `nodes.rs`.

mod crash;
mod digest;
mod nodes;
mod sending;

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::sms::PHONE;
use crate::support::{SmsApp, TestApp};

/// The test clock, and sessions that last a year of it (the tests move it by months).
pub(crate) const TEST_CLOCK: &[(&str, &str)] =
    &[("KEYWARD_TEST_CLOCK", "true"), ("KEYWARD_TOKEN_TTL_MINUTES", "527040")];
/// The escalation number.
pub(crate) const ESCALATION: &str = "+447400123499";

/// A development (Europe/London) with one key issued to a walk-in with `phone` (or none),
/// due at `due`.
pub(crate) async fn issued_key(app: &TestApp, phone: Option<&str>, due: &str) -> Value {
    let dev = app.owner.ok("developments.create", json!({"name": "Oak Park", "keyPrefix": "OP"})).await;
    issue_in(app, &dev, "Flat 12", phone, due).await
}

/// Another key of `dev`, issued to a walk-in with `phone` (or none), due at `due`.
pub(crate) async fn issue_in(app: &TestApp, dev: &Value, label: &str, phone: Option<&str>, due: &str) -> Value {
    let key = app.key(&dev["id"], label).await;
    let mut params = json!({"id": key["id"], "issuedTo": "Sam Holder", "expectedReturnAt": due});
    if let Some(phone) = phone {
        params["issuedToPhone"] = json!(phone);
    }
    app.owner.ok("keys.issueKey", params).await
}

/// The messages the fake Twilio received: `(to, body)`.
pub(crate) fn texts(app: &SmsApp) -> Vec<(String, String)> {
    app.fake.requests().iter().filter_map(|r| Some((r.field("To")?.to_owned(), r.field("Body")?.to_owned()))).collect()
}

/// The key's history actions, oldest first.
pub(crate) async fn history(app: &TestApp, key: &Value) -> Vec<String> {
    let moves = app.owner.ok("keys.keyHistory", json!({"id": key["id"]})).await;
    let mut actions: Vec<String> =
        moves["items"].as_array().expect("a list").iter().map(|m| m["action"].as_str().unwrap().to_owned()).collect();
    actions.reverse();
    actions
}

on_both_databases! {
    async fn reminder_settings_default_off_and_are_validated_field_by_field(app: TestApp) {
        let defaults = json!({
            "enabled": false, "firstAfterMinutes": 60, "repeatEveryHours": 24, "maxReminders": 3,
            "escalateAfterHours": 48, "escalateToUserIds": [], "escalatePhone": null, "quietHours": null,
            "maxExtendDays": 7,
        });
        assert_eq!(app.owner.ok("settings.getReminders", json!({})).await, defaults);

        let manager_id = app.owner.ok("users.create", json!({
            "email": "mo@acme.test", "name": "Mo Manager", "role": "manager", "password": crate::support::server::PASSWORD,
        })).await["id"].clone();
        for (params, field) in [
            (json!({"firstAfterMinutes": -1}), "firstAfterMinutes"),
            (json!({"firstAfterMinutes": 10081}), "firstAfterMinutes"),
            (json!({"repeatEveryHours": 0}), "repeatEveryHours"),
            (json!({"maxReminders": 11}), "maxReminders"),
            (json!({"escalateAfterHours": 0}), "escalateAfterHours"),
            (json!({"escalatePhone": "07400 12345x"}), "escalatePhone"),
            (json!({"escalateToUserIds": ["no-such-user"]}), "escalateToUserIds"),
            // A user with no phone in the directory cannot be texted.
            (json!({"escalateToUserIds": [manager_id]}), "escalateToUserIds"),
            (json!({"quietHours": {"start": "22:00", "end": "22:00"}}), "quietHours.end"),
            (json!({"quietHours": {"start": "7:00", "end": "08:00"}}), "quietHours.start"),
            (json!({"quietHours": {"start": "22:00", "end": "24:00"}}), "quietHours.end"),
            (json!({"enabled": true, "maxReminders": 99}), "maxReminders"),
        ] {
            app.owner.err("settings.updateReminders", params.clone()).await.assert_invalid(field);
        }
        app.owner.err("settings.updateReminders", json!({"quietHours": {"start": "22:00"}})).await.assert_kind(-32602, "INVALID_INPUT");
        assert_eq!(app.owner.ok("settings.getReminders", json!({})).await, defaults, "a refusal changes nothing");

        // The manager becomes reachable through a person of the directory linked to them.
        app.owner.ok("people.create", json!({"name": "Mo Manager", "kind": "staff", "phone": "07400 123477", "userId": manager_id})).await;
        let on = app.owner.ok("settings.updateReminders", json!({
            "enabled": true, "firstAfterMinutes": 30, "escalateToUserIds": [manager_id, manager_id],
            "escalatePhone": "07400 123499", "quietHours": {"start": "22:00", "end": "08:00"},
        })).await;
        assert_eq!(on["escalateToUserIds"], json!([manager_id]));
        assert_eq!(on["escalatePhone"], ESCALATION, "normalised to E.164");
        assert_eq!(on["repeatEveryHours"], 24, "omitted fields stay");
        assert_eq!(app.owner.ok("settings.getReminders", json!({})).await, on);
        // Merge-patch: null clears.
        let cleared = app.owner.ok("settings.updateReminders", json!({"escalatePhone": null, "quietHours": null})).await;
        assert_eq!((cleared["escalatePhone"].clone(), cleared["quietHours"].clone(), cleared["enabled"].clone()), (Value::Null, Value::Null, json!(true)));

        let events = app.owner.ok("audit.list", json!({"action": "organisation.remindersUpdated"})).await;
        assert_eq!(events["total"], 2, "one event per change that changed something: {events}");
        app.owner.ok("settings.updateReminders", json!({"enabled": true})).await;
        let events = app.owner.ok("audit.list", json!({"action": "organisation.remindersUpdated"})).await;
        assert_eq!(events["total"], 2, "the same values again change nothing");
    }

    async fn only_the_owner_manages_reminders_and_every_role_reads_the_report(app: TestApp) {
        for role in ["manager", "team", "installer", "housekeeping"] {
            let user = app.user(role).await;
            user.err("settings.getReminders", json!({})).await.assert_kind(-32003, "FORBIDDEN");
            user.err("settings.updateReminders", json!({"enabled": true})).await.assert_kind(-32003, "FORBIDDEN");
            assert_eq!(user.ok("reports.overdue", json!({})).await["total"], 0);
        }
        assert_eq!(app.owner.ok("settings.getReminders", json!({})).await["enabled"], false, "nothing changed");
    }

    async fn reminders_and_the_report_stay_in_their_organisation(app: TestApp) {
        let key = issued_key(&app, Some(PHONE), "2020-01-01T00:00:00Z").await;
        app.owner.ok("settings.updateReminders", json!({"enabled": true})).await;
        let report = app.owner.ok("reports.overdue", json!({})).await;
        assert_eq!(report["total"], 1, "{report}");
        assert_eq!(report["items"][0]["keyId"], key["id"]);

        let other = app.other_organisation().await;
        assert_eq!(other.ok("settings.getReminders", json!({})).await["enabled"], false);
        assert_eq!(other.ok("reports.overdue", json!({})).await["total"], 0);
        other.err("reports.overdue", json!({"developmentId": key["developmentId"]})).await.assert_kind(-32004, "NOT_FOUND");
        let me = app.owner.ok("auth.me", json!({})).await;
        other.err("settings.updateReminders", json!({"escalateToUserIds": [me["user"]["id"]]})).await.assert_invalid("escalateToUserIds");
        app.owner.err("reports.overdue", json!({"limit": 0})).await.assert_invalid("limit");
    }
}
