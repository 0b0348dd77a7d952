//! The numbers behind the dashboard's summary cards, read from the counts that
//! [`super::counts`] maintains: O(developments × statuses + days), not O(keys); the doors
//! exposed by lost keys from the lost links of `key_doors` (decision 123); the overdue
//! key audits from `developments_org_audit_due` (decision 159). Two statements: the keys
//! by status, then every other figure as a subquery of one `SELECT` (decision 179).

use diesel::dsl::{count, sum};
use diesel::prelude::*;
use keyward_domain::{KeyStatus, Summary};

use super::access_codes::rotation;
use super::{counts, developments, keys, sms};
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::{access_code_counts, key_doors, key_due_days};
use crate::time;

/// The figures after the keys by status, as the one `SELECT` answers them.
type Figures = (Option<i64>, Option<i64>, Option<i64>, Option<i64>, Option<i64>, Option<i64>, bool, Option<i64>);

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
    let now = time::now();
    let dev = development_id;
    let (past_due, due_today, codes, flagged, scheduled, doors, sms_ready, audits): Figures = diesel::select((
        counts::due_before(org_id, dev, now.date()).select(sum(key_due_days::n)).single_value(),
        counts::due_today(org_id, dev, now).count().single_value(),
        counts::code_counts(org_id, dev).select(sum(access_code_counts::n)).single_value(),
        rotation::flagged(org_id, dev).count().single_value(),
        rotation::scheduled(org_id, dev, now.date()).count().single_value(),
        keys::lost_links(org_id, dev).select(count(key_doors::door_id).aggregate_distinct()).single_value(),
        sms::configured(org_id),
        developments::audits_due(org_id, dev, now).count().single_value(),
    ))
    .get_result(conn)?;
    let n = |n: Option<i64>| super::count_i32(n.unwrap_or(0));
    s.overdue = n(past_due) + n(due_today);
    s.access_codes = n(codes);
    s.codes_due_for_rotation = n(flagged) + n(scheduled);
    s.doors_exposed_by_lost_keys = n(doors);
    s.sms_ready = sms_ready;
    s.audits_overdue = n(audits);
    Ok(s)
}
