//! The numbers behind the dashboard's summary cards: index-backed counts, one query per
//! number family rather than one per card.

use diesel::dsl::count_star;
use diesel::prelude::*;
use keyward_domain::{KeyStatus, Summary};

use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::{access_codes, keys};
use crate::time;

pub fn summary(conn: &mut AnyConnection, org_id: &str, development_id: Option<&str>) -> StoreResult<Summary> {
    let mut by_status = keys::table
        .filter(keys::org_id.eq(org_id))
        .group_by(keys::status)
        .select((keys::status, count_star()))
        .into_boxed();
    let mut overdue = keys::table
        .filter(keys::org_id.eq(org_id))
        .filter(keys::status.eq(KeyStatus::Issued.as_str()))
        .filter(keys::expected_return_at.lt(time::now()))
        .into_boxed();
    let mut codes = access_codes::table.filter(access_codes::org_id.eq(org_id)).into_boxed();
    if let Some(dev) = development_id {
        by_status = by_status.filter(keys::development_id.eq(dev));
        overdue = overdue.filter(keys::development_id.eq(dev));
        codes = codes.filter(access_codes::development_id.eq(dev));
    }
    let counts: Vec<(String, i64)> = by_status.load(conn)?;
    let mut s = Summary::default();
    for (status, n) in counts {
        let n = super::count_i32(n);
        s.total_keys += n;
        match KeyStatus::parse(&status) {
            Some(KeyStatus::InStock) => s.in_stock = n,
            Some(KeyStatus::Issued) => s.issued = n,
            Some(KeyStatus::Returned) => s.returned = n,
            Some(KeyStatus::Lost) => s.lost = n,
            Some(KeyStatus::Damaged) => s.damaged = n,
            Some(KeyStatus::Deactivated) => s.deactivated = n,
            None => {}
        }
    }
    s.overdue = super::count_i32(overdue.count().get_result(conn)?);
    s.access_codes = super::count_i32(codes.count().get_result(conn)?);
    s.sms_ready = super::sms::configured(conn, org_id)?;
    Ok(s)
}
