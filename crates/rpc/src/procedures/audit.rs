//! `audit.list`: who changed what, and when.

use chrono::{DateTime, Utc};
use keyward_domain::{AuditEvent, Capability, Error, Page, PageRequest, validate};
use keyward_persistence::repo::audit::{self, AuditFilter};
use serde::Deserialize;
use specta::Type;

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
        // Filters are matched exactly: one line of at most 200 characters each (empty is
        // no filter), like every other search string.
        let filter_text = |field: &str, value: Option<String>| {
            validate::optional_line(field, value.as_deref(), validate::SHORT_TEXT_MAX)
        };
        let filter = AuditFilter {
            entity_type: filter_text("entityType", input.entity_type)?,
            entity_id: filter_text("entityId", input.entity_id)?,
            actor_id: filter_text("actorId", input.actor_id)?,
            action: filter_text("action", input.action)?,
            from: input.from.map(|at| validate::instant("from", at)).transpose()?,
            to: input.to.map(|at| validate::instant("to", at)).transpose()?,
        };
        call.app.db.run(move |c| audit::list(c, &org_id, &filter, page)).await
    }
}
