//! `audits.*`: key audits, a physical count of a development's key store against the
//! register (issue 13 §4, decisions 155–159). Owners, managers and team run them and
//! read them (`Edit`): `audits.resolve` answers blast radii, which decision 124 keeps
//! from the other roles.

use keyward_domain::key_ref::normalise_key_ref;
use keyward_domain::{
    Capability, Error, KeyAuditLines, KeyAuditOutcome, KeyAuditPage, KeyAuditReport, RecordedKey, ResolvedKeyAudit,
};
use keyward_persistence::repo::key_audits;
use serde::Deserialize;
use specta::Type;

use super::IdInput;
use crate::procedure::{Access, Call, Procedure};

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartAuditInput {
    pub development_id: String,
}

/// Opens an audit of the development: its snapshot is the development's keys `in_stock`
/// or `returned` now. A development with an open audit: INVALID_INPUT `developmentId`.
pub struct Start;
impl Procedure for Start {
    const NAME: &'static str = "audits.start";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = StartAuditInput;
    type Output = KeyAuditReport;

    async fn call(call: Call<'_>, input: StartAuditInput) -> Result<KeyAuditReport, Error> {
        let actor = call.actor()?.clone();
        call.app.db.write(move |c| key_audits::start(c, &actor, &input.development_id)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordAuditKeyInput {
    /// The audit.
    pub id: String,
    /// The ref of the key seen (scanned or ticked); trimmed and upper-cased.
    pub key_ref: String,
}

/// Records a key as seen in the store: `found`, or `unexpected` (another development's,
/// or one the register says is issued, lost, damaged or deactivated). Idempotent per key.
pub struct Record;
impl Procedure for Record {
    const NAME: &'static str = "audits.record";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = RecordAuditKeyInput;
    type Output = RecordedKey;

    async fn call(call: Call<'_>, input: RecordAuditKeyInput) -> Result<RecordedKey, Error> {
        let actor = call.actor()?.clone();
        let key_ref = normalise_key_ref(&input.key_ref)?;
        call.app.db.write(move |c| key_audits::record(c, &actor, &input.id, &key_ref)).await
    }
}

macro_rules! audit_step {
    ($name:ident, $wire:literal, $output:ty, $function:path, $doc:literal) => {
        #[doc = $doc]
        pub struct $name;
        impl Procedure for $name {
            const NAME: &'static str = $wire;
            const ACCESS: Access = Access::Signed(Capability::Edit);
            type Input = IdInput;
            type Output = $output;

            async fn call(call: Call<'_>, input: IdInput) -> Result<$output, Error> {
                let actor = call.actor()?.clone();
                call.app.db.write(move |c| $function(c, &actor, &input.id)).await
            }
        }
    };
}

audit_step!(
    Complete,
    "audits.complete",
    KeyAuditReport,
    key_audits::complete,
    "Ends the count of an open audit: found, missing and unexpected become final."
);
audit_step!(
    Resolve,
    "audits.resolve",
    ResolvedKeyAudit,
    key_audits::resolve,
    "Marks a completed audit's missing keys lost, as `keys.markLost` does, in one transaction."
);
audit_step!(Cancel, "audits.cancel", KeyAuditReport, key_audits::cancel, "Gives up an open audit.");

/// An audit and the first 100 keys of each list.
pub struct Get;
impl Procedure for Get {
    const NAME: &'static str = "audits.get";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    const READ_ONLY: bool = true;
    type Input = IdInput;
    type Output = KeyAuditReport;

    async fn call(call: Call<'_>, input: IdInput) -> Result<KeyAuditReport, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| key_audits::get(c, &org_id, &input.id)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditLinesInput {
    pub id: String,
    pub outcome: KeyAuditOutcome,
    /// `nextCursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// An audit's keys of one outcome, 100 a page by key ref.
pub struct Lines;
impl Procedure for Lines {
    const NAME: &'static str = "audits.lines";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    const READ_ONLY: bool = true;
    type Input = AuditLinesInput;
    type Output = KeyAuditLines;

    async fn call(call: Call<'_>, input: AuditLinesInput) -> Result<KeyAuditLines, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| key_audits::lines(c, &org_id, &input.id, input.outcome, input.cursor.as_deref())).await
    }
}

#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListAuditsInput {
    /// Only this development's audits.
    #[serde(default)]
    pub development_id: Option<String>,
    /// `nextCursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// The organisation's audits, newest first, 50 a page.
pub struct List;
impl Procedure for List {
    const NAME: &'static str = "audits.list";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    const READ_ONLY: bool = true;
    type Input = ListAuditsInput;
    type Output = KeyAuditPage;

    async fn call(call: Call<'_>, input: ListAuditsInput) -> Result<KeyAuditPage, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app
            .db
            .run(move |c| key_audits::list(c, &org_id, input.development_id.as_deref(), input.cursor.as_deref()))
            .await
    }
}
