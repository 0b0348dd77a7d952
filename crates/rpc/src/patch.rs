//! Update params follow JSON merge-patch semantics (RFC 7396) for optional fields:
//! absent leaves a field as it is, `null` clears it.

use serde::{Deserialize, Deserializer};

/// For `#[serde(default, deserialize_with = "crate::patch::nullable")]` on an
/// `Option<Option<T>>`: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Update {
        #[serde(default, deserialize_with = "super::nullable")]
        notes: Option<Option<String>>,
    }

    #[test]
    fn absent_null_and_value_are_three_different_things() {
        let parse = |json: &str| serde_json::from_str::<Update>(json).unwrap().notes;
        assert_eq!(parse("{}"), None);
        assert_eq!(parse(r#"{"notes": null}"#), Some(None));
        assert_eq!(parse(r#"{"notes": "x"}"#), Some(Some("x".to_owned())));
    }
}
