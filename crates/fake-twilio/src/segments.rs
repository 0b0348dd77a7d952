//! SMS segment count (spec §3), so the fake's `num_segments` matches what Twilio would bill.
//!
//! GSM-7 when every character is in the GSM 03.38 basic set or its extension (extension
//! characters cost 2 septets and are never split across segments); otherwise UCS-2, counted
//! in UTF-16 code units (a surrogate pair is never split either). One segment holds 160
//! septets / 70 units; in a multi-part message each holds 153 / 67, because of the 6-byte
//! User Data Header.

/// The character set a body is sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// Encoding, size in encoding units (septets or UTF-16 units) and segment count of a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segments {
    pub encoding: Encoding,
    pub units: usize,
    pub segments: usize,
}

/// GSM 03.38 basic set. `Ç` is basic but `ç` is not, which is why the §3 table puts `ç` in UCS-2.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table: each is an escape plus a septet, so 2 septets.
const GSM_EXTENSION: &str = "\u{c}^{}\\[]~|€";

/// Counts the segments of `body`. An empty body still counts as one (empty) segment.
pub fn count(body: &str) -> Segments {
    let septets: Option<Vec<usize>> = body
        .chars()
        .map(|c| {
            if GSM_BASIC.contains(c) {
                Some(1)
            } else if GSM_EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .collect();
    match septets {
        Some(weights) => pack(Encoding::Gsm7, &weights, 160, 153),
        None => {
            let weights: Vec<usize> = body.chars().map(char::len_utf16).collect();
            pack(Encoding::Ucs2, &weights, 70, 67)
        }
    }
}

/// Fills segments greedily; a character whose units do not fit in the current part starts the
/// next one, because neither an escape sequence nor a surrogate pair may straddle two parts.
fn pack(encoding: Encoding, weights: &[usize], single: usize, per_part: usize) -> Segments {
    let units = weights.iter().sum();
    if units <= single {
        return Segments { encoding, units, segments: 1 };
    }
    let (mut segments, mut used) = (1, 0);
    for &w in weights {
        if used + w > per_part {
            segments += 1;
            used = 0;
        }
        used += w;
    }
    Segments { encoding, units, segments }
}

#[cfg(test)]
mod tests {
    use super::{Encoding::*, Segments, count};

    fn check(body: &str, encoding: super::Encoding, units: usize, segments: usize) {
        assert_eq!(count(body), Segments { encoding, units, segments }, "body {body:?}");
    }

    // The rows of the §3 worked-examples table.
    #[test]
    fn spec_table_rows() {
        check("Your gate code for Oak Park Main Gate is 4821#", Gsm7, 46, 1);
        check("Oak Park: Main Gate code 4821#.", Gsm7, 31, 1);
        check("Oak Park: key ref OP-001 (Flat 12 front door).", Gsm7, 46, 1);
        check("Oak Park: Main Gate code {4821}.", Gsm7, 34, 1);
        check("Oak Park: Main Gate code 4821€.", Gsm7, 32, 1);
        check("Oak Park: Main Gate code 4821`.", Ucs2, 31, 1);
        check("Oak Park’s gate code 4821#", Ucs2, 26, 1);
        check(&"X".repeat(160), Gsm7, 160, 1);
        check(&"X".repeat(161), Gsm7, 161, 2);
        check(&"é".repeat(70), Gsm7, 70, 1);
    }

    #[test]
    fn ucs2_limits() {
        check(&"ç".repeat(70), Ucs2, 70, 1);
        check(&"ç".repeat(71), Ucs2, 71, 2);
        check(&"ç".repeat(134), Ucs2, 134, 2);
        check(&"ç".repeat(135), Ucs2, 135, 3);
        // An emoji is outside the BMP: 2 UTF-16 units.
        check(&"🔑".repeat(35), Ucs2, 70, 1);
        check(&"🔑".repeat(36), Ucs2, 72, 2);
    }

    #[test]
    fn gsm_multipart_boundaries() {
        check(&"X".repeat(306), Gsm7, 306, 2);
        check(&"X".repeat(307), Gsm7, 307, 3);
    }

    #[test]
    fn extension_character_is_not_split() {
        // 306 septets would fit in two 153-septet parts, but `€` would straddle them.
        let body = format!("{}€{}", "X".repeat(152), "X".repeat(152));
        check(&body, Gsm7, 306, 3);
    }

    #[test]
    fn surrogate_pair_is_not_split() {
        let body = format!("{}🔑{}", "ç".repeat(66), "ç".repeat(66));
        check(&body, Ucs2, 134, 3);
    }

    #[test]
    fn whole_basic_and_extension_sets_are_gsm7() {
        // The first two rows of the GSM 03.38 table, less ESC.
        check("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ", Gsm7, 31, 1);
        check("¡ÄÖÑÜ§¿äöñüà¤", Gsm7, 13, 1);
        check("\u{c}^{}\\[]~|€", Gsm7, 20, 1);
        check("", Gsm7, 0, 1);
    }
}
