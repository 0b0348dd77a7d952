//! Strategies for hostile params, built from each procedure's [`Shape`]: the right field
//! names with values of the right and of wrong JSON types, missing and extra fields,
//! huge strings, unicode, NUL, extreme numbers, the ids of this organisation, of another
//! one, and random ones; and wholly arbitrary JSON.
//!
//! Ids of entities are generated as [`Slot`] placeholders and put in just before sending
//! (`Slots::resolve` in `mod.rs`), so that a deletion by one case does not leave every
//! later case with stale ids.

use proptest::prelude::*;
use proptest::strategy::Union;
use serde_json::{Map, Number, Value, json};

use super::shape::{Field, ProcedureShape, Shape, StrKind};

/// What an id placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Development,
    Key,
    AccessCode,
    User,
    OtherDevelopment,
    OtherKey,
    OtherUser,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Development,
        Kind::Key,
        Kind::AccessCode,
        Kind::User,
        Kind::OtherDevelopment,
        Kind::OtherKey,
        Kind::OtherUser,
    ];
    /// How many live entities of this kind the fuzz run keeps.
    pub fn slots(self) -> usize {
        match self {
            Kind::Development => 3,
            Kind::Key => 6,
            Kind::AccessCode => 3,
            Kind::User | Kind::OtherDevelopment | Kind::OtherKey | Kind::OtherUser => 1,
        }
    }
}

/// The placeholder text of slot `n` of `kind`; no other generated string has this form.
pub fn slot(kind: Kind, n: usize) -> String {
    format!("\u{1}slot:{kind:?}:{n}")
}

/// One call of a batch, before its ids are put in.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// `None`: leave `params` out.
    pub params: Option<Value>,
}

/// A valid-or-not call to any listed procedure; those of `auth.` seldom (a login costs a
/// password hash, a logout ends the run's session).
pub fn call(procedures: &[ProcedureShape]) -> BoxedStrategy<Call> {
    let arms: Vec<(u32, BoxedStrategy<Call>)> = procedures
        .iter()
        .map(|p| {
            let weight = if p.public || p.name.starts_with("auth.") { 1 } else { 8 };
            let method = p.name.to_owned();
            let hint = hint_of(p.name);
            let typed = value(&p.input, "", hint);
            let params = prop_oneof![
                17 => typed.prop_map(Some),
                2 => arbitrary_json().prop_map(Some),
                1 => Just(None),
            ];
            (weight, params.prop_map(move |params| Call { method: method.clone(), params }).boxed())
        })
        .collect();
    prop_oneof![
        50 => Union::new_weighted(arms),
        1 => (text(), arbitrary_json()).prop_map(|(method, params)| Call { method, params: Some(params) }),
    ]
    .boxed()
}

/// Only wholly arbitrary JSON as the params of a listed procedure.
pub fn arbitrary_call(procedures: &[ProcedureShape]) -> BoxedStrategy<Call> {
    let names: Vec<String> = procedures.iter().map(|p| p.name.to_owned()).collect();
    (proptest::sample::select(names), arbitrary_json())
        .prop_map(|(method, params)| Call { method, params: Some(params) })
        .boxed()
}

/// Which kind of entity an `id` of this procedure most likely means.
fn hint_of(procedure: &str) -> Option<Kind> {
    if procedure.contains("AccessCode") {
        Some(Kind::AccessCode)
    } else if procedure.starts_with("keys.") {
        Some(Kind::Key)
    } else if procedure.starts_with("developments.") {
        Some(Kind::Development)
    } else if procedure.starts_with("users.") {
        Some(Kind::User)
    } else {
        None
    }
}

/// A value for a field named `name` of `shape`: mostly of the shape, sometimes not.
fn value(shape: &Shape, name: &str, hint: Option<Kind>) -> BoxedStrategy<Value> {
    let right = right_value(shape, name, hint);
    if matches!(shape, Shape::Object(_)) && name.is_empty() {
        // The params object itself: the wrong-type case is `arbitrary_call`'s.
        return right;
    }
    prop_oneof![9 => right, 1 => arbitrary_json()].boxed()
}

fn right_value(shape: &Shape, name: &str, hint: Option<Kind>) -> BoxedStrategy<Value> {
    match shape {
        Shape::Null => Just(Value::Null).boxed(),
        Shape::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Shape::Int { bits, signed } => int(*bits, *signed),
        Shape::Float => prop_oneof![any::<f64>().prop_map(float), int(64, true)].boxed(),
        Shape::Str(kind) => string(*kind, name, hint).prop_map(Value::String).boxed(),
        Shape::Literal(s) => literal(s).prop_map(Value::String).boxed(),
        Shape::OneOf(shapes) => {
            let arms: Vec<_> = shapes.iter().map(|s| value(s, name, hint)).collect();
            Union::new(arms).boxed()
        }
        Shape::List(item) => prop::collection::vec(value(item, name, hint), 0..4).prop_map(Value::Array).boxed(),
        Shape::Map(item) => prop::collection::btree_map(text(), value(item, name, hint), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
            .boxed(),
        Shape::Tuple(items) => {
            let parts: Vec<_> = items.iter().map(|s| value(s, name, hint)).collect();
            parts.prop_map(Value::Array).boxed()
        }
        Shape::Object(fields) => object(fields, hint),
        Shape::Any => arbitrary_json(),
    }
}

/// An object with the shape's fields: each required one mostly there, each optional one
/// half the time, and now and then a field the shape does not have.
fn object(fields: &[Field], hint: Option<Kind>) -> BoxedStrategy<Value> {
    let parts: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
        .iter()
        .map(|f| {
            let name = f.name.clone();
            let present = if f.optional { 0.5 } else { 0.97 };
            prop::option::weighted(present, value(&f.shape, &f.name, hint))
                .prop_map(move |v| v.map(|v| (name.clone(), v)))
                .boxed()
        })
        .collect();
    let snake: Vec<String> = fields.iter().map(|f| to_snake(&f.name)).filter(|s| s.contains('_')).collect();
    let mut extra_names: Vec<String> =
        ["orgId", "organisationId", "id", "", "__proto__", "constructor", "status", "version"]
            .map(str::to_owned)
            .to_vec();
    extra_names.extend(snake);
    let extra = prop::option::weighted(0.08, (proptest::sample::select(extra_names), arbitrary_json()));
    (parts, extra)
        .prop_map(|(parts, extra)| {
            let mut map: Map<String, Value> = parts.into_iter().flatten().collect();
            if let Some((name, v)) = extra {
                map.insert(name, v);
            }
            Value::Object(map)
        })
        .boxed()
}

fn to_snake(camel: &str) -> String {
    let mut out = String::new();
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The enum value itself mostly; else a near miss (case, spacing) or any text.
fn literal(s: &str) -> BoxedStrategy<String> {
    let near = vec![s.to_uppercase(), format!(" {s}"), format!("{s}\u{0}"), s.replace('_', "-"), String::new()];
    prop_oneof![8 => Just(s.to_owned()), 1 => proptest::sample::select(near), 1 => text()].boxed()
}

/// Integers at and past every bound that matters: the wire's 32 bits, JavaScript's 2^53,
/// 64 bits; page and quantity limits; and fractions and floats where an integer belongs.
fn int(bits: u32, signed: bool) -> BoxedStrategy<Value> {
    let edges: Vec<Value> = vec![
        json!(0),
        json!(1),
        json!(-1),
        json!(2),
        json!(100),
        json!(101),
        json!(10_000),
        json!(10_001),
        json!(i32::MAX),
        json!(i64::from(i32::MAX) + 1),
        json!(i32::MIN),
        json!(i64::from(i32::MIN) - 1),
        json!(9_007_199_254_740_993_i64),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1.5),
        json!(-0.0),
        json!(1e300),
        json!(2.0),
    ];
    let in_range = match (bits, signed) {
        (8, false) => (0..=i64::from(u8::MAX)).boxed(),
        (16, false) => (0..=i64::from(u16::MAX)).boxed(),
        (32, false) => (0..=i64::from(u32::MAX)).boxed(),
        (8, true) => (i64::from(i8::MIN)..=i64::from(i8::MAX)).boxed(),
        (16, true) => (i64::from(i16::MIN)..=i64::from(i16::MAX)).boxed(),
        (32, true) => (i64::from(i32::MIN)..=i64::from(i32::MAX)).boxed(),
        _ => any::<i64>().boxed(),
    };
    prop_oneof![
        4 => (1_i64..=20).prop_map(Value::from),
        2 => in_range.prop_map(Value::from),
        3 => proptest::sample::select(edges),
    ]
    .boxed()
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// A string for a field: for some names, values that pass validation now and then (so
/// that calls reach the database), else hostile text.
fn string(kind: StrKind, name: &str, hint: Option<Kind>) -> BoxedStrategy<String> {
    let special: Option<BoxedStrategy<String>> = match (kind, name) {
        (StrKind::Instant, _) => Some(instant()),
        (StrKind::Date, _) => Some(date()),
        (_, "id") => Some(id(hint)),
        (_, "developmentId") => Some(id(Some(Kind::Development))),
        (_, n) if n.ends_with("Id") => Some(id(None)),
        (_, "email") => Some(
            prop_oneof![
                // Known accounts, but not the owner the run is signed in as: failed
                // logins may lock an account.
                Just(super::VICTIM_EMAIL.to_owned()),
                Just("owner@other.test".to_owned()),
                "[a-z]{1,8}@[a-z]{1,8}\\.test",
            ]
            .boxed(),
        ),
        (_, "password") => Some("[a-z ]{10,24}".boxed()),
        (_, "phone" | "issuedToPhone" | "fromNumber") => Some(
            proptest::sample::select(vec![
                "+447400123456",
                "07400 123456",
                "+44 7400 12345a",
                "+15005550006",
                "+1 (500) 555-0006",
                "00447400123456",
                "+999",
                "1-800-FLOWERS",
                "+44\u{0}7400123456",
            ])
            .prop_map(str::to_owned)
            .boxed(),
        ),
        (_, "keyRef") => Some("[A-Z]{1,4}-[0-9]{1,4}".boxed()),
        (_, "keyPrefix") => Some("[A-Z0-9]{1,8}".boxed()),
        (_, "code") => Some("[0-9#*A-Z]{1,12}".boxed()),
        (_, "idempotencyKey") => Some("[A-Za-z0-9_.:-]{1,40}".boxed()),
        (_, "accountSid") => Some("AC[0-9a-f]{32}".boxed()),
        (_, "messagingServiceSid") => Some("MG[0-9a-f]{32}".boxed()),
        (_, "authToken") => Some("[0-9a-f]{32}".boxed()),
        (_, "action") => Some(
            proptest::sample::select(vec!["key.create", "key.issue", "development.create", "user.create", "sms.sent"])
                .prop_map(str::to_owned)
                .boxed(),
        ),
        (_, "entityType") => Some(
            proptest::sample::select(vec!["key", "development", "user", "accessCode", "smsSettings"])
                .prop_map(str::to_owned)
                .boxed(),
        ),
        _ => None,
    };
    match special {
        // A valid password costs the server a hash: seldom.
        Some(s) if name == "password" => prop_oneof![1 => s, 4 => text()].boxed(),
        Some(s) => prop_oneof![3 => s, 1 => text()].boxed(),
        None => text(),
    }
}

/// An entity id: mostly a live one of the likely kind, else of any kind (this
/// organisation's or another's), a random UUID, or text.
fn id(hint: Option<Kind>) -> BoxedStrategy<String> {
    let any_slot = proptest::sample::select(Kind::ALL.to_vec())
        .prop_flat_map(|kind| (0..kind.slots()).prop_map(move |n| slot(kind, n)));
    let random_uuid =
        any::<u128>().prop_map(|n| uuid::Builder::from_random_bytes(n.to_le_bytes()).into_uuid().to_string());
    match hint {
        Some(kind) => prop_oneof![
            6 => (0..kind.slots()).prop_map(move |n| slot(kind, n)),
            3 => any_slot,
            1 => random_uuid,
            1 => text(),
        ]
        .boxed(),
        None => prop_oneof![6 => any_slot, 1 => random_uuid, 1 => text()].boxed(),
    }
}

fn instant() -> BoxedStrategy<String> {
    let fixed = vec![
        "2026-12-05T10:00:00Z",
        "2031-01-01T00:00:00.123456789+01:00",
        "2020-02-29T23:59:59-12:00",
        "1970-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
        "+10000-01-01T00:00:00Z",
        "-5000-01-01T00:00:00Z",
        "2026-02-30T10:00:00Z",
        "2026-12-05T10:00:00",
        "2026-12-05",
        "2026-12-05T25:00:00Z",
        "",
    ];
    let ts = (-62_135_596_800_i64..=253_402_300_799)
        .prop_map(|s| chrono::DateTime::from_timestamp(s, 0).map(|t| t.to_rfc3339()).unwrap_or_default());
    prop_oneof![3 => proptest::sample::select(fixed).prop_map(str::to_owned), 3 => ts].boxed()
}

fn date() -> BoxedStrategy<String> {
    let fixed = vec![
        "2026-12-31",
        "2020-02-29",
        "2021-02-29",
        "0000-01-01",
        "9999-12-31",
        "+10000-01-01",
        "-0001-01-01",
        "2026-13-01",
        "2026-12-31T00:00:00Z",
        "",
    ];
    let ymd = (-300_000_i32..=300_000, 1_u32..=12, 1_u32..=31).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"));
    prop_oneof![3 => proptest::sample::select(fixed).prop_map(str::to_owned), 2 => ymd].boxed()
}

/// Hostile text: plain, any unicode, control characters and NUL, lookalikes, SQL and
/// LIKE metacharacters, and lengths at and past every text limit (200, 255, 4000) up to
/// 10 000 characters (so that a batch stays under the body limit), in 1-, 2- and 4-byte
/// characters.
pub fn text() -> BoxedStrategy<String> {
    let special = vec![
        "",
        " ",
        "\u{0}",
        "a\u{0}b",
        "'; DROP TABLE keys; --",
        "%",
        "_",
        "\\",
        "%_\\%",
        "🔑🏠",
        "\u{202e}evil",
        "e\u{301}",
        "\u{feff}",
        "\u{fffd}",
        "\u{10ffff}",
        "\r\n",
        "\t",
        "null",
        "\u{1b}[2J",
        "${jndi:ldap://x}",
        "<script>alert(1)</script>",
    ];
    let lengths = vec![199_usize, 200, 201, 254, 255, 256, 3_999, 4_000, 4_001, 10_000];
    let long = (proptest::sample::select(lengths), proptest::sample::select(vec!["x", "é", "🔑", " ", "\u{0}"]))
        .prop_map(|(n, c)| c.repeat(n));
    prop_oneof![
        4 => "[a-zA-Z0-9 ]{0,20}",
        2 => "\\PC{0,30}",
        2 => prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        2 => proptest::sample::select(special).prop_map(str::to_owned),
        1 => long,
    ]
    .boxed()
}

/// Any JSON value, nested a little.
pub fn arbitrary_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(float),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}
