//! Doors (issue 12): what keys and access codes open, per development, and the time zone
//! a development's schedules are read in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::Error;
use crate::entities::text_enum;

text_enum! {
    /// What a door is.
    DoorKind {
        Entrance = "entrance",
        Gate = "gate",
        Flat = "flat",
        Amenity = "amenity",
        PlantRoom = "plant_room",
        BinStore = "bin_store",
        CarPark = "car_park",
        Lift = "lift",
        Other = "other",
    }
}

/// A door, gate or other opening of a development: keys open it, access codes are at it.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Door {
    pub id: String,
    pub development_id: String,
    pub name: String,
    pub kind: DoorKind,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; pass it back as `expectedVersion` to detect conflicts.
    pub version: i32,
}

/// The time zone of a development that names none.
pub const DEFAULT_TIME_ZONE: &str = "Europe/London";

/// A development's time zone as stored: the canonical IANA name (`Europe/London`, `UTC`)
/// of what [`crate::schedule::time_zone`] accepts; anything else is INVALID_INPUT on `field`.
pub fn time_zone(field: &str, name: &str) -> Result<String, Error> {
    crate::schedule::time_zone(field, name.trim()).map(|tz| tz.name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::{DEFAULT_TIME_ZONE, DoorKind, time_zone};

    #[test]
    fn door_kinds_round_trip_as_the_contract_names_them() {
        let names: Vec<&str> = DoorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            ["entrance", "gate", "flat", "amenity", "plant_room", "bin_store", "car_park", "lift", "other"]
        );
        for kind in DoorKind::ALL {
            assert_eq!(DoorKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(DoorKind::parse("Gate"), None);
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(time_zone("timeZone", DEFAULT_TIME_ZONE).unwrap(), "Europe/London");
        assert_eq!(time_zone("timeZone", " America/New_York ").unwrap(), "America/New_York");
        assert_eq!(time_zone("timeZone", "UTC").unwrap(), "UTC");
        for bad in ["", "Europe/Londres", "europe/london", "GMT+25", "Mars/Olympus"] {
            let err = time_zone("timeZone", bad).unwrap_err();
            assert!(
                matches!(err, crate::Error::InvalidInput { ref field, .. } if field == "timeZone"),
                "{bad}: {err:?}"
            );
        }
    }
}
