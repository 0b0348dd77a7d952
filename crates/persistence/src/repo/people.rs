//! The key-holder directory: people and the firms they work for.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::Error;

use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::people;

/// What other areas need of a person: who they are, how to reach them, and whether they
/// are still in the directory.
#[derive(Debug, Clone, Queryable)]
pub struct PersonRef {
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    pub user_id: Option<String>,
    pub archived_at: Option<NaiveDateTime>,
}

impl PersonRef {
    pub fn archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

/// A person of the organisation; another organisation's person is NOT_FOUND, as a
/// missing one.
pub fn person_ref(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<PersonRef> {
    people::table
        .filter(people::org_id.eq(org_id))
        .filter(people::id.eq(id))
        .select((people::id, people::name, people::phone, people::user_id, people::archived_at))
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::NotFound.into())
}
