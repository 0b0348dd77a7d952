//! The JSON-RPC 2.0 envelope (spec §4–§6): a body read as one request or a batch, each
//! entry checked on its own, ids kept as their raw JSON text; and the answers.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::error::{self, ErrorObject};

/// The most calls in one batch (-32010 BATCH_TOO_LARGE above it).
pub const MAX_BATCH: usize = 50;
/// The deepest nesting of arrays and objects a body may have (-32600 beyond it). Our
/// params need a handful of levels; serde_json itself stops at 128.
pub const MAX_DEPTH: usize = 64;

/// A body, read.
#[derive(Debug)]
pub enum Body<'a> {
    Single(Entry<'a>),
    Batch(Vec<Entry<'a>>),
    /// Refused whole (not JSON, too deep, an empty or oversized batch): one error, id null.
    Refused(ErrorObject),
}

/// One entry of a body: a request to run, or why it is not one.
#[derive(Debug)]
pub enum Entry<'a> {
    Request(Request<'a>),
    /// Answered with this error and `id` (null when the entry had no valid id).
    Invalid {
        id: Option<&'a RawValue>,
        error: ErrorObject,
    },
}

/// A valid request.
#[derive(Debug)]
pub struct Request<'a> {
    /// The id exactly as sent (a string, a number or `null`); `None` for a notification.
    pub id: Option<&'a RawValue>,
    pub method: Cow<'a, str>,
    /// The raw params; `None` when absent or `null`.
    pub params: Option<&'a RawValue>,
}

/// Reads a body: one request, a batch, or a refusal.
pub fn parse(body: &[u8]) -> Body<'_> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Body::Refused(error::parse_error("the body is not UTF-8"));
    };
    if too_deep(text.as_bytes(), MAX_DEPTH) {
        return Body::Refused(error::invalid_request(format!(
            "arrays and objects nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let raw: &RawValue = match serde_json::from_str(text) {
        Ok(raw) => raw,
        Err(e) => return Body::Refused(error::parse_error(format!("not JSON: {e}"))),
    };
    if !raw.get().starts_with('[') {
        return Body::Single(entry(raw));
    }
    let entries: Vec<&RawValue> = match serde_json::from_str(raw.get()) {
        Ok(entries) => entries,
        Err(e) => return Body::Refused(error::parse_error(format!("not JSON: {e}"))),
    };
    match entries.len() {
        0 => Body::Refused(error::invalid_request("an empty batch")),
        n if n > MAX_BATCH => Body::Refused(error::batch_too_large(n, MAX_BATCH)),
        _ => Body::Batch(entries.into_iter().map(entry).collect()),
    }
}

/// Whether arrays and objects nest deeper than `max` anywhere (outside strings).
fn too_deep(json: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in json {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The members of a request object, each as raw JSON; `Some("null")` for a member that
/// is present and null, `None` for one that is absent.
#[derive(Deserialize)]
struct Members<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    jsonrpc: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    params: Option<&'a RawValue>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// Checks one entry against §4: an object, `"jsonrpc": "2.0"`, a string `method`, an
/// `id` that is a string, a number or null (or absent: a notification), structured
/// `params` (or none).
fn entry(raw: &RawValue) -> Entry<'_> {
    let invalid = |id, reason: &str| Entry::Invalid { id, error: error::invalid_request(reason) };
    if !raw.get().starts_with('{') {
        return invalid(None, "a request is a JSON object");
    }
    let members: Members<'_> = match serde_json::from_str(raw.get()) {
        Ok(members) => members,
        Err(e) => return invalid(None, &format!("not a request object: {e}")),
    };
    let id = match members.id {
        Some(id) if !valid_id(id) => return invalid(None, "\"id\" must be a string of Unicode text, a number or null"),
        id => id,
    };
    if !members.jsonrpc.is_some_and(|v| serde_json::from_str::<Cow<'_, str>>(v.get()).is_ok_and(|v| v == "2.0")) {
        return invalid(id, "\"jsonrpc\" must be \"2.0\"");
    }
    let Some(Ok(method)) = members.method.map(|m| serde_json::from_str::<Cow<'_, str>>(m.get())) else {
        return invalid(id, "\"method\" must be a string");
    };
    let params = match members.params {
        Some(p) if p.get() == "null" => None,
        Some(p) if !p.get().starts_with(['{', '[']) => return invalid(id, "\"params\" must be an object"),
        params => params,
    };
    Entry::Request(Request { id, method, params })
}

/// A string, a number or null (§4: an object, an array or a boolean is not an id). A
/// string must decode to Unicode text: `"\ud800"` (a lone surrogate) is JSON's grammar
/// but no string, and echoing it back would hand the client an answer its parser refuses.
fn valid_id(id: &RawValue) -> bool {
    let text = id.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<Cow<'_, str>>(text).is_ok(),
        _ => text == "null" || text.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']),
    }
}

/// One response object. `id` is written back byte for byte; `None` is `null`.
#[derive(Serialize)]
struct Response<'a> {
    jsonrpc: &'static str,
    id: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a ErrorObject>,
}

/// The response text for a call answered with `outcome`.
pub fn response(id: Option<&RawValue>, outcome: &Result<Box<RawValue>, ErrorObject>) -> String {
    let response = match outcome {
        Ok(result) => Response { jsonrpc: "2.0", id, result: Some(result), error: None },
        Err(error) => Response { jsonrpc: "2.0", id, result: None, error: Some(error) },
    };
    serde_json::to_string(&response).unwrap_or_else(|e| unreachable!("a response always serialises: {e}"))
}

/// The answer to a whole batch: the responses (notifications have none) as an array, or
/// nothing at all when every entry was a notification.
pub fn batch_response(responses: impl IntoIterator<Item = Option<String>>) -> Option<String> {
    let answers: Vec<String> = responses.into_iter().flatten().collect();
    (!answers.is_empty()).then(|| format!("[{}]", answers.join(",")))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// What a body is read as: per entry, `Ok((id, method))` or `Err((id, code))`.
    type Read = Result<(Option<String>, String), (Option<String>, i32)>;

    fn read_entry(entry: &Entry<'_>) -> Read {
        match entry {
            Entry::Request(r) => Ok((r.id.map(|i| i.get().to_owned()), r.method.to_string())),
            Entry::Invalid { id, error } => Err((id.map(|i| i.get().to_owned()), error.code)),
        }
    }

    fn read(body: &str) -> Result<Vec<Read>, i32> {
        match parse(body.as_bytes()) {
            Body::Single(e) => Ok(vec![read_entry(&e)]),
            Body::Batch(es) => Ok(es.iter().map(read_entry).collect()),
            Body::Refused(error) => Err(error.code),
        }
    }

    fn call(id: &str, method: &str) -> Read {
        Ok((Some(id.to_owned()), method.to_owned()))
    }

    fn notification(method: &str) -> Read {
        Ok((None, method.to_owned()))
    }

    const INVALID: Read = Err((None, -32600));

    // The examples of JSON-RPC 2.0 §7, in order.

    #[test]
    fn positional_and_named_parameters() {
        assert_eq!(
            read(r#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#),
            Ok(vec![call("1", "subtract")])
        );
        assert_eq!(
            read(r#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#),
            Ok(vec![call("3", "subtract")])
        );
    }

    #[test]
    fn notifications_have_no_id() {
        assert_eq!(
            read(r#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#),
            Ok(vec![notification("update")])
        );
        assert_eq!(read(r#"{"jsonrpc": "2.0", "method": "foobar"}"#), Ok(vec![notification("foobar")]));
    }

    #[test]
    fn invalid_json_is_a_parse_error() {
        assert_eq!(read(r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#), Err(-32700));
        assert_eq!(
            read(r#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method""#),
            Err(-32700)
        );
        assert_eq!(read(""), Err(-32700));
        assert_eq!(parse(b"\xff\xfe").refused_code(), Some(-32700));
    }

    #[test]
    fn a_request_object_that_is_not_valid_is_an_invalid_request() {
        assert_eq!(read(r#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#), Ok(vec![INVALID]));
    }

    #[test]
    fn an_empty_array_is_an_invalid_request() {
        assert_eq!(read("[]"), Err(-32600));
        assert_eq!(read(" [ ] "), Err(-32600));
    }

    #[test]
    fn a_batch_of_non_objects_answers_each_entry() {
        assert_eq!(read("[1]"), Ok(vec![INVALID]));
        assert_eq!(read("[1,2,3]"), Ok(vec![INVALID, INVALID, INVALID]));
    }

    #[test]
    fn a_mixed_batch_reads_each_entry_on_its_own() {
        let body = r#"[
            {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
            {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
            {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
            {"foo": "boo"},
            {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
            {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
        ]"#;
        assert_eq!(
            read(body),
            Ok(vec![
                call("\"1\"", "sum"),
                notification("notify_hello"),
                call("\"2\"", "subtract"),
                INVALID,
                call("\"5\"", "foo.get"),
                call("\"9\"", "get_data"),
            ])
        );
        let notifications = r#"[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]"#;
        assert_eq!(read(notifications), Ok(vec![notification("notify_sum"), notification("notify_hello")]));
    }

    #[test]
    fn json_that_is_not_a_request_is_an_invalid_request() {
        for body in ["42", "\"text\"", "true", "null", "-1.5"] {
            assert_eq!(read(body), Ok(vec![INVALID]), "{body}");
        }
    }

    #[test]
    fn any_number_or_string_id_is_kept_byte_for_byte() {
        for id in [
            "-1",
            "0",
            "-0",
            "0.5",
            "1e400",
            "1E+2",
            "-2.5e-3",
            "123456789012345678901234567890",
            "\"\"",
            "\"a\\\"b\"",
            "null",
        ] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"auth.me"}}"#);
            assert_eq!(read(&body), Ok(vec![call(id, "auth.me")]), "{id}");
        }
    }

    #[test]
    fn a_string_id_that_is_no_unicode_text_is_refused_with_id_null() {
        for id in [r#""\ud800a""#, r#""\udc00""#, r#""a\ud83d""#] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"auth.me"}}"#);
            let Body::Single(Entry::Invalid { id: None, error }) = parse(body.as_bytes()) else {
                panic!("{id} was not refused with id null");
            };
            assert_eq!(error.code, -32600, "{id}");
        }
        // A surrogate pair is one character: a valid id.
        let pair = r#""\ud83d\ude00""#;
        let body = format!(r#"{{"jsonrpc":"2.0","id":{pair},"method":"auth.me"}}"#);
        assert_eq!(read(&body), Ok(vec![call(pair, "auth.me")]));
    }

    #[test]
    fn an_object_array_or_boolean_id_is_an_invalid_request_with_id_null() {
        for id in ["{}", "[]", "true", "false", "{\"a\":1}", "[1]"] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"auth.me"}}"#);
            assert_eq!(read(&body), Ok(vec![INVALID]), "{id}");
        }
    }

    #[test]
    fn a_bad_member_keeps_a_valid_id() {
        for body in [
            r#"{"id":7,"method":"auth.me"}"#,
            r#"{"jsonrpc":"1.0","id":7,"method":"auth.me"}"#,
            r#"{"jsonrpc":2.0,"id":7,"method":"auth.me"}"#,
            r#"{"jsonrpc":"2.0","id":7}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":null}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":["auth.me"]}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"auth.me","params":"bar"}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"auth.me","params":3}"#,
        ] {
            assert_eq!(read(body), Ok(vec![Err((Some("7".to_owned()), -32600))]), "{body}");
        }
        // A member given twice makes the object ambiguous: no id can be trusted.
        assert_eq!(read(r#"{"jsonrpc":"2.0","id":7,"id":8,"method":"auth.me"}"#), Ok(vec![INVALID]));
    }

    #[test]
    fn null_params_are_no_params_and_an_escaped_method_is_read() {
        let Body::Single(Entry::Request(r)) =
            parse(br#"{"jsonrpc":"2\u002e0","id":1,"method":"auth\u002eme","params":null}"#)
        else {
            panic!("a request");
        };
        assert_eq!((r.method.as_ref(), r.params.is_none()), ("auth.me", true));
    }

    #[test]
    fn batches_hold_at_most_fifty_entries() {
        let batch = |n: usize| format!("[{}]", vec![r#"{"jsonrpc":"2.0","id":1,"method":"m"}"#; n].join(","));
        assert_eq!(read(&batch(MAX_BATCH)).map(|entries| entries.len()), Ok(MAX_BATCH));
        assert_eq!(read(&batch(MAX_BATCH + 1)), Err(-32010));
    }

    #[test]
    fn nesting_is_bounded_outside_strings() {
        let nested = |depth: usize| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{{"a":{}1{}}}}}"#,
                "[".repeat(depth - 2),
                "]".repeat(depth - 2)
            )
        };
        assert_eq!(read(&nested(MAX_DEPTH)), Ok(vec![call("1", "m")]));
        assert_eq!(read(&nested(MAX_DEPTH + 1)), Err(-32600));
        // Brackets inside strings (escaped quotes included) are text, not nesting.
        let in_string = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{{"a":"\"{}"}}}}"#, "[".repeat(1000));
        assert_eq!(read(&in_string), Ok(vec![call("1", "m")]));
        // Far deeper than serde_json's own limit: refused, never a stack overflow.
        assert_eq!(read(&"[".repeat(1_000_000)), Err(-32600));
    }

    #[test]
    fn responses_echo_the_raw_id() {
        let id: Box<RawValue> = RawValue::from_string("123456789012345678901234567890".to_owned()).unwrap();
        let ok = serde_json::value::to_raw_value(&json!({"a": 1})).unwrap();
        assert_eq!(
            response(Some(&id), &Ok(ok)),
            r#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"result":{"a":1}}"#
        );
        let err: Value = serde_json::from_str(&response(None, &Err(error::invalid_request("why")))).unwrap();
        assert_eq!(
            err,
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "Invalid request", "data": {"kind": "INVALID_REQUEST", "reason": "why"}}})
        );
        assert_eq!(batch_response([None, None]), None);
        assert_eq!(batch_response([Some("1".to_owned()), None, Some("2".to_owned())]).as_deref(), Some("[1,2]"));
    }

    /// Every prefix and every single-byte corruption of a varied batch reads as
    /// something (never a panic), and every answer built from it is JSON with an id.
    #[test]
    fn mangled_bodies_always_read_as_something_answerable() {
        let body = r#"[{"jsonrpc":"2.0","id":-1.5e3,"method":"a\u002eb","params":{"x":[1,{"y":"\"]}"}]}},
            {"jsonrpc":"2.0","method":"n"},{"id":{}},7,"s",null,[],{"jsonrpc":"2.0","id":"q","method":"m","params":null}]"#;
        let mut bodies: Vec<Vec<u8>> = (0..=body.len()).map(|n| body.as_bytes()[..n].to_vec()).collect();
        for i in 0..body.len() {
            for byte in [b'"', b'[', b'{', b'}', b'\\', b',', b'0', 0xff] {
                let mut mangled = body.as_bytes().to_vec();
                mangled[i] = byte;
                bodies.push(mangled);
            }
        }
        for bytes in &bodies {
            let answers: Vec<String> = match parse(bytes) {
                Body::Refused(error) => vec![response(None, &Err(error))],
                Body::Single(entry) => vec![answer_of(&entry)],
                Body::Batch(entries) => entries.iter().map(answer_of).collect(),
            };
            for answer in answers {
                let value: Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
                assert!(value.get("id").is_some() && value["jsonrpc"] == "2.0", "{answer}");
            }
        }
    }

    fn answer_of(entry: &Entry<'_>) -> String {
        match entry {
            Entry::Request(r) => response(r.id, &Ok(serde_json::value::to_raw_value(&r.method).unwrap())),
            Entry::Invalid { id, error } => response(*id, &Err(error.clone())),
        }
    }

    impl Body<'_> {
        fn refused_code(&self) -> Option<i32> {
            match self {
                Body::Refused(e) => Some(e.code),
                _ => None,
            }
        }
    }
}
