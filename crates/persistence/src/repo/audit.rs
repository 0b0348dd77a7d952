//! The audit log: written in the same transaction as the change it describes, read by
//! `audit.list`, and chained per organisation so that an edit, a deletion, an insertion
//! or a reordering of events can be detected (`audit.verify`, `keyward audit verify`).
//!
//! # The chain
//!
//! An organisation's events are numbered `seq` = 1, 2, 3 … in the order they were
//! written (`UNIQUE (org_id, seq)`). Each stores `prev_hash`, the previous event's `hash`
//! (64 zeros for seq 1), and `hash` = lowercase hex of SHA-256 over the UTF-8 bytes of
//! its canonical content: the JSON array
//!
//! ```text
//! [prev_hash, id, org_id, seq, at, actor_id, actor_name, action, entity_type, entity_id, summary, changes]
//! ```
//!
//! written without any whitespace, `seq` as a JSON number, `actor_id` as `null` for a
//! system event, `at` as RFC 3339 UTC with exactly six fractional digits and `Z`
//! (`2026-12-05T10:00:00.000000Z`), `changes` as the stored JSON text (a string, not
//! nested JSON), every other value a JSON string. Strings are escaped as serde_json
//! does: `"` and `\` with a backslash; U+0008, U+0009, U+000A, U+000C, U+000D as `\b`,
//! `\t`, `\n`, `\f`, `\r`; other control characters below U+0020 as `\u00xx` (lowercase
//! hex); everything else as itself. docs/api.md § Audit has a worked example, checked by
//! `tests::the_documented_example_hashes_as_documented`.
//!
//! Writers serialise on the organisation's row ([`super::lock_organisation`]), so
//! concurrent calls still produce one chain. Events written before the chain existed are
//! numbered by the migration and hashed by [`build_missing_chains`] when keyward migrates
//! (an empty `hash` means "not chained yet"; only a chain's leading run of such events is
//! ever filled in).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use keyward_domain::{
    Actor, AuditEvent, BreakReason, BrokenLink, ChainHead, ChainVerification, Error, FieldChange, Page, PageRequest,
};
use sha2::{Digest, Sha256};

use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::{audit_events, organisations, webhook_endpoints};
use crate::time;

/// `prev_hash` of an organisation's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Events read per query when walking a chain: memory stays bounded by one page.
const WALK_PAGE: i64 = 500;

/// What happened, to be recorded on behalf of an actor.
pub struct NewEvent<'a> {
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    pub summary: String,
    pub changes: Vec<FieldChange>,
}

/// An audit event as stored: its place in the chain and its hash. Public so that a bulk
/// load (the benchmark seed) writes events chained exactly as [`record`] chains them.
#[derive(Insertable, Queryable, Clone)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
pub struct ChainedEvent {
    pub id: String,
    pub org_id: String,
    pub at: NaiveDateTime,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub summary: String,
    /// The stored JSON text of the `FieldChange` list.
    pub changes: String,
    pub seq: i32,
    pub prev_hash: String,
    pub hash: String,
}

impl ChainedEvent {
    /// The canonical content: see the module documentation. A tuple serialises as the
    /// JSON array, without building a `serde_json::Value` first.
    fn canonical(&self, prev_hash: &str) -> String {
        let at = self.at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let content = (
            prev_hash,
            &self.id,
            &self.org_id,
            self.seq,
            at,
            &self.actor_id,
            &self.actor_name,
            &self.action,
            &self.entity_type,
            &self.entity_id,
            &self.summary,
            &self.changes,
        );
        serde_json::to_string(&content).expect("strings and numbers always serialise")
    }

    /// The hash this event has when it follows an event whose hash is `prev_hash`.
    pub fn hash_after(&self, prev_hash: &str) -> String {
        use std::fmt::Write;
        let digest = Sha256::digest(self.canonical(prev_hash).as_bytes());
        let mut hex = String::with_capacity(64);
        for b in digest {
            write!(hex, "{b:02x}").expect("writing to a String cannot fail");
        }
        hex
    }
}

pub fn record(conn: &mut AnyConnection, actor: &Actor, event: NewEvent<'_>) -> StoreResult<()> {
    let actor_id = (!actor.is_system()).then_some(actor.user_id.as_str());
    insert(conn, &actor.org_id, actor_id, &actor.name, event)
}

/// An event no user caused (Twilio's delivery report, the sweep of a crashed send):
/// `actorId` is null and `actorName` says who acted.
pub fn record_system(conn: &mut AnyConnection, org_id: &str, actor_name: &str, event: NewEvent<'_>) -> StoreResult<()> {
    insert(conn, org_id, None, actor_name, event)
}

/// Appends to the organisation's chain. Must run inside `Db::write`: the organisation's
/// row stays locked until the transaction ends, so no other writer can take the same seq.
fn insert(
    conn: &mut AnyConnection,
    org_id: &str,
    actor_id: Option<&str>,
    actor_name: &str,
    event: NewEvent<'_>,
) -> StoreResult<()> {
    if !in_transaction(conn) {
        // Outside a transaction the lock below would end with its statement, and two
        // writers could take the same seq: a bug in the caller, refused loudly.
        return Err(Error::Internal(format!("audit event {} recorded outside Db::write", event.action)).into());
    }
    super::lock_organisation(conn, org_id)?;
    let mut head = last_link(conn, org_id)?;
    if head.as_ref().is_some_and(|(_, hash, _)| hash.is_empty()) {
        // Written before the chain existed and not hashed yet (another node migrated).
        build_chain(conn, org_id)?;
        head = last_link(conn, org_id)?;
    }
    let (seq, prev_hash, webhooks) = match head {
        Some((seq, hash, webhooks)) => (seq, hash, Some(webhooks)),
        None => (0, GENESIS.to_owned(), None),
    };
    let mut row = ChainedEvent {
        id: time::new_id(),
        org_id: org_id.to_owned(),
        at: time::now(),
        actor_id: actor_id.map(str::to_owned),
        actor_name: actor_name.to_owned(),
        action: event.action.to_owned(),
        entity_type: event.entity_type.to_owned(),
        entity_id: event.entity_id.to_owned(),
        summary: event.summary,
        changes: serde_json::to_string(&event.changes).expect("field changes always serialise"),
        seq: seq + 1,
        prev_hash: String::new(),
        hash: String::new(),
    };
    row.hash = row.hash_after(&prev_hash);
    row.prev_hash = prev_hash;
    crate::repo::Kept(diesel::insert_into(audit_events::table).values(&row)).execute(conn)?;
    // The webhook outbox: deliveries commit with the event, or not at all.
    super::webhooks::outbox::on_event(conn, &row, webhooks)
}

fn in_transaction(conn: &mut AnyConnection) -> bool {
    use diesel::connection::{Connection, TransactionManager};
    type Manager = <AnyConnection as Connection>::TransactionManager;
    matches!(Manager::transaction_manager_status_mut(conn).transaction_depth(), Ok(Some(_)))
}

/// The seq and hash of the organisation's newest event, and whether the organisation has
/// an enabled webhook endpoint: the outbox's question about the event being appended,
/// asked in the same statement (one round trip less per write, decision 181).
fn last_link(conn: &mut AnyConnection, org_id: &str) -> StoreResult<Option<(i32, String, bool)>> {
    let webhooks = diesel::dsl::exists(
        webhook_endpoints::table
            .filter(webhook_endpoints::org_id.eq(org_id))
            .filter(webhook_endpoints::enabled.eq(true)),
    );
    Ok(audit_events::table
        .filter(audit_events::org_id.eq(org_id))
        .order(audit_events::seq.desc())
        .select((audit_events::seq, audit_events::hash, webhooks))
        .first(conn)
        .optional()?)
}

/// The events of an organisation after `after_seq`, in chain order, one page.
fn chain_page(conn: &mut AnyConnection, org_id: &str, after_seq: i32) -> StoreResult<Vec<ChainedEvent>> {
    Ok(audit_events::table
        .filter(audit_events::org_id.eq(org_id))
        .filter(audit_events::seq.gt(after_seq))
        .order(audit_events::seq.asc())
        .limit(WALK_PAGE)
        .load(conn)?)
}

/// Hashes the events written before the chain existed, for every organisation; returns
/// how many were hashed. Run inside `Db::write` after migrating (`keyward` does so).
pub fn build_missing_chains(conn: &mut AnyConnection) -> StoreResult<usize> {
    let orgs: Vec<String> = organisations::table.select(organisations::id).order(organisations::id).load(conn)?;
    let mut hashed = 0;
    for org_id in orgs {
        let unchained = audit_events::table
            .filter(audit_events::org_id.eq(&org_id))
            .filter(audit_events::seq.eq(1))
            .filter(audit_events::hash.eq(""))
            .count()
            .get_result::<i64>(conn)?;
        if unchained > 0 {
            hashed += build_chain(conn, &org_id)?;
        }
    }
    Ok(hashed)
}

/// Hashes the leading run of unhashed events of one organisation (seq 1 on, up to the
/// first event that has a hash).
fn build_chain(conn: &mut AnyConnection, org_id: &str) -> StoreResult<usize> {
    super::lock_organisation(conn, org_id)?;
    let (mut after, mut prev_hash, mut hashed) = (0, GENESIS.to_owned(), 0);
    loop {
        let page = chain_page(conn, org_id, after)?;
        let Some(last) = page.last() else { return Ok(hashed) };
        after = last.seq;
        for row in page {
            if !row.hash.is_empty() {
                return Ok(hashed);
            }
            let hash = row.hash_after(&prev_hash);
            diesel::update(audit_events::table.find(&row.id))
                .set((audit_events::prev_hash.eq(&prev_hash), audit_events::hash.eq(&hash)))
                .execute(conn)?;
            prev_hash = hash;
            hashed += 1;
        }
    }
}

/// Re-walks an organisation's chain from seq 1, a page at a time, and reports the first
/// broken link or how many events hold.
pub fn verify(conn: &mut AnyConnection, org_id: &str) -> StoreResult<ChainVerification> {
    let (mut expected_seq, mut prev_hash, mut verified) = (1, GENESIS.to_owned(), 0);
    loop {
        let page = chain_page(conn, org_id, expected_seq - 1)?;
        if page.is_empty() {
            return Ok(ChainVerification { verified, broken: None });
        }
        for row in page {
            let recomputed = row.hash_after(&row.prev_hash);
            let broken = |reason, expected_hash: &str, found_hash: &str| BrokenLink {
                event_id: row.id.clone(),
                seq: row.seq,
                reason,
                expected_hash: expected_hash.to_owned(),
                found_hash: found_hash.to_owned(),
            };
            let broken = if row.seq != expected_seq {
                Some(broken(BreakReason::Sequence, &prev_hash, &row.prev_hash))
            } else if row.prev_hash != prev_hash {
                Some(broken(BreakReason::PreviousHash, &prev_hash, &row.prev_hash))
            } else if row.hash != recomputed {
                Some(broken(BreakReason::Hash, &recomputed, &row.hash))
            } else {
                None
            };
            if broken.is_some() {
                return Ok(ChainVerification { verified, broken });
            }
            verified += 1;
            expected_seq += 1;
            prev_hash = row.hash;
        }
    }
}

/// The newest event of an organisation's chain (seq 0 and 64 zeros when it has none).
pub fn head(conn: &mut AnyConnection, org_id: &str) -> StoreResult<ChainHead> {
    let newest: Option<(i32, String, NaiveDateTime)> = audit_events::table
        .filter(audit_events::org_id.eq(org_id))
        .order(audit_events::seq.desc())
        .select((audit_events::seq, audit_events::hash, audit_events::at))
        .first(conn)
        .optional()?;
    Ok(match newest {
        Some((seq, hash, at)) => ChainHead { seq, hash, at: Some(time::from_db(at)) },
        None => ChainHead { seq: 0, hash: GENESIS.to_owned(), at: None },
    })
}

/// Every organisation's id, for walking all chains (`keyward audit verify`, the anchor).
pub fn organisation_ids(conn: &mut AnyConnection) -> StoreResult<Vec<String>> {
    Ok(organisations::table.select(organisations::id).order(organisations::id).load(conn)?)
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

fn filtered<'a>(org_id: &'a str, f: &'a AuditFilter) -> audit_events::BoxedQuery<'a, crate::connection::MultiBackend> {
    let mut q = audit_events::table.filter(audit_events::org_id.eq(org_id)).into_boxed();
    if let Some(v) = &f.entity_type {
        q = q.filter(audit_events::entity_type.eq(v));
    }
    if let Some(v) = &f.entity_id {
        q = q.filter(audit_events::entity_id.eq(v));
    }
    if let Some(v) = &f.actor_id {
        q = q.filter(audit_events::actor_id.eq(v));
    }
    if let Some(v) = &f.action {
        q = q.filter(audit_events::action.eq(v));
    }
    if let Some(v) = f.from {
        q = q.filter(audit_events::at.ge(time::to_db(v)));
    }
    if let Some(v) = f.to {
        q = q.filter(audit_events::at.lt(time::to_db(v)));
    }
    q
}

/// Newest first.
pub fn list(
    conn: &mut AnyConnection,
    org_id: &str,
    f: &AuditFilter,
    page: PageRequest,
) -> StoreResult<Page<AuditEvent>> {
    let total: i64 = filtered(org_id, f).count().get_result(conn)?;
    let rows: Vec<ChainedEvent> = filtered(org_id, f)
        .order((audit_events::at.desc(), audit_events::id.desc()))
        .limit(i64::from(page.limit))
        .offset(page.offset())
        .load(conn)?;
    Ok(Page::counted(rows.into_iter().map(into_event).collect(), super::count_i32(total), page))
}

fn into_event(row: ChainedEvent) -> AuditEvent {
    AuditEvent {
        id: row.id,
        at: time::from_db(row.at),
        actor_id: row.actor_id,
        actor_name: row.actor_name,
        action: row.action,
        entity_type: row.entity_type,
        entity_id: row.entity_id,
        summary: row.summary,
        // Written by `record` from the same type; an unreadable value would be a bug
        // worth seeing, but not worth failing the whole page over.
        changes: serde_json::from_str(&row.changes).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn example() -> ChainedEvent {
        ChainedEvent {
            id: "0193a5b0-0000-7000-8000-000000000001".to_owned(),
            org_id: "0193a5af-0000-7000-8000-000000000000".to_owned(),
            at: NaiveDate::from_ymd_opt(2026, 12, 5)
                .and_then(|d| d.and_hms_micro_opt(10, 0, 0, 120_000))
                .expect("a valid instant"),
            actor_id: None,
            actor_name: "keyward".to_owned(),
            action: "key.issued".to_owned(),
            entity_type: "key".to_owned(),
            entity_id: "0193a5b0-0000-7000-8000-0000000000aa".to_owned(),
            summary: "Key \"ACME-001\" issued to Ann\n(contractor)".to_owned(),
            changes: r#"[{"field":"status","from":"available","to":"issued"}]"#.to_owned(),
            seq: 1,
            prev_hash: GENESIS.to_owned(),
            hash: String::new(),
        }
    }

    /// The worked example of docs/api.md § Audit, character for character.
    #[test]
    fn the_documented_example_hashes_as_documented() {
        let row = example();
        assert_eq!(
            row.canonical(GENESIS),
            r#"["0000000000000000000000000000000000000000000000000000000000000000","0193a5b0-0000-7000-8000-000000000001","0193a5af-0000-7000-8000-000000000000",1,"2026-12-05T10:00:00.120000Z",null,"keyward","key.issued","key","0193a5b0-0000-7000-8000-0000000000aa","Key \"ACME-001\" issued to Ann\n(contractor)","[{\"field\":\"status\",\"from\":\"available\",\"to\":\"issued\"}]"]"#
        );
        assert_eq!(row.hash_after(GENESIS), "a676b414a2968ccb21801d3ce50d122ed74134f5af71aee716a9e36bd324e626");
    }

    #[test]
    fn events_are_recorded_only_inside_a_write_transaction() {
        use keyward_domain::Role;

        use crate::connection::DatabaseUrl;
        use crate::repo::users::{self, NewUser};
        let mut conn = AnyConnection::open(&DatabaseUrl::Sqlite(":memory:".into()), None).unwrap();
        conn.run_migrations(None).unwrap();
        let owner = |email: &str| NewUser {
            email: email.to_owned(),
            name: "O".to_owned(),
            role: Role::Owner,
            password_hash: "x".to_owned(),
        };
        let outside = users::bootstrap(&mut conn, "Acme", owner("a@example.test"));
        assert!(matches!(outside, Err(crate::StoreError::Rule(Error::Internal(_)))));
        let gate = crate::connection::CommitGate::default();
        let (org, _) = conn.write_transaction(&gate, |c| users::bootstrap(c, "Acme", owner("b@example.test"))).unwrap();
        assert_eq!(verify(&mut conn, &org.id).unwrap(), ChainVerification { verified: 2, broken: None });
        assert_eq!(head(&mut conn, &org.id).unwrap().seq, 2);
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let base = example();
        let hash = base.hash_after(GENESIS);
        assert_ne!(base.hash_after(&"1".repeat(64)), hash);
        let edits: [fn(&mut ChainedEvent); 11] = [
            |r| r.id.push('x'),
            |r| r.org_id.push('x'),
            |r| r.seq += 1,
            |r| r.at += chrono::Duration::microseconds(1),
            |r| r.actor_id = Some(String::new()),
            |r| r.actor_name.push('x'),
            |r| r.action.push('x'),
            |r| r.entity_type.push('x'),
            |r| r.entity_id.push('x'),
            |r| r.summary.push('x'),
            |r| r.changes = "[]".to_owned(),
        ];
        for edit in edits {
            let mut row = base.clone();
            edit(&mut row);
            assert_ne!(row.hash_after(GENESIS), hash);
        }
    }
}
