//! Parsing a call's params: ONE JSON object, by name, with the field path of what is
//! wrong (serde alone would take a positional array for a struct, and report its text
//! without the field).

use keyward_domain::Error;
use serde::de::DeserializeOwned;

/// `params` is the raw JSON text of the call's `params`, `None` when it has none.
pub fn parse<T: DeserializeOwned>(params: Option<&str>) -> Result<T, Error> {
    // Missing (or null) params are the same as `{}`: fine when every field is optional,
    // "missing field" otherwise.
    let raw = match params.map(str::trim) {
        None | Some("null") => "{}",
        Some(raw) => raw,
    };
    if !raw.starts_with('{') {
        return Err(Error::invalid("params", "must be one JSON object (parameters by name)"));
    }
    // No text anywhere may hold NUL: PostgreSQL cannot store it, so both databases refuse
    // it here, on its field, rather than one of them failing deep inside.
    if raw.contains("\\u0000") {
        let value: serde_json::Value = serde_json::from_str(raw).unwrap_or_default();
        if let Some(field) = nul_field(&value, "") {
            return Err(Error::invalid(field, "must not contain NUL characters"));
        }
    }
    let deserializer = &mut serde_json::Deserializer::from_str(raw);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // serde_json appends the position, which means nothing to a caller of by-name params.
        let mut reason = message.split(" at line ").next().unwrap_or(&message).to_owned();
        let field = field_of(&path, &reason);
        // serde quotes the offending value; for a secret that would echo it back.
        if SECRET_FIELDS.contains(&field.rsplit('.').next().unwrap_or(&field)) {
            reason = "has the wrong type or format".to_owned();
        }
        Error::InvalidInput { field, reason }
    })
}

/// Fields whose values must never appear in an error message.
const SECRET_FIELDS: [&str; 3] = ["code", "authToken", "password"];

/// The dotted path of the first string (key or value) holding NUL.
fn nul_field(value: &serde_json::Value, path: &str) -> Option<String> {
    let join = |name: &str| if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
    match value {
        serde_json::Value::String(s) if s.contains('\0') => {
            Some(if path.is_empty() { "params".to_owned() } else { path.to_owned() })
        }
        serde_json::Value::Object(map) => {
            map.iter().find_map(|(k, v)| if k.contains('\0') { Some(join("params")) } else { nul_field(v, &join(k)) })
        }
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, v)| nul_field(v, &join(&i.to_string())))
        }
        _ => None,
    }
}

/// The dotted path of the field an error is about. For a missing field serde reports the
/// enclosing object and names the field only in its message.
fn field_of(path: &str, reason: &str) -> String {
    let parent = if path == "." { "" } else { path };
    let missing = reason.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    match (parent, missing) {
        ("", Some(name)) => name.to_owned(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        ("", None) => "params".to_owned(),
        (parent, None) => parent.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        label: String,
        #[serde(default)]
        limit: Option<i32>,
        #[serde(default)]
        target: Option<Target>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Target {
        id: String,
    }

    fn field(raw: Option<&str>) -> String {
        match parse::<Input>(raw).unwrap_err() {
            Error::InvalidInput { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field(Some(r#"{"label": 1}"#)), "label");
        assert_eq!(field(Some(r#"{"label": "a", "limit": "x"}"#)), "limit");
        assert_eq!(field(Some(r#"{"label": "a", "bogus": 1}"#)), "bogus");
        assert_eq!(field(Some(r#"{}"#)), "label");
        assert_eq!(field(None), "label");
        assert_eq!(field(Some(r#"{"label": "a", "target": {}}"#)), "target.id");
        assert_eq!(field(Some(r#"{"label": "a", "target": {"id": "x", "y": 1}}"#)), "target.y");
        assert_eq!(field(Some(r#"["a"]"#)), "params");
        assert_eq!(field(Some(r#"{"label": "a", "limit": 3000000000}"#)), "limit");
    }

    #[test]
    fn nul_is_refused_on_its_field() {
        assert_eq!(field(Some(r#"{"label": "a\u0000b"}"#)), "label");
        assert_eq!(field(Some(r#"{"label": "a", "target": {"id": "\u0000"}}"#)), "target.id");
    }

    #[test]
    fn secrets_are_not_echoed_in_reasons() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Secret {
            code: String,
        }
        let err = parse::<Secret>(Some(r#"{"code": 48211}"#)).unwrap_err();
        assert!(!err.to_string().contains("48211"), "{err}");
    }

    #[test]
    fn by_name_params_parse() {
        let input: Input = parse(Some(r#"{"label": "a", "limit": 5}"#)).unwrap();
        assert_eq!(input.limit, Some(5));
    }
}
