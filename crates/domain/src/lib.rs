//! keyward's domain: the entities as the wire shows them, their enums, and the rules that
//! govern them (status transitions, key refs and prefixes, validation, roles).
//!
//! Architecture invariant: no I/O, no async runtime, no diesel, no jsonrpsee. Everything
//! here is a pure function of its arguments, so it is unit-tested in place.

pub mod audit;
pub mod blast_radius;
pub mod code_ledger;
pub mod doors;
#[macro_use]
pub mod entities;
pub mod door_log;
pub mod doorcode;
pub mod error;
pub mod grant;
pub mod handover;
pub mod inbound;
pub mod jobs;
pub mod key_audit;
pub mod key_ref;
pub mod key_sets;
pub mod page;
pub mod people;
pub mod reminders;
pub mod role;
pub mod schedule;
pub mod secret;
pub mod status;
pub mod validate;
pub mod webhooks;

pub use audit::{BreakReason, BrokenLink, ChainHead, ChainVerification};
pub use blast_radius::{
    BlastRadius, CodeAtDoors, DoorcodesAtDoor, ExposedDoor, KeyAtDoors, PersonAtDoors, RecommendedAction,
};
pub use code_ledger::*;
pub use doors::{Door, DoorKind};
pub use entities::*;
pub use error::{Error, Result, StorageFault};
pub use handover::{AcknowledgeBy, HandoverRefusal, HandoverState, KeyHandover};
pub use key_audit::{
    KeyAudit, KeyAuditLine, KeyAuditLines, KeyAuditOutcome, KeyAuditPage, KeyAuditReport, KeyAuditStatus, RecordedKey,
    ResolvedKeyAudit, UnexpectedReason,
};
pub use key_sets::{KeySet, KeySetMember, KeySetState};
pub use page::{Page, PageRequest};
pub use people::{
    CodeToRotate, Firm, Holding, KeyHolderAt, KeyToRecover, OffboardedPerson, Offboarding, Person, PersonHoldingsAt,
    PersonKind,
};
pub use role::{Actor, Capability, Role};
pub use secret::Secret;
pub use status::{KeyStatus, Transition};
