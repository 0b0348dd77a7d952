//! Key audits (issue 13 §4): a physical count of one development's key store against the
//! register. An audit is `open` while keys are recorded, `completed` when the count ends
//! (its missing keys frozen), then `resolved` once its missing keys are marked lost, or
//! `cancelled` while open (decisions 155–159).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::blast_radius::{BlastRadius, RecommendedAction};
use crate::error::{Error, Result};
use crate::status::{KeyStatus, Transition};

text_enum! {
    /// An audit's state: `open` → `completed` → `resolved`, or `open` → `cancelled`.
    KeyAuditStatus {
        /// Keys are being recorded; at most one open audit per development.
        Open = "open",
        /// The count ended: found, missing and unexpected are final.
        Completed = "completed",
        /// The missing keys were marked lost (`audits.resolve`).
        Resolved = "resolved",
        /// Given up while open; nothing was concluded.
        Cancelled = "cancelled",
    }
}

text_enum! {
    /// Where a key stands in an audit.
    KeyAuditOutcome {
        /// In the snapshot, not recorded yet (only while the audit is open).
        Expected = "expected",
        /// Recorded, and the register says it is in this development's store.
        Found = "found",
        /// Recorded, but the register says it is elsewhere (`reason`).
        Unexpected = "unexpected",
        /// In the snapshot, not recorded by the end, and still in stock per the register.
        Missing = "missing",
        /// In the snapshot, not recorded, but moved out of stock by the register during the
        /// audit (issued, marked lost…): not counted missing.
        LeftStock = "left_stock",
    }
}

text_enum! {
    /// Why a recorded key is unexpected.
    UnexpectedReason {
        /// The key belongs to another development.
        OtherDevelopment = "other_development",
        /// The register says it is issued, lost, damaged or deactivated (`status`).
        NotInStock = "not_in_stock",
    }
}

impl KeyAuditStatus {
    /// The state an audit moves to, if `self` allows it; otherwise INVALID_INPUT `id`,
    /// naming the state it is in.
    pub fn move_to(self, to: KeyAuditStatus) -> Result<KeyAuditStatus> {
        use KeyAuditStatus::*;
        let allowed = matches!((self, to), (Open, Completed) | (Open, Cancelled) | (Completed, Resolved));
        if allowed { Ok(to) } else { Err(self.refusal()) }
    }

    /// INVALID_INPUT `id`: the audit is no longer (or not yet) in a state for this.
    pub fn refusal(self) -> Error {
        Error::invalid("id", format!("the audit is {self}"))
    }
}

/// The statuses in which the register says a key is in its development's store: the
/// statuses a key may be issued from (`in_stock`, `returned`). An audit's snapshot is the
/// development's keys in one of them (decision 155).
pub fn stock_statuses() -> &'static [KeyStatus] {
    Transition::Issue.allowed_from()
}

/// What recording a key means, from the register: its development against the audit's,
/// then its status. `None`: it is where the register says (found).
pub fn unexpected_reason(
    audit_development_id: &str,
    key_development_id: &str,
    status: KeyStatus,
) -> Option<UnexpectedReason> {
    if key_development_id != audit_development_id {
        Some(UnexpectedReason::OtherDevelopment)
    } else if !stock_statuses().contains(&status) {
        Some(UnexpectedReason::NotInStock)
    } else {
        None
    }
}

/// `auditIntervalDays`: 1 to 3,650 (ten years), or null for no schedule.
pub fn audit_interval_days(days: Option<i32>) -> Result<Option<i32>> {
    match days {
        Some(d) if !(1..=AUDIT_INTERVAL_MAX_DAYS).contains(&d) => {
            Err(Error::invalid("auditIntervalDays", format!("must be between 1 and {AUDIT_INTERVAL_MAX_DAYS}")))
        }
        other => Ok(other),
    }
}

pub const AUDIT_INTERVAL_MAX_DAYS: i32 = 3650;

/// When a development's next audit is due: `interval_days` whole days (of 24 hours) after
/// its last completed audit, or after its creation if it has none; `None` without a
/// schedule.
pub fn audit_due_at(
    interval_days: Option<i32>,
    last_audit_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    interval_days.map(|days| last_audit_at.unwrap_or(created_at) + Duration::days(i64::from(days)))
}

/// A key audit of one development.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyAudit {
    pub id: String,
    pub development_id: String,
    pub status: KeyAuditStatus,
    /// Keys in the snapshot: the development's keys `in_stock` or `returned` at the start.
    pub expected: i32,
    /// Recorded keys that are where the register says.
    pub found: i32,
    /// Recorded keys the register says are elsewhere.
    pub unexpected: i32,
    /// Snapshot keys not recorded and still in stock: while open, the keys left to find;
    /// from completion on, the keys missing.
    pub missing: i32,
    /// Snapshot keys not recorded that the register moved out of stock during the audit
    /// (set at completion; 0 before).
    pub left_stock: i32,
    /// Keys marked lost by `audits.resolve` (0 before).
    pub marked_lost: i32,
    pub started_at: DateTime<Utc>,
    pub started_by: String,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by: Option<String>,
    /// When it was resolved or cancelled.
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

/// `audits.list`: a page of audits, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyAuditPage {
    pub items: Vec<KeyAudit>,
    /// Pass it as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// One key of an audit.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyAuditLine {
    pub key_id: String,
    /// The key's ref now.
    pub key_ref: String,
    pub label: String,
    pub development_id: String,
    /// The key's status now.
    pub status: KeyStatus,
    pub outcome: KeyAuditOutcome,
    /// Set for `unexpected`.
    pub reason: Option<UnexpectedReason>,
    /// When and by whom it was recorded; null if it was not.
    pub recorded_at: Option<DateTime<Utc>>,
    pub recorded_by: Option<String>,
}

/// One page of an audit's keys of one outcome, by key ref.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyAuditLines {
    pub items: Vec<KeyAuditLine>,
    /// Pass it to `audits.lines` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// `audits.get` and `audits.complete`: the audit and the first page (100) of each list.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyAuditReport {
    pub audit: KeyAudit,
    pub found: KeyAuditLines,
    /// While open: the snapshot's keys not recorded yet.
    pub missing: KeyAuditLines,
    pub unexpected: KeyAuditLines,
}

/// `audits.record`'s answer: the key's line, and whether this call recorded it (false:
/// it was recorded before, and nothing changed).
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RecordedKey {
    pub line: KeyAuditLine,
    pub newly_recorded: bool,
}

/// `audits.resolve`'s answer: what marking the missing keys lost did, with the
/// recommended actions of all their blast radii together (decision 158).
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedKeyAudit {
    pub audit: KeyAudit,
    /// Keys marked lost (the audit's missing keys that were still in stock).
    pub keys_marked_lost: i32,
    /// Missing keys the register had moved since completion: left as they are.
    pub keys_skipped: i32,
    /// Distinct doors the keys marked lost open.
    pub doors_exposed: i32,
    /// Distinct access codes flagged for rotation.
    pub codes_flagged: i32,
    /// [`combined_actions`] over the keys' blast radii, read after all were marked lost.
    pub actions: Vec<RecommendedAction>,
}

/// The recommended actions of several lost keys as one list, in the order of decision
/// 120: every `deactivate_key`, then each door to rekey once, each code to rotate once,
/// then each key to replace once with the union of its doors. Each radius must be read
/// after all the keys were marked lost, so that none of them is "replaced".
pub fn combined_actions(radii: &[BlastRadius]) -> Vec<RecommendedAction> {
    let mut deactivate = Vec::new();
    let mut rekey = Vec::new();
    let mut rotate = Vec::new();
    let mut replace: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut replace_order = Vec::new();
    for action in radii.iter().flat_map(|r| &r.actions) {
        match action {
            RecommendedAction::DeactivateKey { .. } => push_once(&mut deactivate, action),
            RecommendedAction::RekeyDoor { .. } => push_once(&mut rekey, action),
            RecommendedAction::RotateCode { .. } => push_once(&mut rotate, action),
            RecommendedAction::ReplaceKey { key_id, door_ids } => {
                let doors = replace.entry(key_id.clone()).or_insert_with(|| {
                    replace_order.push(key_id.clone());
                    Vec::new()
                });
                doors.extend(door_ids.iter().cloned());
            }
        }
    }
    let mut out = deactivate;
    out.extend(rekey);
    out.extend(rotate);
    for key_id in replace_order {
        let mut door_ids = replace.remove(&key_id).unwrap_or_default();
        door_ids.sort();
        door_ids.dedup();
        out.push(RecommendedAction::ReplaceKey { key_id, door_ids });
    }
    out
}

fn push_once(list: &mut Vec<RecommendedAction>, action: &RecommendedAction) {
    if !list.contains(action) {
        list.push(action.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::KeyAuditStatus::*;
    use super::*;
    use crate::entities::KeyType;

    #[test]
    fn an_audit_moves_open_to_completed_to_resolved_or_open_to_cancelled() {
        for from in KeyAuditStatus::ALL {
            for to in KeyAuditStatus::ALL {
                let allowed = matches!((from, to), (Open, Completed) | (Open, Cancelled) | (Completed, Resolved));
                match from.move_to(*to) {
                    Ok(s) => assert!(allowed && s == *to, "{from} → {to}"),
                    Err(e) => {
                        assert!(!allowed, "{from} → {to}");
                        assert_eq!(e, Error::invalid("id", format!("the audit is {from}")));
                    }
                }
            }
        }
    }

    #[test]
    fn the_snapshot_is_what_may_be_issued_and_a_recorded_key_is_judged_by_development_then_status() {
        assert_eq!(stock_statuses(), &[KeyStatus::InStock, KeyStatus::Returned]);
        assert_eq!(unexpected_reason("d1", "d1", KeyStatus::InStock), None);
        assert_eq!(unexpected_reason("d1", "d1", KeyStatus::Returned), None);
        for status in [KeyStatus::Issued, KeyStatus::Lost, KeyStatus::Damaged, KeyStatus::Deactivated] {
            assert_eq!(unexpected_reason("d1", "d1", status), Some(UnexpectedReason::NotInStock));
        }
        assert_eq!(unexpected_reason("d1", "d2", KeyStatus::Issued), Some(UnexpectedReason::OtherDevelopment));
        assert_eq!(unexpected_reason("d1", "d2", KeyStatus::InStock), Some(UnexpectedReason::OtherDevelopment));
    }

    #[test]
    fn the_interval_is_checked_and_the_due_time_counts_from_the_last_audit_or_the_creation() {
        assert_eq!(audit_interval_days(None), Ok(None));
        assert_eq!(audit_interval_days(Some(1)), Ok(Some(1)));
        assert_eq!(audit_interval_days(Some(3650)), Ok(Some(3650)));
        assert!(audit_interval_days(Some(0)).is_err());
        assert!(audit_interval_days(Some(3651)).is_err());
        let created: DateTime<Utc> = "2030-01-01T10:00:00Z".parse().unwrap();
        let audited: DateTime<Utc> = "2030-02-01T09:00:00Z".parse().unwrap();
        assert_eq!(audit_due_at(None, Some(audited), created), None);
        assert_eq!(audit_due_at(Some(30), None, created), Some("2030-01-31T10:00:00Z".parse().unwrap()));
        assert_eq!(audit_due_at(Some(30), Some(audited), created), Some("2030-03-03T09:00:00Z".parse().unwrap()));
    }

    #[test]
    fn several_radii_make_one_list_each_action_once_in_the_order_of_decision_120() {
        let radius = |key_id: &str, key_type, actions| BlastRadius {
            key_id: key_id.into(),
            key_ref: key_id.into(),
            key_type,
            status: KeyStatus::Lost,
            doors: vec![],
            other_keys: vec![],
            access_codes: vec![],
            doorcodes: vec![],
            people: vec![],
            actions,
        };
        use RecommendedAction::*;
        let rekey = |d: &str| RekeyDoor { door_id: d.into() };
        let rotate = |c: &str| RotateCode { access_code_id: c.into() };
        let replace = |k: &str, doors: &[&str]| ReplaceKey {
            key_id: k.into(),
            door_ids: doors.iter().map(|d| d.to_string()).collect(),
        };
        let radii = [
            radius("k1", KeyType::PhysicalKey, vec![rekey("d1"), rotate("c1"), replace("k9", &["d1"])]),
            radius("k2", KeyType::Fob, vec![DeactivateKey { key_id: "k2".into() }, rotate("c1")]),
            radius("k3", KeyType::PhysicalKey, vec![rekey("d2"), rekey("d1"), rotate("c2"), replace("k9", &["d2"])]),
        ];
        assert_eq!(
            combined_actions(&radii),
            vec![
                DeactivateKey { key_id: "k2".into() },
                rekey("d1"),
                rekey("d2"),
                rotate("c1"),
                rotate("c2"),
                replace("k9", &["d1", "d2"]),
            ]
        );
        assert_eq!(combined_actions(&[]), vec![]);
    }
}
