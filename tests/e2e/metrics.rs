//! `GET /metrics`: off by default (404); with `KEYWARD_METRICS`, Prometheus' text format
//! whose counters move by exactly the calls made, with no token needed and nothing of an
//! organisation in it.

use std::collections::{BTreeMap, HashMap};

use fake_twilio::numbers;
use serde_json::json;

use crate::support::sms::PHONE;
use crate::support::{SmsApp, TestApp};
use crate::{on_both_databases, on_both_databases_with};

const METRICS_ON: &[(&str, &str)] = &[("KEYWARD_METRICS", "true")];

/// One scrape: every sample by its name and labels.
struct Scrape {
    text: String,
    samples: HashMap<(String, BTreeMap<String, String>), f64>,
}

impl Scrape {
    /// The sample `name{labels}`, 0 when the series does not exist (yet).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.samples.get(&(name.to_owned(), labels)).copied().unwrap_or(0.0)
    }

    /// The samples named `name`, whatever their labels.
    fn series(&self, name: &str) -> Vec<(&BTreeMap<String, String>, f64)> {
        self.samples.iter().filter(|((n, _), _)| n == name).map(|((_, labels), v)| (labels, *v)).collect()
    }
}

/// Parses Prometheus' text format (one sample per line: `name{k="v",…} value`).
fn parse(text: &str) -> HashMap<(String, BTreeMap<String, String>), f64> {
    let mut samples = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("a number in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').expect("labels end with }"))),
        };
        let previous = samples.insert((name.to_owned(), labels), value);
        assert!(previous.is_none(), "one sample per series: {line:?}");
    }
    samples
}

/// `k="v",k2="v2"` with `\"`, `\\` and `\n` escapes in values.
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("label=\"value\"");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("a closing quote") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().expect("an escaped character").1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    labels
}

async fn get_metrics(app: &TestApp) -> reqwest::Response {
    reqwest::get(format!("{}metrics", app.url)).await.expect("the server answers")
}

async fn scrape(app: &TestApp) -> Scrape {
    let response = get_metrics(app).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.unwrap();
    Scrape { samples: parse(&text), text }
}

const CALLS: &str = "keyward_rpc_calls_total";
const ERRORS: &str = "keyward_rpc_errors_total";
const DURATION: &str = "keyward_rpc_call_duration_seconds";

on_both_databases! {
    async fn metrics_are_off_by_default(app: TestApp) {
        app.owner.ok("auth.me", json!({})).await;
        let response = get_metrics(&app).await;
        assert_eq!(response.status(), 404);
        assert!(!response.text().await.unwrap().contains("keyward_rpc"));
    }
}

on_both_databases_with! { METRICS_ON;
    async fn counters_move_by_exactly_the_calls_made(app: TestApp) {
        let before = scrape(&app).await;
        // The harness's login is already counted.
        assert_eq!(before.value(CALLS, &[("procedure", "auth.login")]), 1.0, "{}", before.text);

        for _ in 0..3 {
            app.owner.ok("auth.me", json!({})).await;
        }
        app.owner.ok("developments.list", json!({})).await;
        app.owner.ok("developments.list", json!({})).await;
        let missing = "0190a0a0-0000-7000-8000-000000000000";
        app.owner.err("keys.getKey", json!({"id": missing})).await.assert_kind(-32004, "NOT_FOUND");
        app.owner.err("developments.create", json!({"name": ""})).await.assert_invalid("name");
        app.anonymous().err("auth.me", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");
        // Unknown names collapse into one label: caller-supplied text is never a label.
        for name in ["nope.secretName", "another.madeUpName"] {
            app.owner.call(name, json!({})).await.unwrap_err().assert_kind(-32601, "METHOD_NOT_FOUND");
        }
        // A batch counts each of its calls.
        let batch = json!([
            {"jsonrpc": "2.0", "id": 1, "method": "developments.list", "params": {}},
            {"jsonrpc": "2.0", "id": 2, "method": "keys.getKey", "params": {"id": missing}},
        ]);
        let (status, _) = app.owner.post_raw(batch.to_string()).await;
        assert_eq!(status, 200);

        let after = scrape(&app).await;
        let delta = |name: &str, labels: &[(&str, &str)]| after.value(name, labels) - before.value(name, labels);
        assert_eq!(delta(CALLS, &[("procedure", "auth.me")]), 4.0);
        assert_eq!(delta(CALLS, &[("procedure", "developments.list")]), 3.0);
        assert_eq!(delta(CALLS, &[("procedure", "keys.getKey")]), 2.0);
        assert_eq!(delta(CALLS, &[("procedure", "developments.create")]), 1.0);
        assert_eq!(delta(CALLS, &[("procedure", "(unknown)")]), 2.0);
        assert_eq!(delta(CALLS, &[("procedure", "auth.login")]), 0.0);
        let total_calls: f64 = after.series(CALLS).iter().map(|(_, v)| v).sum();
        assert_eq!(total_calls, 1.0 + 4.0 + 3.0 + 2.0 + 1.0 + 2.0, "{}", after.text);

        assert_eq!(delta(ERRORS, &[("procedure", "keys.getKey"), ("kind", "NOT_FOUND")]), 2.0);
        assert_eq!(delta(ERRORS, &[("procedure", "developments.create"), ("kind", "INVALID_INPUT")]), 1.0);
        assert_eq!(delta(ERRORS, &[("procedure", "auth.me"), ("kind", "UNAUTHENTICATED")]), 1.0);
        assert_eq!(delta(ERRORS, &[("procedure", "(unknown)"), ("kind", "METHOD_NOT_FOUND")]), 2.0);
        let total_errors: f64 = after.series(ERRORS).iter().map(|(_, v)| v).sum();
        assert_eq!(total_errors, 6.0, "{}", after.text);
        assert!(!after.text.contains("secretName") && !after.text.contains("madeUpName"));

        // The latency histogram: one observation per call, in buckets up to +Inf.
        let count = |s: &Scrape, p: &str| s.value(&format!("{DURATION}_count"), &[("procedure", p)]);
        assert_eq!(count(&after, "auth.me") - count(&before, "auth.me"), 4.0);
        assert_eq!(after.value(&format!("{DURATION}_bucket"), &[("procedure", "auth.me"), ("le", "+Inf")]), 4.0);
        assert!(after.value(&format!("{DURATION}_sum"), &[("procedure", "auth.me")]) > 0.0);
        let buckets = after.series(&format!("{DURATION}_bucket"));
        let auth_me: Vec<_> = buckets.iter().filter(|(l, _)| l["procedure"] == "auth.me").collect();
        assert_eq!(auth_me.len(), 14, "13 bounds and +Inf: {auth_me:?}");
        assert!(after.text.contains(&format!("# TYPE {DURATION} histogram")), "{}", after.text);

        // The pool, read at the scrape: nothing waits, nothing is held between calls.
        let pool = |state: &str| after.value("keyward_db_pool_connections", &[("state", state)]);
        // The harness serves with `--db-pool-size 8`.
        assert_eq!(pool("max"), 8.0, "{}", after.text);
        assert!(pool("open") >= 1.0 && pool("open") <= pool("max"), "{}", after.text);
        assert_eq!(pool("in_use"), 0.0, "{}", after.text);
        assert_eq!(after.value("keyward_db_pool_waiting", &[]), 0.0, "{}", after.text);
        assert!(after.text.contains("# TYPE keyward_db_pool_waiting gauge"));
    }

    async fn metrics_need_no_token_and_hold_nothing_of_an_organisation(app: TestApp) {
        const CODE: &str = "Q4R7-9912#";
        let dev = app.owner.ok("developments.create", json!({"name": "Larkspur Court"})).await;
        let key = app.key(&dev["id"], "Flat 7 back door").await;
        app.owner
            .ok(
                "keys.createAccessCode",
                json!({"developmentId": dev["id"], "codeType": "gate", "label": "Side gate", "code": CODE}),
            )
            .await;
        let other = app.other_organisation().await;
        other.ok("auth.me", json!({})).await;

        // No token; and one that is sent is ignored, not checked.
        let anonymous = scrape(&app).await;
        let with_token = reqwest::Client::new()
            .get(format!("{}metrics", app.url))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(with_token.status(), 200);

        let text = anonymous.text;
        let token = app.owner.token.as_deref().unwrap();
        let secrets = [
            token, CODE, &app.org_id, "Acme Estates", "Other Lettings", "owner@acme.test", "owner@other.test",
            "Larkspur Court", "Flat 7 back door", "Side gate", dev["id"].as_str().unwrap(), key["id"].as_str().unwrap(),
            key["keyRef"].as_str().unwrap(), &app.db.url,
        ];
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} is in /metrics:\n{text}");
        }
        // Per node, not per organisation: no label names one.
        for (_, labels) in anonymous.samples.keys() {
            let names: Vec<&str> = labels.keys().map(String::as_str).collect();
            assert!(names.iter().all(|n| ["procedure", "kind", "le", "state", "outcome"].contains(n)), "{names:?}");
        }
        // Both organisations' calls are in the same series.
        assert_eq!(anonymous.samples[&(CALLS.to_owned(), [("procedure".to_owned(), "auth.me".to_owned())].into())], 1.0);
    }
}

on_both_databases_with! { METRICS_ON;
    async fn sms_sends_are_counted_by_outcome(app: SmsApp) {
        let dev = app.development("Oak Park").await;
        let key = app.key(&dev["id"], "Flat 12 front door").await;
        let target = json!({"type": "key", "id": key["id"]});
        let before = scrape(&app).await;
        app.owner.ok("keys.sendSms", json!({"target": target, "recipientName": "Sam", "phone": PHONE})).await;
        let refused = json!({"target": target, "recipientName": "Opted out", "phone": numbers::TO_OPTED_OUT});
        app.owner.err("keys.sendSms", refused).await.assert_kind(-32051, "SMS_REJECTED");
        // Refused before the provider: not a send.
        app.owner
            .err("keys.sendSms", json!({"target": target, "recipientName": "Sam", "phone": "not a phone"}))
            .await
            .assert_invalid("phone");

        let after = scrape(&app).await;
        let delta = |outcome: &str| {
            let labels = [("outcome", outcome)];
            after.value("keyward_sms_sends_total", &labels) - before.value("keyward_sms_sends_total", &labels)
        };
        assert_eq!((delta("sent"), delta("rejected"), delta("unavailable"), delta("unknown")), (1.0, 1.0, 0.0, 0.0));
        assert_eq!(app.fake.message_posts(), 2);
        assert_eq!(after.value(CALLS, &[("procedure", "keys.sendSms")]), 3.0);
        assert_eq!(after.value(ERRORS, &[("procedure", "keys.sendSms"), ("kind", "SMS_REJECTED")]), 1.0);
        assert!(!after.text.contains(PHONE) && !after.text.contains(numbers::TO_OPTED_OUT));
    }
}
