//! The property, checked on each answer: valid JSON-RPC, one response per call that has
//! an id and carrying that id, nothing for notifications, -32700 for a body that is not
//! JSON and -32600 for JSON that is not a request, and never INTERNAL (-32603).

use std::collections::HashMap;

use serde_json::{Value, json};

/// What one HTTP request was answered.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A body for a failure message: lossy text, cut at 2,000 characters.
pub fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(2000) {
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], bytes.len()),
        None => text.into_owned(),
    }
}

/// What makes one JSON-RPC response object well formed; `Err` says what is wrong.
fn check_response(response: &Value) -> Result<(), String> {
    let obj = response.as_object().ok_or("a response that is not an object")?;
    if obj.get("jsonrpc") != Some(&json!("2.0")) {
        return Err("no \"jsonrpc\": \"2.0\"".into());
    }
    match obj.get("id") {
        Some(Value::Null | Value::Number(_) | Value::String(_)) => {}
        _ => return Err("no id, or an id that is not null, a number or a string".into()),
    }
    match (obj.get("result"), obj.get("error")) {
        (Some(_), None) => Ok(()),
        (None, Some(error)) => {
            let code = error["code"].as_i64().ok_or("an error without an integer code")?;
            if !error["message"].is_string() {
                return Err("an error without a message".into());
            }
            if code == -32603 {
                return Err("INTERNAL (-32603) for bad input".into());
            }
            Ok(())
        }
        _ => Err("not exactly one of result and error".into()),
    }
}

/// Checks the answer to `requests`; returns each call's response by its index.
pub fn check_calls(requests: &[Value], as_batch: bool, answer: &Answer) -> Result<HashMap<usize, Value>, String> {
    let sent = if as_batch { Value::Array(requests.to_vec()) } else { requests[0].clone() };
    let fail = |why: String, request: &Value| {
        Err(format!(
            "{why}\n  request: {}\n  HTTP {}: {}",
            show(request.to_string().as_bytes()),
            answer.status,
            show(&answer.body)
        ))
    };
    let expected: Vec<usize> = (0..requests.len()).filter(|&i| requests[i].get("id").is_some()).collect();
    let body = String::from_utf8_lossy(&answer.body);
    if expected.is_empty() {
        if !body.trim().is_empty() {
            return fail("notifications only, yet answered".into(), &sent);
        }
        return Ok(HashMap::new());
    }
    let parsed: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => return fail(format!("the answer is not JSON ({e})"), &sent),
    };
    let responses = match (as_batch, parsed) {
        (true, Value::Array(all)) => all,
        (false, one @ Value::Object(_)) => vec![one],
        _ => return fail("the answer has the wrong form (batch: array; single: object)".into(), &sent),
    };
    let mut by_index = HashMap::new();
    for response in responses {
        if let Err(why) = check_response(&response) {
            let request = requests.iter().find(|r| r.get("id") == response.get("id")).unwrap_or(&sent);
            return fail(format!("{why}: {response}"), request);
        }
        let Some(i) = expected.iter().copied().find(|&i| requests[i]["id"] == response["id"]) else {
            return fail(format!("a response whose id matches no call: {response}"), &sent);
        };
        if by_index.insert(i, response).is_some() {
            return fail("two responses for one call".into(), &requests[i]);
        }
    }
    if let Some(&missing) = expected.iter().find(|i| !by_index.contains_key(i)) {
        return fail("no response for this call".into(), &requests[missing]);
    }
    Ok(by_index)
}

/// Whether a request without an id gets no answer: `Some(true)` for a valid notification,
/// `Some(false)` for one with members the spec does not define or params that are not an
/// object or array (a server may take it as a notification, or answer -32600), `None` when
/// it is no notification.
fn is_notification(v: &Value) -> Option<bool> {
    if v.get("jsonrpc") != Some(&json!("2.0")) || !v["method"].is_string() || v.get("id").is_some() {
        return None;
    }
    let object = v.as_object()?;
    let known = object.keys().all(|k| matches!(k.as_str(), "jsonrpc" | "method" | "params"));
    let params = matches!(v.get("params"), None | Some(Value::Object(_) | Value::Array(_)));
    Some(known && params)
}

/// The body with every surrogate escape inside a string (`\ud800`, paired or not) made
/// `\ufffd`: the same shape, readable by serde_json.
fn surrogates_replaced(sent: &[u8]) -> Vec<u8> {
    let mut out = sent.to_vec();
    let (mut at, mut in_string) = (0, false);
    while at < out.len() {
        match out[at] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                let hex = out.get(at + 2..at + 6).and_then(|h| std::str::from_utf8(h).ok());
                let unit = hex.and_then(|h| u16::from_str_radix(h, 16).ok());
                if out.get(at + 1) == Some(&b'u') && unit.is_some_and(|u| (0xD800..0xE000).contains(&u)) {
                    out[at + 2..at + 6].copy_from_slice(b"fffd");
                }
                at += 1; // the escaped character, whatever it is
            }
            _ => {}
        }
        at += 1;
    }
    out
}

/// Checks the answer to a raw body: JSON-RPC response(s), never INTERNAL; nothing only
/// for a body of notifications.
pub fn check_raw(sent: &[u8], answer: &Answer) -> Result<(), String> {
    let fail =
        |why: String| Err(format!("{why}\n  body: {}\n  HTTP {}: {}", show(sent), answer.status, show(&answer.body)));
    // `Some(true)`: must get no answer; `Some(false)`: may get none.
    let silent = match serde_json::from_slice::<Value>(sent) {
        Ok(Value::Array(all)) if !all.is_empty() => {
            all.iter().map(is_notification).try_fold(true, |all, one| one.map(|one| all && one))
        }
        Ok(one @ Value::Object(_)) => is_notification(&one),
        // A lone surrogate escape, which serde_json refuses and the server may read: a
        // body shaped as notifications may get no answer (or a refusal).
        Err(_) => match serde_json::from_slice::<Value>(&surrogates_replaced(sent)) {
            Ok(Value::Array(all)) if !all.is_empty() && all.iter().all(|one| is_notification(one).is_some()) => {
                Some(false)
            }
            Ok(one @ Value::Object(_)) => is_notification(&one).map(|_| false),
            _ => None,
        },
        _ => None,
    };
    let text = String::from_utf8_lossy(&answer.body);
    if text.trim().is_empty() {
        return if silent.is_some() { Ok(()) } else { fail("no JSON-RPC answer".into()) };
    }
    if silent == Some(true) {
        return fail("notifications only, yet answered".into());
    }
    let responses = match serde_json::from_str(&text) {
        Ok(Value::Array(all)) if !all.is_empty() => all,
        Ok(one @ Value::Object(_)) => vec![one],
        Ok(_) => return fail("an answer that is neither a response nor a batch of them".into()),
        // An id past f64 (`1e999`) is echoed as sent, which `Value` cannot hold: check
        // that much of such an answer as text.
        Err(e) if e.to_string().contains("number out of range") => {
            let whole = text.starts_with(r#"{"jsonrpc":"2.0","id":"#) || text.starts_with(r#"[{"jsonrpc":"2.0","id":"#);
            return if whole && !text.contains("-32603") { Ok(()) } else { fail(format!("a bad answer ({e})")) };
        }
        Err(e) => return fail(format!("the answer is not JSON ({e})")),
    };
    for response in &responses {
        if let Err(why) = check_response(response) {
            return fail(format!("{why}: {response}"));
        }
    }
    // A protocol error carries `id: null`, or the request's id where one could be read.
    let sent_id = serde_json::from_slice::<Value>(sent).ok().and_then(|v| v.get("id").cloned()).unwrap_or(Value::Null);
    if silent == Some(false) {
        return Ok(());
    }
    let protocol_error = |r: &Value| r["error"]["code"].as_i64().filter(|_| r["id"].is_null() || r["id"] == sent_id);
    match (expectation(sent), responses.as_slice()) {
        (Expect::Protocol(code), [one]) if protocol_error(one) == Some(code) => Ok(()),
        (Expect::Protocol(code), _) => fail(format!("expected one error {code} with id null (or the request's)")),
        // A request whose id serde_json reads one way may be read otherwise by the server
        // (duplicate keys): then a protocol error is also an answer.
        (Expect::Id(id), [one])
            if one["id"] == id || protocol_error(one).is_some_and(|c| c == -32600 || c == -32700) =>
        {
            Ok(())
        }
        (Expect::Id(id), _) => fail(format!("expected one response with id {id}")),
        (Expect::Unchecked, _) => Ok(()),
    }
}

/// What the contract answers a body that is not a batch.
enum Expect {
    /// One protocol error with `id: null`: -32700 for what is not JSON, -32600 for JSON
    /// that is not a request (or an empty batch).
    Protocol(i64),
    /// One response with this id.
    Id(Value),
    /// A batch: one response per call, checked call by call in the other strategies. Also
    /// a lone surrogate escape (`"\\ud800"`), which JSON's grammar allows and serde_json
    /// refuses: a server may read it either way.
    Unchecked,
}

fn expectation(sent: &[u8]) -> Expect {
    match serde_json::from_slice::<Value>(sent) {
        // serde_json says "unexpected end of hex escape" for a lone surrogate before a quote.
        Err(e) if e.to_string().contains("surrogate") || e.to_string().contains("end of hex escape") => {
            Expect::Unchecked
        }
        // A number past f64 (`1e400`) is JSON; serde_json's `Value` cannot hold it, the
        // server reads it as the id or refuses it on its field.
        Err(e) if e.to_string().contains("number out of range") => Expect::Unchecked,
        // Nested past serde_json's 128 levels: past the contract's 64 too (-32600).
        Err(e) if e.to_string().contains("recursion limit") => Expect::Protocol(-32600),
        Err(_) => Expect::Protocol(-32700),
        Ok(Value::Array(all)) if all.is_empty() => Expect::Protocol(-32600),
        Ok(Value::Array(_)) => Expect::Unchecked,
        Ok(one) => {
            let id_ok = matches!(one.get("id"), None | Some(Value::Null | Value::Number(_) | Value::String(_)));
            if one.get("jsonrpc") == Some(&json!("2.0")) && one["method"].is_string() && id_ok {
                // Notifications were handled before.
                Expect::Id(one["id"].clone())
            } else {
                Expect::Protocol(-32600)
            }
        }
    }
}

/// The property itself can fail: each kind of wrong answer is caught.
mod tests {
    use super::*;

    fn answer(body: &str) -> Answer {
        Answer { status: 200, body: body.as_bytes().to_vec() }
    }

    fn call(id: Option<i64>) -> Value {
        let mut request = json!({"jsonrpc": "2.0", "method": "keys.listKeys", "params": {}});
        if let Some(id) = id {
            request["id"] = json!(id);
        }
        request
    }

    const OK_1: &str = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;

    #[test]
    fn answers_of_calls_are_checked() {
        let batch = [call(Some(1)), call(Some(2)), call(None)];
        let two = format!(r#"[{OK_1},{{"jsonrpc":"2.0","id":2,"error":{{"code":-32602,"message":"bad"}}}}]"#);
        assert_eq!(check_calls(&batch, true, &answer(&two)).expect("a good answer").len(), 2);
        let internal = format!(r#"[{OK_1},{{"jsonrpc":"2.0","id":2,"error":{{"code":-32603,"message":"x"}}}}]"#);
        let err = check_calls(&batch, true, &answer(&internal)).unwrap_err();
        assert!(err.contains("INTERNAL") && err.contains(r#""id":2"#), "{err}");
        let missing = format!("[{OK_1}]");
        assert!(check_calls(&batch, true, &answer(&missing)).unwrap_err().contains("no response"));
        let stranger = format!(r#"[{OK_1},{{"jsonrpc":"2.0","id":3,"result":1}}]"#);
        assert!(check_calls(&batch, true, &answer(&stranger)).unwrap_err().contains("matches no call"));
        let twice = format!("[{OK_1},{OK_1}]");
        assert!(check_calls(&batch[..1], true, &answer(&twice)).is_err());
        assert!(check_calls(&batch[..1], true, &answer(OK_1)).unwrap_err().contains("wrong form"));
        assert!(check_calls(&batch[2..], true, &answer("null")).unwrap_err().contains("notifications only"));
        assert!(check_calls(&batch[2..], true, &answer("")).is_ok());
        let no_version = r#"{"id":1,"result":{}}"#;
        assert!(check_calls(&batch[..1], false, &answer(no_version)).is_err());
        let both = r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}"#;
        assert!(check_calls(&batch[..1], false, &answer(both)).is_err());
    }

    #[test]
    fn answers_of_raw_bodies_are_checked() {
        let parse_error = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#;
        let invalid = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid request"}}"#;
        let internal = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"x"}}"#;
        assert!(check_raw(b"{oops", &answer(parse_error)).is_ok());
        assert!(check_raw(b"{oops", &answer(invalid)).is_err());
        assert!(check_raw(b"{oops", &answer("")).is_err());
        assert!(check_raw(b"{oops", &answer(internal)).unwrap_err().contains("INTERNAL"));
        assert!(check_raw(b"42", &answer(invalid)).is_ok());
        assert!(check_raw(b"42", &answer(parse_error)).is_err());
        assert!(check_raw(b"[]", &answer(invalid)).is_ok());
        let request = br#"{"jsonrpc":"2.0","id":-1,"method":"auth.me"}"#;
        assert!(check_raw(request, &answer(r#"{"jsonrpc":"2.0","id":-1,"result":{}}"#)).is_ok());
        assert!(check_raw(request, &answer("null")).is_err());
        let notification = br#"{"jsonrpc":"2.0","method":"auth.me"}"#;
        assert!(check_raw(notification, &answer("")).is_ok());
        assert!(check_raw(notification, &answer("null")).is_err());
        // A lone surrogate serde_json refuses: the server may read a notification in it.
        let lone = br#"{"jsonrpc":"2.0"," ":1,"method":"keys.listKeys","params":{"\ud800s":"flat"}}"#;
        assert!(check_raw(lone, &answer("")).is_ok());
        assert!(check_raw(lone, &answer(parse_error)).is_ok());
        let lone_call = br#"{"jsonrpc":"2.0","id":1,"method":"keys.listKeys","params":{"\ud800s":"flat"}}"#;
        assert!(check_raw(lone_call, &answer("")).is_err());
        let escaped_backslash = br#"{"jsonrpc":"2.0","id":1,"method":"a\\ud800"}"#;
        assert_eq!(surrogates_replaced(escaped_backslash), escaped_backslash.to_vec());
        assert_eq!(surrogates_replaced(br#"["\uDBFF\u0041"]"#), br#"["\ufffd\u0041"]"#.to_vec());
        let odd_notification = br#"{"jsonrpc":"2.0","method":"auth.me","x":1}"#;
        assert!(check_raw(odd_notification, &answer("")).is_ok());
        assert!(check_raw(odd_notification, &answer(invalid)).is_ok());
    }
}
