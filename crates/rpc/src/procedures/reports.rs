//! `reports.*`: a door's key log (issue 12 §6), as pages and as CSV (decisions 125, 126).

use chrono::{DateTime, SecondsFormat, Utc};
use keyward_domain::door_log::{DoorLogPage, DoorLogRange};
use keyward_domain::{Capability, Error};
use keyward_persistence::repo::doors::log::{self, LogRequest};
use serde::Deserialize;
use specta::Type;

use crate::csv_export::{CsvBuilder, CsvFile};
use crate::procedure::{Access, Call, Procedure};

/// A page's default and largest size.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 500;
/// At most this many events in one CSV file.
pub const CSV_MAX_ROWS: usize = 10_000;

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DoorLogInput {
    pub door_id: String,
    /// The range `[from, to)`: `from` before `to`, at most 366 days.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `nextCursor` of the previous page, with the same door and range.
    #[serde(default)]
    pub cursor: Option<String>,
    /// 1 to 500; default 100.
    #[serde(default)]
    pub limit: Option<u32>,
}

pub struct DoorLog;
impl Procedure for DoorLog {
    const NAME: &'static str = "reports.doorLog";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = DoorLogInput;
    type Output = DoorLogPage;

    async fn call(call: Call<'_>, input: DoorLogInput) -> Result<DoorLogPage, Error> {
        let actor = call.actor()?;
        let limit = input.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        let request = LogRequest {
            door_id: input.door_id,
            range: DoorLogRange::new(input.from, input.to)?,
            cursor: input.cursor,
            limit: limit as usize,
            with_doorcodes: actor.role.can(Capability::Edit),
        };
        let org_id = actor.org_id.clone();
        call.app.db.run(move |c| log::page(c, &org_id, &request)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DoorLogCsvInput {
    pub door_id: String,
    /// The range `[from, to)`: `from` before `to`, at most 366 days, at most 10,000 events.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The columns of the door log's CSV, in order.
pub const CSV_COLUMNS: [&str; 13] = [
    "at",
    "source",
    "action",
    "actor",
    "keyRef",
    "keyId",
    "person",
    "personId",
    "grant",
    "grantId",
    "doorcodeId",
    "endReason",
    "id",
];

pub struct DoorLogCsv;
impl Procedure for DoorLogCsv {
    const NAME: &'static str = "reports.doorLogCsv";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = DoorLogCsvInput;
    type Output = CsvFile;

    async fn call(call: Call<'_>, input: DoorLogCsvInput) -> Result<CsvFile, Error> {
        let actor = call.actor()?;
        let range = DoorLogRange::new(input.from, input.to)?;
        let door_id = input.door_id.clone();
        let request = LogRequest {
            door_id: input.door_id,
            range,
            cursor: None,
            limit: CSV_MAX_ROWS,
            with_doorcodes: actor.role.can(Capability::Edit),
        };
        let org_id = actor.org_id.clone();
        let page = call.app.db.run(move |c| log::page(c, &org_id, &request)).await?;
        if page.next_cursor.is_some() {
            return Err(Error::invalid(
                "to",
                format!("the range holds more than {CSV_MAX_ROWS} events: export it in parts"),
            ));
        }
        let mut csv = CsvBuilder::new(&CSV_COLUMNS)?;
        for entry in &page.items {
            let at = entry.at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
            csv.row([
                Some(at.as_str()),
                Some(entry.source.as_str()),
                Some(entry.action.as_str()),
                entry.actor_name.as_deref(),
                entry.key_ref.as_deref(),
                entry.key_id.as_deref(),
                entry.person_name.as_deref(),
                entry.person_id.as_deref(),
                entry.grant_name.as_deref(),
                entry.grant_id.as_deref(),
                entry.doorcode_id.as_deref(),
                entry.end_reason.map(|reason| reason.as_str()),
                Some(entry.id.as_str()),
            ])?;
        }
        // Door ids are UUIDs: the name needs no escaping.
        let filename = format!("door-log-{door_id}-{}-{}.csv", range.from.format("%Y%m%d"), range.to.format("%Y%m%d"));
        Ok(CsvFile { filename, csv: csv.finish()? })
    }
}
