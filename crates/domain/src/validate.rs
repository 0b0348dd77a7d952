//! Checks on free text coming from callers. Each names the field it refuses, so the
//! caller gets `INVALID_INPUT` with `data.field`.

use crate::{Error, Result, Secret};

/// Labels, names, recipients: one line of text.
pub const SHORT_TEXT_MAX: usize = 200;
/// Notes and other multi-line text.
pub const LONG_TEXT_MAX: usize = 4000;

/// A required single-line text: trimmed, not empty, at most `max` characters, no control
/// characters.
pub fn required_line(field: &str, value: &str, max: usize) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    check(field, value, max, false)?;
    Ok(value.to_owned())
}

/// An optional single-line text. Empty (after trimming) means "none", which is also how a
/// caller clears the field on update.
pub fn optional_line(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    optional(field, value, max, false)
}

/// An optional multi-line text (notes): line breaks and tabs are allowed.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    optional(field, value, max, true)
}

fn optional(field: &str, value: Option<&str>, max: usize, multiline: bool) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => check(field, v, max, multiline).map(|()| Some(v.to_owned())),
    }
}

fn check(field: &str, value: &str, max: usize, multiline: bool) -> Result<()> {
    // Count characters only up to the limit: a 1 MB string is refused without a full pass.
    if value.chars().nth(max).is_some() {
        return Err(Error::invalid(field, format!("must be at most {max} characters")));
    }
    let allowed_control = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if value.chars().any(|c| c.is_control() && !allowed_control(c)) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// An access code: 1–32 printable characters (spaces inside allowed), trimmed. The
/// refusal never repeats the value.
pub fn code(field: &str, value: &Secret) -> Result<Secret> {
    let value = value.expose().trim();
    let n = value.chars().count();
    if n == 0 || n > 32 {
        return Err(Error::invalid(field, "must be 1 to 32 characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must contain only printable characters"));
    }
    Ok(Secret::from(value))
}

/// An instant both databases can store: years 1 to 9999.
pub fn instant(field: &str, at: chrono::DateTime<chrono::Utc>) -> Result<chrono::DateTime<chrono::Utc>> {
    use chrono::Datelike;
    if (1..=9999).contains(&at.year()) { Ok(at) } else { Err(Error::invalid(field, "must be in the years 1 to 9999")) }
}

/// A calendar date both databases can store: years 1 to 9999.
pub fn date(field: &str, day: chrono::NaiveDate) -> Result<chrono::NaiveDate> {
    use chrono::Datelike;
    if (1..=9999).contains(&day.year()) {
        Ok(day)
    } else {
        Err(Error::invalid(field, "must be in the years 1 to 9999"))
    }
}

/// An email address: trimmed, lower-cased, one `@` with something either side.
pub fn email(field: &str, value: &str) -> Result<String> {
    let value = required_line(field, value, 254)?.to_lowercase();
    match value.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@') => Ok(value),
        _ => Err(Error::invalid(field, "must be an email address")),
    }
}

/// A quantity of identical keys or fobs under one ref.
pub fn quantity(field: &str, value: i32) -> Result<i32> {
    if (1..=10_000).contains(&value) { Ok(value) } else { Err(Error::invalid(field, "must be between 1 and 10000")) }
}

/// A new password: 10 to 200 characters, taken as typed (not trimmed).
pub fn password(field: &str, value: Secret) -> Result<Secret> {
    let n = value.expose().chars().count();
    if !(10..=200).contains(&n) {
        return Err(Error::invalid(field, "must be 10 to 200 characters"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_trimmed_and_bounded() {
        assert_eq!(required_line("label", "  Flat 1 ", 10).unwrap(), "Flat 1");
        assert_eq!(required_line("label", &"é".repeat(10), 10).unwrap().chars().count(), 10);
        assert!(required_line("label", &"é".repeat(11), 10).is_err());
        assert!(required_line("label", " ", 10).is_err());
        assert_eq!(optional_line("brand", Some("  "), 10).unwrap(), None);
        assert_eq!(optional_line("brand", None, 10).unwrap(), None);
    }

    #[test]
    fn control_characters_are_refused_except_line_breaks_in_text() {
        let err = required_line("label", "a\u{0}b", 10).unwrap_err();
        assert_eq!(err, Error::invalid("label", "must not contain control characters"));
        assert!(required_line("label", "a\nb", 10).is_err());
        assert_eq!(optional_text("notes", Some("a\nb\tc"), 10).unwrap().as_deref(), Some("a\nb\tc"));
        assert!(optional_text("notes", Some("a\u{7}b"), 10).is_err());
    }

    #[test]
    fn codes_are_one_to_thirty_two_printable_characters() {
        let code = |value: &str| code("code", &Secret::from(value)).map(|c| c.expose().to_owned());
        assert_eq!(code(" 1234# ").unwrap(), "1234#");
        assert_eq!(code(&"9".repeat(32)).unwrap().len(), 32);
        assert_eq!(code("12 34").unwrap(), "12 34");
        for bad in ["", "  ", &"9".repeat(33), "12\u{0}3", "12\n3", "\u{7f}"] {
            assert!(code(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(email("email", " Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in ["ann", "@example.com", "ann@example", "a@b@c.d"] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
    }
}
