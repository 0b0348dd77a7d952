//! `people.exportCsv` and `people.importCsv`: the directory's people as a file. A row with
//! an `id` updates that person of the organisation; a row without one creates a person
//! (decision 161).

use keyward_domain::validate::{self, SHORT_TEXT_MAX};
use keyward_domain::{Actor, Capability, Error, Person, PersonKind};
use keyward_persistence::StoreResult;
use keyward_persistence::connection::AnyConnection;
use keyward_persistence::repo::people::{self, PersonFilter};
use keyward_sms::phone::Region;
use serde::Deserialize;
use specta::Type;

use super::{EXPORT_MAX_ROWS, export};
use crate::csv_export::CsvFile;
use crate::csv_import::{Applied, Column, ImportCsvInput, ImportReport, Row, RowOutcome};
use crate::procedure::{Access, Call, Procedure};
use crate::procedures::people::{CreatePersonInput, UpdatePersonInput};

/// The columns of the people's file, in the order an export writes them.
pub const COLUMNS: [Column; 10] = [
    Column::optional("id"),
    Column::required("name"),
    Column::required("kind"),
    Column::optional("phone"),
    Column::optional("email"),
    Column::optional("firmId"),
    Column::optional("developmentId"),
    Column::optional("userId"),
    Column::optional("notes"),
    Column::read_only("archived"),
];

fn cells(person: &Person) -> Vec<Option<String>> {
    vec![
        Some(person.id.clone()),
        Some(person.name.clone()),
        Some(person.kind.as_str().to_owned()),
        person.phone.clone(),
        person.email.clone(),
        person.firm_id.clone(),
        person.development_id.clone(),
        person.user_id.clone(),
        person.notes.clone(),
        Some(person.archived.to_string()),
    ]
}

/// The filters of `people.list`, without paging.
#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportPeopleInput {
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub kind: Option<PersonKind>,
    #[serde(default)]
    pub firm_id: Option<String>,
    #[serde(default)]
    pub development_id: Option<String>,
    /// `true`: only archived people; default `false`: only the others.
    #[serde(default)]
    pub archived: Option<bool>,
}

pub struct ExportPeopleCsv;
impl Procedure for ExportPeopleCsv {
    const NAME: &'static str = "people.exportCsv";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = ExportPeopleInput;
    type Output = CsvFile;

    async fn call(call: Call<'_>, input: ExportPeopleInput) -> Result<CsvFile, Error> {
        let org_id = call.actor()?.org_id.clone();
        let filter = PersonFilter {
            search: validate::optional_line("search", input.search.as_deref(), SHORT_TEXT_MAX)?,
            kind: input.kind,
            firm_id: input.firm_id,
            development_id: input.development_id,
            archived: input.archived.unwrap_or(false),
        };
        let found = call.app.db.run(move |c| people::export(c, &org_id, &filter, EXPORT_MAX_ROWS)).await?;
        export("people", &COLUMNS, &found, cells)
    }
}

pub struct ImportPeopleCsv;
impl Procedure for ImportPeopleCsv {
    const NAME: &'static str = "people.importCsv";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = ImportCsvInput;
    type Output = ImportReport;

    async fn call(call: Call<'_>, input: ImportCsvInput) -> Result<ImportReport, Error> {
        let region = call.app.sms.default_region;
        super::import(call, input, &COLUMNS, move |c, actor, row| import_row(c, actor, region, row)).await
    }
}

fn kind(row: &Row) -> Result<Option<PersonKind>, Error> {
    row.parsed("kind", PersonKind::parse)
}

fn import_row(c: &mut AnyConnection, actor: &Actor, region: Region, row: &Row) -> StoreResult<Applied> {
    let owned = |column: &str| row.value(column).map(str::to_owned);
    let Some(id) = row.value("id") else {
        let input = CreatePersonInput {
            name: row.required("name")?.to_owned(),
            kind: kind(row)?.ok_or_else(|| Error::invalid("kind", "must not be empty"))?,
            phone: owned("phone"),
            email: owned("email"),
            firm_id: owned("firmId"),
            development_id: owned("developmentId"),
            user_id: owned("userId"),
            notes: owned("notes"),
        };
        let person = people::create(c, actor, input.into_fields(region)?)?;
        return Ok(Applied { outcome: RowOutcome::Created, id: person.id });
    };
    let person = super::existing(people::get(c, &actor.org_id, id), "person")?;
    let input = UpdatePersonInput {
        id: person.id,
        expected_version: Some(person.version),
        name: row.cell("name").map(str::to_owned),
        kind: kind(row)?,
        phone: row.patch("phone"),
        email: row.patch("email"),
        firm_id: row.patch("firmId"),
        development_id: row.patch("developmentId"),
        user_id: row.patch("userId"),
        notes: row.patch("notes"),
    };
    let (id, expected, patch) = input.into_patch(region)?;
    let after = people::update(c, actor, &id, expected, patch)?;
    Ok(Applied::updated(after.id, person.version, after.version))
}
