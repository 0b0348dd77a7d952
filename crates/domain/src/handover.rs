//! Acknowledged handover (issue 13 §6): a key issued with `acknowledge: "sms_code"` texts
//! its holder a 6-digit code, which staff enter with `keys.confirmHandover` within
//! [`CODE_TTL_MINUTES`] and [`MAX_TRIES`] tries. The rules here are pure: making a code
//! from the caller's randomness, and judging a try.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::Secret;

/// How long a code is good for, from the issue.
pub const CODE_TTL_MINUTES: i64 = 15;
/// Wrong tries before the code is locked.
pub const MAX_TRIES: i32 = 5;

text_enum! {
    /// How the holder acknowledges a handover (`keys.issueKey`'s `acknowledge`).
    AcknowledgeBy {
        /// A 6-digit code texted to the holder, entered with `keys.confirmHandover`.
        SmsCode = "sms_code",
    }
}

text_enum! {
    /// Where an acknowledged handover stands (`Key.handover`; `null`: none was asked).
    HandoverState {
        /// The code was sent; the holder has not confirmed it yet.
        Awaiting = "awaiting",
        /// The holder confirmed the code (`acknowledgedAt`, `acknowledgedPhone`).
        Acknowledged = "acknowledged",
        /// [`MAX_TRIES`] wrong codes: no code is taken any more for this holding.
        Locked = "locked",
    }
}

text_enum! {
    /// Why `keys.confirmHandover` refused (HANDOVER_REFUSED's `reason`).
    HandoverRefusal {
        /// Not the code that was sent; a try is used up.
        WrongCode = "wrong_code",
        /// More than [`CODE_TTL_MINUTES`] after the issue.
        Expired = "expired",
        /// Too many wrong codes.
        Locked = "locked",
        /// The key awaits no acknowledgement (none asked, already acknowledged, or the
        /// holding ended).
        NotAwaiting = "not_awaiting",
    }
}

/// The acknowledgement asked for a key's current holding (`Key.handover`).
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyHandover {
    pub state: HandoverState,
    /// Where the code was sent (E.164): the phone that acknowledged, once acknowledged.
    pub phone: String,
    /// Until when the code is taken.
    pub expires_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// A new code: six decimal digits, uniformly from `rng`.
pub fn new_code(rng: &mut impl Rng) -> Secret {
    Secret::new(format!("{:06}", rng.random_range(0..1_000_000u32)))
}

/// When a code made at `issued_at` stops being good.
pub fn expires_at(issued_at: DateTime<Utc>) -> DateTime<Utc> {
    issued_at + Duration::minutes(CODE_TTL_MINUTES)
}

/// What a try does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The right code in time: the handover is acknowledged.
    Acknowledge,
    /// Refused without using a try.
    Refuse(HandoverRefusal),
    /// A wrong code: the try counts; `locks` when it was the last one.
    Wrong { tries_left: i32, locks: bool },
}

/// Judges a try of a handover in `state` whose code was tried wrongly `wrong_tries` times
/// and expires at `expires_at`, made at `now`; `matches` says whether the code is right.
/// A locked code stays locked and an expired one is refused whatever the code.
pub fn judge(
    state: Option<HandoverState>,
    wrong_tries: i32,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    matches: bool,
) -> Verdict {
    match state {
        Some(HandoverState::Locked) => return Verdict::Refuse(HandoverRefusal::Locked),
        Some(HandoverState::Awaiting) => {}
        Some(HandoverState::Acknowledged) | None => return Verdict::Refuse(HandoverRefusal::NotAwaiting),
    }
    if wrong_tries >= MAX_TRIES {
        return Verdict::Refuse(HandoverRefusal::Locked);
    }
    if now > expires_at {
        return Verdict::Refuse(HandoverRefusal::Expired);
    }
    if matches {
        return Verdict::Acknowledge;
    }
    let tries_left = MAX_TRIES - wrong_tries - 1;
    Verdict::Wrong { tries_left, locks: tries_left == 0 }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn codes_are_six_digits() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..1000 {
            let code = new_code(&mut rng);
            assert_eq!(code.expose().len(), 6);
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn a_try_is_judged_as_the_contract_says() {
        let issued = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let expires = expires_at(issued);
        assert_eq!(expires - issued, Duration::minutes(15));
        let awaiting = Some(HandoverState::Awaiting);
        assert_eq!(judge(awaiting, 0, expires, issued, true), Verdict::Acknowledge);
        assert_eq!(judge(awaiting, 4, expires, expires, true), Verdict::Acknowledge, "the 15th minute still counts");
        assert_eq!(judge(awaiting, 0, expires, issued, false), Verdict::Wrong { tries_left: 4, locks: false });
        assert_eq!(judge(awaiting, 4, expires, issued, false), Verdict::Wrong { tries_left: 0, locks: true });
        let late = expires + Duration::microseconds(1);
        assert_eq!(judge(awaiting, 0, expires, late, true), Verdict::Refuse(HandoverRefusal::Expired));
        assert_eq!(judge(awaiting, 5, expires, issued, true), Verdict::Refuse(HandoverRefusal::Locked));
        let locked = Some(HandoverState::Locked);
        assert_eq!(judge(locked, 5, expires, issued, true), Verdict::Refuse(HandoverRefusal::Locked));
        for state in [None, Some(HandoverState::Acknowledged)] {
            assert_eq!(judge(state, 0, expires, issued, true), Verdict::Refuse(HandoverRefusal::NotAwaiting));
        }
    }

    #[test]
    fn states_are_named_as_the_contract_names_them() {
        let names: Vec<&str> = HandoverState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["awaiting", "acknowledged", "locked"]);
        assert_eq!(AcknowledgeBy::parse("sms_code"), Some(AcknowledgeBy::SmsCode));
    }
}
