//! Access grants' credentials (issue 12 §3): what a person of a grant holds, and the
//! states a credential goes through. A credential is `active` until it ends, for one of
//! the reasons below; an ended credential is never active again (a new one is allocated).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::doorcode::AllocationPolicy;
use crate::schedule::{DeniedReason, ScheduleWindow};

text_enum! {
    /// What a person of a grant is given.
    CredentialKind {
        /// A code of digits for the grant's doors, one per door.
        Doorcode = "doorcode",
        /// A `card` key of the register, issued to the person.
        Keycard = "keycard",
    }
}

text_enum! {
    CredentialStatus {
        Active = "active",
        Ended = "ended",
    }
}

text_enum! {
    /// Why a credential ended.
    CredentialEndReason {
        /// The person was removed from the grant.
        PersonRemoved = "person_removed",
        /// The grant was ended (or deleted).
        GrantEnded = "grant_ended",
        /// `grants.replaceKeycard` (or a new doorcode) took its place.
        Replaced = "replaced",
        /// The door was removed from the grant.
        DoorRemoved = "door_removed",
    }
}

/// An access grant: doors of one development given to people, for an access period, on a
/// weekly schedule per door. Editing it applies to every holder at once.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    pub id: String,
    pub development_id: String,
    pub name: String,
    pub starts_at: DateTime<Utc>,
    /// Null: no end.
    pub ends_at: Option<DateTime<Utc>>,
    /// Ordered by door id.
    pub doors: Vec<GrantDoor>,
    /// The people it is given to, ordered by id.
    pub person_ids: Vec<String>,
    /// How the people's doorcodes are chosen; null: the grant gives no doorcodes.
    pub doorcode_policy: Option<AllocationPolicy>,
    /// The people's active doorcodes (never their values).
    pub doorcodes: Vec<Doorcode>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; pass it back as `expectedVersion` to detect conflicts.
    pub version: i32,
}

/// A door of a grant and when the grant opens it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct GrantDoor {
    pub door_id: String,
    /// Empty: at any time of the access period.
    pub schedule: Vec<ScheduleWindow>,
}

/// A person's doorcode at one door of a grant. The value is sealed at rest and reaches the
/// person only by `grants.sendCredentials`.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Doorcode {
    pub id: String,
    pub grant_id: String,
    pub person_id: String,
    pub door_id: String,
    pub status: CredentialStatus,
    pub end_reason: Option<CredentialEndReason>,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// `access.check`: whether a person may go through a door at an instant, and by which
/// grant and doorcode, or why not.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AccessCheck {
    pub person_id: String,
    pub door_id: String,
    pub at: DateTime<Utc>,
    pub allowed: bool,
    /// The grant that lets them through (allowed).
    pub grant_id: Option<String>,
    /// Their active doorcode at the door under that grant, if the grant gives doorcodes.
    pub doorcode_id: Option<String>,
    /// Why not (refused).
    pub reason: Option<DeniedReason>,
    /// Refused: the first instant within 8 days at which a grant would let them through.
    pub next_allowed_at: Option<DateTime<Utc>>,
}

impl CredentialStatus {
    /// An ended credential stays ended; only an active one can end.
    pub fn can_end(self) -> bool {
        self == CredentialStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_enums_round_trip_as_the_contract_names_them() {
        let kinds: Vec<&str> = CredentialKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(kinds, ["doorcode", "keycard"]);
        for status in CredentialStatus::ALL {
            assert_eq!(CredentialStatus::parse(status.as_str()), Some(*status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        for reason in CredentialEndReason::ALL {
            assert_eq!(CredentialEndReason::parse(reason.as_str()), Some(*reason));
        }
        assert_eq!(CredentialEndReason::parse("Replaced"), None);
    }

    #[test]
    fn only_an_active_credential_can_end() {
        assert!(CredentialStatus::Active.can_end());
        assert!(!CredentialStatus::Ended.can_end());
    }
}
