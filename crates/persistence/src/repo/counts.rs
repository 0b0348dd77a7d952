//! The maintained counts behind the summary and the list totals, and the ref floors
//! behind suggestKeyRef (decision 37). Every write that creates or deletes a key or an
//! access code, or changes a key's development, status or due date, calls this module in
//! its own transaction after taking the organisation's lock, so the counts stay exact
//! whatever the interleaving of writers. The tables are described in the migration
//! `2026-12-06-120000_read_paths`; `maintenance::after_bulk_load` recounts them. The
//! due-day counts of days more than [`DAYS_KEPT`] past are folded into one row per
//! development by the hourly job `fold_due_days` ([`fold_due_days`], decision 182).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::sum;
use diesel::prelude::*;
use keyward_domain::KeyStatus;

use crate::connection::{AnyConnection, MultiBackend};
use crate::error::StoreResult;
use crate::schema::{access_code_counts, key_counts, key_due_days, key_ref_floors, keys};

/// Adds each row's `n` to its counts row, creating the rows not there yet, in one
/// statement (`n = n + excluded.n`). The rows must name distinct counts rows (PostgreSQL
/// refuses to update a row twice in one statement): [`net`] makes them so. (Diesel's
/// `ON CONFLICT` is written per backend, so the query runs on the concrete connection.)
macro_rules! add_to_counts {
    ($conn:expr, $table:ident ($($key:ident),+), $rows:expr) => {{
        let rows: Vec<_> = $rows;
        if !rows.is_empty() {
            // Kept (decision 186): diesel would prepare an upsert on every call. SQLite
            // gets one statement per row (as diesel runs a multi-row insert there), the
            // same text each time.
            macro_rules! upsert {
                ($values:expr) => {
                    diesel::insert_into($table::table)
                        .values($values)
                        .on_conflict(($($table::$key),+))
                        .do_update()
                        .set($table::n.eq($table::n + diesel::upsert::excluded($table::n)))
                };
            }
            match $conn {
                // A key's or a code's change nets to at most KEPT_ROWS rows; the daily fold
                // writes one per development, a text per count: not kept.
                AnyConnection::Pg(c) if rows.len() <= KEPT_ROWS => {
                    $crate::repo::Kept(upsert!(rows)).execute(c)?;
                }
                AnyConnection::Pg(c) => {
                    upsert!(rows).execute(c)?;
                }
                AnyConnection::Sqlite(c) => {
                    for row in rows {
                        $crate::repo::Kept(upsert!(row)).execute(c)?;
                    }
                }
            };
        }
    }};
}

/// The most rows of a counts upsert PostgreSQL keeps prepared (decision 186).
const KEPT_ROWS: usize = 4;

/// Adds `delta` to the entry of `key`, or appends one: a key's old and new facts netted
/// into one delta per counts row (a change of due date within a status nets to nothing on
/// `key_counts`). Entries that net to 0 stay; skip them when writing.
fn net<K: PartialEq>(rows: &mut Vec<(K, i32)>, key: K, delta: i32) {
    match rows.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += delta,
        None => rows.push((key, delta)),
    }
}

/// What the counts know of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyFacts<'a> {
    pub development_id: &'a str,
    pub status: &'a str,
    pub expected_return_at: Option<NaiveDateTime>,
}

impl KeyFacts<'_> {
    /// The day an issued key is due back; other keys are never overdue.
    fn due_day(&self) -> Option<chrono::NaiveDate> {
        let issued = self.status == KeyStatus::Issued.as_str();
        self.expected_return_at.filter(|_| issued).map(|at| at.date())
    }
}

/// A key was created (`old` is `None`), deleted (`new` is `None`) or changed.
pub(crate) fn key_changed(
    conn: &mut AnyConnection,
    org_id: &str,
    old: Option<KeyFacts<'_>>,
    new: Option<KeyFacts<'_>>,
) -> StoreResult<()> {
    if old == new {
        return Ok(());
    }
    let mut statuses = Vec::with_capacity(2);
    let mut days = Vec::with_capacity(2);
    for (facts, delta) in [(old, -1), (new, 1)] {
        let Some(facts) = facts else { continue };
        net(&mut statuses, (facts.development_id, facts.status), delta);
        if let Some(day) = facts.due_day() {
            net(&mut days, (facts.development_id, day), delta);
        }
    }
    add_to_counts!(
        conn,
        key_counts(org_id, development_id, status),
        statuses
            .into_iter()
            .filter(|(_, n)| *n != 0)
            .map(|((development_id, status), n)| {
                (
                    key_counts::org_id.eq(org_id),
                    key_counts::development_id.eq(development_id),
                    key_counts::status.eq(status),
                    key_counts::n.eq(n),
                )
            })
            .collect()
    );
    add_to_counts!(
        conn,
        key_due_days(org_id, due_day, development_id),
        days.into_iter()
            .filter(|(_, n)| *n != 0)
            .map(|((development_id, day), n)| {
                (
                    key_due_days::org_id.eq(org_id),
                    key_due_days::due_day.eq(day),
                    key_due_days::development_id.eq(development_id),
                    key_due_days::n.eq(n),
                )
            })
            .collect()
    );
    Ok(())
}

/// An access code was created (`delta` 1) or deleted (-1).
pub(crate) fn code_changed(
    conn: &mut AnyConnection,
    org_id: &str,
    development_id: &str,
    delta: i32,
) -> StoreResult<()> {
    add_to_counts!(
        conn,
        access_code_counts(org_id, development_id),
        vec![(
            access_code_counts::org_id.eq(org_id),
            access_code_counts::development_id.eq(development_id),
            access_code_counts::n.eq(delta),
        )]
    );
    Ok(())
}

/// Keys per status, of the organisation or of one development: O(developments × statuses).
pub(crate) fn keys_by_status(
    conn: &mut AnyConnection,
    org_id: &str,
    development_id: Option<&str>,
) -> StoreResult<Vec<(String, i64)>> {
    let query = key_counts::table
        .filter(key_counts::org_id.eq(org_id))
        .group_by(key_counts::status)
        .select((key_counts::status, sum(key_counts::n)))
        .into_boxed();
    let query = super::of_development!(query, key_counts::development_id, development_id);
    let rows: Vec<(String, Option<i64>)> = query.load(conn)?;
    Ok(rows.into_iter().map(|(status, n)| (status, n.unwrap_or(0))).collect())
}

/// The day under which the due-day counts of days long past are kept, one row per
/// development (decision 182): before every real due day, so every sum of the days before
/// today includes it, and no sum of days from today on does.
pub const FOLDED_DAY: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(day) => day,
    None => panic!("0001-01-01 is a date"),
};

/// How many days back the due-day counts stay one row per day; older ones are folded.
pub const DAYS_KEPT: i64 = 7;

/// The first day [`fold_due_days`] keeps when the time is `now`.
pub fn fold_horizon(now: NaiveDateTime) -> NaiveDate {
    now.date() - chrono::TimeDelta::days(DAYS_KEPT)
}

/// The due days still to fold: after [`FOLDED_DAY`], before `before`.
type ToFold = diesel::dsl::And<
    diesel::dsl::Gt<key_due_days::due_day, NaiveDate>,
    diesel::dsl::Lt<key_due_days::due_day, NaiveDate>,
>;

fn to_fold(before: NaiveDate) -> ToFold {
    key_due_days::due_day.gt(FOLDED_DAY).and(key_due_days::due_day.lt(before))
}

/// The organisations with due-day counts of days before `before` still to fold.
pub fn orgs_to_fold(conn: &mut AnyConnection, before: NaiveDate) -> StoreResult<Vec<String>> {
    Ok(key_due_days::table.filter(to_fold(before)).select(key_due_days::org_id).distinct().load(conn)?)
}

/// Folds the organisation's due-day counts of the days before `before` into its
/// [`FOLDED_DAY`] rows, one per development; answers how many day rows went. Under the
/// organisation's lock, as every writer of the counts: no count changes between the sum
/// and the delete. A key whose day was folded and that changes later adds its -1 to a
/// row of its own day again, which the next fold takes in: the sum over the past days is
/// the same before and after a fold, whenever it runs.
pub fn fold_due_days(conn: &mut AnyConnection, org_id: &str, before: NaiveDate) -> StoreResult<usize> {
    super::lock_organisation(conn, org_id)?;
    let past = || key_due_days::table.filter(key_due_days::org_id.eq(org_id)).filter(to_fold(before));
    let sums: Vec<(String, Option<i64>)> = past()
        .group_by(key_due_days::development_id)
        .select((key_due_days::development_id, sum(key_due_days::n)))
        .load(conn)?;
    let mut folded = Vec::with_capacity(sums.len());
    for (development_id, n) in &sums {
        let n = i32::try_from(n.unwrap_or(0))
            .map_err(|_| keyward_domain::Error::Internal(format!("due-day count {n:?} out of range")))?;
        if n != 0 {
            folded.push((
                key_due_days::org_id.eq(org_id),
                key_due_days::due_day.eq(FOLDED_DAY),
                key_due_days::development_id.eq(development_id),
                key_due_days::n.eq(n),
            ));
        }
    }
    add_to_counts!(conn, key_due_days(org_id, due_day, development_id), folded);
    Ok(diesel::delete(past()).execute(conn)?)
}

/// Issued keys due back before `now`: whole past days from `key_due_days`, and today's
/// keys counted through the `keys_org_status_due` index. O(days + keys due today).
pub(crate) fn overdue(
    conn: &mut AnyConnection,
    org_id: &str,
    development_id: Option<&str>,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    let past: Option<i64> = due_before(org_id, development_id, now.date()).select(sum(key_due_days::n)).first(conn)?;
    let due_today: i64 = due_today(org_id, development_id, now).count().get_result(conn)?;
    Ok(past.unwrap_or(0) + due_today)
}

/// The days before `today` of the issued keys' due dates (to sum `n` of), in the
/// organisation or one development: a week of days and the [`FOLDED_DAY`] rows.
pub(crate) fn due_before<'a>(
    org_id: &'a str,
    development_id: Option<&'a str>,
    today: NaiveDate,
) -> key_due_days::BoxedQuery<'a, MultiBackend> {
    let q = key_due_days::table.filter(key_due_days::org_id.eq(org_id)).filter(key_due_days::due_day.lt(today));
    super::of_development!(q.into_boxed(), key_due_days::development_id, development_id)
}

/// The issued keys due back today before `now`, through `keys_org_status_due`.
pub(crate) fn due_today<'a>(
    org_id: &'a str,
    development_id: Option<&'a str>,
    now: NaiveDateTime,
) -> keys::BoxedQuery<'a, MultiBackend> {
    let q = keys::table
        .filter(keys::org_id.eq(org_id))
        .filter(keys::status.eq(KeyStatus::Issued.as_str()))
        .filter(keys::expected_return_at.ge(now.date().and_time(chrono::NaiveTime::MIN)))
        .filter(keys::expected_return_at.lt(now));
    super::of_development!(q.into_boxed(), keys::development_id, development_id)
}

/// The access-code counts (to sum `n` of) of the organisation or one development.
pub(crate) fn code_counts<'a>(
    org_id: &'a str,
    development_id: Option<&'a str>,
) -> access_code_counts::BoxedQuery<'a, MultiBackend> {
    let q = access_code_counts::table.filter(access_code_counts::org_id.eq(org_id));
    super::of_development!(q.into_boxed(), access_code_counts::development_id, development_id)
}

/// A number below which every number of the prefix is taken (1 when none is known).
pub(crate) fn ref_floor(conn: &mut AnyConnection, org_id: &str, prefix: &str) -> StoreResult<i64> {
    let floor: Option<i64> = key_ref_floors::table
        .filter(key_ref_floors::org_id.eq(org_id))
        .filter(key_ref_floors::ref_prefix.eq(prefix))
        .select(key_ref_floors::floor)
        .first(conn)
        .optional()?;
    Ok(floor.unwrap_or(1))
}

/// Records that every number of the prefix below `floor` is taken.
pub(crate) fn set_ref_floor(conn: &mut AnyConnection, org_id: &str, prefix: &str, floor: i64) -> StoreResult<()> {
    let query = diesel::insert_into(key_ref_floors::table)
        .values((
            key_ref_floors::org_id.eq(org_id),
            key_ref_floors::ref_prefix.eq(prefix),
            key_ref_floors::floor.eq(floor),
        ))
        .on_conflict((key_ref_floors::org_id, key_ref_floors::ref_prefix))
        .do_update()
        .set(key_ref_floors::floor.eq(floor));
    match conn {
        AnyConnection::Pg(c) => query.execute(c)?,
        AnyConnection::Sqlite(c) => query.execute(c)?,
    };
    Ok(())
}

/// A number of the prefix may have become free: the floor comes down to it if above.
pub(crate) fn ref_number_freed(conn: &mut AnyConnection, org_id: &str, prefix: &str, number: i64) -> StoreResult<()> {
    diesel::update(
        key_ref_floors::table
            .filter(key_ref_floors::org_id.eq(org_id))
            .filter(key_ref_floors::ref_prefix.eq(prefix))
            .filter(key_ref_floors::floor.gt(number)),
    )
    .set(key_ref_floors::floor.eq(number))
    .execute(conn)?;
    Ok(())
}
