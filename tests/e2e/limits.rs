//! Every per-field limit of the contract (docs/api.md, "Limits"), at the limit and one
//! past it: at the limit the call succeeds; one past it is INVALID_INPUT on that field and
//! changes nothing. One table, run on both databases. (Transport limits, body size, batch
//! size, nesting depth and WebSocket messages, are tested with the transport.)

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::SmsApp;
use crate::support::sms::PHONE;

/// One limit: `params` with `"$V"` where the value goes (and `"$key"`, `"$dev"`, `"$code"`,
/// `"$user"`, `"$unique"` for a fresh entity of the fixture or a unique text).
struct Limit {
    method: &'static str,
    params: Value,
    field: &'static str,
    at: Value,
    past: Value,
}

/// A text field of at most `max` characters, filled with `gen(n)`.
fn length(
    method: &'static str,
    params: Value,
    field: &'static str,
    max: usize,
    generate: fn(usize) -> String,
) -> Limit {
    Limit { method, params, field, at: json!(generate(max)), past: json!(generate(max + 1)) }
}

/// A number field whose last accepted value is `at`.
fn number(method: &'static str, params: Value, field: &'static str, at: i64, past: i64) -> Limit {
    Limit { method, params, field, at: json!(at), past: json!(past) }
}

/// Text in a 2-byte character: limits count characters, not bytes.
fn text(n: usize) -> String {
    "é".repeat(n)
}

fn upper(n: usize) -> String {
    "A".repeat(n)
}

fn digits(n: usize) -> String {
    "7".repeat(n)
}

fn token(n: usize) -> String {
    "a1_.:-".chars().cycle().take(n).collect()
}

fn email(n: usize) -> String {
    format!("{}@acme.test", "a".repeat(n - "@acme.test".len()))
}

/// A valid UK mobile, padded with spaces inside to `n` characters.
fn phone(n: usize) -> String {
    format!("+44{}7400123456", " ".repeat(n - 13))
}

fn password(n: usize) -> String {
    "p".repeat(n)
}

/// `params` with `"$V"` in `field`.
fn with(mut params: Value, field: &str) -> Value {
    params[field] = json!("$V");
    params
}

fn limits() -> Vec<Limit> {
    let new_key = |f| with(json!({"developmentId": "$dev", "keyType": "fob", "label": "Limit key"}), f);
    let key = |f| with(json!({"id": "$key"}), f);
    let new_code =
        |f| with(json!({"developmentId": "$dev", "codeType": "gate", "label": "Limit gate", "code": "1234"}), f);
    let code = |f| with(json!({"id": "$code"}), f);
    let issue = |f| with(json!({"id": "$key", "issuedTo": "Sam Smith"}), f);
    let new_user = |f| {
        let user = json!({"email": "$unique@acme.test", "name": "Limit User", "role": "team", "password": "correct-horse-battery"});
        with(user, f)
    };
    let sms = |f| with(json!({"target": {"type": "key", "id": "$key"}, "recipientName": "Sam", "phone": PHONE}), f);
    let config = fake_twilio::Config::default();
    let settings = |f| {
        let sms =
            json!({"accountSid": config.account_sid, "authToken": config.auth_token, "fromNumber": "+15005550006"});
        with(sms, f)
    };
    let one = |f| with(json!({}), f);
    vec![
        length("developments.create", json!({"name": "$V"}), "name", 200, text),
        length("developments.create", json!({"name": "$unique", "keyPrefix": "$V"}), "keyPrefix", 8, upper),
        length("developments.update", json!({"id": "$dev", "name": "$V"}), "name", 200, text),
        length("developments.update", json!({"id": "$dev", "keyPrefix": "$V"}), "keyPrefix", 8, upper),
        length("keys.createKey", new_key("label"), "label", 200, text),
        length("keys.createKey", new_key("keyRef"), "keyRef", 32, upper),
        length("keys.createKey", new_key("notes"), "notes", 4000, text),
        length("keys.createKey", new_key("brand"), "brand", 100, text),
        length("keys.createKey", new_key("keyNumber"), "keyNumber", 100, text),
        length("keys.createKey", new_key("accessRestrictions"), "accessRestrictions", 4000, text),
        length("keys.createKey", new_key("emergencyContact"), "emergencyContact", 200, text),
        number("keys.createKey", new_key("quantity"), "quantity", 10_000, 10_001),
        number("keys.createKey", new_key("quantity"), "quantity", 1, 0),
        length("keys.updateKey", key("label"), "label", 200, text),
        length("keys.updateKey", key("keyRef"), "keyRef", 32, digits),
        length("keys.updateKey", key("notes"), "notes", 4000, text),
        length("keys.updateKey", key("brand"), "brand", 100, text),
        length("keys.updateKey", key("keyNumber"), "keyNumber", 100, text),
        length("keys.updateKey", key("accessRestrictions"), "accessRestrictions", 4000, text),
        length("keys.updateKey", key("emergencyContact"), "emergencyContact", 200, text),
        number("keys.updateKey", key("quantity"), "quantity", 10_000, 10_001),
        length("keys.issueKey", json!({"id": "$key", "issuedTo": "$V"}), "issuedTo", 200, text),
        length("keys.issueKey", issue("issuedToPhone"), "issuedToPhone", 40, phone),
        length("keys.issueKey", issue("purpose"), "purpose", 200, text),
        length("keys.issueKey", issue("notes"), "notes", 4000, text),
        length("keys.markLost", key("notes"), "notes", 4000, text),
        length("keys.listKeys", one("search"), "search", 200, text),
        number("keys.listKeys", one("limit"), "limit", 100, 101),
        // Page numbers go as deep as page × limit = 10,000 (limit 50 by default); a cursor
        // goes further (tests/e2e/paging.rs).
        number("keys.listKeys", one("page"), "page", 200, 201),
        length("keys.createAccessCode", new_code("label"), "label", 200, text),
        length("keys.createAccessCode", new_code("code"), "code", 32, digits),
        length("keys.createAccessCode", new_code("notes"), "notes", 4000, text),
        length("keys.updateAccessCode", code("label"), "label", 200, text),
        length("keys.updateAccessCode", code("code"), "code", 32, digits),
        length("keys.updateAccessCode", code("notes"), "notes", 4000, text),
        length("keys.listAccessCodes", one("search"), "search", 200, text),
        number("keys.listAccessCodes", one("limit"), "limit", 100, 101),
        number("keys.listAccessCodes", one("limit"), "limit", 1, 0),
        number("keys.listAccessCodes", one("page"), "page", i64::from(i32::MAX), i64::from(i32::MAX) + 1),
        number("keys.listAccessCodes", one("page"), "page", 1, 0),
        length("users.create", new_user("email"), "email", 254, email),
        length("users.create", new_user("name"), "name", 200, text),
        length("users.create", new_user("password"), "password", 200, password),
        Limit {
            method: "users.create",
            params: new_user("password"),
            field: "password",
            at: json!(password(10)),
            past: json!(password(9)),
        },
        length("users.update", json!({"id": "$user", "name": "$V"}), "name", 200, text),
        length("users.update", json!({"id": "$user", "password": "$V"}), "password", 200, password),
        length("keys.sendSms", sms("recipientName"), "recipientName", 100, text),
        length("keys.sendSms", sms("idempotencyKey"), "idempotencyKey", 255, token),
        length("settings.updateSms", settings("authToken"), "authToken", 64, token),
        length("settings.updateSms", settings("fromNumber"), "fromNumber", 40, phone),
        length("audit.list", one("entityType"), "entityType", 200, text),
        length("audit.list", one("entityId"), "entityId", 200, text),
        length("audit.list", one("actorId"), "actorId", 200, text),
        length("audit.list", one("action"), "action", 200, text),
        number("audit.list", one("limit"), "limit", 100, 101),
        number("audit.list", one("page"), "page", i64::from(i32::MAX), i64::from(i32::MAX) + 1),
    ]
}

/// The fresh entities and unique texts a row's placeholders stand for.
struct Fixture<'a> {
    app: &'a SmsApp,
    dev: Value,
    made: usize,
}

impl Fixture<'_> {
    /// `template` with `"$V"` = `value` and every other placeholder filled anew.
    async fn params(&mut self, template: &Value, value: &Value) -> Value {
        match template {
            Value::String(s) if s == "$V" => value.clone(),
            Value::String(s) if s.starts_with("$unique") => {
                self.made += 1;
                json!(s.replacen("$unique", &format!("unique{}", self.made), 1))
            }
            Value::String(s) if s == "$dev" => self.dev["id"].clone(),
            Value::String(s) if s == "$key" => {
                self.made += 1;
                self.app.key(&self.dev["id"], &format!("Limit key {}", self.made)).await["id"].clone()
            }
            Value::String(s) if s == "$code" => {
                self.made += 1;
                let params = json!({"developmentId": self.dev["id"], "codeType": "gate", "label": format!("Gate {}", self.made), "code": "1234"});
                self.app.owner.ok("keys.createAccessCode", params).await["id"].clone()
            }
            Value::String(s) if s == "$user" => {
                self.made += 1;
                let params = json!({"email": format!("user{}@acme.test", self.made), "name": "Limit User", "role": "team", "password": "correct-horse-battery"});
                self.app.owner.ok("users.create", params).await["id"].clone()
            }
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), Box::pin(self.params(v, value)).await);
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

/// How many audit events the organisation has: every change writes one.
async fn changes(app: &SmsApp) -> Value {
    app.owner.ok("audit.list", json!({"limit": 1})).await["total"].clone()
}

on_both_databases! {
    async fn every_field_limit_holds_at_the_limit_and_refuses_one_past_it(app: SmsApp) {
        let dev = app.development("Limit Park").await;
        let mut fixture = Fixture { app: &app, dev, made: 0 };
        for limit in limits() {
            let row = format!("{} {} (at {}, past {})", limit.method, limit.field, short(&limit.at), short(&limit.past));
            let past = fixture.params(&limit.params, &limit.past).await;
            let before = changes(&app).await;
            let err = app.owner.call(limit.method, past).await.expect_err(&format!("{row}: one past the limit is refused"));
            assert_eq!(
                (err.code, err.kind.as_deref(), err.field.as_deref()),
                (-32602, Some("INVALID_INPUT"), Some(limit.field)),
                "{row}: {err:?}"
            );
            assert!(err.data["reason"].as_str().is_some_and(|r| !r.is_empty()), "{row}: no reason: {err:?}");
            assert_eq!(changes(&app).await, before, "{row}: a refused call changed something");
            let at = fixture.params(&limit.params, &limit.at).await;
            if let Err(e) = app.owner.call(limit.method, at).await {
                panic!("{row}: at the limit the call succeeds, but: {e:?}");
            }
        }
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().count() > 12 => {
            format!("{}… ({} chars)", s.chars().take(6).collect::<String>(), s.chars().count())
        }
        other => other.to_string(),
    }
}
