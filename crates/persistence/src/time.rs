//! Instants are stored as UTC `TIMESTAMP`s with microsecond precision (PostgreSQL's), so
//! that what is written reads back equal on both databases.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

pub fn to_db(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc().trunc_subsecs(6)
}

pub fn from_db(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
