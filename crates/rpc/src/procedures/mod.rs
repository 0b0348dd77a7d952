//! THE list of procedures. Adding one: declare it in the module of its area (name,
//! input, output, access, handler) and add one line to [`visit`]; `cargo xtask bindings`
//! picks it up from here.

mod access_codes;
mod audit;
mod auth;
mod code_ledger;
mod csv;
mod developments;
mod discover;
mod doors;
mod grant_credentials;
mod grant_edits;
mod grants;
mod handover;
mod key_audits;
mod key_doors;
mod key_sets;
mod keys;
mod people;
mod reminders;
mod reports;
mod settings;
mod sms;
mod summary;
mod users;
mod webhooks;

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::procedure::ProcedureVisitor;

pub fn visit(v: &mut impl ProcedureVisitor) {
    v.visit::<discover::Discover>();

    v.visit::<auth::Login>();
    v.visit::<auth::Logout>();
    v.visit::<auth::Me>();

    v.visit::<users::List>();
    v.visit::<users::Create>();
    v.visit::<users::Update>();

    v.visit::<developments::List>();
    v.visit::<developments::Create>();
    v.visit::<developments::Update>();
    v.visit::<developments::Delete>();

    v.visit::<doors::ListDoors>();
    v.visit::<doors::GetDoor>();
    v.visit::<doors::CreateDoor>();
    v.visit::<doors::UpdateDoor>();
    v.visit::<doors::DeleteDoor>();
    v.visit::<csv::doors::ExportDoorsCsv>();
    v.visit::<csv::doors::ImportDoorsCsv>();

    v.visit::<keys::ListKeys>();
    v.visit::<keys::GetKey>();
    v.visit::<keys::KeyHistory>();
    v.visit::<keys::SuggestKeyRef>();
    v.visit::<keys::CreateKey>();
    v.visit::<keys::UpdateKey>();
    v.visit::<keys::DeleteKey>();
    v.visit::<keys::IssueKey>();
    v.visit::<keys::ReturnKey>();
    v.visit::<keys::ReturnToStock>();
    v.visit::<key_doors::MarkLost>();
    v.visit::<keys::MarkFound>();
    v.visit::<keys::MarkDamaged>();
    v.visit::<keys::DeactivateKey>();
    v.visit::<keys::ReactivateKey>();
    v.visit::<keys::HolderAt>();
    v.visit::<handover::ConfirmHandover>();
    v.visit::<key_doors::SetDoors>();
    v.visit::<key_doors::BlastRadius>();
    v.visit::<csv::keys::ExportKeysCsv>();
    v.visit::<csv::keys::ImportKeysCsv>();

    v.visit::<key_sets::ListKeySets>();
    v.visit::<key_sets::GetKeySet>();
    v.visit::<key_sets::CreateKeySet>();
    v.visit::<key_sets::UpdateKeySet>();
    v.visit::<key_sets::DeleteKeySet>();
    v.visit::<key_sets::IssueKeySet>();
    v.visit::<key_sets::ReturnKeySet>();

    v.visit::<people::ListPeople>();
    v.visit::<people::GetPerson>();
    v.visit::<people::CreatePerson>();
    v.visit::<people::UpdatePerson>();
    v.visit::<people::ArchivePerson>();
    v.visit::<people::OffboardPerson>();
    v.visit::<people::HoldingsAt>();
    v.visit::<csv::people::ExportPeopleCsv>();
    v.visit::<csv::people::ImportPeopleCsv>();
    v.visit::<people::ListFirms>();
    v.visit::<people::GetFirm>();
    v.visit::<people::CreateFirm>();
    v.visit::<people::UpdateFirm>();
    v.visit::<people::ArchiveFirm>();
    v.visit::<people::OffboardFirm>();

    v.visit::<access_codes::ListAccessCodes>();
    v.visit::<access_codes::CreateAccessCode>();
    v.visit::<access_codes::UpdateAccessCode>();
    v.visit::<access_codes::DeleteAccessCode>();
    v.visit::<access_codes::AccessCodeHistory>();
    v.visit::<code_ledger::RevealAccessCode>();
    v.visit::<code_ledger::RecordCodeDisclosure>();
    v.visit::<code_ledger::ExposureOfCode>();
    v.visit::<code_ledger::KnownByAt>();
    v.visit::<csv::access_codes::ExportAccessCodesCsv>();
    v.visit::<csv::access_codes::ImportAccessCodesCsv>();

    v.visit::<grants::ListGrants>();
    v.visit::<grants::GetGrant>();
    v.visit::<grants::CreateGrant>();
    v.visit::<grant_edits::UpdateGrant>();
    v.visit::<grant_edits::AddGrantPeople>();
    v.visit::<grant_edits::RemoveGrantPeople>();
    v.visit::<grant_edits::EndGrant>();
    v.visit::<grants::ReplaceKeycard>();
    v.visit::<grant_credentials::SendCredentials>();
    v.visit::<grants::CheckAccess>();

    v.visit::<reports::DoorLog>();
    v.visit::<reports::DoorLogCsv>();

    v.visit::<summary::KeysSummary>();
    v.visit::<sms::SendSms>();

    v.visit::<settings::Get>();
    v.visit::<settings::Update>();
    v.visit::<settings::GetSms>();
    v.visit::<settings::UpdateSms>();
    v.visit::<reminders::GetReminders>();
    v.visit::<reminders::UpdateReminders>();
    v.visit::<reminders::Overdue>();

    v.visit::<audit::List>();
    v.visit::<audit::Head>();
    v.visit::<audit::Verify>();

    v.visit::<webhooks::List>();
    v.visit::<webhooks::Create>();
    v.visit::<webhooks::Update>();
    v.visit::<webhooks::Delete>();
    v.visit::<webhooks::RotateSecret>();
    v.visit::<webhooks::Deliveries>();
    v.visit::<webhooks::Resend>();

    v.visit::<key_audits::Start>();
    v.visit::<key_audits::Record>();
    v.visit::<key_audits::Complete>();
    v.visit::<key_audits::Resolve>();
    v.visit::<key_audits::Cancel>();
    v.visit::<key_audits::Get>();
    v.visit::<key_audits::Lines>();
    v.visit::<key_audits::List>();
}

/// Params of procedures that take none (`{}` or nothing).
#[derive(Debug, Deserialize, Type)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Params of procedures that take only an id.
#[derive(Debug, Deserialize, Type)]
#[serde(deny_unknown_fields)]
pub struct IdInput {
    pub id: String,
}

/// Params of the point-in-time answers (`keys.holderAt`, `people.holdingsAt`).
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AtInput {
    pub id: String,
    /// The instant asked about (microseconds count; a change made at exactly `at` is
    /// part of the state at `at`).
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A list of ids deduplicated, in the order given; over `max` is INVALID_INPUT `field`
/// (`keyIds`, `doorIds`).
pub(crate) fn distinct_ids(field: &str, ids: Vec<String>, max: usize) -> Result<Vec<String>, keyward_domain::Error> {
    if ids.len() > max {
        return Err(keyward_domain::Error::invalid(field, format!("at most {max} ids")));
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// At most this many doors opened by one key or at one code.
pub(crate) const DOOR_IDS_MAX: usize = 500;

/// The result of procedures that answer nothing but success: `{}`.
#[derive(Debug, Clone, Serialize, Type)]
pub struct Empty {}

/// `{items: T[]}`, for the lists that are short enough to come whole.
#[derive(Debug, Clone, Serialize, Type)]
pub struct Items<T> {
    pub items: Vec<T>,
}
