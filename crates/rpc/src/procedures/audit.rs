//! `audit.list`: who changed what, and when; `audit.head` and `audit.verify`: the
//! organisation's hash chain (see `keyward_persistence::repo::audit`).

use chrono::{DateTime, Utc};
use keyward_domain::{AuditEvent, Capability, ChainHead, ChainVerification, Error, Page, PageRequest, validate};
use keyward_persistence::repo::audit::{self, AuditFilter};
use serde::Deserialize;
use specta::Type;

use super::NoParams;
use crate::procedure::{Access, Call, Procedure};

#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListAuditInput {
    /// `key`, `accessCode`, `development`, `user`, `organisation`, `sms`, `smsSettings`.
    #[serde(default)]
    pub entity_type: Option<String>,
    #[serde(default)]
    pub entity_id: Option<String>,
    #[serde(default)]
    pub actor_id: Option<String>,
    /// e.g. `key.issued`.
    #[serde(default)]
    pub action: Option<String>,
    /// Events at or after this instant.
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// Events before this instant.
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    #[serde(default)]
    pub page: Option<i32>,
    #[serde(default)]
    pub limit: Option<i32>,
}

pub struct List;
impl Procedure for List {
    const NAME: &'static str = "audit.list";
    const ACCESS: Access = Access::Signed(Capability::ReadAudit);
    const READ_ONLY: bool = true;
    type Input = ListAuditInput;
    type Output = Page<AuditEvent>;

    async fn call(call: Call<'_>, input: ListAuditInput) -> Result<Page<AuditEvent>, Error> {
        let org_id = call.actor()?.org_id.clone();
        let page = PageRequest::new(input.page, input.limit)?;
        if let (Some(from), Some(to)) = (input.from, input.to)
            && from > to
        {
            return Err(Error::invalid("to", "must not be before `from`"));
        }
        // Exact-match filters: at most a line's length, like every text they match.
        let text = |field: &str, value: Option<String>| {
            validate::optional_line(field, value.as_deref(), validate::SHORT_TEXT_MAX)
        };
        let filter = AuditFilter {
            entity_type: text("entityType", input.entity_type)?,
            entity_id: text("entityId", input.entity_id)?,
            actor_id: text("actorId", input.actor_id)?,
            action: text("action", input.action)?,
            from: input.from.map(|at| validate::instant("from", at)).transpose()?,
            to: input.to.map(|at| validate::instant("to", at)).transpose()?,
        };
        call.app.db.run(move |c| audit::list(c, &org_id, &filter, page)).await
    }
}

pub struct Head;
impl Procedure for Head {
    const NAME: &'static str = "audit.head";
    const ACCESS: Access = Access::Signed(Capability::ReadAudit);
    const READ_ONLY: bool = true;
    type Input = NoParams;
    type Output = ChainHead;

    async fn call(call: Call<'_>, _: NoParams) -> Result<ChainHead, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| audit::head(c, &org_id)).await
    }
}

pub struct Verify;
impl Procedure for Verify {
    const NAME: &'static str = "audit.verify";
    const ACCESS: Access = Access::Signed(Capability::ReadAudit);
    const READ_ONLY: bool = true;
    type Input = NoParams;
    type Output = ChainVerification;

    async fn call(call: Call<'_>, _: NoParams) -> Result<ChainVerification, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| audit::verify(c, &org_id)).await
    }
}
