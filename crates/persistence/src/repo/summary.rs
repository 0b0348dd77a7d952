//! The numbers behind the dashboard's summary cards, read from the counts that
//! [`super::counts`] maintains: O(developments × statuses + days), not O(keys); the doors
//! exposed by lost keys from the lost links of `key_doors` (decision 123); the overdue
//! key audits from `developments_org_audit_due` (decision 159).

use keyward_domain::{KeyStatus, Summary};

use super::counts;
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::time;

pub fn summary(conn: &mut AnyConnection, org_id: &str, development_id: Option<&str>) -> StoreResult<Summary> {
    let mut s = Summary::default();
    for (status, n) in counts::keys_by_status(conn, org_id, development_id)? {
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
    s.overdue = super::count_i32(counts::overdue(conn, org_id, development_id, time::now())?);
    s.access_codes = super::count_i32(counts::codes(conn, org_id, development_id)?);
    s.codes_due_for_rotation =
        super::count_i32(super::access_codes::rotation::due_count(conn, org_id, development_id)?);
    s.doors_exposed_by_lost_keys =
        super::count_i32(super::keys::doors_exposed_by_lost_keys(conn, org_id, development_id)?);
    s.sms_ready = super::sms::configured(conn, org_id)?;
    s.audits_overdue = super::count_i32(super::developments::audits_overdue(conn, org_id, development_id)?);
    Ok(s)
}
