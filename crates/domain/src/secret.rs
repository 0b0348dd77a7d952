//! [`Secret`]: a value no log may print (a password, an access code's value, an auth
//! token). `Debug` and `Display` print `***`, so a secret inside any input, patch or error
//! that is logged with `{:?}` stays hidden; the value is read only through
//! [`Secret::expose`], which a reviewer can grep for. The memory is zeroed on drop.
//!
//! On the wire it is a plain string: it deserialises from one (`serde(transparent)`), and
//! specta renders it as `string`, so the TypeScript bindings do not see the difference.
//! Answers that must show a value (an access code to a role that may see it) serialise it
//! as that string.

use std::fmt;

use serde::{Deserialize, Serialize};
use specta::Type;
use zeroize::Zeroize;

#[derive(Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself. Every use is a place where a secret leaves its wrapper: hand it
    /// only to what needs it (sealing, hashing, a message body), never to a log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A plain `string` in the bindings, not a named type: the wire does not change.
impl Type for Secret {
    fn definition(types: &mut specta::Types) -> specta::datatype::DataType {
        String::definition(types)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::from("4821#");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(***)");
        assert_eq!(secret.expose(), "4821#");
    }

    #[test]
    fn the_wire_sees_a_plain_string() {
        let secret: Secret = serde_json::from_str("\"hunter2-hunter2\"").unwrap();
        assert_eq!(secret.expose(), "hunter2-hunter2");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"hunter2-hunter2\"");
        assert!(serde_json::from_str::<Secret>("42").is_err());
    }

    #[test]
    fn a_struct_holding_a_secret_debugs_without_it() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Input {
            email: String,
            password: Secret,
        }
        let input: Input = serde_json::from_str(r#"{"email":"a@b.c","password":"hunter2-hunter2"}"#).unwrap();
        let shown = format!("{input:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("password: ***"), "{shown}");
    }
}
