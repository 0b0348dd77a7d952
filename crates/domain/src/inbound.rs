//! Two-way SMS (issue 13 §3): what a holder's text asks for, read from its body, and how
//! a number is shown where a person could see it (the audit log, the key's history).
//!
//! The words are read in any case, with any spacing: `RETURNED`, `RETURNED OP-001`,
//! `EXTEND 2`, `EXTEND 2 OP-001`; Twilio's opt-out keywords (`STOP` …) and opt-in keywords
//! (`START` …) are whole messages, as Twilio reads them. Anything else asks for help.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::key_ref::normalise_key_ref;

/// What an inbound text asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The holder says the key(s) are back: all of the number's issued keys, or the one named.
    Returned { key_ref: Option<String> },
    /// More time: `days` (not yet checked against the policy), for all keys or the one named.
    Extend { days: i64, key_ref: Option<String> },
    /// No more reminders to this number (Twilio's opt-out keywords).
    Stop,
    /// Reminders again (Twilio's opt-in keywords).
    Start,
    /// Twilio answers `HELP` / `INFO` itself.
    TwilioHelp,
    /// Anything else: the help reply.
    Unknown,
}

/// Twilio's standard opt-out keywords.
pub const STOP_WORDS: [&str; 6] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"];
/// Twilio's standard opt-in keywords.
pub const START_WORDS: [&str; 3] = ["START", "YES", "UNSTOP"];
/// Twilio's standard help keywords (Twilio replies to them).
pub const HELP_WORDS: [&str; 2] = ["HELP", "INFO"];

/// The help reply: the commands a holder can send.
pub const HELP_REPLY: &str = "Reply RETURNED when your keys are back (RETURNED OP-001 for one key), EXTEND 2 for 2 more days, STOP to stop texts.";

impl Command {
    pub fn parse(body: &str) -> Command {
        let words: Vec<String> = body.split_whitespace().map(str::to_uppercase).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let key_ref = |raw: Option<&&str>| -> Option<Option<String>> {
            match raw {
                None => Some(None),
                Some(raw) => normalise_key_ref(raw).ok().map(Some),
            }
        };
        match words.as_slice() {
            [one] if STOP_WORDS.contains(one) => Command::Stop,
            [one] if START_WORDS.contains(one) => Command::Start,
            [one] if HELP_WORDS.contains(one) => Command::TwilioHelp,
            ["RETURNED", rest @ ..] if rest.len() <= 1 => match key_ref(rest.first()) {
                Some(key_ref) => Command::Returned { key_ref },
                None => Command::Unknown,
            },
            ["EXTEND", days, rest @ ..] if rest.len() <= 1 => {
                match (
                    days.parse::<i64>().ok().filter(|_| days.chars().all(|c| c.is_ascii_digit())),
                    key_ref(rest.first()),
                ) {
                    (Some(days), Some(key_ref)) => Command::Extend { days, key_ref },
                    _ => Command::Unknown,
                }
            }
            _ => Command::Unknown,
        }
    }
}

/// What came of a text, for the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// STOP, START, HELP: Twilio itself replies.
    Silent,
    /// The number holds no issued key in the organisation.
    NoKeys,
    Help,
    /// The ref named is not one of the number's keys.
    NotYours {
        asked: String,
        yours: Vec<String>,
    },
    /// `returnClaimedAt` set on these keys.
    Claimed {
        refs: Vec<String>,
    },
    /// `EXTEND n` beyond the policy's maximum (or 0): nothing changed.
    TooManyDays {
        max: i32,
    },
    Extended {
        keys: Vec<ExtendedKey>,
    },
}

/// A key whose due time a text moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedKey {
    pub key_ref: String,
    pub due_at: DateTime<Utc>,
    /// The development's zone: the reply shows its wall clock.
    pub zone: Tz,
}

/// The reply to a number that holds no issued key in the organisation.
pub const NO_KEYS_REPLY: &str = "No keys are issued to this number.";

impl Outcome {
    /// The text to send back, if any.
    pub fn reply(&self) -> Option<String> {
        let refs = |refs: &[String]| refs.join(", ");
        Some(match self {
            Outcome::Silent => return None,
            Outcome::NoKeys => NO_KEYS_REPLY.to_owned(),
            Outcome::Help => HELP_REPLY.to_owned(),
            Outcome::NotYours { asked, yours } => {
                format!("No key {asked} is issued to this number. Yours: {}.", refs(yours))
            }
            Outcome::Claimed { refs: claimed } => {
                format!("Thanks: {} marked as returned, for staff to confirm.", refs(claimed))
            }
            Outcome::TooManyDays { max } => {
                format!("You can extend by 1 to {max} days: reply EXTEND 2 for 2 more days.")
            }
            Outcome::Extended { keys } => {
                let due: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        format!("{} now due back {}", k.key_ref, k.due_at.with_timezone(&k.zone).format("%-d %b %H:%M"))
                    })
                    .collect();
                format!("{}.", due.join(", "))
            }
        })
    }
}

/// A number as the audit log and the key's history show it: its last four digits only
/// (`•••3456`), so that the log, which is kept for good, does not spread holders' numbers.
pub fn masked_phone(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    let last: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("•••{last}")
}

/// The name a text from `number` acts under.
pub fn phone_actor_name(number: &str) -> String {
    format!("SMS from {}", masked_phone(number))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn returned(key_ref: Option<&str>) -> Command {
        Command::Returned { key_ref: key_ref.map(str::to_owned) }
    }

    #[test]
    fn returned_in_any_case_and_spacing_with_an_optional_ref() {
        assert_eq!(Command::parse("RETURNED"), returned(None));
        assert_eq!(Command::parse("  returned \n"), returned(None));
        assert_eq!(Command::parse("Returned op-001"), returned(Some("OP-001")));
        assert_eq!(Command::parse("RETURNED  K-0042 "), returned(Some("K-0042")));
        assert_eq!(Command::parse("RETURNED OP-001 OP-002"), Command::Unknown);
        assert_eq!(Command::parse("returned it yesterday!"), Command::Unknown);
    }

    #[test]
    fn extend_takes_a_whole_number_of_days_and_an_optional_ref() {
        assert_eq!(Command::parse("EXTEND 2"), Command::Extend { days: 2, key_ref: None });
        assert_eq!(Command::parse("extend 30 op-7"), Command::Extend { days: 30, key_ref: Some("OP-7".to_owned()) });
        assert_eq!(Command::parse("EXTEND 0"), Command::Extend { days: 0, key_ref: None }, "the policy refuses it");
        for body in ["EXTEND", "EXTEND two", "EXTEND -1", "EXTEND +2", "EXTEND 1.5", "EXTEND 99999999999999999999"] {
            assert_eq!(Command::parse(body), Command::Unknown, "{body}");
        }
    }

    #[test]
    fn twilios_keywords_are_whole_messages() {
        for word in ["stop", "STOPALL", "Unsubscribe", "cancel", "END", "quit"] {
            assert_eq!(Command::parse(word), Command::Stop, "{word}");
        }
        for word in ["start", "YES", "unstop"] {
            assert_eq!(Command::parse(word), Command::Start, "{word}");
        }
        assert_eq!(Command::parse("help"), Command::TwilioHelp);
        assert_eq!(Command::parse("stop it"), Command::Unknown);
        assert_eq!(Command::parse(""), Command::Unknown);
    }

    #[test]
    fn replies_name_the_keys_and_the_due_time_on_the_developments_clock() {
        let refs = vec!["OP-001".to_owned(), "OP-002".to_owned()];
        assert_eq!(Outcome::Silent.reply(), None);
        assert_eq!(
            Outcome::Claimed { refs: refs.clone() }.reply().unwrap(),
            "Thanks: OP-001, OP-002 marked as returned, for staff to confirm."
        );
        assert_eq!(
            Outcome::NotYours { asked: "OP-9".to_owned(), yours: refs }.reply().unwrap(),
            "No key OP-9 is issued to this number. Yours: OP-001, OP-002."
        );
        let due_at = "2027-07-01T09:00:00Z".parse().unwrap();
        let extended = ExtendedKey { key_ref: "OP-001".to_owned(), due_at, zone: chrono_tz::Europe::London };
        assert_eq!(Outcome::Extended { keys: vec![extended] }.reply().unwrap(), "OP-001 now due back 1 Jul 10:00.");
    }

    #[test]
    fn a_number_shows_only_its_last_four_digits() {
        assert_eq!(masked_phone("+447400123456"), "•••3456");
        assert_eq!(masked_phone("12"), "•••12");
        assert_eq!(phone_actor_name("+447400123456"), "SMS from •••3456");
    }
}
