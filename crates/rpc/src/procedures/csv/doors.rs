//! `doors.exportCsv` and `doors.importCsv`: the doors as a file. A row with an `id` updates
//! that door of the organisation; a row without one creates a door (decision 161).

use keyward_domain::{Actor, Capability, Door, DoorKind, Error};
use keyward_persistence::StoreResult;
use keyward_persistence::connection::AnyConnection;
use keyward_persistence::repo::doors::{self, DoorFilter};
use serde::Deserialize;
use specta::Type;

use super::{EXPORT_MAX_ROWS, export};
use crate::csv_export::CsvFile;
use crate::csv_import::{Applied, Column, ImportCsvInput, ImportReport, Row, RowOutcome};
use crate::procedure::{Access, Call, Procedure};
use crate::procedures::doors::{CreateDoorInput, UpdateDoorInput};

/// The columns of the doors' file, in the order an export writes them.
pub const COLUMNS: [Column; 5] = [
    Column::optional("id"),
    Column::required("developmentId"),
    Column::required("name"),
    Column::required("kind"),
    Column::optional("notes"),
];

fn cells(door: &Door) -> Vec<Option<String>> {
    vec![
        Some(door.id.clone()),
        Some(door.development_id.clone()),
        Some(door.name.clone()),
        Some(door.kind.as_str().to_owned()),
        door.notes.clone(),
    ]
}

/// The filters of `doors.list`, without paging.
#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportDoorsInput {
    #[serde(default)]
    pub development_id: Option<String>,
    #[serde(default)]
    pub kind: Option<DoorKind>,
}

pub struct ExportDoorsCsv;
impl Procedure for ExportDoorsCsv {
    const NAME: &'static str = "doors.exportCsv";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = ExportDoorsInput;
    type Output = CsvFile;

    async fn call(call: Call<'_>, input: ExportDoorsInput) -> Result<CsvFile, Error> {
        let org_id = call.actor()?.org_id.clone();
        let filter = DoorFilter { development_id: input.development_id, kind: input.kind };
        let found = call.app.db.run(move |c| doors::export(c, &org_id, &filter, EXPORT_MAX_ROWS)).await?;
        export("doors", &COLUMNS, &found, cells)
    }
}

pub struct ImportDoorsCsv;
impl Procedure for ImportDoorsCsv {
    const NAME: &'static str = "doors.importCsv";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = ImportCsvInput;
    type Output = ImportReport;

    async fn call(call: Call<'_>, input: ImportCsvInput) -> Result<ImportReport, Error> {
        super::import(call, input, &COLUMNS, import_row).await
    }
}

fn kind(row: &Row) -> Result<Option<DoorKind>, Error> {
    row.parsed("kind", DoorKind::parse)
}

fn import_row(c: &mut AnyConnection, actor: &Actor, row: &Row) -> StoreResult<Applied> {
    let Some(id) = row.value("id") else {
        let input = CreateDoorInput {
            development_id: row.required("developmentId")?.to_owned(),
            name: row.required("name")?.to_owned(),
            kind: kind(row)?.ok_or_else(|| Error::invalid("kind", "must not be empty"))?,
            notes: row.value("notes").map(str::to_owned),
        };
        let door = doors::create(c, actor, input.into_fields()?)?;
        return Ok(Applied { outcome: RowOutcome::Created, id: door.id });
    };
    let door = super::existing(doors::get(c, &actor.org_id, id), "door")?;
    if row.value("developmentId").is_some_and(|development_id| development_id != door.development_id) {
        return Err(Error::invalid("developmentId", "a door stays in its development").into());
    }
    let input = UpdateDoorInput {
        id: door.id,
        expected_version: Some(door.version),
        name: row.cell("name").map(str::to_owned),
        kind: kind(row)?,
        notes: row.patch("notes"),
    };
    let (id, expected, patch) = input.into_patch()?;
    let after = doors::update(c, actor, &id, expected, patch)?;
    Ok(Applied::updated(after.id, door.version, after.version))
}
