//! The doors a code is at (`doorIds`; the gate code is the gate's): read for a whole page
//! in one query, replaced on create and update.

use std::collections::HashMap;

use diesel::prelude::*;

use super::CodeRow;
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::repo::doors;
use crate::schema::access_code_doors;

/// The doors of each code, by code id, ordered by door id (by the primary key).
pub(super) fn of_codes(
    conn: &mut AnyConnection,
    org_id: &str,
    code_ids: &[&str],
) -> StoreResult<HashMap<String, Vec<String>>> {
    let links: Vec<(String, String)> = access_code_doors::table
        .filter(access_code_doors::org_id.eq(org_id))
        .filter(crate::repo::any_of(conn, access_code_doors::code_id, code_ids))
        .order((access_code_doors::code_id, access_code_doors::door_id))
        .select((access_code_doors::code_id, access_code_doors::door_id))
        .load(conn)?;
    Ok(crate::repo::group_pairs(links))
}

/// NOT_FOUND unless every door is the organisation's, INVALID_INPUT `doorIds` unless each
/// is of the code's development.
pub(super) fn check(conn: &mut AnyConnection, org_id: &str, development_id: &str, ids: &[String]) -> StoreResult<()> {
    doors::check_in_development(conn, org_id, development_id, ids, "doorIds")
}

/// Makes `door_ids` the code's doors.
pub(super) fn link(conn: &mut AnyConnection, code: &CodeRow, door_ids: &[String]) -> StoreResult<()> {
    diesel::delete(access_code_doors::table.filter(access_code_doors::code_id.eq(&code.id))).execute(conn)?;
    for door_id in door_ids {
        diesel::insert_into(access_code_doors::table)
            .values((
                access_code_doors::org_id.eq(&code.org_id),
                access_code_doors::code_id.eq(&code.id),
                access_code_doors::door_id.eq(door_id),
            ))
            .execute(conn)
            .map_err(doors::door_gone)?;
    }
    Ok(())
}
