//! A door's key log (`reports.doorLog`, issue 12 §6, decisions 125 and 145): the
//! movements of each key while it opened the door (its periods in `key_door_periods`),
//! and the doorcodes allocated, sent and ended at it, merged in time order and paged by a
//! keyset cursor.
//!
//! Each source is read through an index that starts with the door (or its keys) and the
//! instant: `key_door_periods_org_door` then `key_movements_key_at`; `doorcodes_org_door_created`;
//! `doorcode_exposures_org_door_at`; `doorcodes_org_door_ended`. A page reads at most
//! `limit + 1` rows of each source after the cursor, so its cost is that of the door's
//! events in the range, never the organisation's.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use keyward_domain::Error;
use keyward_domain::door_log::{DoorLogEntry, DoorLogPage, DoorLogRange, DoorLogSource};
use keyward_domain::grant::CredentialEndReason;

use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::repo::keys::Movement;
use crate::schema::{doorcode_exposures, doorcodes, grants, key_door_periods, key_movements, keys, people};
use crate::time;

/// The order of the sources at one instant: a key's movement, then a doorcode allocated,
/// sent, ended.
const KEY: u8 = 0;
const ALLOCATED: u8 = 1;
const SENT: u8 = 2;
const ENDED: u8 = 3;

/// A doorcode that ended: id, grant, person, instant, reason.
type EndedRow = (String, String, String, Option<NaiveDateTime>, Option<String>);

/// What a page asks for.
#[derive(Debug, Clone)]
pub struct LogRequest {
    pub door_id: String,
    pub range: DoorLogRange,
    /// From `nextCursor` (INVALID_INPUT `cursor` if it is not one).
    pub cursor: Option<String>,
    pub limit: usize,
    /// Doorcode events (who holds a grant at the door) are for those who read grants.
    pub with_doorcodes: bool,
}

/// One page of the door's log, oldest first. NOT_FOUND for another organisation's door.
pub fn page(conn: &mut AnyConnection, org_id: &str, request: &LogRequest) -> StoreResult<DoorLogPage> {
    super::get(conn, org_id, &request.door_id)?;
    let after = request.cursor.as_deref().map(Position::decode).transpose()?;
    let from = time::to_db(request.range.from);
    let to = time::to_db(request.range.to);
    let fetch = i64::try_from(request.limit).unwrap_or(i64::MAX).saturating_add(1);
    let door_id = request.door_id.as_str();

    let mut events: Vec<Event> = Vec::new();
    {
        let bound = Bound::of(after.as_ref(), KEY);
        // A movement of a key while it opened the door: within one of its periods
        // [from_at, to_at) at the door (decision 145). The periods of one key and door
        // never overlap, so a movement is read once.
        let mut q = key_movements::table
            .inner_join(
                key_door_periods::table.on(key_door_periods::key_id
                    .eq(key_movements::key_id)
                    .and(key_movements::at.ge(key_door_periods::from_at))
                    .and(
                        key_door_periods::to_at
                            .is_null()
                            .or(key_movements::at.lt(key_door_periods::to_at.assume_not_null())),
                    )),
            )
            .filter(key_door_periods::org_id.eq(org_id))
            .filter(key_door_periods::door_id.eq(door_id))
            .filter(key_door_periods::from_at.lt(to))
            .filter(key_door_periods::to_at.is_null().or(key_door_periods::to_at.assume_not_null().gt(from)))
            .filter(key_movements::org_id.eq(org_id))
            .filter(key_movements::at.ge(from))
            .filter(key_movements::at.lt(to))
            .into_boxed();
        q = match bound {
            Bound::None => q,
            Bound::AtOrAfter(at) => q.filter(key_movements::at.ge(at)),
            Bound::After(at) => q.filter(key_movements::at.gt(at)),
            Bound::AfterId(at, id) => {
                q.filter(key_movements::at.gt(at).or(key_movements::at.eq(at).and(key_movements::id.gt(id))))
            }
        };
        let rows: Vec<Movement> =
            q.order((key_movements::at, key_movements::id)).limit(fetch).select(Movement::as_select()).load(conn)?;
        for m in rows {
            events.push(Event {
                at: m.at,
                rank: KEY,
                row_id: m.id.clone(),
                entry: entry(m.id, m.at, DoorLogSource::Key, &m.action, Some(m.actor_name))
                    .with_key(m.key_id)
                    .with_person(m.holder_id, m.issued_to),
            });
        }
    }
    if request.with_doorcodes {
        let bound = Bound::of(after.as_ref(), ALLOCATED);
        let mut q = doorcodes::table
            .filter(doorcodes::org_id.eq(org_id))
            .filter(doorcodes::door_id.eq(door_id))
            .filter(doorcodes::created_at.ge(from))
            .filter(doorcodes::created_at.lt(to))
            .into_boxed();
        q = match bound {
            Bound::None => q,
            Bound::AtOrAfter(at) => q.filter(doorcodes::created_at.ge(at)),
            Bound::After(at) => q.filter(doorcodes::created_at.gt(at)),
            Bound::AfterId(at, id) => {
                q.filter(doorcodes::created_at.gt(at).or(doorcodes::created_at.eq(at).and(doorcodes::id.gt(id))))
            }
        };
        let rows: Vec<(String, String, String, NaiveDateTime)> = q
            .order((doorcodes::created_at, doorcodes::id))
            .limit(fetch)
            .select((doorcodes::id, doorcodes::grant_id, doorcodes::person_id, doorcodes::created_at))
            .load(conn)?;
        for (id, grant_id, person_id, at) in rows {
            events.push(Event {
                at,
                rank: ALLOCATED,
                row_id: id.clone(),
                entry: entry(format!("{id}:allocated"), at, DoorLogSource::Doorcode, "allocated", None)
                    .with_doorcode(id, grant_id, person_id),
            });
        }

        let bound = Bound::of(after.as_ref(), SENT);
        let mut q = doorcode_exposures::table
            .filter(doorcode_exposures::org_id.eq(org_id))
            .filter(doorcode_exposures::door_id.eq(door_id))
            .filter(doorcode_exposures::at.ge(from))
            .filter(doorcode_exposures::at.lt(to))
            .into_boxed();
        q = match bound {
            Bound::None => q,
            Bound::AtOrAfter(at) => q.filter(doorcode_exposures::at.ge(at)),
            Bound::After(at) => q.filter(doorcode_exposures::at.gt(at)),
            Bound::AfterId(at, id) => q.filter(
                doorcode_exposures::at.gt(at).or(doorcode_exposures::at.eq(at).and(doorcode_exposures::id.gt(id))),
            ),
        };
        let rows: Vec<(String, String, String, String, NaiveDateTime, String)> = q
            .order((doorcode_exposures::at, doorcode_exposures::id))
            .limit(fetch)
            .select((
                doorcode_exposures::id,
                doorcode_exposures::doorcode_id,
                doorcode_exposures::grant_id,
                doorcode_exposures::person_id,
                doorcode_exposures::at,
                doorcode_exposures::actor_name,
            ))
            .load(conn)?;
        for (id, doorcode_id, grant_id, person_id, at, actor_name) in rows {
            events.push(Event {
                at,
                rank: SENT,
                row_id: id.clone(),
                entry: entry(id, at, DoorLogSource::Doorcode, "sent", Some(actor_name)).with_doorcode(
                    doorcode_id,
                    grant_id,
                    person_id,
                ),
            });
        }

        let bound = Bound::of(after.as_ref(), ENDED);
        let mut q = doorcodes::table
            .filter(doorcodes::org_id.eq(org_id))
            .filter(doorcodes::door_id.eq(door_id))
            .filter(doorcodes::ended_at.is_not_null())
            .filter(doorcodes::ended_at.ge(from))
            .filter(doorcodes::ended_at.lt(to))
            .into_boxed();
        q = match bound {
            Bound::None => q,
            Bound::AtOrAfter(at) => q.filter(doorcodes::ended_at.ge(at)),
            Bound::After(at) => q.filter(doorcodes::ended_at.gt(at)),
            Bound::AfterId(at, id) => {
                q.filter(doorcodes::ended_at.gt(at).or(doorcodes::ended_at.eq(at).and(doorcodes::id.gt(id))))
            }
        };
        let rows: Vec<EndedRow> = q
            .order((doorcodes::ended_at, doorcodes::id))
            .limit(fetch)
            .select((
                doorcodes::id,
                doorcodes::grant_id,
                doorcodes::person_id,
                doorcodes::ended_at,
                doorcodes::end_reason,
            ))
            .load(conn)?;
        for (id, grant_id, person_id, ended_at, end_reason) in rows {
            let Some(at) = ended_at else { continue };
            let mut entry = entry(format!("{id}:ended"), at, DoorLogSource::Doorcode, "ended", None).with_doorcode(
                id.clone(),
                grant_id,
                person_id,
            );
            entry.end_reason = end_reason.as_deref().and_then(CredentialEndReason::parse);
            events.push(Event { at, rank: ENDED, row_id: id, entry });
        }
    }

    // Each source came in (instant, id) order; a stable sort by (instant, source) keeps it.
    events.sort_by_key(|event| (event.at, event.rank));
    let more = events.len() > request.limit;
    events.truncate(request.limit);
    let next_cursor = events
        .last()
        .filter(|_| more)
        .map(|last| Position { at: last.at, rank: last.rank, row_id: last.row_id.clone() }.encode());
    let mut items: Vec<DoorLogEntry> = events.into_iter().map(|event| event.entry).collect();
    name_things(conn, org_id, &mut items)?;
    Ok(DoorLogPage { items, next_cursor })
}

/// An entry with the parts every source has.
fn entry(
    id: String,
    at: NaiveDateTime,
    source: DoorLogSource,
    action: &str,
    actor_name: Option<String>,
) -> DoorLogEntry {
    DoorLogEntry {
        id,
        at: time::from_db(at),
        source,
        action: action.to_owned(),
        actor_name,
        key_id: None,
        key_ref: None,
        doorcode_id: None,
        grant_id: None,
        grant_name: None,
        person_id: None,
        person_name: None,
        end_reason: None,
    }
}

trait Fill {
    fn with_key(self, key_id: String) -> Self;
    fn with_person(self, person_id: Option<String>, name: Option<String>) -> Self;
    fn with_doorcode(self, doorcode_id: String, grant_id: String, person_id: String) -> Self;
}

impl Fill for DoorLogEntry {
    fn with_key(mut self, key_id: String) -> Self {
        self.key_id = Some(key_id);
        self
    }
    fn with_person(mut self, person_id: Option<String>, name: Option<String>) -> Self {
        self.person_id = person_id;
        self.person_name = name;
        self
    }
    fn with_doorcode(mut self, doorcode_id: String, grant_id: String, person_id: String) -> Self {
        self.doorcode_id = Some(doorcode_id);
        self.grant_id = Some(grant_id);
        self.person_id = Some(person_id);
        self
    }
}

/// Key refs, grant names and people's names for a page: one query each, by primary key.
fn name_things(conn: &mut AnyConnection, org_id: &str, items: &mut [DoorLogEntry]) -> StoreResult<()> {
    let ids = |pick: fn(&DoorLogEntry) -> Option<&String>| -> Vec<String> {
        let mut ids: Vec<String> = items.iter().filter_map(|item| pick(item).cloned()).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let (key_ids, grant_ids) = (ids(|item| item.key_id.as_ref()), ids(|item| item.grant_id.as_ref()));
    let person_ids = ids(|item| if item.source == DoorLogSource::Doorcode { item.person_id.as_ref() } else { None });
    let refs: HashMap<String, String> = if key_ids.is_empty() {
        HashMap::new()
    } else {
        keys::table
            .filter(keys::org_id.eq(org_id))
            .filter(crate::repo::any_of(conn, keys::id, &key_ids))
            .select((keys::id, keys::key_ref))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect()
    };
    let grant_names: HashMap<String, String> = if grant_ids.is_empty() {
        HashMap::new()
    } else {
        grants::table
            .filter(grants::org_id.eq(org_id))
            .filter(crate::repo::any_of(conn, grants::id, &grant_ids))
            .select((grants::id, grants::name))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect()
    };
    let names: HashMap<String, String> = if person_ids.is_empty() {
        HashMap::new()
    } else {
        people::table
            .filter(people::org_id.eq(org_id))
            .filter(crate::repo::any_of(conn, people::id, &person_ids))
            .select((people::id, people::name))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect()
    };
    for item in items.iter_mut() {
        if let Some(key_id) = &item.key_id {
            item.key_ref = refs.get(key_id).cloned();
        }
        if let Some(grant_id) = &item.grant_id {
            item.grant_name = grant_names.get(grant_id).cloned();
        }
        if item.source == DoorLogSource::Doorcode {
            item.person_name = item.person_id.as_ref().and_then(|id| names.get(id)).cloned();
        }
    }
    Ok(())
}

struct Event {
    at: NaiveDateTime,
    rank: u8,
    row_id: String,
    entry: DoorLogEntry,
}

/// Where the previous page ended: the last entry's instant, source and row id.
#[derive(Debug, Clone, PartialEq)]
struct Position {
    at: NaiveDateTime,
    rank: u8,
    row_id: String,
}

impl Position {
    fn encode(&self) -> String {
        let micros = self.at.and_utc().timestamp_micros();
        URL_SAFE_NO_PAD.encode(format!("{micros}|{}|{}", self.rank, self.row_id))
    }

    fn decode(cursor: &str) -> StoreResult<Position> {
        let refuse = || Error::invalid("cursor", "is not a cursor from nextCursor");
        let text =
            URL_SAFE_NO_PAD.decode(cursor).ok().and_then(|bytes| String::from_utf8(bytes).ok()).ok_or_else(refuse)?;
        let mut parts = text.splitn(3, '|');
        let micros: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(refuse)?;
        let rank: u8 = parts.next().and_then(|p| p.parse().ok()).filter(|rank| *rank <= ENDED).ok_or_else(refuse)?;
        let row_id = parts.next().filter(|id| !id.is_empty()).ok_or_else(refuse)?.to_owned();
        let at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(refuse)?.naive_utc();
        Ok(Position { at, rank, row_id })
    }
}

/// What a source's rows must be after, given the cursor: ordered by (instant, source,
/// row id), a source before the cursor's starts after its instant, one after it at its
/// instant, and the cursor's own source after its row.
enum Bound {
    None,
    AtOrAfter(NaiveDateTime),
    After(NaiveDateTime),
    AfterId(NaiveDateTime, String),
}

impl Bound {
    fn of(after: Option<&Position>, rank: u8) -> Bound {
        match after {
            None => Bound::None,
            Some(position) if rank < position.rank => Bound::After(position.at),
            Some(position) if rank > position.rank => Bound::AtOrAfter(position.at),
            Some(position) => Bound::AfterId(position.at, position.row_id.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_strangers_are_refused() {
        let at = DateTime::parse_from_rfc3339("2027-03-01T10:00:00.123456Z").unwrap().naive_utc();
        let position = Position { at, rank: SENT, row_id: "0190-ab|c".to_owned() };
        assert_eq!(Position::decode(&position.encode()).unwrap(), position);
        for bad in ["", "x", &URL_SAFE_NO_PAD.encode("1|9|id"), &URL_SAFE_NO_PAD.encode("1|0|")] {
            assert!(Position::decode(bad).is_err(), "{bad}");
        }
    }
}
