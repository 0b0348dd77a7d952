//! Sending: the happy path, phone numbers, what the provider answers, retries.

use super::*;

// ---- the happy path ---------------------------------------------------------------

on_both_databases! {
    async fn a_key_ref_and_a_code_are_sent_and_recorded_without_the_code(app: SmsApp) {
        let (key, code) = register(&app).await;
        let sent = app
            .owner
            .ok("keys.sendSms", json!({"target": {"type": "key", "id": key["id"]}, "recipientName": "Sam Smith", "phone": "07400 123456"}))
            .await;
        assert_eq!(sent["status"], "sent");
        assert!(sent["providerMessageId"].as_str().unwrap().starts_with("SM"));
        let sent_code = app
            .owner
            .ok("keys.sendSms", json!({"target": {"type": "accessCode", "id": code["id"]}, "recipientName": "Sam Smith", "phone": "+44 (0) 7400 123456"}))
            .await;
        assert_eq!(sent_code["status"], "sent");

        let requests = app.fake.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].auth_user.as_deref(), Some(fake_twilio::Config::default().account_sid.as_str()));
        assert_eq!(requests[0].field("To"), Some(PHONE));
        assert_eq!(requests[0].field("From"), Some(FROM));
        assert_eq!(requests[0].field("SmartEncoded"), Some("false"));
        assert_eq!(requests[0].field("Body"), Some("Oak Park: key ref OP-001 (Flat 12 front door)."));
        assert_eq!(requests[1].field("Body"), Some("Oak Park: Main Gate code 4821#."));

        let events = app.owner.ok("audit.list", json!({"entityType": "sms"})).await;
        assert_eq!(events["total"], 2);
        assert_eq!(events["items"][0]["action"], "sms.sent");
        assert!(!events.to_string().contains(CODE), "the audit log never holds the code");
        let raw = app.db.raw_contents(&["sms_messages", "audit_events"]);
        assert!(raw.contains(PHONE), "the check reads the stored rows");
        assert!(!raw.contains(CODE), "no code value stored");
        assert_eq!(app.owner.ok("keys.summary", json!({})).await["smsReady"], true);
    }
}

// ---- phone numbers ----------------------------------------------------------------

on_both_databases! {
    async fn national_and_international_forms_send_to_the_e164_number(app: SmsApp) {
        let (key, _) = register(&app).await;
        for phone in ["07400 123456", "+44 (0) 7400 123456", "+44-7400-123456", "07400.123.456"] {
            sent(send(&app.owner, request(&key_target(&key), phone)).await);
        }
        assert_eq!(recipients(&app), [PHONE; 4]);
        let events = sms_events(&app).await;
        assert_eq!(events.len(), 4);
        for event in &events {
            assert_event(event, "sms.sent", PHONE, 1, None);
        }
    }

    async fn invalid_numbers_are_refused_and_nothing_is_sent_or_recorded(app: SmsApp) {
        let (key, code) = register(&app).await;
        for phone in ["07700 900123", "12345", "", "abc", "+44 7911 123456 ext. 12", "(415) 555-2671", "+"] {
            for target in [key_target(&key), code_target(&code)] {
                failed(send(&app.owner, request(&target, phone)).await).assert_invalid("phone");
            }
        }
        assert_eq!(app.fake.requests().len(), 0, "the fake saw nothing");
        assert!(sms_events(&app).await.is_empty(), "a refusal by validation leaves no event");
    }
}

on_both_databases! {
    // libphonenumber reads letters as a vanity keypad: `+44 7400 12345a` would go to
    // `+447400123452`, a stranger. A letter anywhere a phone number is expected is refused.
    async fn a_letter_in_a_phone_number_is_invalid_input_and_nothing_is_sent(app: SmsApp) {
        let (key, code) = register(&app).await;
        for phone in ["+44 7400 12345a", "07400 I23456", "0740O 123456", "+44 7400 123456 x1", "tel:+447400123456"] {
            for target in [key_target(&key), code_target(&code)] {
                let refused = failed(send(&app.owner, request(&target, phone)).await);
                refused.assert_invalid("phone");
                assert!(refused.message.contains("no letters"), "{phone}: {}", refused.message);
            }
        }
        assert_eq!(app.fake.requests().len(), 0, "nothing reached the fake Twilio");
        assert!(sms_events(&app).await.is_empty(), "nor the audit log");

        // The phone a key is issued to: refused with a letter, the key stays in stock.
        let issue = |phone: &str| json!({"id": key["id"], "issuedTo": "Sam Smith", "issuedToPhone": phone});
        for phone in ["+44 7400 12345a", "07400 I23456", "call Sam"] {
            app.owner.err("keys.issueKey", issue(phone)).await.assert_invalid("issuedToPhone");
        }
        let unchanged = app.owner.ok("keys.getKey", json!({"id": key["id"]})).await;
        assert_eq!(unchanged["status"], "in_stock", "{unchanged}");
        assert_eq!(unchanged["version"], key["version"]);
        let issued = app.owner.ok("keys.issueKey", issue("+44 (0)7400 123-456")).await;
        assert_eq!(issued["issuedToPhone"], "+44 (0)7400 123-456", "kept as written");

        // The sender: a number with a letter is not taken for a sender ID either.
        let before = app.owner.ok("settings.getSms", json!({})).await;
        for from in ["+44 7400 12345a", "0740012345a", "+1 415 555 267I"] {
            app.owner
                .err("settings.updateSms", json!({"accountSid": SID, "authToken": "test-auth-token", "fromNumber": from}))
                .await
                .assert_invalid("fromNumber");
        }
        assert_eq!(app.owner.ok("settings.getSms", json!({})).await, before, "the settings are unchanged");
        assert_eq!(app.fake.requests().len(), 0);
    }
}

const US_REGION: &[(&str, &str)] = &[("KEYWARD_SMS_DEFAULT_REGION", "US")];

on_both_databases_with! { US_REGION;
    async fn a_national_number_is_read_in_the_configured_region(app: SmsApp) {
        let (key, _) = register(&app).await;
        sent(send(&app.owner, request(&key_target(&key), "(415) 555-2671")).await);
        // An international number does not depend on the region.
        sent(send(&app.owner, request(&key_target(&key), "+44 7400 123456")).await);
        assert_eq!(recipients(&app), ["+14155552671", PHONE]);
    }
}

// ---- what the provider answers ----------------------------------------------------

on_both_databases! {
    async fn provider_rejections_answer_sms_rejected_with_the_code_and_are_not_retried(app: SmsApp) {
        let (key, _) = register(&app).await;
        let cases = [
            (numbers::TO_OPTED_OUT, 21610),
            (numbers::TO_INVALID, 21211),
            (numbers::TO_REGION_DISABLED, 21408),
            (numbers::TO_NOT_MOBILE, 21614),
        ];
        for (i, (phone, provider_code)) in cases.into_iter().enumerate() {
            assert_rejected(send(&app.owner, request(&key_target(&key), phone)).await, provider_code);
            assert_eq!(app.fake.message_posts(), i + 1, "one request for {phone}, no retry");
        }
        let events = sms_events(&app).await;
        assert_eq!(events.len(), cases.len(), "one event per send: {events:?}");
        for (event, (phone, provider_code)) in events.iter().zip(cases) {
            assert_event(event, "sms.rejected", phone, 1, Some(provider_code));
        }
    }

    async fn credentials_twilio_refuses_answer_sms_not_configured(app: SmsApp) {
        let (key, _) = register(&app).await;
        app.configure("wrong-token").await;
        let e = failed(send(&app.owner, request(&key_target(&key), PHONE)).await);
        e.assert_kind(-32050, "SMS_NOT_CONFIGURED");
        assert_eq!(e.data["providerCode"], 20003, "{e:?}");
        assert_eq!(app.fake.message_posts(), 1, "a 401 is not retried");
        assert_event(&only_event(&app).await, "sms.rejected", PHONE, 1, Some(20003));

        // The fix is in the settings.
        app.configure(&fake_twilio::Config::default().auth_token).await;
        sent(send(&app.owner, request(&key_target(&key), PHONE)).await);
    }
}

// ---- retries ----------------------------------------------------------------------

on_both_databases! {
    async fn a_429_is_retried_and_then_sent(app: SmsApp) {
        let (key, _) = register(&app).await;
        app.fake.script(vec![retry_after_zero(429), scripted(201)]);
        sent(send(&app.owner, request(&key_target(&key), PHONE)).await);
        assert_eq!(app.fake.message_posts(), 2);
        assert_event(&only_event(&app).await, "sms.sent", PHONE, 2, None);
    }

    async fn three_429s_answer_unavailable_not_sent_after_exactly_three_requests(app: SmsApp) {
        let (key, _) = register(&app).await;
        app.fake.script(vec![retry_after_zero(429), retry_after_zero(429), retry_after_zero(429)]);
        assert_unavailable(send(&app.owner, request(&key_target(&key), PHONE)).await, false);
        assert_eq!(app.fake.message_posts(), 3, "at most 3 attempts");
        assert_event(&only_event(&app).await, "sms.unavailable", PHONE, 3, Some(20429));
    }

    async fn retry_after_is_waited_for_between_attempts(app: SmsApp) {
        let (key, _) = register(&app).await;
        // The fault number answers 429 with `Retry-After: 1` every time.
        let started = Instant::now();
        assert_unavailable(send(&app.owner, request(&key_target(&key), numbers::FAULT_429)).await, false);
        assert!(started.elapsed() >= Duration::from_secs(2), "two waits of 1 s: {:?}", started.elapsed());
        let requests = app.fake.requests();
        assert_eq!(requests.len(), 3);
        let at = |i: usize| DateTime::parse_from_rfc3339(&requests[i].received_at).expect("RFC 3339");
        for i in 1..3 {
            assert!(at(i) - at(i - 1) >= chrono::TimeDelta::milliseconds(990), "{requests:?}");
        }
        assert_event(&only_event(&app).await, "sms.unavailable", numbers::FAULT_429, 3, Some(20429));
    }

    async fn a_503_is_retried_and_then_sent(app: SmsApp) {
        let (key, _) = register(&app).await;
        app.fake.script(vec![scripted(503), scripted(201)]);
        sent(send(&app.owner, request(&key_target(&key), PHONE)).await);
        assert_eq!(app.fake.message_posts(), 2);
        assert_event(&only_event(&app).await, "sms.sent", PHONE, 2, None);
    }

    async fn a_500_may_have_been_sent_and_is_not_retried(app: SmsApp) {
        let (key, _) = register(&app).await;
        app.fake.script(vec![scripted(500)]);
        assert_unavailable(send(&app.owner, request(&key_target(&key), PHONE)).await, true);
        assert_eq!(app.fake.message_posts(), 1, "a 500 is never retried");
        assert_event(&only_event(&app).await, "sms.unknown", PHONE, 1, None);
    }

    async fn a_provider_too_slow_to_answer_may_have_sent(app: SmsApp) {
        let (key, _) = register(&app).await;
        assert_unavailable(send(&app.owner, request(&key_target(&key), numbers::FAULT_SLOW)).await, true);
        assert_eq!(app.fake.message_posts(), 1, "a timeout after sending is never retried");
        assert_event(&only_event(&app).await, "sms.unknown", numbers::FAULT_SLOW, 1, None);
    }

    async fn an_unreachable_provider_answers_unavailable_not_sent(app: SmsApp) {
        let (key, _) = register(&app).await;
        let SmsApp { app, fake } = app;
        let addr = fake.addr();
        drop(fake);
        eventually("the fake stops accepting connections", || std::net::TcpStream::connect(addr).is_err()).await;
        let e = failed(send(&app.owner, request(&key_target(&key), PHONE)).await);
        e.assert_kind(-32052, "SMS_UNAVAILABLE");
        assert_eq!(e.data["maybeSent"], false, "a connection never opened sent nothing: {e:?}");
        let events = sms_events_via(&app.owner).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_event(&events[0], "sms.unavailable", PHONE, 3, None);
    }
}
