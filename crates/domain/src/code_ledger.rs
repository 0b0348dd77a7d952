//! The code-exposure ledger and rotation (issue 11): who has known each value of an
//! access code, through which channel, and why a value is due for rotation.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::entities::text_enum;
use crate::{Page, Secret};

text_enum! {
    /// How a code's value reached someone.
    ExposureChannel {
        /// The user who created the code or gave it a new value (they typed it).
        Set = "set",
        /// `keys.sendSms` of the code, once the provider accepted the message.
        Sms = "sms",
        /// Told by staff, recorded with `keys.recordCodeDisclosure`.
        Disclosure = "disclosure",
        /// Shown in the app by `keys.revealAccessCode`.
        Reveal = "reveal",
    }
}

text_enum! {
    /// Why a code's current value is due for rotation.
    RotationReasonKind {
        /// A person who knew the value was offboarded.
        PersonOffboarded = "person_offboarded",
        /// A key linked to the code (it opens the same door) was marked lost.
        KeyLost = "key_lost",
        /// The staff-chosen `rotateBy` day has come.
        Scheduled = "scheduled",
    }
}

/// One time a code's value reached someone.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CodeExposure {
    pub id: String,
    pub at: DateTime<Utc>,
    pub channel: ExposureChannel,
    /// The value it exposed (the code's `valueVersion` then).
    pub value_version: i32,
    /// Who learnt it: a person of the directory, a user, or a bare name and/or phone.
    pub person_id: Option<String>,
    pub user_id: Option<String>,
    pub name: String,
    pub phone: Option<String>,
    /// The SMS that carried it (`sms`).
    pub sms_id: Option<String>,
    pub note: Option<String>,
    /// Who recorded it: the user who typed, sent, disclosed or revealed it.
    pub actor_name: String,
}

/// Why a code's current value is due for rotation.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RotationReason {
    pub kind: RotationReasonKind,
    /// When the reason arose (`scheduled`: when `rotateBy` was set).
    pub at: DateTime<Utc>,
    /// Who caused it: the user who offboarded, marked the key lost, or set `rotateBy`.
    pub actor_name: String,
    /// `person_offboarded`: the person.
    pub person_id: Option<String>,
    /// `key_lost`: the key.
    pub key_id: Option<String>,
    /// `scheduled`: the day.
    pub rotate_by: Option<NaiveDate>,
}

/// A code value's period, as the ledger answers carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ValuePeriod {
    pub value_version: i32,
    /// When this value was set.
    pub since: DateTime<Utc>,
    /// When the next value replaced it; null for the current value.
    pub until: Option<DateTime<Utc>>,
}

/// Someone who knew a code's value, with the ledger entries that say so.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KnownBy {
    pub person_id: Option<String>,
    pub user_id: Option<String>,
    pub name: String,
    pub phone: Option<String>,
    /// Their first exposure to this value.
    pub since: DateTime<Utc>,
    /// The exposures (`CodeExposure.id`) this answer came from, oldest first.
    pub exposure_ids: Vec<String>,
}

/// `keys.revealAccessCode`: the value, and the ledger entry that recorded the reveal.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RevealedCode {
    pub id: String,
    pub code: Secret,
    /// The value returned is this value of the code.
    pub value_version: i32,
    pub exposure_id: String,
}

/// `keys.accessCodeExposure`: who has known the current value since it was set.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AccessCodeExposure {
    pub id: String,
    pub period: ValuePeriod,
    /// Oldest first.
    pub exposures: Page<CodeExposure>,
}

/// `keys.accessCodeKnownBy`: who knew the value in force at `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AccessCodeKnownBy {
    pub id: String,
    pub at: DateTime<Utc>,
    /// The value in force at `at`; null when the code had no value yet.
    pub period: Option<ValuePeriod>,
    /// Ordered by their first exposure.
    pub known_by: Vec<KnownBy>,
}

/// The organisation's settings that every signed-in user may read.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OrganisationSettings {
    /// Code values are `null` in every answer but `keys.revealAccessCode`, which records
    /// each reveal in the code-exposure ledger.
    pub mask_codes_in_lists: bool,
    /// The number of digits of random doorcodes: 4 to 8, default 6.
    pub doorcode_length: crate::doorcode::DoorcodeLength,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_enums_round_trip_through_their_text() {
        for c in ExposureChannel::ALL {
            assert_eq!(ExposureChannel::parse(c.as_str()), Some(*c));
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::json!(c.as_str()));
        }
        for k in RotationReasonKind::ALL {
            assert_eq!(RotationReasonKind::parse(k.as_str()), Some(*k));
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::json!(k.as_str()));
        }
        assert_eq!(ExposureChannel::parse("email"), None);
        assert_eq!(RotationReasonKind::parse("Key_Lost"), None);
        assert_eq!(RotationReasonKind::KeyLost.as_str(), "key_lost");
    }
}
