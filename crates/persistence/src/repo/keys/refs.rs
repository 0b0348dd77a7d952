//! Key refs: the lowest free number of a prefix, and the suggestion of the next ref.

use diesel::prelude::*;
use keyward_domain::Error;
use keyward_domain::key_ref::format_key_ref;

use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::repo::counts;
use crate::schema::{developments, keys};

/// The lowest number ≥ 1 that no key ref `PREFIX-N` of the organisation uses.
///
/// Starts at the prefix's floor (every number below it is taken, `key_ref_floors`),
/// walks the (org_id, ref_prefix, ref_number) index in ascending order, a chunk at a
/// time, and stops at the first gap: it reads only the numbers from the floor to the
/// answer, usually none. (A
/// NOT EXISTS anti-join says the same in one statement, but its plan depends on table
/// statistics; on a freshly filled PostgreSQL table it went quadratic.)
pub(super) fn lowest_free_number(conn: &mut AnyConnection, org_id: &str, prefix: &str) -> StoreResult<i64> {
    const CHUNK: i64 = 1024;
    let mut candidate = counts::ref_floor(conn, org_id, prefix)?;
    loop {
        let numbers: Vec<i64> = keys::table
            .filter(keys::org_id.eq(org_id))
            .filter(keys::ref_prefix.eq(prefix))
            .filter(keys::ref_number.ge(candidate))
            .order(keys::ref_number)
            .select(keys::ref_number.assume_not_null())
            .limit(CHUNK)
            .load(conn)?;
        for &n in &numbers {
            match n.cmp(&candidate) {
                std::cmp::Ordering::Less => {} // the same number twice (OP-1 and OP-001)
                std::cmp::Ordering::Equal => candidate += 1,
                std::cmp::Ordering::Greater => return Ok(candidate),
            }
        }
        if (numbers.len() as i64) < CHUNK {
            return Ok(candidate);
        }
    }
}

pub(super) fn development_prefix(conn: &mut AnyConnection, org_id: &str, development_id: &str) -> StoreResult<String> {
    developments::table
        .filter(developments::org_id.eq(org_id))
        .filter(developments::id.eq(development_id))
        .select(developments::key_prefix)
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::NotFound.into())
}

pub fn suggest_ref(conn: &mut AnyConnection, org_id: &str, development_id: &str) -> StoreResult<String> {
    let prefix = development_prefix(conn, org_id, development_id)?;
    Ok(format_key_ref(&prefix, lowest_free_number(conn, org_id, &prefix)?))
}
