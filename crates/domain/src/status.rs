//! Key statuses and the transition table of the contract.

use serde::{Deserialize, Serialize};
use specta::Type;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    InStock,
    Issued,
    Returned,
    Lost,
    Damaged,
    Deactivated,
}

impl KeyStatus {
    pub const ALL: [KeyStatus; 6] = [
        KeyStatus::InStock,
        KeyStatus::Issued,
        KeyStatus::Returned,
        KeyStatus::Lost,
        KeyStatus::Damaged,
        KeyStatus::Deactivated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::InStock => "in_stock",
            KeyStatus::Issued => "issued",
            KeyStatus::Returned => "returned",
            KeyStatus::Lost => "lost",
            KeyStatus::Damaged => "damaged",
            KeyStatus::Deactivated => "deactivated",
        }
    }

    pub fn parse(s: &str) -> Option<KeyStatus> {
        KeyStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// An issued key cannot be deleted: someone holds it.
    pub fn can_delete(self) -> bool {
        self != KeyStatus::Issued
    }
}

impl std::fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status change of a key, one per procedure of the contract's transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    Issue,
    Return,
    ReturnToStock,
    MarkLost,
    MarkFound,
    MarkDamaged,
    Deactivate,
    Reactivate,
}

impl Transition {
    pub const ALL: [Transition; 8] = [
        Transition::Issue,
        Transition::Return,
        Transition::ReturnToStock,
        Transition::MarkLost,
        Transition::MarkFound,
        Transition::MarkDamaged,
        Transition::Deactivate,
        Transition::Reactivate,
    ];

    /// The statuses this transition may start from; anything else is INVALID_TRANSITION.
    pub fn allowed_from(self) -> &'static [KeyStatus] {
        use KeyStatus::*;
        match self {
            Transition::Issue => &[InStock, Returned],
            Transition::Return => &[Issued],
            Transition::ReturnToStock => &[Returned],
            Transition::MarkLost => &[InStock, Issued, Returned, Damaged],
            Transition::MarkFound => &[Lost],
            Transition::MarkDamaged => &[InStock, Issued, Returned, Lost],
            Transition::Deactivate => &[InStock, Issued, Returned, Lost, Damaged],
            Transition::Reactivate => &[Deactivated],
        }
    }

    pub fn to(self) -> KeyStatus {
        match self {
            Transition::Issue => KeyStatus::Issued,
            Transition::Return => KeyStatus::Returned,
            Transition::ReturnToStock | Transition::MarkFound | Transition::Reactivate => KeyStatus::InStock,
            Transition::MarkLost => KeyStatus::Lost,
            Transition::MarkDamaged => KeyStatus::Damaged,
            Transition::Deactivate => KeyStatus::Deactivated,
        }
    }

    pub fn allows(self, from: KeyStatus) -> bool {
        self.allowed_from().contains(&from)
    }

    /// The name of the movement in a key's history and of the audit action (`key.<name>`).
    pub fn action(self) -> &'static str {
        match self {
            Transition::Issue => "issued",
            Transition::Return => "returned",
            Transition::ReturnToStock => "returned_to_stock",
            Transition::MarkLost => "marked_lost",
            Transition::MarkFound => "marked_found",
            Transition::MarkDamaged => "marked_damaged",
            Transition::Deactivate => "deactivated",
            Transition::Reactivate => "reactivated",
        }
    }

    /// The status a key has after a movement of its history (`created` or a transition's
    /// action); `None` for a word that is neither.
    pub fn status_after(movement_action: &str) -> Option<KeyStatus> {
        if movement_action == "created" {
            return Some(KeyStatus::InStock);
        }
        Transition::ALL.iter().find(|t| t.action() == movement_action).map(|t| t.to())
    }

    /// Whether the key ends up on the shelf, so its last holder is cleared.
    pub fn clears_holder(self) -> bool {
        self.to() == KeyStatus::InStock
    }
}

#[cfg(test)]
mod tests {
    use super::KeyStatus::*;
    use super::*;

    #[test]
    fn a_movement_tells_the_status_it_left_the_key_in() {
        assert_eq!(Transition::status_after("created"), Some(InStock));
        for t in Transition::ALL {
            assert_eq!(Transition::status_after(t.action()), Some(t.to()), "{t:?}");
        }
        assert_eq!(Transition::status_after("updated"), None);
    }

    #[test]
    fn transition_table_matches_the_contract() {
        let table: [(Transition, &[KeyStatus], KeyStatus); 8] = [
            (Transition::Issue, &[InStock, Returned], Issued),
            (Transition::Return, &[Issued], Returned),
            (Transition::ReturnToStock, &[Returned], InStock),
            (Transition::MarkLost, &[InStock, Issued, Returned, Damaged], Lost),
            (Transition::MarkFound, &[Lost], InStock),
            (Transition::MarkDamaged, &[InStock, Issued, Returned, Lost], Damaged),
            (Transition::Deactivate, &[InStock, Issued, Returned, Lost, Damaged], Deactivated),
            (Transition::Reactivate, &[Deactivated], InStock),
        ];
        for (transition, from, to) in table {
            assert_eq!(transition.to(), to);
            for status in KeyStatus::ALL {
                assert_eq!(transition.allows(status), from.contains(&status), "{transition:?} from {status}");
            }
        }
    }

    #[test]
    fn only_issued_keys_cannot_be_deleted() {
        for status in KeyStatus::ALL {
            assert_eq!(status.can_delete(), status != Issued);
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in KeyStatus::ALL {
            assert_eq!(KeyStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(KeyStatus::parse("Issued"), None);
    }
}
