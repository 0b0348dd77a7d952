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
    /// A grant's state: `active` (edits apply to every holder) until `grants.end`, then
    /// `ended` for good: its credentials ended, and it can no longer be changed.
    GrantStatus {
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
    /// The people's active keycards, ordered by person.
    pub keycards: Vec<Keycard>,
    pub status: GrantStatus,
    /// When `grants.end` ended it; null while active.
    pub ended_at: Option<DateTime<Utc>>,
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

text_enum! {
    /// What became of the card a keycard replaces (`grants.replaceKeycard`).
    OldCard {
        /// The card is marked lost in the register.
        Lost = "lost",
        /// The card came back: it is returned in the register.
        Returned = "returned",
    }
}

/// A person's keycard under a grant: a `card` key of the register, issued to them while
/// the keycard is active.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Keycard {
    pub id: String,
    pub grant_id: String,
    pub person_id: String,
    pub key_id: String,
    pub key_ref: String,
    pub status: CredentialStatus,
    pub end_reason: Option<CredentialEndReason>,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// How a person's keycard is chosen: any free card (`random`), or the card `key_ref`
/// (`preferred`: if free, else any; `strict`: or KEYCARD_UNAVAILABLE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeycardRequest {
    pub policy: AllocationPolicy,
    /// Normalised; given for `preferred` and `strict` only.
    pub key_ref: Option<String>,
}

impl KeycardRequest {
    /// `field` names the request's place in the params (`keycard`; `""`: at the top), for
    /// the errors.
    pub fn new(field: &str, policy: AllocationPolicy, key_ref: Option<&str>) -> crate::Result<KeycardRequest> {
        let key_ref_field = if field.is_empty() { "keyRef".to_owned() } else { format!("{field}.keyRef") };
        let key_ref = match key_ref {
            None => None,
            Some(raw) => Some(crate::key_ref::normalise_key_ref(raw).map_err(|e| match e {
                crate::Error::InvalidInput { reason, .. } => crate::Error::invalid(&key_ref_field, reason),
                other => other,
            })?),
        };
        match (policy, &key_ref) {
            (AllocationPolicy::Random, Some(_)) => {
                Err(crate::Error::invalid(key_ref_field, "is only for the preferred and strict policies"))
            }
            (AllocationPolicy::Preferred | AllocationPolicy::Strict, None) => {
                Err(crate::Error::invalid(key_ref_field, "is required for the preferred and strict policies"))
            }
            _ => Ok(KeycardRequest { policy, key_ref }),
        }
    }
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

impl GrantStatus {
    /// Only an active grant can be edited, given to people or ended; an ended grant stays
    /// as it was ended.
    pub fn can_change(self) -> bool {
        self == GrantStatus::Active
    }
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
    fn a_keycard_request_names_a_card_exactly_when_its_policy_needs_one() {
        let ok = KeycardRequest::new("keycard", AllocationPolicy::Strict, Some(" kc-01 ")).unwrap();
        assert_eq!(ok.key_ref.as_deref(), Some("KC-01"));
        assert!(KeycardRequest::new("keycard", AllocationPolicy::Random, None).unwrap().key_ref.is_none());
        for (policy, key_ref) in [
            (AllocationPolicy::Random, Some("KC-01")),
            (AllocationPolicy::Preferred, None),
            (AllocationPolicy::Strict, None),
            (AllocationPolicy::Strict, Some("bad ref!")),
        ] {
            let err = KeycardRequest::new("keycard", policy, key_ref).unwrap_err();
            assert!(
                matches!(err, crate::Error::InvalidInput { ref field, .. } if field == "keycard.keyRef"),
                "{err:?}"
            );
        }
    }

    #[test]
    fn only_an_active_grant_can_change() {
        let names: Vec<&str> = GrantStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["active", "ended"]);
        assert!(GrantStatus::Active.can_change());
        assert!(!GrantStatus::Ended.can_change());
    }

    #[test]
    fn only_an_active_credential_can_end() {
        assert!(CredentialStatus::Active.can_end());
        assert!(!CredentialStatus::Ended.can_end());
    }
}
