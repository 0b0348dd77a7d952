//! What a lost key exposes (issue 12 §5): the doors it opens and what else is at them, and
//! what a property manager should do about it (decision 120).

use serde::Serialize;
use specta::Type;

use crate::doors::DoorKind;
use crate::entities::{CodeType, KeyType};
use crate::status::KeyStatus;

/// `keys.blastRadius`, and `keys.markLost`'s `blastRadius`: the key, the doors it opens,
/// and everything at those doors. Never a code value.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BlastRadius {
    pub key_id: String,
    pub key_ref: String,
    pub key_type: KeyType,
    pub status: KeyStatus,
    /// The doors the key opens, by name.
    pub doors: Vec<ExposedDoor>,
    /// The other keys that open any of those doors, by key ref.
    pub other_keys: Vec<KeyAtDoors>,
    /// The shared access codes at those doors or linked to the key (`keyIds`), by label.
    pub access_codes: Vec<CodeAtDoors>,
    /// The active doorcodes at each door (one entry per door, in `doors` order).
    pub doorcodes: Vec<DoorcodesAtDoor>,
    /// The people with an active grant on any of those doors, by name.
    pub people: Vec<PersonAtDoors>,
    /// What to do, in this order: stop the key opening anything, change the codes, then
    /// deal with the keys the new locks leave behind.
    pub actions: Vec<RecommendedAction>,
}

/// A door the key opens.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ExposedDoor {
    pub id: String,
    pub name: String,
    pub kind: DoorKind,
}

/// Another key that opens some of the exposed doors, and who has it.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyAtDoors {
    pub id: String,
    pub key_ref: String,
    pub label: String,
    pub key_type: KeyType,
    pub status: KeyStatus,
    pub holder_id: Option<String>,
    pub issued_to: Option<String>,
    /// The exposed doors it opens, ordered by id.
    pub door_ids: Vec<String>,
}

/// A shared access code at some of the exposed doors (never its value).
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CodeAtDoors {
    pub id: String,
    pub label: String,
    pub code_type: CodeType,
    /// As the code shows it now (after `keys.markLost`, true).
    pub rotation_due: bool,
    /// The exposed doors it is at, ordered by id (empty for a code only linked to the key).
    pub door_ids: Vec<String>,
    /// The code is linked to the key (`keyIds`).
    pub linked: bool,
}

/// The active doorcodes at one exposed door: how many, and whose.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DoorcodesAtDoor {
    pub door_id: String,
    pub active: i32,
    /// Ordered by id.
    pub person_ids: Vec<String>,
}

/// A person with an active grant on some of the exposed doors.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PersonAtDoors {
    pub id: String,
    pub name: String,
    /// Ordered by id.
    pub grant_ids: Vec<String>,
    /// The exposed doors their grants give, ordered by id.
    pub door_ids: Vec<String>,
}

/// One thing to do about a lost key (decision 120).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RecommendedAction {
    /// A card, fob or remote: cancel it at the door's access control, then
    /// `keys.deactivateKey`. Nothing else needs to change at the doors.
    DeactivateKey {
        #[serde(rename = "keyId")]
        key_id: String,
    },
    /// A cut key: change the lock (or cylinder) of the door; the key opens it until then.
    RekeyDoor {
        #[serde(rename = "doorId")]
        door_id: String,
    },
    /// Give the shared code a new value (`keys.updateAccessCode`): it may travel with the
    /// key (a tag, a note on the fob ring). `keys.markLost` marks it `rotationDue`.
    RotateCode {
        #[serde(rename = "accessCodeId")]
        access_code_id: String,
    },
    /// Another usable key (not lost or deactivated) to doors that are being rekeyed: it
    /// stops opening them; cut it anew for the new lock or ask it back.
    ReplaceKey {
        #[serde(rename = "keyId")]
        key_id: String,
        /// The rekeyed doors it opened, ordered by id.
        #[serde(rename = "doorIds")]
        door_ids: Vec<String>,
    },
}

impl KeyType {
    /// Cancelled electronically (a card, fob or remote), rather than by changing locks.
    pub fn is_electronic(self) -> bool {
        matches!(self, KeyType::Card | KeyType::Fob | KeyType::Remote)
    }
}

impl BlastRadius {
    /// Works out [`BlastRadius::actions`] from the rest (decision 120): a card, fob or
    /// remote is deactivated; a cut key's doors are rekeyed, and the other usable keys to
    /// them replaced. Every code found is rotated.
    pub fn recommend(&mut self) {
        let mut actions = Vec::new();
        let electronic = self.key_type.is_electronic();
        if electronic {
            actions.push(RecommendedAction::DeactivateKey { key_id: self.key_id.clone() });
        } else {
            actions.extend(self.doors.iter().map(|d| RecommendedAction::RekeyDoor { door_id: d.id.clone() }));
        }
        actions
            .extend(self.access_codes.iter().map(|c| RecommendedAction::RotateCode { access_code_id: c.id.clone() }));
        if !electronic {
            let usable = |k: &&KeyAtDoors| !matches!(k.status, KeyStatus::Lost | KeyStatus::Deactivated);
            actions.extend(
                self.other_keys
                    .iter()
                    .filter(usable)
                    .map(|k| RecommendedAction::ReplaceKey { key_id: k.id.clone(), door_ids: k.door_ids.clone() }),
            );
        }
        self.actions = actions;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn radius(key_type: KeyType) -> BlastRadius {
        let other = |id: &str, status| KeyAtDoors {
            id: id.into(),
            key_ref: id.into(),
            label: "x".into(),
            key_type: KeyType::PhysicalKey,
            status,
            holder_id: None,
            issued_to: None,
            door_ids: vec!["d1".into()],
        };
        BlastRadius {
            key_id: "k".into(),
            key_ref: "OP-001".into(),
            key_type,
            status: KeyStatus::Lost,
            doors: vec![ExposedDoor { id: "d1".into(), name: "Gate".into(), kind: DoorKind::Gate }],
            other_keys: vec![other("k2", KeyStatus::Issued), other("k3", KeyStatus::Lost)],
            access_codes: vec![CodeAtDoors {
                id: "c1".into(),
                label: "Gate code".into(),
                code_type: CodeType::Gate,
                rotation_due: false,
                door_ids: vec!["d1".into()],
                linked: false,
            }],
            doorcodes: vec![],
            people: vec![],
            actions: vec![],
        }
    }

    #[test]
    fn a_cut_key_rekeys_its_doors_rotates_codes_and_replaces_the_usable_keys() {
        let mut r = radius(KeyType::MasterKey);
        r.recommend();
        assert_eq!(
            r.actions,
            [
                RecommendedAction::RekeyDoor { door_id: "d1".into() },
                RecommendedAction::RotateCode { access_code_id: "c1".into() },
                RecommendedAction::ReplaceKey { key_id: "k2".into(), door_ids: vec!["d1".into()] },
            ]
        );
    }

    #[test]
    fn a_fob_is_deactivated_and_leaves_the_locks_alone() {
        let mut r = radius(KeyType::Fob);
        r.recommend();
        assert_eq!(
            r.actions,
            [
                RecommendedAction::DeactivateKey { key_id: "k".into() },
                RecommendedAction::RotateCode { access_code_id: "c1".into() },
            ]
        );
    }

    #[test]
    fn actions_are_tagged_on_the_wire() {
        let action = RecommendedAction::ReplaceKey { key_id: "k2".into(), door_ids: vec!["d1".into()] };
        assert_eq!(
            serde_json::to_value(action).unwrap(),
            serde_json::json!({"action": "replace_key", "keyId": "k2", "doorIds": ["d1"]})
        );
    }
}
