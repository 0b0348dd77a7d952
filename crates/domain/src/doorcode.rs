//! Doorcodes (issue 12 §3): a person's code at the doors of an access grant, allocated by
//! policy, never weak (decision 81) and never equal to another active doorcode or shared
//! access code at the same door; the caller says what is taken.

use rand::Rng;
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{Error, Result, Secret};

/// How many random codes [`allocate`] draws before giving up.
pub const RANDOM_ATTEMPTS: usize = 64;

text_enum! {
    /// How a doorcode or keycard is chosen.
    #[derive(Default)]
    AllocationPolicy {
        /// Any free one (doorcode: a random code of the organisation's length).
        #[default]
        Random = "random",
        /// The given one if it is free, else as `random`.
        Preferred = "preferred",
        /// The given one, or `CODE_TAKEN` naming the door that has it, and nothing changes.
        Strict = "strict",
    }
}

text_enum! {
    /// Why a code is too easy to guess (decision 81).
    Weakness {
        /// A shorter block repeated: 0000, 1212, 123123.
        Repeated = "repeated",
        /// Each digit one more, or one less, than the one before, wrapping 9 to 0: 1234,
        /// 7890, 9876.
        Sequence = "sequence",
        /// A day and month, or a year: DDMM, MMDD, YYYY (1900–2099); DDMMYY, MMDDYY,
        /// YYMMDD; DDMMYYYY, MMDDYYYY, YYYYMMDD.
        Date = "date",
    }
}

/// The number of digits of generated doorcodes: 4 to 8, an organisation setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(transparent)]
pub struct DoorcodeLength(u8);

/// A doorcode request: the policy, and the code asked for (`preferred`, `strict`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorcodeRequest {
    pub policy: AllocationPolicy,
    pub code: Option<Secret>,
}

/// What [`allocate`] chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocated {
    pub code: Secret,
    /// The code asked for was free (false: it was drawn at random).
    pub as_asked: bool,
}

/// Why [`allocate`] found no code; nothing should change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotAllocated<D> {
    /// `strict`: the door (the first the `taken` check named) where the code is in use.
    Taken { door: D },
    /// [`RANDOM_ATTEMPTS`] random codes were all taken: the doors' codes of this length
    /// are nearly used up.
    Exhausted,
}

impl DoorcodeLength {
    pub const MIN: u8 = 4;
    pub const MAX: u8 = 8;
    pub const DEFAULT: DoorcodeLength = DoorcodeLength(6);

    pub fn new(field: &str, digits: i32) -> Result<DoorcodeLength> {
        match u8::try_from(digits) {
            Ok(digits) if (Self::MIN..=Self::MAX).contains(&digits) => Ok(DoorcodeLength(digits)),
            _ => Err(Error::invalid(field, "must be 4 to 8 digits")),
        }
    }

    pub fn digits(self) -> u8 {
        self.0
    }
}

impl Default for DoorcodeLength {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl DoorcodeRequest {
    /// Validates a request of the wire: `random` takes no code; `preferred` and `strict`
    /// need one, 4 to 8 digits and not weak. `field` is where the code is (`doorcode.code`);
    /// a refusal never repeats the value.
    pub fn new(field: &str, policy: AllocationPolicy, code: Option<Secret>) -> Result<DoorcodeRequest> {
        let code = match (policy, code) {
            (AllocationPolicy::Random, None) => None,
            (AllocationPolicy::Random, Some(_)) => {
                return Err(Error::invalid(field, "is only taken with the preferred or strict policy"));
            }
            (_, None) => return Err(Error::invalid(field, "is required with the preferred or strict policy")),
            (_, Some(code)) => Some(given_code(field, &code)?),
        };
        Ok(DoorcodeRequest { policy, code })
    }
}

/// A code given by a caller: 4 to 8 digits (surrounding spaces trimmed), not weak.
pub fn given_code(field: &str, code: &Secret) -> Result<Secret> {
    let code = code.expose().trim();
    let digits = code.len();
    if !(usize::from(DoorcodeLength::MIN)..=usize::from(DoorcodeLength::MAX)).contains(&digits)
        || !code.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Error::invalid(field, "must be 4 to 8 digits"));
    }
    if let Some(weakness) = weakness(code) {
        return Err(Error::invalid(field, format!("is too easy to guess ({})", weakness.describe())));
    }
    Ok(Secret::from(code))
}

/// Why a code of digits is too easy to guess, if it is.
pub fn weakness(code: &str) -> Option<Weakness> {
    let digits: Vec<u8> = code.bytes().map(|b| b.wrapping_sub(b'0')).collect();
    if digits.is_empty() || digits.iter().any(|d| *d > 9) {
        return None;
    }
    let n = digits.len();
    if (1..n).any(|block| n.is_multiple_of(block) && digits.iter().enumerate().all(|(i, d)| *d == digits[i % block])) {
        return Some(Weakness::Repeated);
    }
    let steps_by = |step: u8| digits.windows(2).all(|pair| (pair[0] + step) % 10 == pair[1]);
    if steps_by(1) || steps_by(9) {
        return Some(Weakness::Sequence);
    }
    is_date(&digits).then_some(Weakness::Date)
}

/// Chooses a doorcode. `taken` answers, for a code, the first door of the grant where it
/// is already an active doorcode or shared access code (`None`: free at every door).
pub fn allocate<D>(
    request: &DoorcodeRequest,
    length: DoorcodeLength,
    rng: &mut impl Rng,
    mut taken: impl FnMut(&Secret) -> Option<D>,
) -> Result<Allocated, NotAllocated<D>> {
    if let Some(code) = &request.code {
        match taken(code) {
            None => return Ok(Allocated { code: code.clone(), as_asked: true }),
            Some(door) if request.policy == AllocationPolicy::Strict => return Err(NotAllocated::Taken { door }),
            Some(_) => {}
        }
    }
    for _ in 0..RANDOM_ATTEMPTS {
        let code = random_code(rng, length);
        if weakness(code.expose()).is_none() && taken(&code).is_none() {
            return Ok(Allocated { code, as_asked: false });
        }
    }
    Err(NotAllocated::Exhausted)
}

impl Weakness {
    pub fn describe(self) -> &'static str {
        match self {
            Weakness::Repeated => "a repeated digit or pattern",
            Weakness::Sequence => "a run of consecutive digits",
            Weakness::Date => "a date or a year",
        }
    }
}

fn random_code(rng: &mut impl Rng, length: DoorcodeLength) -> Secret {
    let code: String = (0..length.digits()).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect();
    Secret::from(code)
}

fn is_date(digits: &[u8]) -> bool {
    let number = |range: std::ops::Range<usize>| digits[range].iter().fold(0u32, |n, d| n * 10 + u32::from(*d));
    let year = |n: u32| (1900..=2099).contains(&n);
    match digits.len() {
        4 => {
            let (a, b) = (number(0..2), number(2..4));
            day_month(a, b) || day_month(b, a) || year(number(0..4))
        }
        6 => {
            let (a, b, c) = (number(0..2), number(2..4), number(4..6));
            day_month(a, b) || day_month(b, a) || day_month(c, b)
        }
        8 => {
            let (a, b) = (number(0..2), number(2..4));
            let (front_year, back_year) = (number(0..4), number(4..8));
            (year(back_year) && (day_month(a, b) || day_month(b, a)))
                || (year(front_year) && day_month(number(6..8), number(4..6)))
        }
        _ => false,
    }
}

/// Whether `day` is a day of `month` in some year (29 February included).
fn day_month(day: u32, month: u32) -> bool {
    let last = match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return false,
    };
    (1..=last).contains(&day)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn weak_codes_are_named() {
        let cases = [
            ("0000", Some(Weakness::Repeated)),
            ("777777", Some(Weakness::Repeated)),
            ("1212", Some(Weakness::Repeated)),
            ("123123", Some(Weakness::Repeated)),
            ("45674567", Some(Weakness::Repeated)),
            ("1234", Some(Weakness::Sequence)),
            ("0123", Some(Weakness::Sequence)),
            ("7890", Some(Weakness::Sequence)),
            ("9876", Some(Weakness::Sequence)),
            ("3210", Some(Weakness::Sequence)),
            ("98765432", Some(Weakness::Sequence)),
            ("2512", Some(Weakness::Date)),   // DDMM
            ("1225", Some(Weakness::Date)),   // MMDD
            ("2902", Some(Weakness::Date)),   // 29 February
            ("1987", Some(Weakness::Date)),   // YYYY
            ("2031", Some(Weakness::Date)),   // 20 March 1, or a year
            ("250399", Some(Weakness::Date)), // DDMMYY
            ("032599", Some(Weakness::Date)), // MMDDYY
            ("991231", Some(Weakness::Date)), // YYMMDD
            ("25031999", Some(Weakness::Date)),
            ("03251999", Some(Weakness::Date)),
            ("19990325", Some(Weakness::Date)),
            ("3002", None), // 30 February, 2 of month 30
            ("3113", None),
            ("1899", None),
            ("5831", None),
            ("482913", None),
            ("319977", None),
            ("25031899", None),
            ("13579", None),
            ("1243", None),
        ];
        for (code, expected) in cases {
            assert_eq!(weakness(code), expected, "{code}");
        }
    }

    #[test]
    fn lengths_are_four_to_eight_digits() {
        assert_eq!(DoorcodeLength::default().digits(), 6);
        for digits in [4, 8] {
            assert_eq!(DoorcodeLength::new("doorcodeLength", digits).unwrap().digits(), digits as u8);
        }
        for bad in [-1, 0, 3, 9, 260] {
            assert_eq!(
                DoorcodeLength::new("doorcodeLength", bad),
                Err(Error::invalid("doorcodeLength", "must be 4 to 8 digits"))
            );
        }
    }

    #[test]
    fn requests_need_a_code_exactly_when_the_policy_uses_one() {
        use AllocationPolicy::*;
        let code = || Some(Secret::from(" 482913 "));
        assert_eq!(DoorcodeRequest::new("doorcode.code", Random, None).unwrap().code, None);
        assert_eq!(DoorcodeRequest::new("doorcode.code", Strict, code()).unwrap().code, Some(Secret::from("482913")));
        for (policy, code) in [(Random, code()), (Preferred, None), (Strict, None)] {
            assert!(matches!(
                DoorcodeRequest::new("doorcode.code", policy, code),
                Err(Error::InvalidInput { field, .. }) if field == "doorcode.code"
            ));
        }
        for bad in ["123", "123456789", "12a4", "48 29", "1234", "0000", "2512", "٤٨٢٩"] {
            let error = DoorcodeRequest::new("doorcode.code", Preferred, Some(Secret::from(bad))).unwrap_err();
            let Error::InvalidInput { field, reason } = error else { panic!("{bad}") };
            assert_eq!(field, "doorcode.code");
            assert!(!reason.contains(bad), "the refusal repeats {bad}: {reason}");
        }
    }

    #[test]
    fn random_codes_have_the_length_and_are_never_weak_nor_taken() {
        let mut rng = StdRng::seed_from_u64(12);
        let request = DoorcodeRequest::new("code", AllocationPolicy::Random, None).unwrap();
        let length = DoorcodeLength::new("length", 4).unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            // Every code already drawn counts as taken at the door "main".
            let allocated =
                allocate(&request, length, &mut rng, |code| seen.contains(code.expose()).then_some("main")).unwrap();
            let code = allocated.code.expose().to_owned();
            assert!(!allocated.as_asked);
            assert_eq!(code.len(), 4);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(weakness(&code), None, "{code}");
            assert!(seen.insert(code));
        }
    }

    #[test]
    fn preferred_falls_back_to_random_and_strict_names_the_door() {
        let mut rng = StdRng::seed_from_u64(7);
        let length = DoorcodeLength::default();
        let asked = Some(Secret::from("482913"));
        let taken_at_gate = |code: &Secret| (code.expose() == "482913").then_some("gate");
        let free = |_: &Secret| None::<&str>;

        let preferred = DoorcodeRequest::new("code", AllocationPolicy::Preferred, asked.clone()).unwrap();
        let as_asked = allocate(&preferred, length, &mut rng, free).unwrap();
        assert_eq!(as_asked, Allocated { code: Secret::from("482913"), as_asked: true });
        let fallback = allocate(&preferred, length, &mut rng, taken_at_gate).unwrap();
        assert!(!fallback.as_asked);
        assert_ne!(fallback.code.expose(), "482913");
        assert_eq!(fallback.code.expose().len(), 6);

        let strict = DoorcodeRequest::new("code", AllocationPolicy::Strict, asked).unwrap();
        assert_eq!(allocate(&strict, length, &mut rng, free).unwrap().code.expose(), "482913");
        assert_eq!(allocate(&strict, length, &mut rng, taken_at_gate), Err(NotAllocated::Taken { door: "gate" }));
    }

    #[test]
    fn a_door_with_every_code_taken_is_exhausted() {
        let mut rng = StdRng::seed_from_u64(3);
        let request = DoorcodeRequest::new("code", AllocationPolicy::Random, None).unwrap();
        let mut asked = 0;
        let result = allocate(&request, DoorcodeLength::default(), &mut rng, |_| {
            asked += 1;
            Some("door")
        });
        assert_eq!(result, Err(NotAllocated::Exhausted));
        assert!(asked <= RANDOM_ATTEMPTS);
    }

    #[test]
    fn policies_round_trip_as_the_contract_names_them() {
        let names: Vec<&str> = AllocationPolicy::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(names, ["random", "preferred", "strict"]);
        assert_eq!(AllocationPolicy::default(), AllocationPolicy::Random);
        assert_eq!(serde_json::to_value(AllocationPolicy::Strict).unwrap(), "strict");
        assert_eq!(AllocationPolicy::parse("Strict"), None);
    }
}
