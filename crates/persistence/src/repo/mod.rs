//! Repository functions: each takes `&mut AnyConnection`, is synchronous, and is called
//! through [`crate::Db::run`] or [`crate::Db::write`]. Tenant data is always filtered on
//! the actor's `org_id`.

/// `$query` (boxed) narrowed to one development when `$development` (an `Option`) holds
/// one: the summary's figures and the counts are of the organisation or of a development.
macro_rules! of_development {
    ($query:expr, $column:expr, $development:expr) => {{
        let query = $query;
        match $development {
            Some(development) => query.filter($column.eq(development)),
            None => query,
        }
    }};
}
pub(crate) use of_development;

mod any_of;
pub(crate) use any_of::any_of;
mod kept;
pub(crate) use kept::Kept;

pub mod access_codes;
pub mod audit;
pub mod counts;
pub mod developments;
pub mod doors;
pub mod firms;
pub mod grants;
pub mod jobs;
pub mod key_audits;
pub mod key_sets;
pub mod keys;
pub mod logins;
pub mod maintenance;
pub mod offboarding;
pub mod org_settings;
pub mod overdue_digest;
pub mod people;
pub mod reminders;
pub mod sms;
pub mod summary;
pub mod users;
pub mod webhooks;

/// Escapes `%`, `_` and `\` so that a search is a literal substring (used with
/// `ESCAPE '\'`; SQLite has no default escape character).
pub(crate) fn like_contains(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Locks the organisation's row until the transaction ends, serialising the writers that
/// take it within one organisation (key refs, SMS limits, the audit chain). On PostgreSQL
/// `SELECT … FOR UPDATE` takes the row's lock (without writing a new row version); on
/// SQLite the write transaction (`BEGIN IMMEDIATE`) already holds the database's write
/// lock. Call it only inside [`crate::Db::write`].
///
/// Rule: a write that records an audit event calls this FIRST, before it touches any
/// other row. The audit append takes this lock anyway; taken last, after a key or message
/// row, it would deadlock against a writer that took it first and then wants that row.
///
/// Within one write transaction the helpers that need the lock each ask for it; an ask
/// for the organisation the transaction locked last sends nothing ([`crate::org_lock`]).
pub(crate) fn lock_organisation(conn: &mut crate::connection::AnyConnection, org_id: &str) -> crate::StoreResult<()> {
    use diesel::prelude::*;

    use crate::connection::AnyConnection;
    use crate::schema::organisations;
    match conn {
        AnyConnection::Pg(_) if crate::org_lock::is_held(org_id) => {}
        // A static query (not `sql_query`): diesel prepares it once per connection.
        AnyConnection::Pg(c) => {
            organisations::table.find(org_id).select(organisations::id).for_update().execute(c)?;
            crate::org_lock::taken(org_id);
        }
        AnyConnection::Sqlite(_) => {}
    }
    Ok(())
}

/// A keyset page read with one row more than `limit` (to know whether another page
/// follows): drops that row and answers the next page's cursor, made from the last row
/// kept, or `None` on the last page.
pub(crate) fn keyset_page<T>(rows: &mut Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Option<String> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    if more { rows.last().map(cursor) } else { None }
}

/// A list of ids as the audit log shows it; `None` for none.
pub(crate) fn joined(ids: &[String]) -> Option<String> {
    if ids.is_empty() { None } else { Some(ids.join(", ")) }
}

/// `(owner id, id)` pairs grouped by owner, each group in the order read (a code's keys,
/// a key's doors…).
pub(crate) fn group_pairs(pairs: Vec<(String, String)>) -> std::collections::HashMap<String, Vec<String>> {
    let mut out: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (owner, id) in pairs {
        out.entry(owner).or_default().push(id);
    }
    out
}

/// A count from the database as a wire integer (counts on the wire fit in 32 bits).
pub(crate) fn count_i32(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_are_literal_and_lower_case() {
        assert_eq!(super::like_contains("Smi"), "%smi%");
        assert_eq!(super::like_contains("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
