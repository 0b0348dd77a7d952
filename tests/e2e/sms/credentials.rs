//! `grants.sendCredentials` (issue 12 §3): a holder's doorcodes by SMS through the one
//! pipeline: the body the fake receives, the doorcode-exposure ledger (as the door's log
//! shows it), the limits, refusals that send and record nothing, roles and isolation.

use super::*;

const DOORCODE: &str = "583920";

struct Setup {
    grant: Value,
    ann: Value,
    front: Value,
    bins: Value,
}

/// Oak Park with a front entrance (weekdays 9 to 5) and a bin store (any time), and a
/// grant giving both to Ann (with a phone) with the doorcode `DOORCODE`.
async fn setup(app: &SmsApp) -> Setup {
    let o = &app.owner;
    let dev = app.development("Oak Park").await;
    let new_door = |name: &str| json!({"developmentId": dev["id"], "name": name, "kind": "entrance"});
    let front = o.ok("doors.create", new_door("Front entrance")).await;
    let bins = o.ok("doors.create", new_door("Bin store")).await;
    let ann = o.ok("people.create", json!({"name": "Ann Staff", "kind": "staff", "phone": "07400 123456"})).await;
    let grant = o.ok("grants.create", json!({
        "developmentId": dev["id"], "name": "Cleaners", "startsAt": "2027-01-01T00:00:00Z",
        "doors": [
            {"doorId": front["id"], "schedule": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]},
            {"doorId": bins["id"]},
        ],
        "personIds": [ann["id"]],
        "doorcode": {"policy": "strict", "code": DOORCODE},
    })).await;
    Setup { grant, ann, front, bins }
}

fn credentials(setup: &Setup) -> Value {
    json!({"id": setup.grant["id"], "personId": setup.ann["id"]})
}

/// The `sent` entries of a door's log (of the day around now).
async fn sent_entries(client: &Client, door: &Value) -> Vec<Value> {
    let now = chrono::Utc::now();
    let (from, to) = (now - chrono::TimeDelta::days(1), now + chrono::TimeDelta::days(1));
    let page = client.ok("reports.doorLog", json!({"doorId": door["id"], "from": from, "to": to})).await;
    page["items"].as_array().unwrap().iter().filter(|i| i["action"] == "sent").cloned().collect()
}

on_both_databases! {
    async fn a_holder_gets_their_doorcodes_by_sms_and_the_ledger_records_each(app: SmsApp) {
        let s = setup(&app).await;
        let answer = sent(app.owner.call("grants.sendCredentials", credentials(&s)).await);

        let requests = app.fake.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].field("To"), Some(PHONE));
        assert_eq!(
            requests[0].field("Body"),
            Some(format!("Oak Park: your door codes (Cleaners): Bin store {DOORCODE} (any time); Front entrance {DOORCODE} (Mon-Fri 09:00-17:00).").as_str())
        );

        // One `sent` per doorcode, at its door, tied to the send.
        for door in [&s.front, &s.bins] {
            let entries = sent_entries(&app.owner, door).await;
            assert_eq!(entries.len(), 1, "{entries:?}");
            let code = s.grant["doorcodes"].as_array().unwrap().iter().find(|c| c["doorId"] == door["id"]).unwrap();
            assert_eq!((entries[0]["doorcodeId"].clone(), entries[0]["personId"].clone()), (code["id"].clone(), s.ann["id"].clone()));
            assert_eq!((entries[0]["grantName"].clone(), entries[0]["actorName"].clone()), (json!("Cleaners"), json!("Acme Estates Owner")));
        }
        let event = only_event(&app).await;
        assert_event(&event, "sms.sent", PHONE, 1, None);
        assert_eq!(changed_to(&event, "target").as_deref(), Some("grant Cleaners"));
        assert_eq!(changed_to(&event, "providerMessageId").as_deref(), answer["providerMessageId"].as_str());
        let raw = app.db.raw_contents(&["sms_messages", "audit_events", "doorcode_exposures"]);
        assert!(raw.contains(PHONE), "the check reads the stored rows");
        assert!(!raw.contains(DOORCODE), "no doorcode value stored in clear");

        // The same idempotency key answers the first send and sends nothing more.
        let mut keyed = credentials(&s);
        keyed["idempotencyKey"] = json!("creds-1");
        let first = sent(app.owner.call("grants.sendCredentials", keyed.clone()).await);
        let again = sent(app.owner.call("grants.sendCredentials", keyed).await);
        assert_eq!(first["smsId"], again["smsId"]);
        assert_eq!(app.fake.requests().len(), 2);
        assert_eq!(sent_entries(&app.owner, &s.front).await.len(), 2);

        // A rejected send records no exposure.
        app.fake.script(vec![Scripted { status: 400, code: Some(21610), ..Scripted::default() }]);
        assert_rejected(app.owner.call("grants.sendCredentials", credentials(&s)).await, 21610);
        assert_eq!(sent_entries(&app.owner, &s.front).await.len(), 2);
    }

    async fn refusals_send_and_record_nothing(app: SmsApp) {
        let o = &app.owner;
        let s = setup(&app).await;
        let dev_id = s.grant["developmentId"].clone();
        // Not a holder of the grant.
        let bob = o.ok("people.create", json!({"name": "Bob", "kind": "staff", "phone": "07400 123499"})).await;
        let not_holder = json!({"id": s.grant["id"], "personId": bob["id"]});
        failed(o.call("grants.sendCredentials", not_holder).await).assert_invalid("personId");
        // A grant without doorcodes.
        let no_codes = o.ok("grants.create", json!({"developmentId": dev_id, "name": "Visitors", "startsAt": "2027-01-01T00:00:00Z",
            "doors": [{"doorId": s.front["id"]}], "personIds": [bob["id"]]})).await;
        failed(o.call("grants.sendCredentials", json!({"id": no_codes["id"], "personId": bob["id"]})).await).assert_invalid("personId");
        // A holder without a phone.
        let cy = o.ok("people.create", json!({"name": "Cy", "kind": "staff"})).await;
        o.ok("grants.addPeople", json!({"id": s.grant["id"], "personIds": [cy["id"]]})).await;
        failed(o.call("grants.sendCredentials", json!({"id": s.grant["id"], "personId": cy["id"]})).await).assert_invalid("personId");
        // A bad idempotency key; missing grant and person.
        let mut bad_key = credentials(&s);
        bad_key["idempotencyKey"] = json!("has space");
        failed(o.call("grants.sendCredentials", bad_key).await).assert_invalid("idempotencyKey");
        let missing = "01900000-0000-7000-8000-000000000000";
        failed(o.call("grants.sendCredentials", json!({"id": missing, "personId": s.ann["id"]})).await).assert_kind(-32004, "NOT_FOUND");
        failed(o.call("grants.sendCredentials", json!({"id": s.grant["id"], "personId": missing})).await).assert_kind(-32004, "NOT_FOUND");
        // An ended grant has no active doorcodes.
        let ended = o.ok("grants.create", json!({"developmentId": dev_id, "name": "Old", "startsAt": "2027-01-01T00:00:00Z",
            "doors": [{"doorId": s.bins["id"]}], "personIds": [bob["id"]], "doorcode": {"policy": "random"}})).await;
        o.ok("grants.end", json!({"id": ended["id"]})).await;
        failed(o.call("grants.sendCredentials", json!({"id": ended["id"], "personId": bob["id"]})).await).assert_invalid("personId");
        // An archived holder.
        o.ok("people.archive", json!({"id": s.ann["id"]})).await;
        failed(o.call("grants.sendCredentials", credentials(&s)).await).assert_kind(-32009, "PERSON_ARCHIVED");

        assert_eq!(app.fake.requests().len(), 0, "nothing reached the fake");
        assert!(sms_events(&app).await.is_empty(), "no SMS event");
        assert!(sent_entries(o, &s.front).await.is_empty() && sent_entries(o, &s.bins).await.is_empty());
    }

    async fn roles_and_organisations(app: SmsApp) {
        let s = setup(&app).await;
        for role in ["installer", "housekeeping"] {
            let client = app.user(role).await;
            failed(client.call("grants.sendCredentials", credentials(&s)).await).assert_kind(-32003, "FORBIDDEN");
        }
        sent(app.user("team").await.call("grants.sendCredentials", credentials(&s)).await);
        sent(app.user("manager").await.call("grants.sendCredentials", credentials(&s)).await);

        // Another organisation: our grant and person are NOT_FOUND; its own holder is
        // refused as SMS_NOT_CONFIGURED (it has no SMS settings), sending nothing.
        let other = app.other_organisation().await;
        failed(other.call("grants.sendCredentials", credentials(&s)).await).assert_kind(-32004, "NOT_FOUND");
        let dev = other.ok("developments.create", json!({"name": "Elm Court"})).await;
        let gate = other.ok("doors.create", json!({"developmentId": dev["id"], "name": "Gate", "kind": "gate"})).await;
        let zed = other.ok("people.create", json!({"name": "Zed", "kind": "staff", "phone": "07400 123477"})).await;
        let grant = other.ok("grants.create", json!({"developmentId": dev["id"], "name": "Staff", "startsAt": "2027-01-01T00:00:00Z",
            "doors": [{"doorId": gate["id"]}], "personIds": [zed["id"]], "doorcode": {"policy": "random"}})).await;
        let refused = failed(other.call("grants.sendCredentials", json!({"id": grant["id"], "personId": zed["id"]})).await);
        assert_eq!(refused.kind.as_deref(), Some("SMS_NOT_CONFIGURED"), "{refused:?}");
        assert_eq!(app.fake.requests().len(), 2, "the team's and the manager's sends only");
    }
}

const ONE_PER_HOUR: &[(&str, &str)] = &[("KEYWARD_SMS_RECIPIENT_PER_HOUR", "1")];

on_both_databases_with! { ONE_PER_HOUR;
    async fn the_pipelines_limits_apply(app: SmsApp) {
        let s = setup(&app).await;
        sent(app.owner.call("grants.sendCredentials", credentials(&s)).await);
        assert_rate_limited(app.owner.call("grants.sendCredentials", credentials(&s)).await);
        assert_eq!(app.fake.requests().len(), 1);
        assert_eq!(sent_entries(&app.owner, &s.front).await.len(), 1, "the refused send is not in the ledger");
    }
}
