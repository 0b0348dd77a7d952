//! `developments.*`: the sites of the register.

use keyward_domain::doors::{DEFAULT_TIME_ZONE, time_zone};
use keyward_domain::key_ref::{default_prefix, normalise_prefix};
use keyward_domain::{Capability, Development, Error, key_audit, validate};
use keyward_persistence::repo::developments::{self, DevelopmentFields, DevelopmentPatch};
use serde::Deserialize;
use specta::Type;

use super::{Empty, IdInput, Items, NoParams};
use crate::procedure::{Access, Call, Procedure};

pub struct List;
impl Procedure for List {
    const NAME: &'static str = "developments.list";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = NoParams;
    type Output = Items<Development>;

    async fn call(call: Call<'_>, _: NoParams) -> Result<Items<Development>, Error> {
        let org_id = call.actor()?.org_id.clone();
        let items = call.app.db.run(move |c| developments::list(c, &org_id)).await?;
        Ok(Items { items })
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDevelopmentInput {
    pub name: String,
    /// `^[A-Z0-9]{1,8}$`; defaults to the initials of the name ("Oak Park" → `OP`).
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// An IANA time zone name; default `Europe/London`. Schedules at its doors are read in it.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Days between key audits, 1–3,650; absent or null: no schedule.
    #[serde(default)]
    pub audit_interval_days: Option<i32>,
}

pub struct Create;
impl Procedure for Create {
    const NAME: &'static str = "developments.create";
    const ACCESS: Access = Access::Signed(Capability::Administer);
    type Input = CreateDevelopmentInput;
    type Output = Development;

    async fn call(call: Call<'_>, input: CreateDevelopmentInput) -> Result<Development, Error> {
        let actor = call.actor()?.clone();
        let name = validate::required_line("name", &input.name, validate::SHORT_TEXT_MAX)?;
        let key_prefix = match input.key_prefix {
            Some(prefix) => normalise_prefix(&prefix)?,
            None => default_prefix(&name),
        };
        let time_zone = time_zone("timeZone", input.time_zone.as_deref().unwrap_or(DEFAULT_TIME_ZONE))?;
        let audit_interval_days = key_audit::audit_interval_days(input.audit_interval_days)?;
        let fields = DevelopmentFields { name, key_prefix, time_zone, audit_interval_days };
        call.app.db.write(move |c| developments::create(c, &actor, fields)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateDevelopmentInput {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// An IANA time zone name.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Days between key audits, 1–3,650; null removes the schedule.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<i32>)]
    pub audit_interval_days: Option<Option<i32>>,
}

pub struct Update;
impl Procedure for Update {
    const NAME: &'static str = "developments.update";
    const ACCESS: Access = Access::Signed(Capability::Administer);
    type Input = UpdateDevelopmentInput;
    type Output = Development;

    async fn call(call: Call<'_>, input: UpdateDevelopmentInput) -> Result<Development, Error> {
        let actor = call.actor()?.clone();
        let name = input.name.map(|n| validate::required_line("name", &n, validate::SHORT_TEXT_MAX)).transpose()?;
        let key_prefix = input.key_prefix.map(|p| normalise_prefix(&p)).transpose()?;
        let time_zone = input.time_zone.map(|tz| time_zone("timeZone", &tz)).transpose()?;
        let audit_interval_days = input.audit_interval_days.map(key_audit::audit_interval_days).transpose()?;
        let patch = DevelopmentPatch { name, key_prefix, time_zone, audit_interval_days };
        let id = input.id;
        call.app.db.write(move |c| developments::update(c, &actor, &id, patch)).await
    }
}

pub struct Delete;
impl Procedure for Delete {
    const NAME: &'static str = "developments.delete";
    const ACCESS: Access = Access::Signed(Capability::Administer);
    type Input = IdInput;
    type Output = Empty;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Empty, Error> {
        let actor = call.actor()?.clone();
        call.app.db.write(move |c| developments::delete(c, &actor, &input.id)).await?;
        Ok(Empty {})
    }
}
