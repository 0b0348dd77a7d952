//! Phone numbers, normalised to E.164 with libphonenumber's rules (the `phonenumber`
//! crate): a national number is read in the default region (`GB` unless configured).

use phonenumber::{Mode, country};

pub use phonenumber::country::Id as Region;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("must not be empty")]
    Empty,
    #[error("is too long")]
    TooLong,
    #[error("is not a phone number")]
    Unparseable,
    #[error("must not have an extension")]
    HasExtension,
    #[error("is not a valid phone number")]
    Invalid,
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
        for input in ["07400 123456", "+44 (0) 7400 123456", "tel:+44-7400-123456", "447400123456", " 07400 123456 "] {
            assert_eq!(gb(input).as_deref(), Ok("+447400123456"), "{input}");
        }
        assert_eq!(gb("+1 415 555 2671").as_deref(), Ok("+14155552671"));
        assert_eq!(gb("+15005550006").as_deref(), Ok("+15005550006"));
        assert_eq!(normalise("(415) 555-2671", region("us").unwrap()).as_deref(), Ok("+14155552671"));
    }

    #[test]
    fn bad_numbers_say_why() {
        assert_eq!(gb(""), Err(PhoneError::Empty));
        assert_eq!(gb("abc"), Err(PhoneError::Unparseable));
        assert_eq!(gb("07700 900123"), Err(PhoneError::Invalid), "Ofcom's drama range");
        assert_eq!(gb("12345"), Err(PhoneError::Invalid));
        assert_eq!(gb("+44 7911 123456 ext. 12"), Err(PhoneError::HasExtension));
        assert_eq!(gb(&"1".repeat(41)), Err(PhoneError::TooLong));
        assert!(region("XX").is_err());
    }
}
