//! What may be sent and by whom, the settings, crash safety.

use super::*;

// ---- what may be sent, and by whom ------------------------------------------------

on_both_databases! {
    async fn an_inactive_or_expired_code_is_not_sent(app: SmsApp) {
        let (_, code) = register(&app).await;
        let dev_id = code["developmentId"].clone();
        let create = |label: &'static str, extra: Value| {
            let mut params = json!({"developmentId": dev_id, "codeType": "gate", "label": label, "code": "1234"});
            params.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            app.owner.ok("keys.createAccessCode", params)
        };
        let inactive = create("Side gate", json!({"status": "inactive"})).await;
        let expired = create("Old lift", json!({"expiresOn": "2020-01-01"})).await;
        for target in [&inactive, &expired] {
            failed(send(&app.owner, request(&code_target(target), PHONE)).await).assert_kind(-32009, "CODE_NOT_ACTIVE");
        }
        // Deactivated after it was created.
        app.owner.ok("keys.updateAccessCode", json!({"id": code["id"], "status": "inactive"})).await;
        failed(send(&app.owner, request(&code_target(&code), PHONE)).await).assert_kind(-32009, "CODE_NOT_ACTIVE");
        assert_eq!(app.fake.requests().len(), 0);
        assert!(sms_events(&app).await.is_empty());
    }

    async fn unknown_targets_and_other_organisations_targets_are_not_found(app: SmsApp) {
        register(&app).await;
        let missing = "0190a0b0-0000-7000-8000-000000000000";
        for target in [json!({"type": "key", "id": missing}), json!({"type": "accessCode", "id": missing})] {
            failed(send(&app.owner, request(&target, PHONE)).await).assert_kind(-32004, "NOT_FOUND");
        }
        let other = app.other_organisation().await;
        let dev = other.ok("developments.create", json!({"name": "Elm Yard"})).await;
        let their_key = other
            .ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "Bin store"}))
            .await;
        let their_code = other
            .ok(
                "keys.createAccessCode",
                json!({"developmentId": dev["id"], "codeType": "gate", "label": "Gate", "code": "9999"}),
            )
            .await;
        for target in [key_target(&their_key), code_target(&their_code)] {
            failed(send(&app.owner, request(&target, PHONE)).await).assert_kind(-32004, "NOT_FOUND");
        }
        assert_eq!(app.fake.requests().len(), 0);
        assert!(sms_events(&app).await.is_empty());
    }

    async fn installers_and_housekeeping_may_not_send_team_and_managers_may(app: SmsApp) {
        let (key, code) = register(&app).await;
        for role in ["installer", "housekeeping"] {
            let user = app.user(role).await;
            for target in [key_target(&key), code_target(&code)] {
                failed(send(&user, request(&target, PHONE)).await).assert_kind(-32003, "FORBIDDEN");
            }
        }
        assert_eq!(app.fake.requests().len(), 0);
        for role in ["team", "manager"] {
            let user = app.user(role).await;
            sent(send(&user, request(&code_target(&code), PHONE)).await);
        }
        assert_eq!(app.fake.message_posts(), 2);
        let events = sms_events(&app).await;
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["actorName"], "team 2", "{events:?}");
    }
}

// ---- settings ---------------------------------------------------------------------

const MG_SID: &str = "MG0123456789abcdef0123456789ABCDEF";

on_both_databases! {
    async fn an_organisation_without_settings_cannot_send(app: SmsApp) {
        let other = app.other_organisation().await;
        let settings = other.ok("settings.getSms", json!({})).await;
        assert_eq!(
            settings,
            json!({"configured": false, "accountSid": null, "fromNumber": null, "messagingServiceSid": null})
        );
        assert_eq!(other.ok("keys.summary", json!({})).await["smsReady"], false);
        let dev = other.ok("developments.create", json!({"name": "Elm Yard"})).await;
        let key = other
            .ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "Bin store"}))
            .await;
        let e = failed(send(&other, request(&key_target(&key), PHONE)).await);
        e.assert_kind(-32050, "SMS_NOT_CONFIGURED");
        assert_eq!(app.fake.requests().len(), 0);
        assert!(sms_events_via(&other).await.is_empty());
    }

    async fn sms_settings_are_validated_and_nothing_changes_on_refusal(app: SmsApp) {
        let before = app.owner.ok("settings.getSms", json!({})).await;
        assert_eq!(before, json!({"configured": true, "accountSid": SID, "fromNumber": FROM, "messagingServiceSid": null}));
        let audit_total = |client: &Client| {
            let client = client.clone();
            async move { client.ok("audit.list", json!({"entityType": "smsSettings"})).await["total"].clone() }
        };
        let events_before = audit_total(&app.owner).await;
        let base = json!({"accountSid": SID, "authToken": "test-auth-token", "fromNumber": FROM});
        let with = |field: &str, value: Value| {
            let mut params = base.clone();
            if value.is_null() {
                params.as_object_mut().unwrap().remove(field);
            } else {
                params[field] = value;
            }
            params
        };
        let cases = [
            (with("accountSid", json!("AC123")), "accountSid"),
            (with("accountSid", json!("SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")), "accountSid"),
            (with("accountSid", json!("ACgggggggggggggggggggggggggggggggg")), "accountSid"),
            (with("messagingServiceSid", json!("MG123")), "messagingServiceSid"),
            (with("messagingServiceSid", json!("AC0123456789abcdef0123456789abcdef")), "messagingServiceSid"),
            (with("fromNumber", json!("+447700900123")), "fromNumber"),
            (with("fromNumber", json!("ABCDEFGHIJKL")), "fromNumber"),
            (with("fromNumber", json!("12345")), "fromNumber"),
            (with("fromNumber", Value::Null), "fromNumber"),
            (with("authToken", json!("")), "authToken"),
            (with("authToken", json!("   ")), "authToken"),
        ];
        for (params, field) in cases {
            app.owner.err("settings.updateSms", params.clone()).await.assert_invalid(field);
        }
        assert_eq!(app.owner.ok("settings.getSms", json!({})).await, before, "a refused update changes nothing");
        assert_eq!(audit_total(&app.owner).await, events_before, "and records nothing");

        // A messaging service alone is a sender; an alphanumeric sender ID too.
        let service = json!({"accountSid": SID, "authToken": "test-auth-token", "messagingServiceSid": MG_SID});
        let saved = app.owner.ok("settings.updateSms", service).await;
        assert_eq!(saved, json!({"configured": true, "accountSid": SID, "fromNumber": null, "messagingServiceSid": MG_SID}));
        let (key, _) = register(&app).await;
        sent(send(&app.owner, request(&key_target(&key), PHONE)).await);
        let request = &app.fake.requests()[0];
        assert_eq!(request.field("MessagingServiceSid"), Some(MG_SID));
        assert_eq!(request.field("From"), None);
        let alphanumeric = app.owner.ok("settings.updateSms", with("fromNumber", json!("Acme Keys"))).await;
        assert_eq!(alphanumeric["fromNumber"], "Acme Keys");
    }

    async fn the_auth_token_is_never_shown_nor_stored_in_clear(app: SmsApp) {
        let token = fake_twilio::Config::default().auth_token;
        let shown = app.owner.ok("settings.getSms", json!({})).await;
        assert!(!shown.to_string().contains(&token), "{shown}");
        let saved = app
            .owner
            .ok("settings.updateSms", json!({"accountSid": SID, "authToken": token, "fromNumber": FROM}))
            .await;
        assert!(!saved.to_string().contains(&token), "{saved}");
        assert_eq!(saved, shown);

        let events = app.owner.ok("audit.list", json!({"entityType": "smsSettings"})).await;
        assert_eq!(events["total"], 2, "the harness's save and this one: {events}");
        assert!(!events.to_string().contains(&token), "{events}");
        let changes = |i: usize| events["items"][i]["changes"].as_array().unwrap().clone();
        let token_change = |i: usize| changes(i).into_iter().find(|c| c["field"] == "authToken").expect("authToken");
        assert_eq!(token_change(0), json!({"field": "authToken", "from": "***", "to": "***"}));
        assert_eq!(token_change(1), json!({"field": "authToken", "from": null, "to": "***"}));

        let raw = app.db.raw_contents(&["sms_settings", "audit_events"]);
        assert!(raw.contains(SID), "the check reads the stored rows");
        assert!(!raw.contains(&token), "the token is stored sealed");
    }

    async fn only_owners_manage_sms_settings(app: SmsApp) {
        for role in ["manager", "team", "installer", "housekeeping"] {
            let user = app.user(role).await;
            user.err("settings.getSms", json!({})).await.assert_kind(-32003, "FORBIDDEN");
            user.err(
                "settings.updateSms",
                json!({"accountSid": SID, "authToken": "stolen", "fromNumber": FROM}),
            )
            .await
            .assert_kind(-32003, "FORBIDDEN");
        }
        let settings = app.owner.ok("settings.getSms", json!({})).await;
        assert_eq!(settings["fromNumber"], FROM);
        let (key, _) = register(&app).await;
        sent(send(&app.owner, request(&key_target(&key), PHONE)).await);
        assert_eq!(app.fake.requests()[0].auth_user.as_deref(), Some(SID));
    }
}

// ---- crash safety ----------------------------------------------------------------

on_both_databases! {
    async fn a_send_cut_off_by_a_crash_becomes_unknown_and_is_never_sent_again(app: SmsApp) {
        let (key, _) = register(&app).await;
        app.fake.script(vec![Scripted { status: 201, delay_ms: Some(60_000), ..Scripted::default() }]);
        let (mut doomed, doomed_url) = app.spawn_server(&[]).await;
        let token = app.owner.token.clone().expect("a token");
        let params = json!({"jsonrpc": "2.0", "id": 1, "method": "keys.sendSms",
            "params": keyed(&key_target(&key), PHONE, "crash-1")});
        let call = tokio::spawn(async move {
            reqwest::Client::new().post(&doomed_url).bearer_auth(token).json(&params).send().await
        });
        eventually("the fake holds the request", || app.fake.message_posts() == 1).await;
        kill(&mut doomed).await;
        let answer = tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("the caller notices the server is gone")
            .expect("the caller's task");
        assert!(answer.is_err(), "a killed server answers nothing: {answer:?}");
        assert!(sms_events(&app).await.is_empty(), "a pending send has no event yet");

        // The start-up sweep settles it before the new server listens.
        let (_restarted, url) = app.spawn_server(&[("KEYWARD_SMS_PENDING_TIMEOUT_SECS", "0")]).await;
        let owner = Client::new(&url, app.owner.token.clone());
        let events = sms_events_via(&owner).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["action"], "sms.unknown");
        assert_eq!(changed_to(&events[0], "to").as_deref(), Some(PHONE));
        // The caller retries with its key: told it may have gone out, nothing re-sent.
        assert_unavailable(send(&owner, keyed(&key_target(&key), PHONE, "crash-1")).await, true);
        assert_eq!(app.fake.message_posts(), 1, "never sent twice");
    }
}
