//! Webhook endpoints (issue 14 §3): an organisation's URLs, the events each wants, and its
//! signing secret, sealed at rest like every other secret. The outbox of deliveries is
//! [`outbox`].

pub mod outbox;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use keyward_domain::webhooks::{WebhookEndpoint, WebhookEvent, WebhookWithSecret};
use keyward_domain::{Actor, Error, FieldChange, Secret};
use rand::RngCore;

use super::audit::{self, NewEvent};
use super::grants::corrupt;
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::webhook_endpoints;
use crate::{Sealer, time};

/// Endpoints per organisation.
pub const MAX_ENDPOINTS: i64 = 20;

#[derive(Insertable, Queryable, Clone, Debug)]
#[diesel(table_name = webhook_endpoints, treat_none_as_null = true)]
struct EndpointRow {
    id: String,
    org_id: String,
    url: String,
    events: String,
    enabled: bool,
    disabled_reason: Option<String>,
    secret_sealed: String,
    last_success_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl EndpointRow {
    fn events(&self) -> StoreResult<Vec<WebhookEvent>> {
        events_of(&self.events)
    }

    fn into_endpoint(self) -> StoreResult<WebhookEndpoint> {
        Ok(WebhookEndpoint {
            events: self.events()?,
            id: self.id,
            url: self.url,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            created_at: time::from_db(self.created_at),
            updated_at: time::from_db(self.updated_at),
        })
    }
}

fn events_of(text: &str) -> StoreResult<Vec<WebhookEvent>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| WebhookEvent::parse(s).ok_or_else(|| corrupt("webhook event", s).into()))
        .collect()
}

fn events_text(events: &[WebhookEvent]) -> String {
    events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",")
}

/// A new signing secret as Standard Webhooks writes one: `whsec_` and the standard
/// base64 of 32 random bytes.
pub fn generate_secret() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(format!("whsec_{}", STANDARD.encode(bytes)))
}

fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<EndpointRow> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::org_id.eq(org_id))
        .filter(webhook_endpoints::id.eq(id))
        .first(conn)?)
}

pub fn list(conn: &mut AnyConnection, org_id: &str) -> StoreResult<Vec<WebhookEndpoint>> {
    let rows: Vec<EndpointRow> = webhook_endpoints::table
        .filter(webhook_endpoints::org_id.eq(org_id))
        .order(webhook_endpoints::id)
        .load(conn)?;
    rows.into_iter().map(EndpointRow::into_endpoint).collect()
}

/// A new endpoint's fields, validated (the URL's target checked by the caller).
#[derive(Debug, Clone)]
pub struct EndpointFields {
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub enabled: bool,
}

pub fn create(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    actor: &Actor,
    f: EndpointFields,
) -> StoreResult<WebhookWithSecret> {
    super::lock_organisation(conn, &actor.org_id)?;
    let existing: i64 =
        webhook_endpoints::table.filter(webhook_endpoints::org_id.eq(&actor.org_id)).count().get_result(conn)?;
    if existing >= MAX_ENDPOINTS {
        return Err(
            Error::invalid("url", format!("an organisation has at most {MAX_ENDPOINTS} webhook endpoints")).into()
        );
    }
    let secret = generate_secret();
    let now = time::now();
    let row = EndpointRow {
        id: time::new_id(),
        org_id: actor.org_id.clone(),
        url: f.url,
        events: events_text(&f.events),
        enabled: f.enabled,
        disabled_reason: None,
        secret_sealed: sealer.seal(secret.expose()),
        last_success_at: None,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(webhook_endpoints::table).values(&row).execute(conn)?;
    let changes = vec![
        FieldChange::new("url", None::<&str>, Some(&row.url)),
        FieldChange::new("events", None::<&str>, Some(&row.events)),
        FieldChange::new("enabled", None::<bool>, Some(row.enabled)),
    ];
    record(conn, actor, "webhook.created", &row, changes)?;
    Ok(WebhookWithSecret { endpoint: row.into_endpoint()?, secret })
}

/// What `webhooks.update` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub events: Option<Vec<WebhookEvent>>,
    pub enabled: Option<bool>,
}

pub fn update(conn: &mut AnyConnection, actor: &Actor, id: &str, patch: EndpointPatch) -> StoreResult<WebhookEndpoint> {
    super::lock_organisation(conn, &actor.org_id)?;
    let old = find(conn, &actor.org_id, id)?;
    let mut new = old.clone();
    if let Some(url) = patch.url {
        new.url = url;
    }
    if let Some(events) = patch.events {
        new.events = events_text(&events);
    }
    if let Some(enabled) = patch.enabled {
        new.enabled = enabled;
        if enabled {
            new.disabled_reason = None;
        }
    }
    let mut changes = Vec::new();
    keyward_domain::entities::diff(&mut changes, "url", &Some(&old.url), &Some(&new.url));
    keyward_domain::entities::diff(&mut changes, "events", &Some(&old.events), &Some(&new.events));
    keyward_domain::entities::diff(&mut changes, "enabled", &Some(old.enabled), &Some(new.enabled));
    if changes.is_empty() {
        return old.into_endpoint();
    }
    new.updated_at = time::now();
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::url.eq(&new.url),
            webhook_endpoints::events.eq(&new.events),
            webhook_endpoints::enabled.eq(new.enabled),
            webhook_endpoints::disabled_reason.eq(&new.disabled_reason),
            webhook_endpoints::updated_at.eq(new.updated_at),
        ))
        .execute(conn)?;
    record(conn, actor, "webhook.updated", &new, changes)?;
    new.into_endpoint()
}

/// Deletes an endpoint and its deliveries.
pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: &str) -> StoreResult<()> {
    super::lock_organisation(conn, &actor.org_id)?;
    let old = find(conn, &actor.org_id, id)?;
    outbox::delete_of_endpoint(conn, id)?;
    diesel::delete(webhook_endpoints::table.find(id)).execute(conn)?;
    record(conn, actor, "webhook.deleted", &old, vec![FieldChange::new("url", Some(&old.url), None::<&str>)])
}

/// A new secret for the endpoint; the old one stops signing at once.
pub fn rotate_secret(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    actor: &Actor,
    id: &str,
) -> StoreResult<WebhookWithSecret> {
    super::lock_organisation(conn, &actor.org_id)?;
    let mut row = find(conn, &actor.org_id, id)?;
    let secret = generate_secret();
    row.secret_sealed = sealer.seal(secret.expose());
    row.updated_at = time::now();
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::secret_sealed.eq(&row.secret_sealed),
            webhook_endpoints::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    record(conn, actor, "webhook.secretRotated", &row, vec![FieldChange::new("secret", Some("***"), Some("***"))])?;
    Ok(WebhookWithSecret { endpoint: row.into_endpoint()?, secret })
}

fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    row: &EndpointRow,
    changes: Vec<FieldChange>,
) -> StoreResult<()> {
    let verb = action.trim_start_matches("webhook.");
    audit::record(
        conn,
        actor,
        NewEvent {
            action,
            entity_type: "webhook",
            entity_id: &row.id,
            summary: format!("Webhook endpoint {} {verb}", row.url),
            changes,
        },
    )
}

/// The sealed secrets of every endpoint, for `secrets::rotate`.
pub(crate) fn sealed_secrets(conn: &mut AnyConnection) -> StoreResult<Vec<(String, String)>> {
    Ok(webhook_endpoints::table.select((webhook_endpoints::id, webhook_endpoints::secret_sealed)).load(conn)?)
}

pub(crate) fn reseal_secret(conn: &mut AnyConnection, id: &str, sealed: &str) -> StoreResult<()> {
    diesel::update(webhook_endpoints::table.find(id)).set(webhook_endpoints::secret_sealed.eq(sealed)).execute(conn)?;
    Ok(())
}
