//! Idempotency and the limits.

use super::*;

// ---- idempotency ------------------------------------------------------------------

on_both_databases! {
    async fn the_same_key_twice_answers_the_first_send_and_sends_once(app: SmsApp) {
        let (key, _) = register(&app).await;
        let params = keyed(&key_target(&key), PHONE, "send-1");
        let first = sent(send(&app.owner, params.clone()).await);
        let again = sent(send(&app.owner, params).await);
        assert_eq!(again, first, "the replay answers the first result");
        // The same number in another form is the same request.
        let national = sent(send(&app.owner, keyed(&key_target(&key), "07400 123456", "send-1")).await);
        assert_eq!(national["smsId"], first["smsId"]);
        assert_eq!(app.fake.message_posts(), 1);
        assert_eq!(sms_events(&app).await.len(), 1);
    }

    async fn ten_concurrent_calls_with_one_key_send_once(app: SmsApp) {
        let (key, _) = register(&app).await;
        let params = keyed(&key_target(&key), PHONE, "burst-of-clicks");
        let answers = join_all((0..10).map(|_| send(&app.owner, params.clone()))).await;
        let answers: Vec<Value> = answers.into_iter().map(|a| a.expect("every caller gets an answer")).collect();
        assert_eq!(app.fake.message_posts(), 1, "exactly one request reached the provider");
        for answer in &answers {
            assert_eq!(answer["smsId"], answers[0]["smsId"], "{answers:?}");
            assert!(answer["status"] == "sent" || answer["status"] == "pending", "{answer}");
        }
        assert!(answers.iter().any(|a| a["status"] == "sent"), "the first caller's send went out: {answers:?}");
        assert_eq!(sms_events(&app).await.len(), 1);
        // Once settled, the key answers `sent`.
        let later = sent(send(&app.owner, params).await);
        assert_eq!(later["smsId"], answers[0]["smsId"]);
        assert_eq!(app.fake.message_posts(), 1);
    }

    async fn the_same_key_with_other_parameters_is_invalid_input(app: SmsApp) {
        let (key, code) = register(&app).await;
        sent(send(&app.owner, keyed(&key_target(&key), PHONE, "k1")).await);
        failed(send(&app.owner, keyed(&key_target(&key), &mobile(1), "k1")).await).assert_invalid("idempotencyKey");
        failed(send(&app.owner, keyed(&code_target(&code), PHONE, "k1")).await).assert_invalid("idempotencyKey");
        let mut other_name = keyed(&key_target(&key), PHONE, "k1");
        other_name["recipientName"] = json!("Alex Jones");
        failed(send(&app.owner, other_name).await).assert_invalid("idempotencyKey");
        assert_eq!(app.fake.message_posts(), 1);
        assert_eq!(sms_events(&app).await.len(), 1);
    }

    async fn a_replayed_failure_answers_the_same_error_and_sends_nothing_more(app: SmsApp) {
        let (key, _) = register(&app).await;
        let opted_out = keyed(&key_target(&key), numbers::TO_OPTED_OUT, "stop-1");
        assert_rejected(send(&app.owner, opted_out.clone()).await, 21610);
        assert_rejected(send(&app.owner, opted_out).await, 21610);
        assert_eq!(app.fake.message_posts(), 1);

        app.fake.script(vec![scripted(500)]);
        let maybe = keyed(&key_target(&key), PHONE, "maybe-1");
        assert_unavailable(send(&app.owner, maybe.clone()).await, true);
        assert_unavailable(send(&app.owner, maybe).await, true);
        assert_eq!(app.fake.message_posts(), 2, "a send that may have gone out is not sent again");
        assert_eq!(sms_events(&app).await.len(), 2);
    }

    async fn a_malformed_idempotency_key_is_invalid_input(app: SmsApp) {
        let (key, _) = register(&app).await;
        let long = "k".repeat(256);
        for bad in ["a b", "", "ключ", "a/b", long.as_str()] {
            failed(send(&app.owner, keyed(&key_target(&key), PHONE, bad)).await).assert_invalid("idempotencyKey");
        }
        assert_eq!(app.fake.requests().len(), 0);
        assert!(sms_events(&app).await.is_empty());
        // The whole alphabet, at the longest.
        let good = format!("Az09_.:-{}", "k".repeat(247));
        sent(send(&app.owner, keyed(&key_target(&key), PHONE, &good)).await);
    }
}

// ---- limits -----------------------------------------------------------------------

const SMALL_BURST: &[(&str, &str)] = &[("KEYWARD_SMS_ORG_BURST", "3"), ("KEYWARD_SMS_ORG_PER_MINUTE", "1")];

on_both_databases_with! { SMALL_BURST;
    async fn a_burst_over_the_organisation_limit_is_refused_with_nothing_recorded(app: SmsApp) {
        let (key, _) = register(&app).await;
        let first = sent(send(&app.owner, keyed(&key_target(&key), &mobile(50), "first")).await);
        for n in 51..53 {
            sent(send(&app.owner, request(&key_target(&key), &mobile(n))).await);
        }
        let wait = assert_rate_limited(send(&app.owner, request(&key_target(&key), &mobile(53))).await);
        assert!(wait <= 60_000, "one message a minute: {wait} ms");
        assert_eq!(app.fake.message_posts(), 3);
        assert_eq!(sms_events(&app).await.len(), 3, "a refusal by a limit leaves no event");
        let raw = app.db.raw_contents(&["sms_messages"]);
        assert!(raw.contains(&e164(52)), "the check reads the stored rows");
        assert!(!raw.contains(&e164(53)), "no row for the refused send");
        // A replay costs no quota.
        let replay = sent(send(&app.owner, keyed(&key_target(&key), &mobile(50), "first")).await);
        assert_eq!(replay["smsId"], first["smsId"]);
        assert_eq!(app.fake.message_posts(), 3);
    }
}

const RECIPIENT_CAP: &[(&str, &str)] = &[("KEYWARD_SMS_ORG_BURST", "50"), ("KEYWARD_SMS_ORG_PER_MINUTE", "600")];

on_both_databases_with! { RECIPIENT_CAP;
    async fn a_sixth_send_to_one_number_within_an_hour_is_refused(app: SmsApp) {
        let (key, _) = register(&app).await;
        for _ in 0..5 {
            sent(send(&app.owner, request(&key_target(&key), PHONE)).await);
        }
        let wait = assert_rate_limited(send(&app.owner, request(&key_target(&key), "07400 123456")).await);
        assert!(wait <= 3_600_000, "free again within the hour: {wait} ms");
        assert_eq!(app.fake.message_posts(), 5);
        // Another number is not affected.
        sent(send(&app.owner, request(&key_target(&key), &mobile(1))).await);
        assert_eq!(app.fake.message_posts(), 6);
        assert_eq!(sms_events(&app).await.len(), 6);
    }

    async fn a_rejected_send_does_not_count_towards_the_recipient_cap(app: SmsApp) {
        let (key, _) = register(&app).await;
        app.fake.script(vec![Scripted { status: 400, code: Some(21610), ..Scripted::default() }]);
        assert_rejected(send(&app.owner, request(&key_target(&key), PHONE)).await, 21610);
        app.fake.script(vec![retry_after_zero(503), retry_after_zero(503), retry_after_zero(503)]);
        assert_unavailable(send(&app.owner, request(&key_target(&key), PHONE)).await, false);
        for _ in 0..5 {
            sent(send(&app.owner, request(&key_target(&key), PHONE)).await);
        }
        assert_rate_limited(send(&app.owner, request(&key_target(&key), PHONE)).await);
        assert_eq!(app.fake.message_posts(), 1 + 3 + 5);
    }
}

const DAILY_CAP: &[(&str, &str)] = &[
    ("KEYWARD_SMS_ORG_PER_DAY", "5"),
    ("KEYWARD_SMS_ORG_BURST", "100"),
    ("KEYWARD_SMS_ORG_PER_MINUTE", "6000"),
    ("KEYWARD_SMS_RECIPIENT_PER_HOUR", "100"),
];

on_both_databases_with! { DAILY_CAP;
    async fn the_daily_cap_is_exact_across_two_servers(app: SmsApp) {
        let (key, _) = register(&app).await;
        let (_second, second_url) = app.spawn_server(DAILY_CAP).await;
        let second = Client::new(&second_url, app.owner.token.clone());
        let target = key_target(&key);
        let calls = (0..20).map(|n| {
            let client = if n % 2 == 0 { &app.owner } else { &second };
            send(client, request(&target, &mobile(n)))
        });
        let results = join_all(calls).await;
        let mut sent_count = 0;
        for result in results {
            match result {
                Ok(answer) => {
                    sent(Ok(answer));
                    sent_count += 1;
                }
                Err(e) => {
                    assert_rate_limited(Err(e));
                }
            }
        }
        assert_eq!(sent_count, 5, "exactly the daily cap went out");
        assert_eq!(app.fake.message_posts(), 5);
        let events = sms_events(&app).await;
        assert_eq!(events.len(), 5);
        assert!(events.iter().all(|e| e["action"] == "sms.sent"), "{events:?}");
    }

    async fn a_rejected_send_gives_its_daily_slot_back(app: SmsApp) {
        let (key, _) = register(&app).await;
        assert_rejected(send(&app.owner, request(&key_target(&key), numbers::TO_OPTED_OUT)).await, 21610);
        for n in 0..5 {
            sent(send(&app.owner, request(&key_target(&key), &mobile(n))).await);
        }
        assert_rate_limited(send(&app.owner, request(&key_target(&key), &mobile(5))).await);
        assert_eq!(app.fake.message_posts(), 6);
    }
}
