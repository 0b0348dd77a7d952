//! Overdue reminders (issue 13 §2): `settings.getReminders` (the owner: they hold phone
//! numbers), `settings.updateReminders` (the owner; merge-patch; audited) and
//! `reports.overdue` (the overdue keys with their reminders). The sending is the jobs'
//! (`crate::jobs::reminders`).

use keyward_domain::reminders::{
    MAX_ESCALATION_USERS, MAX_EXTEND_DAYS, MAX_REMINDERS, OverdueKey, QuietHours, ReminderSettings, bounded,
};
use keyward_domain::{Capability, Error, Page, PageRequest};
use keyward_persistence::repo::reminders;
use keyward_sms::phone;
use serde::Deserialize;
use specta::Type;

use super::{NoParams, distinct_ids};
use crate::procedure::{Access, Call, Procedure};

pub struct GetReminders;
impl Procedure for GetReminders {
    const NAME: &'static str = "settings.getReminders";
    const ACCESS: Access = Access::Signed(Capability::ManageOrganisation);
    const READ_ONLY: bool = true;
    type Input = NoParams;
    type Output = ReminderSettings;

    async fn call(call: Call<'_>, _: NoParams) -> Result<ReminderSettings, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| reminders::settings(c, &org_id)).await
    }
}

/// Omitted fields stay as they are; `null` clears `escalatePhone` and `quietHours`.
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateRemindersInput {
    #[serde(default)]
    pub enabled: Option<bool>,
    /// 0 to 10080 (a week).
    #[serde(default)]
    pub first_after_minutes: Option<i32>,
    /// 1 to 168 (a week).
    #[serde(default)]
    pub repeat_every_hours: Option<i32>,
    /// 0 to 10.
    #[serde(default)]
    pub max_reminders: Option<i32>,
    /// 1 to 720 (30 days).
    #[serde(default)]
    pub escalate_after_hours: Option<i32>,
    /// Up to 10 users of the organisation, enabled, each linked to a person of the
    /// directory with a phone; replaces the list.
    #[serde(default)]
    pub escalate_to_user_ids: Option<Vec<String>>,
    /// National numbers are read in the server's default region.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<String>)]
    pub escalate_phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[specta(type = Option<QuietHours>)]
    pub quiet_hours: Option<Option<QuietHours>>,
    /// 1 to 90: the most days a holder's `EXTEND n` text may ask for.
    #[serde(default)]
    pub max_extend_days: Option<i32>,
}

pub struct UpdateReminders;
impl Procedure for UpdateReminders {
    const NAME: &'static str = "settings.updateReminders";
    const ACCESS: Access = Access::Signed(Capability::ManageOrganisation);
    type Input = UpdateRemindersInput;
    type Output = ReminderSettings;

    async fn call(call: Call<'_>, input: UpdateRemindersInput) -> Result<ReminderSettings, Error> {
        let actor = call.actor()?.clone();
        let region = call.app.sms.default_region;
        let escalate_to_user_ids = input
            .escalate_to_user_ids
            .map(|ids| distinct_ids("escalateToUserIds", ids, MAX_ESCALATION_USERS))
            .transpose()?;
        let escalate_phone = input
            .escalate_phone
            .map(|phone| {
                phone
                    .map(|p| phone::normalise(&p, region).map_err(|e| Error::invalid("escalatePhone", e.to_string())))
                    .transpose()
            })
            .transpose()?;
        let quiet_hours =
            input.quiet_hours.map(|q| q.map(|q| QuietHours::new(&q.start, &q.end)).transpose()).transpose()?;
        let patch = move |old: ReminderSettings| -> Result<ReminderSettings, Error> {
            Ok(ReminderSettings {
                enabled: input.enabled.unwrap_or(old.enabled),
                first_after_minutes: bounded(
                    "firstAfterMinutes",
                    input.first_after_minutes.unwrap_or(old.first_after_minutes),
                    0,
                    7 * 24 * 60,
                )?,
                repeat_every_hours: bounded(
                    "repeatEveryHours",
                    input.repeat_every_hours.unwrap_or(old.repeat_every_hours),
                    1,
                    7 * 24,
                )?,
                max_reminders: bounded(
                    "maxReminders",
                    input.max_reminders.unwrap_or(old.max_reminders),
                    0,
                    MAX_REMINDERS,
                )?,
                escalate_after_hours: bounded(
                    "escalateAfterHours",
                    input.escalate_after_hours.unwrap_or(old.escalate_after_hours),
                    1,
                    30 * 24,
                )?,
                escalate_to_user_ids: escalate_to_user_ids.unwrap_or(old.escalate_to_user_ids),
                escalate_phone: escalate_phone.unwrap_or(old.escalate_phone),
                quiet_hours: quiet_hours.unwrap_or(old.quiet_hours),
                max_extend_days: bounded(
                    "maxExtendDays",
                    input.max_extend_days.unwrap_or(old.max_extend_days),
                    1,
                    MAX_EXTEND_DAYS,
                )?,
            })
        };
        call.app
            .db
            .write(move |c| {
                let new = patch(reminders::settings(c, &actor.org_id)?)?;
                reminders::save(c, &actor, new)
            })
            .await
    }
}

#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OverdueInput {
    /// Only this development's keys.
    #[serde(default)]
    pub development_id: Option<String>,
    /// From 1 (default 1).
    #[serde(default)]
    pub page: Option<i32>,
    /// 1 to 100 (default 50).
    #[serde(default)]
    pub limit: Option<i32>,
}

pub struct Overdue;
impl Procedure for Overdue {
    const NAME: &'static str = "reports.overdue";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = OverdueInput;
    type Output = Page<OverdueKey>;

    async fn call(call: Call<'_>, input: OverdueInput) -> Result<Page<OverdueKey>, Error> {
        let org_id = call.actor()?.org_id.clone();
        let page = PageRequest::new(input.page, input.limit)?;
        call.app.db.run(move |c| reminders::overdue(c, &org_id, input.development_id.as_deref(), page)).await
    }
}
