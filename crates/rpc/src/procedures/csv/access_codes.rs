//! `keys.exportAccessCodesCsv` and `keys.importAccessCodesCsv`: the access-code register as
//! a file. Values are in it only when asked (`includeValues: true`), only for roles that
//! see values, and each one written is a reveal in the ledger and the audit log, as
//! `keys.revealAccessCode` (decision 163). A row with an `id` updates that code; a row
//! without one creates a code (decision 161).

use chrono::NaiveDate;
use keyward_domain::entities::{CodeStatus, CodeType};
use keyward_domain::validate::{self, SHORT_TEXT_MAX};
use keyward_domain::{AccessCode, Actor, Capability, Error, Secret};
use keyward_persistence::connection::AnyConnection;
use keyward_persistence::repo::access_codes::{self, CodeFilter, Reveal, ledger};
use keyward_persistence::{Sealer, StoreResult};
use serde::Deserialize;
use specta::Type;

use super::{EXPORT_MAX_ROWS, export};
use crate::csv_export::CsvFile;
use crate::csv_import::{Applied, Column, ImportCsvInput, ImportReport, Row, RowOutcome};
use crate::procedure::{Access, Call, Procedure};
use crate::procedures::access_codes::{CreateAccessCodeInput, UpdateAccessCodeInput};

/// The columns of the access codes' file, in the order an export writes them; `code` only
/// in an export with `includeValues: true`.
pub const COLUMNS: [Column; 9] = [
    Column::optional("id"),
    Column::required("developmentId"),
    Column::required("codeType"),
    Column::required("label"),
    Column::optional("code"),
    Column::optional("status"),
    Column::optional("expiresOn"),
    Column::optional("rotateBy"),
    Column::optional("notes"),
];

/// The position of `code` in [`COLUMNS`].
const CODE_COLUMN: usize = 4;

fn cells(code: &AccessCode) -> Vec<Option<String>> {
    vec![
        Some(code.id.clone()),
        Some(code.development_id.clone()),
        Some(code.code_type.as_str().to_owned()),
        Some(code.label.clone()),
        code.code.as_ref().map(|value| value.expose().to_owned()),
        Some(code.status.as_str().to_owned()),
        code.expires_on.map(|day| day.to_string()),
        code.rotate_by.map(|day| day.to_string()),
        code.notes.clone(),
    ]
}

/// The filters of `keys.listAccessCodes`, without paging, and whether to write values.
#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportAccessCodesInput {
    #[serde(default)]
    pub search: Option<Secret>,
    #[serde(default)]
    pub development_id: Option<String>,
    #[serde(default)]
    pub code_type: Option<CodeType>,
    #[serde(default)]
    pub status: Option<CodeStatus>,
    #[serde(default)]
    pub rotation_due: Option<bool>,
    #[serde(default)]
    pub door_id: Option<String>,
    /// `true`: a `code` column with each value (owner, manager, team; FORBIDDEN for the
    /// others), whatever `maskCodesInLists`, each recorded as a reveal. Default `false`.
    #[serde(default)]
    pub include_values: Option<bool>,
}

pub struct ExportAccessCodesCsv;
impl Procedure for ExportAccessCodesCsv {
    const NAME: &'static str = "keys.exportAccessCodesCsv";
    const ACCESS: Access = Access::Signed(Capability::Read);
    type Input = ExportAccessCodesInput;
    type Output = CsvFile;

    async fn call(call: Call<'_>, input: ExportAccessCodesInput) -> Result<CsvFile, Error> {
        let actor = call.actor()?.clone();
        let include_values = input.include_values.unwrap_or(false);
        if include_values && !actor.role.can(Capability::SeeCodeValues) {
            return Err(Error::Forbidden);
        }
        let filter = CodeFilter {
            search: validate::optional_line("search", input.search.as_ref().map(Secret::expose), SHORT_TEXT_MAX)?
                .map(Secret::from),
            development_id: input.development_id,
            code_type: input.code_type,
            status: input.status,
            rotation_due: input.rotation_due,
            door_id: input.door_id,
        };
        let sealer = call.app.sealer.clone();
        if !include_values {
            let found = call
                .app
                .db
                .run(move |c| {
                    access_codes::export(c, &sealer, Reveal::Nothing, &actor.org_id, &filter, EXPORT_MAX_ROWS)
                })
                .await?;
            let mut columns = COLUMNS.to_vec();
            columns.remove(CODE_COLUMN);
            return export("access-codes", &columns, &found, |code| {
                let mut row = cells(code);
                row.remove(CODE_COLUMN);
                row
            });
        }
        let found = call.app.db.write(move |c| export_values(c, &sealer, &actor, &filter)).await?;
        export("access-codes", &COLUMNS, &found, cells)
    }
}

/// The codes with their values, each recorded as revealed to the actor; over the limit,
/// nothing is recorded (the call is refused).
fn export_values(
    c: &mut AnyConnection,
    sealer: &Sealer,
    actor: &Actor,
    filter: &CodeFilter,
) -> StoreResult<Vec<AccessCode>> {
    let found = ledger::export_revealed(c, sealer, actor, filter, EXPORT_MAX_ROWS)?;
    if found.len() > EXPORT_MAX_ROWS {
        return Err(super::too_many_rows().into());
    }
    Ok(found)
}

pub struct ImportAccessCodesCsv;
impl Procedure for ImportAccessCodesCsv {
    const NAME: &'static str = "keys.importAccessCodesCsv";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = ImportCsvInput;
    type Output = ImportReport;

    async fn call(call: Call<'_>, input: ImportCsvInput) -> Result<ImportReport, Error> {
        let sealer = call.app.sealer.clone();
        super::import(call, input, &COLUMNS, move |c, actor, row| import_row(c, &sealer, actor, row)).await
    }
}

fn code_type(row: &Row) -> Result<Option<CodeType>, Error> {
    row.parsed("codeType", CodeType::parse)
}

fn status(row: &Row) -> Result<Option<CodeStatus>, Error> {
    row.parsed("status", CodeStatus::parse)
}

/// A date column (`YYYY-MM-DD`) as a patch: absent → unchanged, empty → cleared.
fn day(row: &Row, column: &str) -> Result<Option<Option<NaiveDate>>, Error> {
    match row.cell(column) {
        None => Ok(None),
        Some(_) => Ok(Some(row.parsed(column, |v| v.parse().ok())?)),
    }
}

fn import_row(c: &mut AnyConnection, sealer: &Sealer, actor: &Actor, row: &Row) -> StoreResult<Applied> {
    let value = row.value("code").map(Secret::from);
    let Some(id) = row.value("id") else {
        let input = CreateAccessCodeInput {
            development_id: row.required("developmentId")?.to_owned(),
            code_type: code_type(row)?.ok_or_else(|| Error::invalid("codeType", "must not be empty"))?,
            label: row.required("label")?.to_owned(),
            code: value.ok_or_else(|| Error::invalid("code", "must not be empty for a new code"))?,
            status: status(row)?,
            expires_on: day(row, "expiresOn")?.flatten(),
            notes: row.value("notes").map(str::to_owned),
            rotate_by: day(row, "rotateBy")?.flatten(),
            key_ids: None,
            door_ids: None,
        };
        let code = access_codes::create(c, sealer, Reveal::Nothing, actor, input.into_new()?)?;
        return Ok(Applied { outcome: RowOutcome::Created, id: code.id });
    };
    let Some(code) = access_codes::find_optional(c, sealer, &actor.org_id, id)? else {
        return Err(Error::invalid("id", "no such access code in the organisation").into());
    };
    if row.value("developmentId").is_some_and(|development_id| development_id != code.development_id) {
        return Err(Error::invalid("developmentId", "a code stays in its development").into());
    }
    let input = UpdateAccessCodeInput {
        id: code.id,
        expected_version: Some(code.version),
        code_type: code_type(row)?,
        label: row.cell("label").map(str::to_owned),
        code: value,
        status: status(row)?,
        expires_on: day(row, "expiresOn")?,
        notes: row.patch("notes"),
        rotate_by: day(row, "rotateBy")?,
        key_ids: None,
        door_ids: None,
    };
    let (id, expected, patch) = input.into_patch()?;
    let after = access_codes::update(c, sealer, Reveal::Nothing, actor, &id, expected, patch)?;
    Ok(Applied::updated(after.id, code.version, after.version))
}
