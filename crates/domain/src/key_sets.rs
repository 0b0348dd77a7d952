//! Key sets (issue 13 §5): a named set of keys of one development (a ring, a bunch) that
//! is issued and returned as one. A key belongs to at most one set.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::KeyStatus;

/// At most this many keys in one set (a ring, not a store).
pub const MEMBERS_MAX: usize = 100;

text_enum! {
    /// Where a set is, as `keySets.issue` and `keySets.return` left it.
    KeySetState {
        /// In the store: issued as a set never, or given back whole.
        InStock = "in_stock",
        /// Issued as one, every member with it.
        Issued = "issued",
        /// Given back in part: the members still out are flagged `missing`.
        Incomplete = "incomplete",
    }
}

impl KeySetState {
    /// The state after a return that left `still_out` members out.
    pub fn after_return(still_out: usize) -> KeySetState {
        if still_out == 0 { KeySetState::InStock } else { KeySetState::Incomplete }
    }
}

/// A key of a set, as the set shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeySetMember {
    pub key_id: String,
    pub key_ref: String,
    pub label: String,
    /// The key's own status (a member may be moved on its own with `keys.*`).
    pub status: KeyStatus,
    /// A partial `keySets.return` left it out; cleared when it comes back.
    pub missing: bool,
}

/// A named set of keys of one development.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeySet {
    pub id: String,
    pub development_id: String,
    pub name: String,
    pub state: KeySetState,
    /// Who the set was issued to (`issued` and `incomplete`).
    pub issued_to: Option<String>,
    pub issued_at: Option<DateTime<Utc>>,
    /// By key ref.
    pub members: Vec<KeySetMember>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; pass it back as `expectedVersion` to detect conflicts.
    pub version: i32,
}

#[cfg(test)]
mod tests {
    use super::KeySetState;

    #[test]
    fn states_round_trip_as_the_contract_names_them() {
        let names: Vec<&str> = KeySetState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["in_stock", "issued", "incomplete"]);
        assert_eq!(KeySetState::parse("incomplete"), Some(KeySetState::Incomplete));
        assert_eq!(KeySetState::parse("Issued"), None);
    }

    #[test]
    fn a_return_that_leaves_members_out_leaves_the_set_incomplete() {
        assert_eq!(KeySetState::after_return(0), KeySetState::InStock);
        assert_eq!(KeySetState::after_return(2), KeySetState::Incomplete);
    }
}
