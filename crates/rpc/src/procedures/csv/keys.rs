//! `keys.exportKeysCsv` and `keys.importKeysCsv`: the key register as a file. A row is
//! matched by its `keyRef` (unique in the organisation): a ref the register has is
//! updated, another is created with that ref (decision 161).

use keyward_domain::entities::{KeyType, SecurityLevel};
use keyward_domain::key_ref::normalise_key_ref;
use keyward_domain::validate::{self, SHORT_TEXT_MAX};
use keyward_domain::{Actor, Capability, Error, Key, KeyStatus};
use keyward_persistence::StoreResult;
use keyward_persistence::connection::AnyConnection;
use keyward_persistence::repo::keys::{self, KeyFilter};
use serde::Deserialize;
use specta::Type;

use super::{EXPORT_MAX_ROWS, export, instant};
use crate::csv_export::CsvFile;
use crate::csv_import::{Applied, Column, ImportCsvInput, ImportReport, Row, RowOutcome};
use crate::procedure::{Access, Call, Procedure};
use crate::procedures::keys::{CreateKeyInput, UpdateKeyInput};

/// The columns of the keys' file, in the order an export writes them.
pub const COLUMNS: [Column; 16] = [
    Column::required("keyRef"),
    Column::required("developmentId"),
    Column::required("keyType"),
    Column::required("label"),
    Column::optional("securityLevel"),
    Column::optional("brand"),
    Column::optional("keyNumber"),
    Column::optional("quantity"),
    Column::optional("accessRestrictions"),
    Column::optional("emergencyContact"),
    Column::optional("notes"),
    Column::read_only("status"),
    Column::read_only("issuedTo"),
    Column::read_only("holderId"),
    Column::read_only("expectedReturnAt"),
    Column::read_only("id"),
];

fn cells(key: &Key) -> Vec<Option<String>> {
    vec![
        Some(key.key_ref.clone()),
        Some(key.development_id.clone()),
        Some(key.key_type.as_str().to_owned()),
        Some(key.label.clone()),
        Some(key.security_level.as_str().to_owned()),
        key.brand.clone(),
        key.key_number.clone(),
        Some(key.quantity.to_string()),
        key.access_restrictions.clone(),
        key.emergency_contact.clone(),
        key.notes.clone(),
        Some(key.status.as_str().to_owned()),
        key.issued_to.clone(),
        key.holder_id.clone(),
        key.expected_return_at.map(instant),
        Some(key.id.clone()),
    ]
}

/// The filters of `keys.listKeys`, without paging.
#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportKeysInput {
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub development_id: Option<String>,
    #[serde(default)]
    pub status: Option<KeyStatus>,
    #[serde(default)]
    pub key_type: Option<KeyType>,
    #[serde(default)]
    pub security_level: Option<SecurityLevel>,
    #[serde(default)]
    pub overdue: Option<bool>,
    #[serde(default)]
    pub holder_id: Option<String>,
    #[serde(default)]
    pub firm_id: Option<String>,
    #[serde(default)]
    pub door_id: Option<String>,
    #[serde(default)]
    pub unacknowledged: Option<bool>,
}

pub struct ExportKeysCsv;
impl Procedure for ExportKeysCsv {
    const NAME: &'static str = "keys.exportKeysCsv";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = ExportKeysInput;
    type Output = CsvFile;

    async fn call(call: Call<'_>, input: ExportKeysInput) -> Result<CsvFile, Error> {
        let org_id = call.actor()?.org_id.clone();
        let filter = KeyFilter {
            search: validate::optional_line("search", input.search.as_deref(), SHORT_TEXT_MAX)?,
            development_id: input.development_id,
            status: input.status,
            key_type: input.key_type,
            security_level: input.security_level,
            overdue: input.overdue,
            holder_id: input.holder_id,
            firm_id: input.firm_id,
            door_id: input.door_id,
            unacknowledged: input.unacknowledged,
        };
        let found = call.app.db.run(move |c| keys::export(c, &org_id, &filter, EXPORT_MAX_ROWS)).await?;
        export("keys", &COLUMNS, &found, cells)
    }
}

pub struct ImportKeysCsv;
impl Procedure for ImportKeysCsv {
    const NAME: &'static str = "keys.importKeysCsv";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = ImportCsvInput;
    type Output = ImportReport;

    async fn call(call: Call<'_>, input: ImportCsvInput) -> Result<ImportReport, Error> {
        super::import(call, input, &COLUMNS, import_row).await
    }
}

fn key_type(row: &Row) -> Result<Option<KeyType>, Error> {
    row.parsed("keyType", KeyType::parse)
}

fn security_level(row: &Row) -> Result<Option<SecurityLevel>, Error> {
    row.parsed("securityLevel", SecurityLevel::parse)
}

fn quantity(row: &Row) -> Result<Option<i32>, Error> {
    row.parsed("quantity", |v| v.parse().ok())
}

fn import_row(c: &mut AnyConnection, actor: &Actor, row: &Row) -> StoreResult<Applied> {
    let key_ref = normalise_key_ref(row.required("keyRef")?)?;
    let owned = |column: &str| row.value(column).map(str::to_owned);
    match keys::by_ref(c, &actor.org_id, &key_ref)? {
        None => {
            let input = CreateKeyInput {
                development_id: row.required("developmentId")?.to_owned(),
                key_type: key_type(row)?.ok_or_else(|| Error::invalid("keyType", "must not be empty"))?,
                label: row.required("label")?.to_owned(),
                key_ref: Some(key_ref),
                notes: owned("notes"),
                security_level: security_level(row)?,
                brand: owned("brand"),
                key_number: owned("keyNumber"),
                quantity: quantity(row)?,
                access_restrictions: owned("accessRestrictions"),
                emergency_contact: owned("emergencyContact"),
            };
            let key = keys::create(c, actor, input.into_new()?)?;
            Ok(Applied { outcome: RowOutcome::Created, id: key.id })
        }
        Some(key) => {
            let input = UpdateKeyInput {
                id: key.id,
                expected_version: Some(key.version),
                development_id: owned("developmentId"),
                key_type: key_type(row)?,
                label: row.cell("label").map(str::to_owned),
                key_ref: None,
                notes: row.patch("notes"),
                security_level: security_level(row)?,
                brand: row.patch("brand"),
                key_number: row.patch("keyNumber"),
                quantity: quantity(row)?,
                access_restrictions: row.patch("accessRestrictions"),
                emergency_contact: row.patch("emergencyContact"),
            };
            let (id, expected, patch) = input.into_patch()?;
            let after = keys::update(c, actor, &id, expected, patch)?;
            Ok(Applied::updated(after.id, key.version, after.version))
        }
    }
}
