//! The key-holder directory as the wire shows it: people and the firms they work for.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::KeyStatus;

text_enum! {
    /// What a person is to the organisation.
    PersonKind {
        Resident = "resident",
        Staff = "staff",
        Contractor = "contractor",
        Guest = "guest",
        Other = "other",
    }
}

/// Someone keys are issued to: a resident, a member of staff, a contractor, a guest.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub id: String,
    pub name: String,
    pub kind: PersonKind,
    /// E.164, normalised as for SMS.
    pub phone: Option<String>,
    /// Lower-cased.
    pub email: Option<String>,
    /// The firm they work for (a contractor's company).
    pub firm_id: Option<String>,
    /// Where a resident lives.
    pub development_id: Option<String>,
    /// The keyward user this person is, if any.
    pub user_id: Option<String>,
    pub notes: Option<String>,
    /// An archived person stays in history and lists (`archived: true`) but cannot be
    /// issued a key.
    pub archived: bool,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; pass it back as `expectedVersion` to detect conflicts.
    pub version: i32,
    /// Once offboarded (`people.offboard`, or their firm's `firms.offboard`): what is still
    /// to be done, worked out from the register on every read. Null when never offboarded,
    /// and always null in lists.
    pub offboarding: Option<Offboarding>,
}

/// A company whose people hold keys (a contractor, a cleaning firm…).
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Firm {
    pub id: String,
    pub name: String,
    /// E.164, normalised as for SMS.
    pub phone: Option<String>,
    /// Lower-cased.
    pub email: Option<String>,
    pub notes: Option<String>,
    /// An archived firm cannot be given new people; its people are not archived with it.
    pub archived: bool,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; pass it back as `expectedVersion` to detect conflicts.
    pub version: i32,
    /// Once offboarded (`firms.offboard`): what is still to be done for all its offboarded
    /// people, worked out from the register on every read. Null when never offboarded, and
    /// always null in lists.
    pub offboarding: Option<Offboarding>,
}

/// The checklist of an offboarding (`people.offboard`, `firms.offboard`, and
/// `offboarding` on `people.get` / `firms.get`). It is derived from the register on every
/// read, never stored: returning a key or giving a code a new value takes it off.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Offboarding {
    pub offboarded_at: DateTime<Utc>,
    pub reason: String,
    /// Who was offboarded: the person, or every offboarded person of the firm; by name.
    pub people: Vec<OffboardedPerson>,
    /// Keys still issued to those people (each has `returnRequested`), by key ref.
    pub keys_to_recover: Vec<KeyToRecover>,
    /// Codes whose current value is due for rotation because one of those people knew
    /// it, by label.
    pub codes_to_rotate: Vec<CodeToRotate>,
    /// Both lists are empty: nothing left to do.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OffboardedPerson {
    pub id: String,
    pub name: String,
}

/// A key an offboarded person still holds.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyToRecover {
    pub id: String,
    pub key_ref: String,
    pub label: String,
    pub development_id: String,
    pub holder_id: String,
    pub issued_to: Option<String>,
    pub issued_at: Option<DateTime<Utc>>,
    pub expected_return_at: Option<DateTime<Utc>>,
}

/// An access code an offboarded person knew the current value of.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CodeToRotate {
    pub id: String,
    pub label: String,
    pub development_id: String,
}

/// A holding of a key as the key's history shows it: the `issued` movement it began with.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Holding {
    pub key_id: String,
    /// The person of the directory (null for a walk-in issued by name only).
    pub holder_id: Option<String>,
    pub issued_to: Option<String>,
    /// When the key was issued: the `at` of the movement.
    pub since: DateTime<Utc>,
    /// Display name of the user who issued it.
    pub issued_by: String,
    /// The `issued` movement this answer comes from (`keys.keyHistory` shows it).
    pub movement_id: String,
}

/// `keys.holderAt`: who held a key at an instant, and the key's status then.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyHolderAt {
    pub key_id: String,
    pub at: DateTime<Utc>,
    /// The key's status at `at`; null when the key did not exist yet.
    pub status: Option<KeyStatus>,
    /// Null when nobody held it.
    pub holding: Option<Holding>,
    /// The history entries (movement ids) the answer comes from: the last movement at or
    /// before `at`; empty when the key did not exist yet.
    pub movement_ids: Vec<String>,
}

/// `people.holdingsAt`: every key a person held at an instant.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PersonHoldingsAt {
    pub person_id: String,
    pub at: DateTime<Utc>,
    /// Ordered by `since`, then movement id.
    pub items: Vec<Holding>,
    /// The history entries (movement ids) the answer comes from: each key's last movement
    /// at or before `at` among the keys the person had been issued by then.
    pub movement_ids: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::PersonKind;

    #[test]
    fn person_kinds_round_trip_as_the_contract_names_them() {
        let names: Vec<&str> = PersonKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, ["resident", "staff", "contractor", "guest", "other"]);
        for kind in PersonKind::ALL {
            assert_eq!(PersonKind::parse(kind.as_str()), Some(*kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(PersonKind::parse("Resident"), None);
    }
}
