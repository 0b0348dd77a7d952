//! A door's key log (issue 12 §6): what happened to the keys that open a door and to the
//! doorcodes allocated at it, in time order, over a bounded range (decision 125).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::grant::CredentialEndReason;
use crate::{Error, Result};

/// The longest range one call reads.
pub const MAX_RANGE_DAYS: i64 = 366;

text_enum! {
    /// Where a door log entry comes from.
    DoorLogSource {
        /// A movement of a key that opens the door (its history: `issued`, `returned`,
        /// `marked_lost`, `marked_found`, …).
        Key = "key",
        /// A doorcode at the door: `allocated`, `ended` or `sent`.
        Doorcode = "doorcode",
    }
}

/// One event of a door's log.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DoorLogEntry {
    /// Stable and unique within the door's log (a key movement's id, or the doorcode's id
    /// with `:allocated` / `:ended`, or its exposure's id for `sent`).
    pub id: String,
    pub at: DateTime<Utc>,
    pub source: DoorLogSource,
    /// A key movement's action (as `keys.keyHistory`), or `allocated`, `ended`, `sent`.
    pub action: String,
    /// Who recorded it; null for a doorcode's allocation and end (the grant's audit event
    /// names who changed the grant).
    pub actor_name: Option<String>,
    pub key_id: Option<String>,
    pub key_ref: Option<String>,
    pub doorcode_id: Option<String>,
    pub grant_id: Option<String>,
    pub grant_name: Option<String>,
    /// The person the key was issued to (an `issued` movement) or whose doorcode it is.
    pub person_id: Option<String>,
    /// The person's name now, or the name the key was issued to.
    pub person_name: Option<String>,
    /// Why a doorcode ended (`ended` only).
    pub end_reason: Option<CredentialEndReason>,
}

/// `{items, nextCursor}`: one page of a door's log, oldest first.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DoorLogPage {
    pub items: Vec<DoorLogEntry>,
    /// Pass it back as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A validated range `[from, to)`: `from` before `to`, at most [`MAX_RANGE_DAYS`] long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoorLogRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl DoorLogRange {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<DoorLogRange> {
        if from >= to {
            return Err(Error::invalid("to", "must be after from"));
        }
        if to - from > Duration::days(MAX_RANGE_DAYS) {
            return Err(Error::invalid("to", format!("the range must be at most {MAX_RANGE_DAYS} days: ask in parts")));
        }
        Ok(DoorLogRange { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_range_is_forward_and_bounded() {
        let from = utc("2027-01-01T00:00:00Z");
        assert!(DoorLogRange::new(from, utc("2028-01-02T00:00:00Z")).is_ok());
        assert_eq!(
            DoorLogRange::new(from, utc("2028-01-02T00:00:01Z")).unwrap_err(),
            Error::invalid("to", "the range must be at most 366 days: ask in parts")
        );
        assert_eq!(DoorLogRange::new(from, from).unwrap_err(), Error::invalid("to", "must be after from"));
        assert!(DoorLogRange::new(utc("2027-02-01T00:00:00Z"), from).is_err());
    }
}
