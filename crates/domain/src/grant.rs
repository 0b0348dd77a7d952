//! Access grants' credentials (issue 12 §3): what a person of a grant holds, and the
//! states a credential goes through. A credential is `active` until it ends, for one of
//! the reasons below; an ended credential is never active again (a new one is allocated).

use serde::{Deserialize, Serialize};
use specta::Type;

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
