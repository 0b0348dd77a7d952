//! Hostile input over the whole procedure list, against the real binary over HTTP
//! (issue 9 § 3), with proptest:
//!
//! - arbitrary bytes and near-JSON as the body (`bytes.rs`);
//! - requests for every procedure of `keyward_rpc::procedures::visit`, with params built
//!   from each input type's shape (`shape.rs`, `params.rs`), sent alone (with every kind
//!   of id, and as notifications) and in batches of 50;
//! - wholly arbitrary JSON as the params of every procedure.
//!
//! The property: every request gets a JSON-RPC answer (one response per call that has an
//! id, carrying that id; nothing for notifications), never INTERNAL (-32603), and the
//! server still answers `GET /health` with 200 at the end. One server, one keep-alive
//! client, signed in as the owner.
//!
//! Cases: `PROPTEST_CASES` (default 100 000 on SQLite; a tenth of it on PostgreSQL),
//! counted in calls (a batch of 50 is 50 cases). Reproduce a run with the seed it prints:
//! `PROPTEST_RNG_SEED=<seed>`.

mod answers;
mod bytes;
mod params;
mod shape;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestCaseResult, TestError, TestRunner};
use serde_json::{Value, json};

use crate::support::server::PASSWORD;
use crate::support::{Backend, Client, SmsApp};
use answers::{Answer, check_calls, check_raw, show};
use params::{Call, Kind, slot};

/// The run's size when `PROPTEST_CASES` does not say.
const DEFAULT_CASES: usize = 100_000;
/// Calls per batch: the server's batch limit.
const BATCH: usize = 50;
/// The user of the run's organisation whose id the fuzzed calls may change (never the
/// owner's: the run must stay signed in).
const VICTIM_EMAIL: &str = "victim@acme.test";

/// The run signs in again after every fuzzed logout, all from one address: the login
/// limits (tested in `auth`) would only make it wait.
const SETTINGS: &[(&str, &str)] = &[
    ("KEYWARD_LOGIN_PER_ADDRESS_PER_MINUTE", "1000000"),
    ("KEYWARD_LOGIN_PER_EMAIL_PER_MINUTE", "1000000"),
    ("KEYWARD_LOGIN_LOCK_AFTER", "1000000"),
];

mod the_procedure_list_survives_hostile_input {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        if let Some(app) = SmsApp::start_with(Backend::Sqlite, SETTINGS).await {
            run(app, total_cases()).await;
        }
    }

    /// The property is about input handling, which both databases share: fewer cases.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = SmsApp::start_with(Backend::Postgres, SETTINGS).await {
            run(app, total_cases() / 10).await;
        }
    }
}

fn total_cases() -> usize {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(DEFAULT_CASES)
}

/// How a run of `total` cases is shared out: HTTP requests of one body each (raw bytes,
/// single calls), then batches of [`BATCH`] calls (typed params, arbitrary params).
struct Budget {
    raw: u32,
    single: u32,
    typed_batches: u32,
    arbitrary_batches: u32,
}

impl Budget {
    fn of(total: usize) -> Budget {
        let raw = total * 3 / 100;
        let single = total * 2 / 100;
        let arbitrary_batches = (total * 15 / 100).div_ceil(BATCH);
        let typed_batches = total.saturating_sub(raw + single + arbitrary_batches * BATCH).div_ceil(BATCH);
        let n = |x: usize| u32::try_from(x).expect("a sane case count");
        Budget {
            raw: n(raw),
            single: n(single),
            typed_batches: n(typed_batches),
            arbitrary_batches: n(arbitrary_batches),
        }
    }
}

/// How a call of a batch is identified: mostly a small integer; also every other id the
/// JSON-RPC spec allows, and none (a notification).
#[derive(Debug, Clone, Copy)]
enum IdStyle {
    Index,
    Text,
    Negative,
    Fraction,
    BeyondI64,
    BeyondU64,
    Notification,
}

fn id_style() -> impl Strategy<Value = IdStyle> {
    prop_oneof![
        80 => Just(IdStyle::Index),
        4 => Just(IdStyle::Text),
        3 => Just(IdStyle::Negative),
        3 => Just(IdStyle::Fraction),
        2 => Just(IdStyle::BeyondI64),
        2 => Just(IdStyle::BeyondU64),
        6 => Just(IdStyle::Notification),
    ]
}

/// The id of call `i` of a batch in `style`, unique within the batch; `None` for a
/// notification.
fn request_id(i: usize, style: IdStyle) -> Option<Value> {
    let i64 = i64::try_from(i).expect("a small index");
    Some(match style {
        IdStyle::Index => json!(i),
        IdStyle::Text => json!(format!("call {i} · ü\u{1f511}")),
        IdStyle::Negative => json!(-i64 - 1),
        IdStyle::Fraction => json!(i64 as f64 + 0.5),
        IdStyle::BeyondI64 => json!(u64::MAX - i as u64),
        IdStyle::BeyondU64 => json!(1e20 * (i64 + 1) as f64),
        IdStyle::Notification => return None,
    })
}

/// The server under fuzz, its live entities, and the owner's session.
struct Fuzz<'a> {
    app: &'a SmsApp,
    http: reqwest::Client,
    token: Mutex<String>,
    /// The id behind each [`slot`] placeholder.
    slots: Mutex<HashMap<String, String>>,
    created: AtomicUsize,
    calls: AtomicUsize,
    /// How the calls were answered: `ok`, or the error's kind (or code), counted.
    outcomes: Mutex<HashMap<String, usize>>,
}

impl<'a> Fuzz<'a> {
    async fn new(app: &'a SmsApp) -> Fuzz<'a> {
        let fuzz = Fuzz {
            app,
            http: reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("an HTTP client"),
            token: Mutex::new(app.owner.token.clone().expect("the owner's token")),
            slots: Mutex::new(HashMap::new()),
            created: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            outcomes: Mutex::new(HashMap::new()),
        };
        for kind in Kind::ALL {
            for n in 0..kind.slots() {
                fuzz.fill(kind, n).await;
            }
        }
        fuzz
    }

    /// Creates the entity behind slot `n` of `kind` (again, after a deletion).
    async fn fill(&self, kind: Kind, n: usize) {
        let owner = &Client::new(&self.app.url, Some(self.token.lock().unwrap().clone()));
        let c = self.created.fetch_add(1, Ordering::Relaxed);
        let in_slot = |kind, n| self.slots.lock().unwrap()[&slot(kind, n)].clone();
        let id = match kind {
            Kind::Development => {
                owner.ok("developments.create", json!({"name": format!("Fuzz site {c}")})).await["id"].clone()
            }
            Kind::Key => {
                let dev = in_slot(Kind::Development, n % 2);
                owner
                    .ok(
                        "keys.createKey",
                        json!({"developmentId": dev, "keyType": "fob", "label": format!("Fuzz key {c}")}),
                    )
                    .await["id"]
                    .clone()
            }
            Kind::AccessCode => {
                let dev = in_slot(Kind::Development, 0);
                owner
                    .ok(
                        "keys.createAccessCode",
                        json!({"developmentId": dev, "codeType": "gate", "label": format!("Fuzz gate {c}"), "code": "1234#"}),
                    )
                    .await["id"]
                    .clone()
            }
            Kind::User => owner
                .ok(
                    "users.create",
                    json!({"email": VICTIM_EMAIL, "name": "Fuzz Victim", "role": "team", "password": PASSWORD}),
                )
                .await["id"]
                .clone(),
            Kind::OtherDevelopment | Kind::OtherKey | Kind::OtherUser => {
                if self.slots.lock().unwrap().contains_key(&slot(kind, n)) {
                    return;
                }
                let other = self.app.other_organisation().await;
                let dev = other.ok("developments.create", json!({"name": "Elsewhere"})).await;
                let key = other
                    .ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "Theirs"}))
                    .await;
                let me = other.ok("auth.me", json!({})).await;
                let mut slots = self.slots.lock().unwrap();
                slots.insert(slot(Kind::OtherDevelopment, 0), dev["id"].as_str().unwrap().to_owned());
                slots.insert(slot(Kind::OtherKey, 0), key["id"].as_str().unwrap().to_owned());
                slots.insert(slot(Kind::OtherUser, 0), me["user"]["id"].as_str().unwrap().to_owned());
                return;
            }
        };
        let id = id.as_str().expect("an id").to_owned();
        self.slots.lock().unwrap().insert(slot(kind, n), id);
    }

    /// Signs the owner in again; a login refused by a rate limit is tried again after the
    /// wait the server asks for (the run's failed logins come from the same address).
    async fn sign_in(&self) -> String {
        let anonymous = Client::new(&self.app.url, None);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            match anonymous.call("auth.login", json!({"email": "owner@acme.test", "password": PASSWORD})).await {
                Ok(session) => return session["token"].as_str().expect("a token").to_owned(),
                Err(e) if e.kind.as_deref() == Some("RATE_LIMITED") && std::time::Instant::now() < deadline => {
                    let wait = e.data["retryAfterMs"].as_u64().unwrap_or(1000).clamp(10, 10_000);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                Err(e) => panic!("the owner cannot sign in again: {e:?}"),
            }
        }
    }

    /// `params` with every slot placeholder replaced by its live id.
    fn resolve(&self, params: &Value) -> Value {
        let slots = self.slots.lock().unwrap();
        fn walk(v: &Value, slots: &HashMap<String, String>) -> Value {
            match v {
                Value::String(s) => Value::String(slots.get(s).cloned().unwrap_or_else(|| s.clone())),
                Value::Array(items) => Value::Array(items.iter().map(|i| walk(i, slots)).collect()),
                Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), walk(v, slots))).collect()),
                other => other.clone(),
            }
        }
        walk(params, &slots)
    }

    async fn post(&self, body: Vec<u8>) -> Result<Answer, TestCaseError> {
        let token = self.token.lock().unwrap().clone();
        let response = self
            .http
            .post(&self.app.url)
            .header("content-type", "application/json")
            .bearer_auth(token)
            .body(body)
            .send()
            .await
            .map_err(|e| TestCaseError::fail(format!("no HTTP answer: {e}")))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| TestCaseError::fail(format!("the answer broke off: {e}")))?;
        Ok(Answer { status, body: body.to_vec() })
    }

    /// Sends `calls` (as a batch, or one alone), checks the answers, then mends what the
    /// calls did to the run itself: deleted entities are made again, a lost session is
    /// replaced.
    async fn send(&self, calls: &[(Call, IdStyle)], as_batch: bool) -> Result<(), TestCaseError> {
        let requests: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (call, style))| {
                let mut request = json!({"jsonrpc": "2.0", "method": call.method});
                // A notification whose params are not an object or array is an invalid
                // request, which may be answered: send it with an id instead.
                let structured = matches!(call.params, None | Some(Value::Object(_) | Value::Array(_)));
                let style = if structured { *style } else { IdStyle::Index };
                if let Some(id) = request_id(i, style) {
                    request["id"] = id;
                }
                if let Some(params) = &call.params {
                    request["params"] = self.resolve(params);
                }
                request
            })
            .collect();
        let body = if as_batch { Value::Array(requests.clone()) } else { requests[0].clone() };
        let body = body.to_string().into_bytes();
        // Strings are at most 10 000 characters, so a batch is far below the 2 MiB limit.
        assert!(body.len() < 2 * 1024 * 1024, "a generated batch of {} bytes is over the body limit", body.len());
        self.calls.fetch_add(requests.len(), Ordering::Relaxed);
        let answer = self.post(body).await?;
        let responses = check_calls(&requests, as_batch, &answer).map_err(TestCaseError::fail)?;
        {
            let mut outcomes = self.outcomes.lock().unwrap();
            for response in responses.values() {
                let error = &response["error"];
                let outcome = match error["data"]["kind"].as_str() {
                    _ if error.is_null() => "ok".to_owned(),
                    Some(kind) => kind.to_owned(),
                    None => error["code"].to_string(),
                };
                *outcomes.entry(outcome).or_default() += 1;
            }
        }
        self.mend(&requests, &responses).await;
        Ok(())
    }

    async fn mend(&self, requests: &[Value], responses: &HashMap<usize, Value>) {
        let mut lost_session = false;
        let mut deleted = Vec::new();
        for (i, response) in responses {
            if response["error"]["data"]["kind"] == "UNAUTHENTICATED" {
                lost_session = true;
            }
            let method = requests[*i]["method"].as_str().unwrap_or_default();
            if response.get("result").is_some() && method == "auth.logout" {
                lost_session = true;
            }
            if response.get("result").is_some() && method.contains(".delete") {
                let params = requests[*i]["params"].to_string();
                let slots = self.slots.lock().unwrap();
                for kind in Kind::ALL {
                    for n in 0..kind.slots() {
                        if params.contains(&format!("\"{}\"", slots[&slot(kind, n)])) {
                            deleted.push((kind, n));
                        }
                    }
                }
            }
        }
        // A notification (`auth.logout` without an id) ends the session unanswered.
        if !lost_session {
            let owner = Client::new(&self.app.url, Some(self.token.lock().unwrap().clone()));
            lost_session = owner.call("auth.me", json!({})).await.is_err();
        }
        if lost_session {
            *self.token.lock().unwrap() = self.sign_in().await;
        }
        // Developments first: keys and codes are made in them.
        deleted.sort_by_key(|(kind, _)| Kind::ALL.iter().position(|k| k == kind));
        for (kind, n) in deleted {
            self.fill(kind, n).await;
        }
    }

    async fn raw(&self, body: Vec<u8>) -> Result<(), TestCaseError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let answer = self.post(body.clone()).await?;
        check_raw(&body, &answer).map_err(TestCaseError::fail)
    }
}

/// A runner for one strategy: the seed is `PROPTEST_RNG_SEED` or a random one, printed so
/// that a failing run can be repeated; no regression files.
fn runner(cases: u32, seed: u64) -> TestRunner {
    TestRunner::new(Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    })
}

fn seed() -> u64 {
    match std::env::var("PROPTEST_RNG_SEED") {
        Ok(seed) => seed.parse().expect("PROPTEST_RNG_SEED is a number"),
        Err(_) => {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
            u64::from(nanos) ^ (u64::from(std::process::id()) << 32)
        }
    }
}

/// Runs `property` over `strategy` on this (blocking) thread; panics with the minimised
/// failing case and the seed.
fn check<S: Strategy>(name: &str, cases: u32, seed: u64, strategy: S, property: impl Fn(S::Value) -> TestCaseResult)
where
    S::Value: std::fmt::Debug,
{
    if cases == 0 {
        return;
    }
    match runner(cases, seed).run(&strategy, property) {
        Ok(()) => {}
        Err(TestError::Fail(why, minimal)) => panic!(
            "fuzz {name} failed (reproduce with PROPTEST_RNG_SEED={seed}):\n{why}\nminimal case (ids as slots): {}",
            show(format!("{minimal:?}").as_bytes())
        ),
        Err(TestError::Abort(why)) => panic!("fuzz {name} aborted (PROPTEST_RNG_SEED={seed}): {why}"),
    }
}

async fn run(app: SmsApp, total: usize) {
    let budget = Budget::of(total);
    let seed = seed();
    eprintln!(
        "fuzz: {total} cases (raw {}, single {}, typed {}×{BATCH}, arbitrary {}×{BATCH}); PROPTEST_RNG_SEED={seed}",
        budget.raw, budget.single, budget.typed_batches, budget.arbitrary_batches
    );
    let fuzz = Fuzz::new(&app).await;
    let procedures = shape::procedures();
    let handle = tokio::runtime::Handle::current();
    let started = std::time::Instant::now();
    tokio::task::block_in_place(|| {
        check("raw bodies", budget.raw, seed, bytes::body(), |body| handle.block_on(fuzz.raw(body.0)));
        let single = (params::call(&procedures), id_style());
        check("single calls", budget.single, seed.wrapping_add(1), single, |call| {
            handle.block_on(fuzz.send(&[call], false))
        });
        let typed = prop::collection::vec((params::call(&procedures), id_style()), BATCH).prop_map(one_login);
        check("typed batches", budget.typed_batches, seed.wrapping_add(2), typed, |calls| {
            handle.block_on(fuzz.send(&calls, true))
        });
        let arbitrary =
            prop::collection::vec((params::arbitrary_call(&procedures), id_style()), BATCH).prop_map(one_login);
        check("arbitrary params", budget.arbitrary_batches, seed.wrapping_add(3), arbitrary, |calls| {
            handle.block_on(fuzz.send(&calls, true))
        });
    });
    let calls = fuzz.calls.load(Ordering::Relaxed);
    let mut outcomes: Vec<(String, usize)> = fuzz.outcomes.lock().unwrap().clone().into_iter().collect();
    outcomes.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    eprintln!("fuzz: {calls} calls in {:.1} s; answers: {outcomes:?}", started.elapsed().as_secs_f64());
    assert!(calls >= total, "the run made {calls} calls, fewer than its {total} cases");
    let health = fuzz.http.get(format!("{}health", app.url)).send().await.expect("the server still answers");
    assert_eq!(health.status(), 200, "GET /health after the fuzz run");
    let token = fuzz.token.lock().unwrap().clone();
    Client::new(&app.url, Some(token)).ok("keys.listKeys", json!({"limit": 1})).await;
}

/// At most one `auth.login` per batch (it hashes a password; the server may refuse more):
/// later ones become `auth.me`.
fn one_login(mut calls: Vec<(Call, IdStyle)>) -> Vec<(Call, IdStyle)> {
    let mut seen = false;
    for (call, _) in &mut calls {
        if call.method == "auth.login" {
            if seen {
                call.method = "auth.me".to_owned();
                call.params = None;
            }
            seen = true;
        }
    }
    calls
}
