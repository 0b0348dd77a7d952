//! Key refs (`OP-001`) and development key prefixes (`OP`).

use crate::{Error, Result};

const KEY_REF_MAX: usize = 32;
const PREFIX_MAX: usize = 8;

/// Trims and upper-cases a key ref, then checks `^[A-Z0-9][A-Z0-9/._-]{0,31}$`.
pub fn normalise_key_ref(raw: &str) -> Result<String> {
    let key_ref = raw.trim().to_uppercase();
    let field = "keyRef";
    if key_ref.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if key_ref.chars().count() > KEY_REF_MAX {
        return Err(Error::invalid(field, format!("must be at most {KEY_REF_MAX} characters")));
    }
    let mut chars = key_ref.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'));
    if !first_ok || !rest_ok {
        return Err(Error::invalid(
            field,
            "must start with a letter or digit and contain only letters, digits, / . _ -",
        ));
    }
    Ok(key_ref)
}

/// A key ref of the form `PREFIX-NUMBER` split into its parts, so that the lowest free
/// number of a prefix can be found through an index. `OP-007` → (`OP`, 7).
pub fn split_numbered(key_ref: &str) -> Option<(&str, i64)> {
    let (prefix, digits) = key_ref.rsplit_once('-')?;
    // Nine digits always fit; longer runs are not part of any numbering we suggest.
    if prefix.is_empty() || digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((prefix, digits.parse().ok()?))
}

/// `PREFIX-NNN`: zero-padded to three digits, more when the number needs them.
pub fn format_key_ref(prefix: &str, number: i64) -> String {
    format!("{prefix}-{number:03}")
}

/// Checks a key prefix: `^[A-Z0-9]{1,8}$` after trimming and upper-casing.
pub fn normalise_prefix(raw: &str) -> Result<String> {
    let prefix = raw.trim().to_uppercase();
    if prefix.is_empty() || prefix.len() > PREFIX_MAX || !prefix.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::invalid("keyPrefix", "must be 1 to 8 letters or digits (A-Z, 0-9)"));
    }
    Ok(prefix)
}

/// The default prefix of a development: the initials of the name's words, at most three
/// ("Oak Park" → `OP`); a one-word name gives its first two letters ("Riverside" → `RI`).
/// Only ASCII letters and digits count, so the result always satisfies the prefix rule.
pub fn default_prefix(name: &str) -> String {
    let words: Vec<Vec<char>> = name
        .split_whitespace()
        .map(|w| w.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect())
        .filter(|w: &Vec<char>| !w.is_empty())
        .collect();
    let prefix: String = match words.as_slice() {
        [] => String::new(),
        [only] => only.iter().take(2).collect(),
        many => many.iter().take(3).map(|w| w[0]).collect(),
    };
    if prefix.is_empty() { "K".to_owned() } else { prefix }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_refs_are_trimmed_and_upper_cased() {
        assert_eq!(normalise_key_ref("  op-001 ").unwrap(), "OP-001");
        assert_eq!(normalise_key_ref("a/b.c_d-1").unwrap(), "A/B.C_D-1");
        assert_eq!(normalise_key_ref(&"A".repeat(32)).unwrap().len(), 32);
    }

    #[test]
    fn bad_key_refs_are_refused_on_the_key_ref_field() {
        for bad in ["", "   ", "-OP", "OP 1", "OP%1", "ÄB", &"A".repeat(33), "OP\n1"] {
            let err = normalise_key_ref(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "keyRef"), "{bad:?}");
        }
    }

    #[test]
    fn numbered_refs_split_into_prefix_and_number() {
        assert_eq!(split_numbered("OP-001"), Some(("OP", 1)));
        assert_eq!(split_numbered("D07-5000"), Some(("D07", 5000)));
        assert_eq!(split_numbered("A-B-12"), Some(("A-B", 12)));
        assert_eq!(split_numbered("OP-"), None);
        assert_eq!(split_numbered("-1"), None);
        assert_eq!(split_numbered("OP-1A"), None);
        assert_eq!(split_numbered("OP001"), None);
        assert_eq!(split_numbered("OP-1234567890"), None);
    }

    #[test]
    fn suggested_refs_are_padded_to_three_digits_and_grow() {
        assert_eq!(format_key_ref("OP", 1), "OP-001");
        assert_eq!(format_key_ref("OP", 999), "OP-999");
        assert_eq!(format_key_ref("OP", 1000), "OP-1000");
    }

    #[test]
    fn default_prefixes_follow_the_contract() {
        assert_eq!(default_prefix("Oak Park"), "OP");
        assert_eq!(default_prefix("Riverside Court West"), "RCW");
        assert_eq!(default_prefix("Riverside"), "RI");
        assert_eq!(default_prefix("The Old Mill House"), "TOM");
        assert_eq!(default_prefix("  block  7 "), "B7");
        assert_eq!(default_prefix("Émile Zola Court"), "MZC");
        assert_eq!(default_prefix("---"), "K");
        for name in ["Oak Park", "x", "ÄÖÜ", "9 Elms"] {
            assert!(normalise_prefix(&default_prefix(name)).is_ok(), "{name}");
        }
    }

    #[test]
    fn prefixes_are_checked() {
        assert_eq!(normalise_prefix(" op ").unwrap(), "OP");
        assert_eq!(normalise_prefix("ABCD1234").unwrap(), "ABCD1234");
        for bad in ["", "ABCDEFGHI", "O-P", "Ö"] {
            assert!(normalise_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
