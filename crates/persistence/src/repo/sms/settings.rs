//! SMS settings: the account, the sealed token, the sender.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::{Actor, FieldChange, Secret, SmsSettings, entities::diff};

use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::repo::audit::{self, NewEvent};
use crate::schema::sms_settings;
use crate::secrets::Sealer;
use crate::time;

/// What sending needs: the account, the token (opened), the sender.
pub struct Account {
    pub account_sid: String,
    pub auth_token: Secret,
    pub from_number: Option<String>,
    pub messaging_service_sid: Option<String>,
}

#[derive(Queryable, Insertable, Clone)]
#[diesel(table_name = sms_settings)]
struct SettingsRow {
    org_id: String,
    account_sid: String,
    auth_token_sealed: String,
    from_number: Option<String>,
    messaging_service_sid: Option<String>,
    updated_at: NaiveDateTime,
}

fn settings_row(conn: &mut AnyConnection, org_id: &str) -> StoreResult<Option<SettingsRow>> {
    Ok(sms_settings::table.find(org_id).first(conn).optional()?)
}

pub fn account(conn: &mut AnyConnection, sealer: &Sealer, org_id: &str) -> StoreResult<Option<Account>> {
    settings_row(conn, org_id)?
        .map(|row| {
            Ok(Account {
                auth_token: Secret::from(sealer.open(&row.auth_token_sealed)?),
                account_sid: row.account_sid,
                from_number: row.from_number,
                messaging_service_sid: row.messaging_service_sid,
            })
        })
        .transpose()
}

pub fn view(conn: &mut AnyConnection, org_id: &str) -> StoreResult<SmsSettings> {
    Ok(match settings_row(conn, org_id)? {
        Some(row) => SmsSettings {
            configured: true,
            account_sid: Some(row.account_sid),
            from_number: row.from_number,
            messaging_service_sid: row.messaging_service_sid,
        },
        None => SmsSettings { configured: false, account_sid: None, from_number: None, messaging_service_sid: None },
    })
}

/// Whether the organisation has SMS settings (an expression: the summary selects it among
/// its other figures).
pub(crate) fn configured(
    org_id: &str,
) -> diesel::dsl::exists<diesel::dsl::Select<diesel::dsl::Find<sms_settings::table, &str>, sms_settings::org_id>> {
    diesel::dsl::exists(sms_settings::table.find(org_id).select(sms_settings::org_id))
}

/// Validated settings; the token arrives in clear and is sealed here.
pub struct NewSettings {
    pub account_sid: String,
    pub auth_token: Secret,
    pub from_number: Option<String>,
    pub messaging_service_sid: Option<String>,
}

pub fn save(conn: &mut AnyConnection, sealer: &Sealer, actor: &Actor, new: NewSettings) -> StoreResult<SmsSettings> {
    // Two first saves at once would both insert: serialise on the organisation's row.
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    let old = settings_row(conn, &actor.org_id)?;
    let row = SettingsRow {
        org_id: actor.org_id.clone(),
        account_sid: new.account_sid,
        auth_token_sealed: sealer.seal(new.auth_token.expose()),
        from_number: new.from_number,
        messaging_service_sid: new.messaging_service_sid,
        updated_at: time::now(),
    };
    let mut changes = Vec::new();
    diff(&mut changes, "accountSid", &old.as_ref().map(|o| o.account_sid.clone()), &Some(row.account_sid.clone()));
    changes.push(FieldChange::new("authToken", old.as_ref().map(|_| "***"), Some("***")));
    diff(&mut changes, "fromNumber", &old.as_ref().and_then(|o| o.from_number.clone()), &row.from_number);
    diff(
        &mut changes,
        "messagingServiceSid",
        &old.as_ref().and_then(|o| o.messaging_service_sid.clone()),
        &row.messaging_service_sid,
    );
    if old.is_some() {
        diesel::update(sms_settings::table.find(&actor.org_id))
            .set((
                sms_settings::account_sid.eq(&row.account_sid),
                sms_settings::auth_token_sealed.eq(&row.auth_token_sealed),
                sms_settings::from_number.eq(&row.from_number),
                sms_settings::messaging_service_sid.eq(&row.messaging_service_sid),
                sms_settings::updated_at.eq(row.updated_at),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(sms_settings::table).values(&row).execute(conn)?;
    }
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "smsSettings.updated",
            entity_type: "smsSettings",
            entity_id: &actor.org_id,
            summary: "SMS settings updated".to_owned(),
            changes,
        },
    )?;
    view(conn, &actor.org_id)
}

/// Every sealed token, for `secrets::rotate`: (org_id, sealed).
pub(crate) fn sealed_tokens(conn: &mut AnyConnection) -> StoreResult<Vec<(String, String)>> {
    Ok(sms_settings::table.select((sms_settings::org_id, sms_settings::auth_token_sealed)).load(conn)?)
}

pub(crate) fn reseal_token(conn: &mut AnyConnection, org_id: &str, sealed: &str) -> StoreResult<()> {
    diesel::update(sms_settings::table.find(org_id)).set(sms_settings::auth_token_sealed.eq(sealed)).execute(conn)?;
    Ok(())
}
