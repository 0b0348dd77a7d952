//! Strategies for hostile HTTP bodies: arbitrary bytes, and near-JSON: a good request
//! truncated, with extra brackets, a byte replaced, NUL or invalid UTF-8 put in; deep
//! nesting; numbers no float holds; JSON that is not a request.

use proptest::prelude::*;

/// A good request to start mutating from.
fn seed_requests() -> Vec<String> {
    vec![
        r#"{"jsonrpc":"2.0","id":1,"method":"keys.listKeys","params":{"search":"flat","limit":10}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":"a","method":"developments.create","params":{"name":"Oak"}}"#.to_owned(),
        r#"[{"jsonrpc":"2.0","id":1,"method":"auth.me"},{"jsonrpc":"2.0","id":2,"method":"keys.summary","params":{}}]"#
            .to_owned(),
        r#"{"jsonrpc":"2.0","id":7,"method":"audit.list","params":{"from":"2026-01-01T00:00:00Z","action":"key.create"}}"#
            .to_owned(),
        r#"{"jsonrpc":"2.0","method":"keys.listKeys"}"#.to_owned(),
    ]
}

/// Bodies that are not what the contract asks for, each answered by a protocol error.
fn oddities() -> Vec<String> {
    let deep = |n: usize, open: &str, close: &str| format!("{}{}", open.repeat(n), close.repeat(n));
    let mut all: Vec<String> = [
        "",
        " ",
        "null",
        "42",
        "\"text\"",
        "true",
        "{}",
        "[]",
        "[1,2,3]",
        "[[]]",
        "[{}]",
        "{\"jsonrpc\":\"2.0\",\"method\":1,\"params\":\"bar\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"auth.me\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":[],\"method\":\"auth.me\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"auth.me\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1e999,\"method\":\"auth.me\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":123456789012345678901234567890,\"method\":\"auth.me\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":-1,\"method\":\"auth.me\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":0.5,\"method\":\"auth.me\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"keys.listKeys\",\"params\":{\"limit\":1e400}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"keys.listKeys\",\"params\":{\"limit\":-99999999999999999999999}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"keys.listKeys\",\"params\":{\"limit\":1.0}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"keys.listKeys\",\"params\":{\"search\":\"\\ud800\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"keys.listKeys\",\"params\":{\"search\":\"\\u0000\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"keys.listKeys\",\"params\":{\"limit\":1,\"limit\":2}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"auth.me\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"auth.me\"}{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"auth.me\"}",
        "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"auth.me\"}",
    ]
    .map(str::to_owned)
    .to_vec();
    for n in [2, 64, 127, 128, 129, 1_000, 100_000] {
        all.push(deep(n, "[", "]"));
        all.push(format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)));
        all.push(format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"keys.listKeys\",\"params\":{{\"search\":{}\"x\"{}}}}}",
            "[".repeat(n),
            "]".repeat(n)
        ));
    }
    all
}

/// An HTTP body, shown as (lossy) text.
#[derive(Clone)]
pub struct Body(pub Vec<u8>);

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

/// One hostile body.
pub fn body() -> BoxedStrategy<Body> {
    let mutated =
        (proptest::sample::select(seed_requests()), mutation()).prop_map(|(seed, m)| m.apply(seed.into_bytes()));
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..256),
        6 => mutated,
        2 => proptest::sample::select(oddities()).prop_map(String::into_bytes),
    ]
    .prop_map(Body)
    .boxed()
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(prop::sample::Index),
    Prepend(&'static str),
    Append(&'static str),
    Replace(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index),
    Several(Vec<Mutation>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let insertions = vec![
        vec![0_u8],
        vec![0xff],
        vec![0xc3, 0x28],
        vec![0xed, 0xa0, 0x80],
        b"\\u0000".to_vec(),
        b"\\ud800".to_vec(),
        b"]".to_vec(),
        b"}".to_vec(),
        b"[".to_vec(),
        b"{".to_vec(),
        b",".to_vec(),
        b"\"".to_vec(),
        b"1e99999".to_vec(),
        b"-0".to_vec(),
        b"99999999999999999999999999999".to_vec(),
    ];
    let brackets = proptest::sample::select(vec!["[", "]", "{", "}", "[[", "]]", ",", "\"", " "]);
    let one = prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        brackets.clone().prop_map(Mutation::Prepend),
        brackets.prop_map(Mutation::Append),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<prop::sample::Index>(), proptest::sample::select(insertions)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Mutation::Delete),
    ];
    one.prop_recursive(2, 6, 4, |inner| prop::collection::vec(inner, 2..4).prop_map(Mutation::Several))
}

impl Mutation {
    fn apply(&self, mut bytes: Vec<u8>) -> Vec<u8> {
        let at = |i: &prop::sample::Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
        match self {
            Mutation::Truncate(i) => bytes.truncate(at(i, bytes.len())),
            Mutation::Prepend(s) => bytes.splice(0..0, s.bytes()).for_each(drop),
            Mutation::Append(s) => bytes.extend_from_slice(s.as_bytes()),
            Mutation::Replace(i, b) if !bytes.is_empty() => {
                let n = i.index(bytes.len());
                bytes[n] = *b;
            }
            Mutation::Replace(..) => {}
            Mutation::Insert(i, b) => {
                let n = at(i, bytes.len());
                bytes.splice(n..n, b.iter().copied()).for_each(drop);
            }
            Mutation::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i.index(bytes.len()));
            }
            Mutation::Delete(_) => {}
            Mutation::Several(all) => {
                for m in all {
                    bytes = m.apply(bytes);
                }
            }
        }
        bytes
    }
}
