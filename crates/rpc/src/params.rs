//! Parsing a call's params: ONE JSON object, by name. jsonrpsee's own `parse` would take
//! a positional array for a struct, and reports serde's text without the field.

use jsonrpsee::types::Params;
use keyward_domain::Error;
use serde::de::DeserializeOwned;

pub fn parse<T: DeserializeOwned>(params: &Params<'_>) -> Result<T, Error> {
    // Missing (or null) params are the same as `{}`: fine when every field is optional,
    // "missing field" otherwise.
    let raw = match params.as_str().map(str::trim) {
        None | Some("null") => "{}",
        Some(raw) => raw,
    };
    if !raw.starts_with('{') {
        return Err(Error::invalid("params", "must be one JSON object (parameters by name)"));
    }
    let deserializer = &mut serde_json::Deserializer::from_str(raw);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // serde_json appends the position, which means nothing to a caller of by-name params.
        let reason = message.split(" at line ").next().unwrap_or(&message).to_owned();
        Error::InvalidInput { field: field_of(&path, &reason), reason }
    })
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
        let params = Params::new(raw);
        match parse::<Input>(&params).unwrap_err() {
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
    fn by_name_params_parse() {
        let params = Params::new(Some(r#"{"label": "a", "limit": 5}"#));
        let input: Input = parse(&params).unwrap();
        assert_eq!(input.limit, Some(5));
    }
}
