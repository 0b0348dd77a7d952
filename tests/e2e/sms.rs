//! `keys.sendSms` and `settings.*Sms` end to end: the real binary, a fake Twilio over HTTP
//! (`shared/notes/sms.md` §8, `docs/api.md` §SMS).

use std::time::{Duration, Instant};

use chrono::DateTime;
use fake_twilio::{Scripted, numbers};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::on_both_databases_with;
use crate::support::sms::{FROM, PHONE, eventually, kill};
use crate::support::{Client, RpcError, SmsApp};

const CODE: &str = "4821#";

/// A development with a key and an active access code.
async fn register(app: &SmsApp) -> (Value, Value) {
    let dev = app.development("Oak Park").await;
    let key = app.key(&dev["id"], "Flat 12 front door").await;
    let code = app
        .owner
        .ok(
            "keys.createAccessCode",
            json!({"developmentId": dev["id"], "codeType": "gate", "label": "Main Gate", "code": CODE}),
        )
        .await;
    (key, code)
}

fn key_target(key: &Value) -> Value {
    json!({"type": "key", "id": key["id"]})
}

fn code_target(code: &Value) -> Value {
    json!({"type": "accessCode", "id": code["id"]})
}

/// `keys.sendSms` params without an idempotency key.
fn request(target: &Value, phone: &str) -> Value {
    json!({"target": target, "recipientName": "Sam Smith", "phone": phone})
}

/// `keys.sendSms` params with an idempotency key.
fn keyed(target: &Value, phone: &str, idempotency_key: &str) -> Value {
    let mut params = request(target, phone);
    params["idempotencyKey"] = json!(idempotency_key);
    params
}

async fn send(client: &Client, params: Value) -> Result<Value, RpcError> {
    client.call("keys.sendSms", params).await
}

/// Sends and expects `{smsId, status:"sent", providerMessageId:"SM…"}`.
#[track_caller]
pub(crate) fn sent(result: Result<Value, RpcError>) -> Value {
    let answer = result.unwrap_or_else(|e| panic!("the SMS was not sent: {e:?}"));
    assert_eq!(answer["status"], "sent", "{answer}");
    assert!(answer["smsId"].as_str().is_some_and(|id| !id.is_empty()), "{answer}");
    assert!(answer["providerMessageId"].as_str().is_some_and(|id| id.starts_with("SM")), "{answer}");
    answer
}

#[track_caller]
pub(crate) fn failed(result: Result<Value, RpcError>) -> RpcError {
    match result {
        Ok(answer) => panic!("the send succeeded but should have failed: {answer}"),
        Err(e) => e,
    }
}

#[track_caller]
pub(crate) fn assert_rejected(result: Result<Value, RpcError>, provider_code: i64) {
    let e = failed(result);
    e.assert_kind(-32051, "SMS_REJECTED");
    assert_eq!(e.data["providerCode"], provider_code, "{e:?}");
}

#[track_caller]
pub(crate) fn assert_unavailable(result: Result<Value, RpcError>, maybe_sent: bool) {
    let e = failed(result);
    e.assert_kind(-32052, "SMS_UNAVAILABLE");
    assert_eq!(e.data["maybeSent"], maybe_sent, "{e:?}");
}

/// RATE_LIMITED; returns `retryAfterMs`, which is positive.
#[track_caller]
fn assert_rate_limited(result: Result<Value, RpcError>) -> u64 {
    let e = failed(result);
    e.assert_kind(-32029, "RATE_LIMITED");
    let wait = e.data["retryAfterMs"].as_u64().unwrap_or_else(|| panic!("no retryAfterMs: {e:?}"));
    assert!(wait > 0, "{e:?}");
    wait
}

/// The audit log's SMS events, oldest first, read through `client`.
async fn sms_events_via(client: &Client) -> Vec<Value> {
    let page = client.ok("audit.list", json!({"entityType": "sms", "limit": 100})).await;
    let mut items = page["items"].as_array().expect("items").clone();
    assert_eq!(page["total"], items.len(), "the test's log fits in one page");
    items.reverse();
    items
}

async fn sms_events(app: &SmsApp) -> Vec<Value> {
    sms_events_via(&app.owner).await
}

/// What an event says `field` became, if it shows the field.
fn changed_to(event: &Value, field: &str) -> Option<String> {
    event["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["field"] == field)
        .and_then(|c| c["to"].as_str().map(str::to_owned))
}

/// Checks an SMS event: its action, the number, how many requests reached the provider
/// and the provider's error code (`None`: the event shows none).
#[track_caller]
fn assert_event(event: &Value, action: &str, to: &str, attempts: u32, provider_code: Option<i64>) {
    assert_eq!(event["action"], action, "{event}");
    assert_eq!(event["entityType"], "sms", "{event}");
    assert_eq!(changed_to(event, "to").as_deref(), Some(to), "{event}");
    assert_eq!(changed_to(event, "attempts"), Some(attempts.to_string()), "{event}");
    assert_eq!(changed_to(event, "providerCode"), provider_code.map(|c| c.to_string()), "{event}");
}

/// The one SMS event the test expects.
async fn only_event(app: &SmsApp) -> Value {
    let events = sms_events(app).await;
    assert_eq!(events.len(), 1, "exactly one SMS event: {events:?}");
    events[0].clone()
}

/// The `To` of every request the fake received, in arrival order.
fn recipients(app: &SmsApp) -> Vec<String> {
    app.fake.requests().iter().map(|r| r.field("To").unwrap_or_default().to_owned()).collect()
}

/// Distinct valid GB mobiles: `07400 1234NN`.
pub(crate) fn mobile(n: usize) -> String {
    assert!(n < 100);
    format!("07400 1234{n:02}")
}

fn e164(n: usize) -> String {
    format!("+4474001234{n:02}")
}

fn scripted(status: u16) -> Scripted {
    Scripted::status(status)
}

fn retry_after_zero(status: u16) -> Scripted {
    Scripted { status, retry_after: Some("0".to_owned()), ..Scripted::default() }
}

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

const SID: &str = fake_twilio::DEFAULT_ACCOUNT_SID;
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
