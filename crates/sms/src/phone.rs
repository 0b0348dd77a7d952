//! Phone numbers, normalised to E.164 with libphonenumber's rules (the `phonenumber`
//! crate): a national number is read in the default region (`GB` unless configured).
//!
//! Before libphonenumber sees it, a number may hold only ASCII digits, spaces and
//! `+ - ( ) .` ([`check_characters`]): libphonenumber reads letters as a vanity keypad
//! (`+44 7400 12345a` would become `+447400123452`), and a typo must never send a code to a
//! stranger.

use phonenumber::{Mode, country};

pub use phonenumber::country::Id as Region;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("must not be empty")]
    Empty,
    #[error("is too long")]
    TooLong,
    #[error("may hold only digits, spaces and + - ( ) . (no letters)")]
    Characters,
    #[error("is not a phone number")]
    Unparseable,
    #[error("must not have an extension")]
    HasExtension,
    #[error("is not a valid phone number")]
    Invalid,
}

/// The characters a phone number may be written with: ASCII digits, spaces and
/// `+ - ( ) .`. Nothing else (a letter least of all) reaches libphonenumber.
pub fn check_characters(input: &str) -> Result<(), PhoneError> {
    if input.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.')) {
        Ok(())
    } else {
        Err(PhoneError::Characters)
    }
}

/// `07400 123456` → `+447400123456` (with region GB).
pub fn normalise(input: &str, default_region: Region) -> Result<String, PhoneError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(PhoneError::Empty);
    }
    if input.chars().count() > 40 {
        return Err(PhoneError::TooLong);
    }
    check_characters(input)?;
    let number = phonenumber::parse(Some(default_region), input).map_err(|_| PhoneError::Unparseable)?;
    if number.extension().is_some() {
        return Err(PhoneError::HasExtension);
    }
    if !phonenumber::is_valid(&number) {
        return Err(PhoneError::Invalid);
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

/// A region from its ISO 3166 alpha-2 code (`GB`, `US`).
pub fn region(code: &str) -> Result<Region, String> {
    code.trim().to_uppercase().parse::<country::Id>().map_err(|_| format!("{code:?} is not an ISO 3166 region code"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gb(input: &str) -> Result<String, PhoneError> {
        normalise(input, region("GB").unwrap())
    }

    #[test]
    fn national_and_international_forms_normalise_to_e164() {
        for input in [
            "07400 123456",
            "+44 (0) 7400 123456",
            "+44-7400-123456",
            "447400123456",
            " 07400 123456 ",
            "07400.123.456",
        ] {
            assert_eq!(gb(input).as_deref(), Ok("+447400123456"), "{input}");
        }
        assert_eq!(gb("+1 415 555 2671").as_deref(), Ok("+14155552671"));
        assert_eq!(gb("+15005550006").as_deref(), Ok("+15005550006"));
        assert_eq!(normalise("(415) 555-2671", region("us").unwrap()).as_deref(), Ok("+14155552671"));
    }

    #[test]
    fn bad_numbers_say_why() {
        assert_eq!(gb(""), Err(PhoneError::Empty));
        assert_eq!(gb("+"), Err(PhoneError::Unparseable));
        assert_eq!(gb("()"), Err(PhoneError::Unparseable));
        assert_eq!(gb("07700 900123"), Err(PhoneError::Invalid), "Ofcom's drama range");
        assert_eq!(gb("12345"), Err(PhoneError::Invalid));
        assert_eq!(gb("+44 7911 123456 x12"), Err(PhoneError::Characters), "an extension is written with letters");
        assert_eq!(gb(&"1".repeat(41)), Err(PhoneError::TooLong));
        assert!(region("XX").is_err());
    }

    #[test]
    fn letters_are_refused_not_read_as_a_vanity_keypad() {
        // libphonenumber alone reads the `a` as the keypad's 2: a stranger's number.
        let vanity = phonenumber::parse(Some(region("GB").unwrap()), "+44 7400 12345a").unwrap();
        assert_eq!(vanity.format().mode(Mode::E164).to_string(), "+447400123452");
        for input in ["+44 7400 12345a", "abc", "07400 I23456", "+1-800-FLOWERS", "tel:+447400123456", "0740O 123456"] {
            assert_eq!(gb(input), Err(PhoneError::Characters), "{input}");
        }
        for input in ["07400 123456#", "07400,123456", "07400/123456", "\u{661}\u{662}\u{663}", "07400\t123456"] {
            assert_eq!(gb(input), Err(PhoneError::Characters), "{input:?}");
        }
        assert_eq!(check_characters("+44 (0) 7400-123.456"), Ok(()));
    }
}
