//! The audit log's hash chain as the wire shows it: the head of an organisation's chain
//! (`audit.head`) and the result of re-walking it (`audit.verify`). How an event's hash
//! is computed is the persistence crate's `repo::audit` (and docs/api.md § Audit).

use chrono::{DateTime, Utc};
use serde::Serialize;
use specta::Type;

/// The newest event of an organisation's chain: an operator who keeps `hash` elsewhere
/// can later tell whether anything up to `seq` was changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChainHead {
    /// How many events the chain has (the head's sequence number; 0 for none).
    pub seq: i32,
    /// The head event's hash (64 lowercase hex digits; 64 zeros for an empty chain).
    pub hash: String,
    /// When the head event was written (`null` for an empty chain).
    pub at: Option<DateTime<Utc>>,
}

/// What re-walking a chain found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChainVerification {
    /// Events checked and found sound, from seq 1 up to the first broken link.
    pub verified: i32,
    /// The first broken link; `null` when the whole chain holds.
    pub broken: Option<BrokenLink>,
}

/// The first event at which the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BrokenLink {
    /// The event found where the chain breaks.
    pub event_id: String,
    /// Its sequence number as stored.
    pub seq: i32,
    pub reason: BreakReason,
    /// For `sequence` and `previousHash`: the previous event's hash (what this event's
    /// `prevHash` should be); for `hash`: the hash re-computed from the event's content.
    pub expected_hash: String,
    /// For `sequence` and `previousHash`: the stored `prevHash`; for `hash`: the stored hash.
    pub found_hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum BreakReason {
    /// The sequence number is not the next one: events before it were deleted or
    /// reordered.
    Sequence,
    /// The event does not point at the previous event's hash: an event before it was
    /// removed, inserted or moved.
    PreviousHash,
    /// The event's content does not match its hash: it was edited (or forged).
    Hash,
}

impl BreakReason {
    /// The name the wire uses.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakReason::Sequence => "sequence",
            BreakReason::PreviousHash => "previousHash",
            BreakReason::Hash => "hash",
        }
    }
}
