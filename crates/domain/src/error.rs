//! The one error type of keyward. Every failure a caller can see is a variant here; the
//! rpc crate maps each variant, in one place, to the contract's JSON-RPC code and
//! `data.kind`.

use crate::status::KeyStatus;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Wrong shape, type, range, length or format. `field` is a dotted path.
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: String, reason: String },
    #[error("not signed in, or the session has ended")]
    Unauthenticated,
    /// `auth.login` refused: one answer for an unknown email, a disabled user and a wrong
    /// password (UNAUTHENTICATED on the wire).
    #[error("wrong email or password")]
    WrongCredentials,
    #[error("your role may not do this")]
    Forbidden,
    /// No such entity in the caller's organisation.
    #[error("not found")]
    NotFound,
    #[error("key ref {0} is already used in this organisation")]
    KeyRefTaken(String),
    #[error("not allowed while the key is {current}")]
    InvalidTransition { current: KeyStatus },
    #[error("changed by someone else since you read it (now version {current})")]
    VersionConflict { current: i32 },
    #[error("the development still has keys, access codes, doors or residents")]
    DevelopmentNotEmpty,
    /// A key or access code opens the door: unlink it first (decision 70).
    #[error("keys or access codes still open this door")]
    DoorInUse,
    #[error("the access code is inactive or expired")]
    CodeNotActive,
    /// The person is archived: no key can be issued (nor a code sent) to them.
    #[error("the person is archived")]
    PersonArchived,
    /// `strict` doorcode allocation: the code is an active doorcode or shared access code
    /// at this door.
    #[error("the code is already in use at door {door_id}")]
    CodeTaken { door_id: String },
    /// No free card for a keycard: `strict`'s card (`key_ref`) is not a `card` key of
    /// the grant's development that is `in_stock` and nobody's keycard, or (`key_ref`
    /// `None`) the development has no such card left.
    #[error("{}", keycard_unavailable_message(key_ref.as_deref()))]
    KeycardUnavailable { key_ref: Option<String> },
    /// Issuing a key set (or deleting or changing the members of one) while these
    /// members are not in stock.
    #[error("keys not in stock: {}", key_refs.join(", "))]
    KeysNotInStock { key_refs: Vec<String> },
    /// `keys.confirmHandover` did not acknowledge the handover.
    #[error("{}", handover_refused_message(*reason, *tries_left))]
    HandoverRefused { reason: crate::HandoverRefusal, tries_left: Option<i32> },
    #[error("too many attempts; try again in {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u32 },
    /// No SMS settings, or Twilio refused the organisation's credentials.
    #[error("SMS is not set up for this organisation (or Twilio refused its credentials)")]
    SmsNotConfigured { provider_code: Option<i32> },
    /// Twilio refused the message: a bad number, or the person opted out (21610).
    #[error("{}", sms_rejected_message(*provider_code))]
    SmsRejected { provider_code: Option<i32> },
    #[error("{}", if *maybe_sent { "the SMS provider failed; the message may have been sent" } else { "the SMS provider is unavailable; nothing was sent" })]
    SmsUnavailable { maybe_sent: bool },
    /// The database did not answer (in time), or refused for a passing reason: nothing was
    /// changed, safe to retry.
    #[error("the database is unavailable; nothing was changed; try again")]
    Unavailable,
    /// The database cannot store changes now (its disk is full, its file read-only or
    /// failing): nothing was changed; reads still work.
    #[error("the database cannot store changes now ({0}); nothing was changed; reads still work")]
    CannotStore(StorageFault),
    /// The database stopped answering after the commit was sent: the change may or may
    /// not have been saved. Not safe to retry blindly.
    #[error("the database stopped answering while saving; the change may have been saved: check before trying again")]
    MaybeCommitted,
    /// A bug. The text is for the log only, never for the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why the database cannot store changes ([`Error::CannotStore`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StorageFault {
    #[error("its disk is full")]
    Full,
    #[error("its file is read-only")]
    ReadOnly,
    #[error("writing to its file failed")]
    WriteFailed,
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput { field: field.into(), reason: reason.into() }
    }
}

fn keycard_unavailable_message(key_ref: Option<&str>) -> String {
    match key_ref {
        Some(key_ref) => format!("card {key_ref} is not a free card of the grant's development"),
        None => "no free card is left in the grant's development".to_owned(),
    }
}

fn handover_refused_message(reason: crate::HandoverRefusal, tries_left: Option<i32>) -> String {
    use crate::HandoverRefusal::*;
    match (reason, tries_left) {
        (WrongCode, Some(0)) => "wrong code; no tries left: the handover can no longer be acknowledged".to_owned(),
        (WrongCode, Some(n)) => format!("wrong code; {n} tries left"),
        (WrongCode, None) => "wrong code".to_owned(),
        (Expired, _) => "the code has expired".to_owned(),
        (Locked, _) => "too many wrong codes: the handover can no longer be acknowledged".to_owned(),
        (NotAwaiting, _) => "the key awaits no acknowledgement".to_owned(),
    }
}

fn sms_rejected_message(provider_code: Option<i32>) -> String {
    match provider_code {
        Some(21610) => "this person has opted out of SMS from your number (they replied STOP); \
                        they can text START to it to opt back in"
            .to_owned(),
        Some(code) => format!("the SMS provider refused the message (error {code})"),
        None => "the SMS provider refused the message".to_owned(),
    }
}
