//! Phone numbers with a fixed answer (spec §7 rules 9 and 10), named so tests need not repeat
//! the digits.
//!
//! The magic numbers are Twilio's own test-credential numbers, so a suite written against them
//! also runs against real Twilio test credentials. The fault numbers are keyward's: valid GB
//! mobiles that pass keyward's own phone validation.

/// The valid sender of Twilio's test credentials.
pub const VALID_FROM: &str = "+15005550006";

/// `From` → 400/21212 (invalid sender).
pub const FROM_INVALID: &str = "+15005550001";
/// `From` → 400/21606 (not a message-capable number of this account).
pub const FROM_NOT_OWNED: &str = "+15005550007";
/// `From` → 400/21611 (the sender's queue is full).
pub const FROM_QUEUE_FULL: &str = "+15005550008";

/// `To` → 400/21211 (invalid number).
pub const TO_INVALID: &str = "+15005550001";
/// `To` → 400/21612 (cannot be reached from this sender).
pub const TO_UNROUTABLE: &str = "+15005550002";
/// `To` → 400/21408 (region not enabled).
pub const TO_REGION_DISABLED: &str = "+15005550003";
/// `To` → 400/21610 (recipient opted out with STOP).
pub const TO_OPTED_OUT: &str = "+15005550004";
/// `To` → 400/21614 (not a mobile number).
pub const TO_NOT_MOBILE: &str = "+15005550009";

/// `To` → 429/20429 with `Retry-After: 1`.
pub const FAULT_429: &str = "+447400000429";
/// `To` → 500/20500 (may have sent).
pub const FAULT_500: &str = "+447400000500";
/// `To` → 503/20503.
pub const FAULT_503: &str = "+447400000503";
/// `To` → waits `Config::slow_delay`, then 201: the "outcome unknown" case for a client timeout.
pub const FAULT_SLOW: &str = "+447400000504";
