//! Search by the organisation's own trigrams (decision 173).
//!
//! A search of three characters or more narrows the organisation's keys to those whose
//! `search_text` holds every three-character window of the search, then `LIKE` decides.
//! The windows are indexed per organisation: a term is the organisation and the window
//! together, so the index hands back only the searching organisation's candidates,
//! however many keys other organisations (or the organisation itself) hold. A search
//! for "smi" in an organisation of 100,000 keys reads the ~700 keys that contain "smi",
//! not a posting list of the organisation's 100,000 keys intersected with everyone's
//! "smi".
//!
//! - PostgreSQL: the SQL function `keyward_search_grams(org, text)` (migration
//!   `2026-12-12-100000_org_search_grams`) gives the 64-bit hashes of `org || window`,
//!   and GIN indexes on it answer `@>`. A hash shared by two organisations is possible
//!   in principle; the query keeps its `org_id` condition, so such a key is dropped.
//!   Since migration `2026-12-13-100000_key_search` (decision 184) a key's text is
//!   indexed in two parts, neither of which a status change writes: its head (`ref \n
//!   label \n`) in the narrow table `key_search`, kept by triggers when it changes, and
//!   its holder's name on `keys` (`keys_org_holder_grams`, only keys with a holder).
//! - SQLite: the FTS5 table `keys_grams` (contentless, `detail = none`) indexes the terms
//!   [`sqlite_terms`] writes, through the function of the same name that
//!   [`register_sqlite_functions`] installs on every connection (the triggers that keep
//!   `keys_grams` in step call it). Terms are exact: the organisation's letters and
//!   digits, then the window's UTF-8 in hex. Since migration `holder_names` (decision
//!   187) `keys_grams` holds the heads only, and the holders' names are indexed once per
//!   organisation and name (`holder_names`, FTS5 `holder_grams`); their keys come from
//!   `keys_org_issued_to`, which also holds the ref, so a search alone lists the refs of
//!   the keys it finds by holder without reading their rows ([`sqlite_refs`], decision
//!   189).

use diesel::SqliteConnection;
use diesel::sql_types::Text;

/// Searches shorter than this (in characters) have no window to look up.
pub(crate) const WINDOW: usize = 3;

diesel::define_sql_function! {
    /// SQLite: the terms of a text in an organisation, for `keys_grams` and `holder_grams`.
    fn keyward_search_grams(org: Text, text: Text) -> Text;
}

diesel::define_sql_function! {
    /// SQLite: a key's `search_text` up to its holder (`ref \n label \n`), as PostgreSQL's
    /// function of the same name.
    fn keyward_search_head(text: Text) -> Text;
}

diesel::define_sql_function! {
    /// SQLite: the holder's part of a key's `search_text` (after its last line break), as
    /// PostgreSQL's function of the same name.
    fn keyward_search_holder(text: Text) -> Text;
}

/// Installs `keyward_search_grams`, `keyward_search_head` and `keyward_search_holder` on
/// a SQLite connection. Every connection keyward opens has them; a tool that writes `keys`
/// on its own connection must call this first, or the triggers fail with "no such
/// function".
pub fn register_sqlite_functions(conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
    keyward_search_grams_utils::register_impl(conn, |org: String, text: String| sqlite_terms(&org, &text))?;
    keyward_search_head_utils::register_impl(conn, |text: String| split_holder(&text).0.to_owned())?;
    keyward_search_holder_utils::register_impl(conn, |text: String| split_holder(&text).1.to_owned())
}

/// A key's `search_text` (`keys::search_text`) cut before its holder: the head (`ref \n
/// label \n`) and the holder's name (empty when none).
fn split_holder(text: &str) -> (&str, &str) {
    let cut = text.rfind('\n').map_or(0, |at| at + 1);
    text.split_at(cut)
}

/// The organisation's part of a term: its letters and digits, lower-cased.
fn org_part(org_id: &str) -> String {
    org_id.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// Every window of three characters of `text` without a control character (fields are
/// joined by line breaks, and a search cannot hold one), once each.
fn windows(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<String> = chars
        .windows(WINDOW)
        .filter(|w| !w.iter().any(|c| c.is_control()))
        .map(|w| w.iter().collect::<String>())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn term(org: &str, window: &str) -> String {
    use std::fmt::Write;
    let mut term = String::with_capacity(org.len() + 1 + 2 * window.len());
    term.push_str(org);
    term.push('x');
    for byte in window.as_bytes() {
        let _ = write!(term, "{byte:02x}");
    }
    term
}

/// The terms of `text` in `org_id`, separated by spaces (a document for `keys_grams`).
pub(crate) fn sqlite_terms(org_id: &str, text: &str) -> String {
    let org = org_part(org_id);
    windows(text).iter().map(|w| term(&org, w)).collect::<Vec<_>>().join(" ")
}

/// The FTS5 query that finds the keys of `org_id` holding every window of `search`
/// (already lower-cased, at least [`WINDOW`] characters): each term quoted, all of them
/// required.
pub(crate) fn sqlite_match(org_id: &str, search: &str) -> String {
    let org = org_part(org_id);
    windows(search).iter().map(|w| format!("\"{}\"", term(&org, w))).collect::<Vec<_>>().join(" AND ")
}

#[derive(diesel::QueryableByName)]
struct Ref {
    #[diesel(sql_type = Text)]
    key_ref: String,
}

/// SQLite, a search that is the filter's only condition: the refs of up to `wanted` keys
/// of `org_id` whose search text holds `search` (lower-cased, [`WINDOW`] characters or
/// more), in no order. Heads by their grams, checked on the key's row; holders by their
/// names' grams, checked on the name, and their keys' refs from `keys_org_issued_to`
/// alone (decision 189): a search that finds 700 keys by their holders reads no row of
/// `keys`.
pub(super) fn sqlite_refs(
    conn: &mut SqliteConnection,
    org_id: &str,
    search: &str,
    wanted: i64,
) -> diesel::QueryResult<Vec<String>> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::BigInt;
    let query = diesel::sql_query(
        "SELECT key_ref FROM keys \
         WHERE search_id IN (SELECT rowid FROM keys_grams WHERE keys_grams MATCH ?1) \
           AND +org_id = ?2 AND search_text LIKE ?3 ESCAPE '\\' \
         UNION \
         SELECT key_ref FROM keys \
         WHERE org_id = ?2 AND issued_to IN (SELECT name FROM holder_names \
             WHERE id IN (SELECT rowid FROM holder_grams WHERE holder_grams MATCH ?1) \
               AND +org_id = ?2 AND search LIKE ?3 ESCAPE '\\') \
         LIMIT ?4",
    )
    .bind::<Text, _>(sqlite_match(org_id, search))
    .bind::<Text, _>(org_id)
    .bind::<Text, _>(crate::repo::like_contains(search))
    .bind::<BigInt, _>(wanted);
    let refs: Vec<Ref> = crate::repo::Kept(query).load(conn)?;
    Ok(refs.into_iter().map(|r| r.key_ref).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_s_terms_are_among_the_text_s_when_the_text_contains_it() {
        let org = "019fdeab-5c00-7231-8560-3534a9722c3e";
        let text = "d07-0012\nflat 12 front door\njasmine smith";
        let doc: Vec<String> = sqlite_terms(org, text).split(' ').map(str::to_owned).collect();
        for search in ["smi", "flat 12", "d07-0012", "é1x"] {
            let wanted: Vec<String> =
                sqlite_match(org, search).split(" AND ").map(|t| t.trim_matches('"').to_owned()).collect();
            let all = wanted.iter().all(|t| doc.contains(t));
            assert_eq!(all, text.contains(search), "{search}");
        }
    }

    #[test]
    fn a_search_text_splits_into_head_and_holder_as_on_postgresql() {
        let text = super::super::search_text("D07-0012", "Flat 12\nfront", Some("Jasmine Smith"));
        assert_eq!(split_holder(&text), ("d07-0012\nflat 12\nfront\n", "jasmine smith"));
        let none = super::super::search_text("D07-0013", "Gate", None);
        assert_eq!(split_holder(&none), ("d07-0013\ngate\n", ""));
        assert_eq!(split_holder("no break"), ("", "no break"));
    }

    #[test]
    fn terms_belong_to_one_organisation_and_skip_line_breaks() {
        let a = sqlite_terms("org-a", "ab\ncd");
        assert_eq!(a, "", "every window holds the line break");
        assert_ne!(sqlite_terms("org-a", "abc"), sqlite_terms("org-b", "abc"));
        assert_eq!(sqlite_terms("org-a", "abc"), format!("orgax{}", "616263"));
        assert_eq!(sqlite_match("org-a", "é"), "", "shorter than a window");
    }
}
