//! The fake over real HTTP, in-process: §7 rules 1–11 in order, the scripted queue, the magic
//! and fault numbers, the record, and the control endpoints.

use std::time::{Duration, Instant};

use fake_twilio::numbers::*;
use fake_twilio::{Config, DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilio, Scripted};
use reqwest::StatusCode;
use serde_json::{Value, json};

const OTHER_ACCOUNT: &str = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const UK: &str = "+447400123456";
/// Only ever expected to expire (the fake waits an hour), so it can be generous enough for the
/// request to reach the fake on a loaded machine.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(1);

async fn start() -> FakeTwilio {
    FakeTwilio::start(Config::default()).await.expect("fake starts")
}

async fn start_slow(slow_delay: Duration) -> FakeTwilio {
    FakeTwilio::start(Config { slow_delay, ..Config::default() }).await.expect("fake starts")
}

fn messages_url(fake: &FakeTwilio, account: &str) -> String {
    format!("{}/2010-04-01/Accounts/{account}/Messages.json", fake.url())
}

/// A create-Message POST with the default credentials, as keyward's client would send it.
async fn send(fake: &FakeTwilio, form: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .post(messages_url(fake, DEFAULT_ACCOUNT_SID))
        .basic_auth(DEFAULT_ACCOUNT_SID, Some(DEFAULT_AUTH_TOKEN))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .expect("request is answered")
}

async fn send_to(fake: &FakeTwilio, to: &str) -> reqwest::Response {
    send(fake, &[("To", to), ("From", VALID_FROM), ("Body", "Oak Park: Main Gate code 4821#.")]).await
}

fn error_json(status: u16, code: i64, message: &str) -> Value {
    json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    })
}

/// Asserts status, JSON content type, request id and a Twilio error body with `code`.
async fn expect_error(response: reqwest::Response, status: u16, code: i64) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_twilio_headers(&response);
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["more_info"], format!("https://www.twilio.com/docs/errors/{code}"), "{body}");
    assert!(body["message"].is_string(), "{body}");
    body
}

fn assert_twilio_headers(response: &reqwest::Response) {
    assert_eq!(response.headers()["content-type"], "application/json");
    let id = response.headers()["twilio-request-id"].to_str().expect("ASCII");
    let hex = id.strip_prefix("RQ").expect("RQ prefix");
    assert!(hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
}

#[tokio::test]
async fn created_round_trip_matches_the_spec_body_and_records_the_decoded_form() {
    let fake = start().await;
    // The exact bytes reqwest put on the wire in the spec's capture (§1.1).
    let response = reqwest::Client::new()
        .post(messages_url(&fake, DEFAULT_ACCOUNT_SID))
        .basic_auth(DEFAULT_ACCOUNT_SID, Some(DEFAULT_AUTH_TOKEN))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("To=%2B447400123456&Body=Oak+Park%3A+Main+Gate+code+4821%23.&SmartEncoded=false&From=%2B15005550006")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::CREATED);
    assert_twilio_headers(&response);
    assert_eq!(response.headers()["twilio-concurrent-requests"], "1");
    let mut body: Value = response.json().await.unwrap();

    let created = body["date_created"].as_str().unwrap().to_owned();
    assert!(created.ends_with(" +0000"), "{created}");
    chrono::DateTime::parse_from_rfc2822(&created).expect("RFC 2822");
    assert_eq!(body["date_updated"], created);
    body["date_created"] = json!("Thu, 30 Jul 2015 20:12:31 +0000");
    body["date_updated"] = json!("Thu, 30 Jul 2015 20:12:31 +0000");
    assert_eq!(
        body,
        json!({
            "account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "api_version": "2010-04-01",
            "body": "Oak Park: Main Gate code 4821#.",
            "date_created": "Thu, 30 Jul 2015 20:12:31 +0000",
            "date_sent": null,
            "date_updated": "Thu, 30 Jul 2015 20:12:31 +0000",
            "direction": "outbound-api",
            "error_code": null,
            "error_message": null,
            "from": "+15005550006",
            "messaging_service_sid": null,
            "num_media": "0",
            "num_segments": "1",
            "price": null,
            "price_unit": null,
            "sid": "SM00000000000000000000000000000001",
            "status": "queued",
            "subresource_uris": {"media": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SM00000000000000000000000000000001/Media.json"},
            "to": "+447400123456",
            "uri": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SM00000000000000000000000000000001.json"
        })
    );

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let recorded = &requests[0];
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path, "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json");
    assert_eq!(recorded.auth_user.as_deref(), Some(DEFAULT_ACCOUNT_SID));
    let form: Vec<(&str, &str)> = recorded.form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        form,
        [
            ("To", "+447400123456"),
            ("Body", "Oak Park: Main Gate code 4821#."),
            ("SmartEncoded", "false"),
            ("From", "+15005550006")
        ]
    );
    assert_eq!(recorded.field("To"), Some(UK));
    assert_eq!(recorded.field("SmartEncoded"), Some("false"));
    assert_eq!(recorded.field("MediaUrl"), None);
    chrono::DateTime::parse_from_rfc3339(&recorded.received_at).expect("RFC 3339");
    assert_eq!(fake.message_posts(), 1);

    // The sid counter is per instance and counts up.
    let second: Value = send_to(&fake, UK).await.json().await.unwrap();
    assert_eq!(second["sid"], "SM00000000000000000000000000000002");
}

#[tokio::test]
async fn api_key_credentials_are_accepted_and_the_path_keeps_the_account_sid() {
    let config = Config {
        api_keys: vec![("SKcccccccccccccccccccccccccccccccc".into(), "key-secret".into())],
        ..Config::default()
    };
    let fake = FakeTwilio::start(config).await.unwrap();
    let client = reqwest::Client::new();
    let request = |user: &str, password: &str| {
        client
            .post(messages_url(&fake, DEFAULT_ACCOUNT_SID))
            .basic_auth(user, Some(password))
            .form(&[("To", UK), ("From", VALID_FROM), ("Body", "hi")])
            .send()
    };
    let ok = request("SKcccccccccccccccccccccccccccccccc", "key-secret").await.unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);
    // A key's secret is not the account's token, and the other way round.
    let wrong = request("SKcccccccccccccccccccccccccccccccc", DEFAULT_AUTH_TOKEN).await.unwrap();
    expect_error(wrong, 401, 20003).await;
    let wrong = request(DEFAULT_ACCOUNT_SID, "key-secret").await.unwrap();
    expect_error(wrong, 401, 20003).await;
    assert_eq!(fake.requests()[0].auth_user.as_deref(), Some("SKcccccccccccccccccccccccccccccccc"));
}

#[tokio::test]
async fn wrong_or_missing_credentials_answer_401_20003() {
    let fake = start().await;
    let client = reqwest::Client::new();
    let form = [("To", UK), ("From", VALID_FROM), ("Body", "hi")];

    let wrong_token = client
        .post(messages_url(&fake, DEFAULT_ACCOUNT_SID))
        .basic_auth(DEFAULT_ACCOUNT_SID, Some("not-the-token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_token.headers()["www-authenticate"], "Basic realm=\"Twilio API\"");
    let body = expect_error(wrong_token, 401, 20003).await;
    assert_eq!(body["detail"], "Your AccountSid or AuthToken was incorrect.");

    let no_auth = client.post(messages_url(&fake, DEFAULT_ACCOUNT_SID)).form(&form).send().await.unwrap();
    expect_error(no_auth, 401, 20003).await;

    let wrong_user =
        client.post(messages_url(&fake, DEFAULT_ACCOUNT_SID)).basic_auth(OTHER_ACCOUNT, Some(DEFAULT_AUTH_TOKEN));
    expect_error(wrong_user.form(&form).send().await.unwrap(), 401, 20003).await;

    let bearer = client.post(messages_url(&fake, DEFAULT_ACCOUNT_SID)).bearer_auth(DEFAULT_AUTH_TOKEN);
    expect_error(bearer.form(&form).send().await.unwrap(), 401, 20003).await;

    // Rule 1 comes before validation: an empty form with bad auth is still a 401.
    let empty = client.post(messages_url(&fake, DEFAULT_ACCOUNT_SID)).basic_auth(DEFAULT_ACCOUNT_SID, Some("x"));
    expect_error(empty.send().await.unwrap(), 401, 20003).await;

    // Every one of them was recorded, with the user name it claimed.
    let users: Vec<Option<String>> = fake.requests().into_iter().map(|r| r.auth_user).collect();
    let account = Some(DEFAULT_ACCOUNT_SID.to_owned());
    assert_eq!(users, [account.clone(), None, Some(OTHER_ACCOUNT.to_owned()), None, account]);
    assert_eq!(fake.message_posts(), 5);
}

#[tokio::test]
async fn path_sid_other_than_the_credentials_account_answers_404_20404() {
    let fake = start().await;
    let response = reqwest::Client::new()
        .post(messages_url(&fake, OTHER_ACCOUNT))
        .basic_auth(DEFAULT_ACCOUNT_SID, Some(DEFAULT_AUTH_TOKEN))
        .form(&[("To", UK), ("From", VALID_FROM), ("Body", "hi")])
        .send()
        .await
        .unwrap();
    let body = expect_error(response, 404, 20404).await;
    assert_eq!(
        body,
        error_json(
            404,
            20404,
            "The requested resource /2010-04-01/Accounts/ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/Messages.json was not found"
        )
    );
    assert_eq!(fake.message_posts(), 1);
}

type Form<'a> = &'a [(&'a str, &'a str)];

#[tokio::test]
async fn validation_rules_3_to_7_in_order() {
    let fake = start().await;
    let long = "X".repeat(1601);
    let cases: [(Form, i64, &str); 9] = [
        (&[("From", VALID_FROM), ("Body", "hi")], 21604, "A 'To' phone number is required."),
        (&[("To", ""), ("From", VALID_FROM), ("Body", "hi")], 21604, "A 'To' phone number is required."),
        // Rule 3 before rule 4: nothing at all is a missing `To`.
        (&[], 21604, "A 'To' phone number is required."),
        (&[("To", UK), ("Body", "hi")], 21603, "A 'From' phone number is required."),
        (&[("To", UK), ("From", VALID_FROM)], 21602, "Message body is required."),
        (&[("To", UK), ("From", VALID_FROM), ("Body", "")], 21602, "Message body is required."),
        (
            &[("To", UK), ("From", VALID_FROM), ("Body", &long)],
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ),
        (
            &[("To", "07400123456"), ("From", VALID_FROM), ("Body", "hi")],
            21211,
            "Invalid 'To' Phone Number: 07400123456",
        ),
        // Rule 6 before rule 7.
        (
            &[("To", "nope"), ("From", VALID_FROM), ("Body", &long)],
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ),
    ];
    for (form, code, message) in cases {
        let response = send(&fake, form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(response.json::<Value>().await.unwrap(), error_json(400, code, message), "{form:?}");
    }

    // Exactly 1,600 characters (even multi-byte ones) is allowed, and a Messaging Service
    // stands in for `From`, and a `MediaUrl` for `Body`.
    let max = "é".repeat(1600);
    assert_eq!(send(&fake, &[("To", UK), ("From", VALID_FROM), ("Body", &max)]).await.status(), 201);
    let service = "MGdddddddddddddddddddddddddddddddd";
    let mms = [("To", UK), ("MessagingServiceSid", service), ("MediaUrl", "https://example.com/a.png")];
    let body: Value = send(&fake, &mms).await.json().await.unwrap();
    assert_eq!(body["num_media"], "1");
    assert_eq!(body["body"], "");
    assert_eq!(fake.message_posts(), cases.len() + 2);
}

#[tokio::test]
async fn messaging_service_only_is_accepted_with_no_sender_and_zero_segments() {
    let fake = start().await;
    let service = "MGdddddddddddddddddddddddddddddddd";
    let body: Value =
        send(&fake, &[("To", UK), ("MessagingServiceSid", service), ("Body", "hi")]).await.json().await.unwrap();
    assert_eq!(body["status"], "accepted");
    assert_eq!(body["from"], Value::Null);
    assert_eq!(body["messaging_service_sid"], service);
    assert_eq!(body["num_segments"], "0");

    // With both, the sender is known: queued, and the segments are counted.
    let both = [("To", UK), ("From", VALID_FROM), ("MessagingServiceSid", service), ("Body", "hi")];
    let body: Value = send(&fake, &both).await.json().await.unwrap();
    assert_eq!(body["status"], "queued");
    assert_eq!(body["from"], VALID_FROM);
    assert_eq!(body["num_segments"], "1");
}

#[tokio::test]
async fn num_segments_follows_the_encoding() {
    let fake = start().await;
    for (text, segments) in [
        ("X".repeat(160), "1"),
        ("X".repeat(161), "2"),
        ("Oak Park’s gate code 4821#".repeat(3), "2"),
        ("{".repeat(81), "2"),
    ] {
        let body: Value = send(&fake, &[("To", UK), ("From", VALID_FROM), ("Body", &text)]).await.json().await.unwrap();
        assert_eq!(body["num_segments"], segments, "{text}");
        assert_eq!(body["body"], text);
    }
}

#[tokio::test]
async fn scripted_queue_answers_in_order_then_falls_back_to_the_rules() {
    let fake = start().await;
    fake.script(vec![
        Scripted { status: 429, code: Some(20429), retry_after: Some("0".into()), ..Scripted::default() },
        Scripted::status(201),
    ]);

    let first = send_to(&fake, UK).await;
    assert_eq!(first.headers()["retry-after"], "0");
    let body = expect_error(first, 429, 20429).await;
    assert_eq!(body, error_json(429, 20429, "Too Many Requests"));

    let second = send_to(&fake, UK).await;
    assert_eq!(second.status(), StatusCode::CREATED);
    assert!(second.headers().get("retry-after").is_none());
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["sid"], "SM00000000000000000000000000000001");
    assert_eq!(body["to"], UK);

    // The queue is empty: the rules answer again, here the opted-out magic number.
    expect_error(send_to(&fake, TO_OPTED_OUT).await, 400, 21610).await;
    assert_eq!(fake.message_posts(), 3);
}

#[tokio::test]
async fn scripted_entries_come_after_auth_and_validation_and_before_magic_numbers() {
    let fake = start().await;
    fake.script(vec![Scripted::status(503)]);
    // A request failing rule 7 does not consume the entry...
    expect_error(send_to(&fake, "bad").await, 400, 21211).await;
    // ...and the entry wins over a magic number.
    let body = expect_error(send_to(&fake, TO_OPTED_OUT).await, 503, 20503).await;
    assert_eq!(body, error_json(503, 20503, "Service Unavailable"));
}

#[tokio::test]
async fn scripted_fields_code_message_2xx_and_delay() {
    let fake = start().await;
    fake.script(vec![
        Scripted { status: 400, code: Some(21408), message: Some("no region".into()), ..Scripted::default() },
        Scripted::status(500),
        Scripted::status(418),
        Scripted::status(200),
        Scripted { status: 201, delay_ms: Some(50), ..Scripted::default() },
    ]);
    let body = expect_error(send_to(&fake, UK).await, 400, 21408).await;
    assert_eq!(body, error_json(400, 21408, "no region"));
    let body = expect_error(send_to(&fake, UK).await, 500, 20500).await;
    assert_eq!(body, error_json(500, 20500, "An internal server error has occurred"));

    // No Twilio code belongs to 418: the code is null, as a lenient client must accept.
    let teapot = send_to(&fake, UK).await;
    assert_eq!(teapot.status().as_u16(), 418);
    let body: Value = teapot.json().await.unwrap();
    assert_eq!(body["code"], Value::Null);
    assert_eq!(body["status"], 418);

    let ok = send_to(&fake, UK).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.json::<Value>().await.unwrap()["status"], "queued");

    let started = Instant::now();
    let delayed = send_to(&fake, UK).await;
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(delayed.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn magic_numbers_answer_twilio_test_credential_errors() {
    let fake = start().await;
    let cases = [
        (FROM_INVALID, UK, 21212),
        (FROM_NOT_OWNED, UK, 21606),
        (FROM_QUEUE_FULL, UK, 21611),
        (VALID_FROM, TO_INVALID, 21211),
        (VALID_FROM, TO_UNROUTABLE, 21612),
        (VALID_FROM, TO_REGION_DISABLED, 21408),
        (VALID_FROM, TO_OPTED_OUT, 21610),
        (VALID_FROM, TO_NOT_MOBILE, 21614),
        // The sender is checked first.
        (FROM_QUEUE_FULL, TO_OPTED_OUT, 21611),
    ];
    for (from, to, code) in cases {
        let response = send(&fake, &[("To", to), ("From", from), ("Body", "hi")]).await;
        expect_error(response, 400, code).await;
    }
    let opted_out = send(&fake, &[("To", TO_OPTED_OUT), ("From", VALID_FROM), ("Body", "hi")]).await;
    assert_eq!(
        opted_out.json::<Value>().await.unwrap(),
        error_json(400, 21610, "Attempt to send to unsubscribed recipient")
    );
    assert_eq!(send(&fake, &[("To", UK), ("From", VALID_FROM), ("Body", "hi")]).await.status(), 201);
}

#[tokio::test]
async fn fault_numbers_answer_429_500_503() {
    let fake = start().await;
    let limited = send_to(&fake, FAULT_429).await;
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(expect_error(limited, 429, 20429).await, error_json(429, 20429, "Too Many Requests"));
    assert_eq!(
        expect_error(send_to(&fake, FAULT_500).await, 500, 20500).await,
        error_json(500, 20500, "An internal server error has occurred")
    );
    assert_eq!(
        expect_error(send_to(&fake, FAULT_503).await, 503, 20503).await,
        error_json(503, 20503, "Service Unavailable")
    );
    assert_eq!(fake.message_posts(), 3);
}

#[tokio::test]
async fn slow_number_waits_the_configured_delay_then_answers_201() {
    let fake = start_slow(Duration::from_millis(100)).await;
    let started = Instant::now();
    let response = send_to(&fake, FAULT_SLOW).await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["to"], FAULT_SLOW);
    assert_eq!(body["sid"], "SM00000000000000000000000000000001");
}

#[tokio::test]
async fn slow_number_outlasts_a_client_timeout_and_the_fake_keeps_serving() {
    let fake = start_slow(Duration::from_secs(3600)).await;
    let client = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).build().unwrap();
    let timed_out = client
        .post(messages_url(&fake, DEFAULT_ACCOUNT_SID))
        .basic_auth(DEFAULT_ACCOUNT_SID, Some(DEFAULT_AUTH_TOKEN))
        .form(&[("To", FAULT_SLOW), ("From", VALID_FROM), ("Body", "hi")])
        .send()
        .await
        .expect_err("the client gives up first");
    assert!(timed_out.is_timeout(), "{timed_out}");

    // The request was recorded before the wait, and the abandoned wait holds nothing up: the
    // next message gets the first sid, because the slow one never got as far as taking one.
    assert_eq!(fake.message_posts(), 1);
    assert_eq!(fake.requests()[0].field("To"), Some(FAULT_SLOW));
    let body: Value = send_to(&fake, UK).await.json().await.unwrap();
    assert_eq!(body["sid"], "SM00000000000000000000000000000001");
}

#[tokio::test]
async fn scripted_delay_records_the_request_before_waiting() {
    let fake = start().await;
    fake.script(vec![Scripted { status: 201, delay_ms: Some(3_600_000), ..Scripted::default() }]);
    let client = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).build().unwrap();
    let result = client
        .post(messages_url(&fake, DEFAULT_ACCOUNT_SID))
        .basic_auth(DEFAULT_ACCOUNT_SID, Some(DEFAULT_AUTH_TOKEN))
        .form(&[("To", UK), ("From", VALID_FROM), ("Body", "hi")])
        .send()
        .await;
    assert!(result.expect_err("times out").is_timeout());
    assert_eq!(fake.message_posts(), 1);
    // The entry was consumed, so the next request takes the normal path.
    assert_eq!(send_to(&fake, UK).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn reset_clears_requests_script_and_sid_counter() {
    let fake = start().await;
    send_to(&fake, UK).await;
    send_to(&fake, UK).await;
    fake.script(vec![Scripted::status(500)]);
    fake.reset();
    assert!(fake.requests().is_empty());
    assert_eq!(fake.message_posts(), 0);
    let body: Value = send_to(&fake, UK).await.json().await.unwrap();
    assert_eq!(body["sid"], "SM00000000000000000000000000000001", "no scripted 500, counter restarted");

    // The same through the control endpoint.
    fake.script(vec![Scripted::status(500)]);
    let client = reqwest::Client::new();
    let reset = client.post(format!("{}/_fake/reset", fake.url())).send().await.unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert!(fake.requests().is_empty());
    let body: Value = send_to(&fake, UK).await.json().await.unwrap();
    assert_eq!(body["sid"], "SM00000000000000000000000000000001");
}

#[tokio::test]
async fn control_endpoints_over_http() {
    let fake = start().await;
    let client = reqwest::Client::new();
    let next = client
        .post(format!("{}/_fake/next", fake.url()))
        .json(&json!([{"status": 429, "code": 20429, "retryAfter": "0"}, {"status": 201}]))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), StatusCode::NO_CONTENT);

    let first = send(&fake, &[("To", UK), ("From", VALID_FROM), ("Body", "a+b c"), ("SmartEncoded", "false")]).await;
    assert_eq!(first.headers()["retry-after"], "0");
    assert_eq!(first.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(send_to(&fake, UK).await.status(), StatusCode::CREATED);

    let requests: Value =
        client.get(format!("{}/_fake/requests", fake.url())).send().await.unwrap().json().await.unwrap();
    let requests = requests.as_array().expect("array");
    assert_eq!(requests.len(), 2, "control requests are not recorded");
    let first = &requests[0];
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], format!("/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"));
    assert_eq!(first["auth_user"], DEFAULT_ACCOUNT_SID);
    assert_eq!(first["form"], json!([["To", UK], ["From", VALID_FROM], ["Body", "a+b c"], ["SmartEncoded", "false"]]));
    assert!(first["received_at"].is_string());

    // Bad scripts are refused whole.
    for bad in [json!({"status": 201}), json!([{"status": 99}]), json!([{"code": 1}])] {
        let response = client.post(format!("{}/_fake/next", fake.url())).json(&bad).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(send_to(&fake, UK).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let fake = start().await;
    let client = reqwest::Client::new();
    let unknown = client.get(format!("{}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Calls.json", fake.url()));
    let body = expect_error(unknown.send().await.unwrap(), 404, 20404).await;
    assert_eq!(
        body["message"],
        "The requested resource /2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Calls.json was not found"
    );
    expect_error(client.get(format!("{}/_fake/nothing", fake.url())).send().await.unwrap(), 404, 20404).await;
    let get = client.get(messages_url(&fake, DEFAULT_ACCOUNT_SID)).basic_auth(DEFAULT_ACCOUNT_SID, Some("x"));
    expect_error(get.send().await.unwrap(), 405, 20004).await;

    // Recorded (except the control path), but not counted as message POSTs.
    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths.len(), 2);
    assert_eq!(fake.message_posts(), 0);
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_not_read_as_one() {
    let fake = start().await;
    let response = reqwest::Client::new()
        .post(messages_url(&fake, DEFAULT_ACCOUNT_SID))
        .basic_auth(DEFAULT_ACCOUNT_SID, Some(DEFAULT_AUTH_TOKEN))
        .json(&json!({"To": UK, "From": VALID_FROM, "Body": "hi"}))
        .send()
        .await
        .unwrap();
    expect_error(response, 400, 21604).await;
    assert!(fake.requests()[0].form.is_empty());
}

#[tokio::test]
async fn dropping_the_fake_closes_in_flight_requests_and_the_port() {
    let fake = start_slow(Duration::from_secs(3600)).await;
    let url = messages_url(&fake, DEFAULT_ACCOUNT_SID);
    let in_flight = tokio::spawn(
        reqwest::Client::new()
            .post(url.clone())
            .basic_auth(DEFAULT_ACCOUNT_SID, Some(DEFAULT_AUTH_TOKEN))
            .form(&[("To", FAULT_SLOW), ("From", VALID_FROM), ("Body", "hi")])
            .send(),
    );
    // Wait (by yielding, not sleeping) until the fake has the request, so the drop below
    // really interrupts a handler in its delay.
    tokio::time::timeout(Duration::from_secs(10), async {
        while fake.message_posts() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the request arrives");
    drop(fake);

    let result = tokio::time::timeout(Duration::from_secs(10), in_flight).await.expect("not left hanging");
    assert!(result.unwrap().is_err(), "the connection was closed without an answer");
    let after = reqwest::Client::new().post(url).send().await;
    assert!(after.is_err(), "nothing listens any more");
}
