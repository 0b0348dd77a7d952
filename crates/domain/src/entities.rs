//! The entities as the wire shows them (`docs/api.md`, "Entities").
//! Instants are UTC (`DateTime<Utc>`, RFC 3339 on the wire).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{KeyStatus, Role, Secret};

/// Declares a wire enum whose variants are its snake_case names, with `as_str`/`parse`
/// for storing it as text.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum! {
    KeyType {
        PhysicalKey = "physical_key",
        Fob = "fob",
        Card = "card",
        Remote = "remote",
        MasterKey = "master_key",
        Other = "other",
    }
}

text_enum! {
    #[derive(Default)]
    SecurityLevel {
        #[default]
        Standard = "standard",
        Restricted = "restricted",
        High = "high",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Organisation {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// A disabled user cannot sign in; their sessions were ended when disabled.
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// A site or building whose keys and codes are registered together.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Development {
    pub id: String,
    pub name: String,
    /// Prefix of suggested key refs (`OP` → `OP-001`).
    pub key_prefix: String,
    /// IANA time zone name (default `Europe/London`): schedules at its doors are read in it.
    pub time_zone: String,
    /// Days between key audits (1–3,650); null: no schedule.
    pub audit_interval_days: Option<i32>,
    /// When its last key audit was completed; null if none was.
    pub last_audit_at: Option<DateTime<Utc>>,
    /// When the next key audit is due (`auditIntervalDays` after the last completed audit,
    /// or after the creation); null without a schedule. Past it, the audit is overdue.
    pub audit_due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A key, fob, card or remote in the register.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Key {
    pub id: String,
    pub development_id: String,
    /// Unique in the organisation, e.g. `OP-001`.
    pub key_ref: String,
    pub key_type: KeyType,
    pub label: String,
    pub status: KeyStatus,
    pub notes: Option<String>,
    /// Who holds the key (or last held it, until it is back in stock).
    pub issued_to: Option<String>,
    /// The person of the directory the key was issued to (null for a walk-in issued by
    /// name only); cleared with the holder.
    pub holder_id: Option<String>,
    /// The holder was asked to give the key back (offboarding); cleared when the holding
    /// ends (returned, lost, damaged, back in stock, deactivated).
    pub return_requested: bool,
    pub issued_to_phone: Option<String>,
    /// The holder texted `RETURNED` (two-way SMS): staff confirm with `keys.returnKey`,
    /// which clears it, as does every status change.
    pub return_claimed_at: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
    /// Display name of the user who issued it.
    pub issued_by: Option<String>,
    pub purpose: Option<String>,
    pub expected_return_at: Option<DateTime<Utc>>,
    /// Issued and past `expectedReturnAt`.
    pub overdue: bool,
    pub security_level: SecurityLevel,
    pub brand: Option<String>,
    pub key_number: Option<String>,
    pub quantity: i32,
    pub access_restrictions: Option<String>,
    pub emergency_contact: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_status_change_at: Option<DateTime<Utc>>,
    pub last_status_change_by: Option<String>,
    /// The doors of its development the key opens (`keys.setDoors`), ordered by id.
    pub door_ids: Vec<String>,
    /// The acknowledgement asked when it was issued (`acknowledge`); `null` when none was
    /// asked for the current holding.
    pub handover: Option<crate::handover::KeyHandover>,
    /// Increases with every change; pass it back as `expectedVersion` to detect conflicts.
    pub version: i32,
}

/// One entry of a key's history: its creation and every status change.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyMovement {
    /// Cited by the point-in-time answers (`keys.holderAt`, `people.holdingsAt`).
    pub id: String,
    pub at: DateTime<Utc>,
    /// `created`, `issued`, `returned`, `returned_to_stock`, `marked_lost`, …
    pub action: String,
    pub actor_name: String,
    pub issued_to: Option<String>,
    /// The person the key was issued to (on an `issued` movement).
    pub holder_id: Option<String>,
    pub purpose: Option<String>,
    pub expected_return_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
}

/// One field of an entity changed by an audited action. Values are shown as text;
/// secrets only ever as `***`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor_id: Option<String>,
    pub actor_name: String,
    /// `<entityType>.<verb>`, e.g. `key.issued`, `development.created`.
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub summary: String,
    pub changes: Vec<FieldChange>,
}

impl FieldChange {
    pub fn new(field: &str, from: Option<impl ToString>, to: Option<impl ToString>) -> Self {
        FieldChange { field: field.to_owned(), from: from.map(|v| v.to_string()), to: to.map(|v| v.to_string()) }
    }
}

/// The changes between two values of one field, if they differ.
pub fn diff<T: PartialEq + std::fmt::Display>(
    changes: &mut Vec<FieldChange>,
    field: &str,
    from: &Option<T>,
    to: &Option<T>,
) {
    if from != to {
        changes.push(FieldChange::new(field, from.as_ref(), to.as_ref()));
    }
}

text_enum! {
    CodeType {
        Gate = "gate",
        Door = "door",
        Intercom = "intercom",
        Alarm = "alarm",
        Lift = "lift",
        Parking = "parking",
        BinStore = "bin_store",
        PlantRoom = "plant_room",
        MeterRoom = "meter_room",
        Other = "other",
    }
}

text_enum! {
    #[derive(Default)]
    CodeStatus {
        #[default]
        Active = "active",
        Inactive = "inactive",
    }
}

/// A gate, door, intercom, alarm… code. The value is sealed at rest.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AccessCode {
    pub id: String,
    pub development_id: String,
    pub code_type: CodeType,
    pub label: String,
    /// The code itself; `null` for roles that may not see code values.
    pub code: Option<Secret>,
    pub status: CodeStatus,
    /// Last day the code is valid (inclusive).
    pub expires_on: Option<NaiveDate>,
    /// `expiresOn` is in the past.
    pub expired: bool,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    /// Which value the code has: 1 for the first, one more at each new value. Exposures
    /// and rotation reasons belong to one value.
    pub value_version: i32,
    /// A staff-chosen day from which the code is due for rotation.
    pub rotate_by: Option<NaiveDate>,
    /// The current value has a rotation reason, or `rotateBy` has come.
    pub rotation_due: bool,
    /// Why the current value is due (a scheduled reason only once `rotateBy` has come);
    /// empty after a new value.
    pub rotation_reasons: Vec<crate::RotationReason>,
    /// Keys that open the same door: losing one makes the code due for rotation.
    pub key_ids: Vec<String>,
    /// The doors of its development the code is at (the gate code is the gate's), ordered
    /// by id.
    pub door_ids: Vec<String>,
}

/// One change to an access code, for its history. Never shows a code value.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AccessCodeChange {
    pub at: DateTime<Utc>,
    pub actor_name: String,
    /// What changed, in words, e.g. "Main gate: code changed; status active → inactive".
    pub change: String,
}

/// The numbers behind the dashboard's summary cards.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub total_keys: i32,
    pub in_stock: i32,
    pub issued: i32,
    pub returned: i32,
    pub lost: i32,
    pub damaged: i32,
    pub deactivated: i32,
    /// Issued and past their expected return.
    pub overdue: i32,
    pub access_codes: i32,
    /// Access codes due for rotation (`rotationDue`).
    pub codes_due_for_rotation: i32,
    /// Doors that a lost key opens (each door once, however many lost keys open it).
    pub doors_exposed_by_lost_keys: i32,
    /// The organisation can send SMS (its Twilio settings are configured).
    pub sms_ready: bool,
    /// Developments whose key audit is overdue (`auditDueAt` passed).
    pub audits_overdue: i32,
}

/// An organisation's SMS settings as callers see them: never the auth token.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SmsSettings {
    pub configured: bool,
    pub account_sid: Option<String>,
    pub from_number: Option<String>,
    pub messaging_service_sid: Option<String>,
}
