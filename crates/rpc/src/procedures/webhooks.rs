//! `webhooks.*` (owner only): endpoints that receive signed events (Standard Webhooks),
//! their deliveries, and resending one (issue 14 §3). A URL's target is checked here
//! (`crate::webhooks::target`) before anything is written.

use keyward_domain::webhooks::{DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookWithSecret};
use keyward_domain::{Capability, Error};
use keyward_persistence::repo::webhooks::outbox::{self, DeliveryFilter};
use keyward_persistence::repo::webhooks::{self, EndpointFields, EndpointPatch};
use serde::{Deserialize, Serialize};
use specta::Type;

use super::{Empty, IdInput, Items, NoParams};
use crate::procedure::{Access, Call, Procedure};
use crate::webhooks::target;

const OWNER: Access = Access::Signed(Capability::ManageOrganisation);

pub struct List;
impl Procedure for List {
    const NAME: &'static str = "webhooks.list";
    const ACCESS: Access = OWNER;
    const READ_ONLY: bool = true;
    type Input = NoParams;
    type Output = Items<WebhookEndpoint>;

    async fn call(call: Call<'_>, _: NoParams) -> Result<Items<WebhookEndpoint>, Error> {
        let org_id = call.actor()?.org_id.clone();
        let items = call.app.db.run(move |c| webhooks::list(c, &org_id)).await?;
        Ok(Items { items })
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhookInput {
    /// `https://…` (plain `http` only on a server started with `--allow-private-webhooks`);
    /// its host must resolve to public addresses.
    pub url: String,
    /// At least one; repeats are ignored.
    pub events: Vec<WebhookEvent>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

pub struct Create;
impl Procedure for Create {
    const NAME: &'static str = "webhooks.create";
    const ACCESS: Access = OWNER;
    type Input = CreateWebhookInput;
    type Output = WebhookWithSecret;

    async fn call(call: Call<'_>, input: CreateWebhookInput) -> Result<WebhookWithSecret, Error> {
        let actor = call.actor()?.clone();
        let events = distinct_events(input.events)?;
        let url = checked_url(&call, &input.url).await?;
        let fields = EndpointFields { url, events, enabled: input.enabled.unwrap_or(true) };
        let sealer = call.app.sealer.clone();
        call.app.db.write(move |c| webhooks::create(c, &sealer, &actor, fields)).await
    }
}

/// Omitted fields stay as they are; `enabled: true` also clears `disabledReason`.
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWebhookInput {
    pub id: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<WebhookEvent>>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

pub struct Update;
impl Procedure for Update {
    const NAME: &'static str = "webhooks.update";
    const ACCESS: Access = OWNER;
    type Input = UpdateWebhookInput;
    type Output = WebhookEndpoint;

    async fn call(call: Call<'_>, input: UpdateWebhookInput) -> Result<WebhookEndpoint, Error> {
        let actor = call.actor()?.clone();
        let events = input.events.map(distinct_events).transpose()?;
        let url = match input.url {
            Some(url) => Some(checked_url(&call, &url).await?),
            None => None,
        };
        let patch = EndpointPatch { url, events, enabled: input.enabled };
        call.app.db.write(move |c| webhooks::update(c, &actor, &input.id, patch)).await
    }
}

pub struct Delete;
impl Procedure for Delete {
    const NAME: &'static str = "webhooks.delete";
    const ACCESS: Access = OWNER;
    type Input = IdInput;
    type Output = Empty;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Empty, Error> {
        let actor = call.actor()?.clone();
        call.app.db.write(move |c| webhooks::delete(c, &actor, &input.id)).await?;
        Ok(Empty {})
    }
}

pub struct RotateSecret;
impl Procedure for RotateSecret {
    const NAME: &'static str = "webhooks.rotateSecret";
    const ACCESS: Access = OWNER;
    type Input = IdInput;
    type Output = WebhookWithSecret;

    async fn call(call: Call<'_>, input: IdInput) -> Result<WebhookWithSecret, Error> {
        let actor = call.actor()?.clone();
        let sealer = call.app.sealer.clone();
        call.app.db.write(move |c| webhooks::rotate_secret(c, &sealer, &actor, &input.id)).await
    }
}

#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookDeliveriesInput {
    #[serde(default)]
    pub endpoint_id: Option<String>,
    #[serde(default)]
    pub status: Option<DeliveryStatus>,
    /// The previous page's `nextCursor`.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Newest first, 50 a page.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeliveryPage {
    pub items: Vec<WebhookDelivery>,
    /// Pass it as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

pub struct Deliveries;
impl Procedure for Deliveries {
    const NAME: &'static str = "webhooks.deliveries";
    const ACCESS: Access = OWNER;
    const READ_ONLY: bool = true;
    type Input = WebhookDeliveriesInput;
    type Output = WebhookDeliveryPage;

    async fn call(call: Call<'_>, input: WebhookDeliveriesInput) -> Result<WebhookDeliveryPage, Error> {
        let org_id = call.actor()?.org_id.clone();
        for (field, value) in [("endpointId", &input.endpoint_id), ("cursor", &input.cursor)] {
            if value.as_ref().is_some_and(|v| v.chars().count() > 100) {
                return Err(Error::invalid(field, "must be at most 100 characters"));
            }
        }
        let filter = DeliveryFilter { endpoint_id: input.endpoint_id, status: input.status, cursor: input.cursor };
        let (items, next_cursor) = call.app.db.run(move |c| outbox::list(c, &org_id, &filter)).await?;
        Ok(WebhookDeliveryPage { items, next_cursor })
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResendWebhookInput {
    pub delivery_id: String,
}

pub struct Resend;
impl Procedure for Resend {
    const NAME: &'static str = "webhooks.resend";
    const ACCESS: Access = OWNER;
    type Input = ResendWebhookInput;
    type Output = WebhookDelivery;

    async fn call(call: Call<'_>, input: ResendWebhookInput) -> Result<WebhookDelivery, Error> {
        let actor = call.actor()?.clone();
        call.app.db.write(move |c| outbox::resend(c, &actor, &input.delivery_id)).await
    }
}

/// The events asked for, each once; none is INVALID_INPUT `events`.
fn distinct_events(events: Vec<WebhookEvent>) -> Result<Vec<WebhookEvent>, Error> {
    let mut distinct = Vec::new();
    for event in events {
        if !distinct.contains(&event) {
            distinct.push(event);
        }
    }
    if distinct.is_empty() {
        return Err(Error::invalid("events", "must name at least one event"));
    }
    Ok(distinct)
}

/// The URL checked, resolving its host; the call's connection is let go first, so a
/// slow DNS answer holds none.
async fn checked_url(call: &Call<'_>, url: &str) -> Result<String, Error> {
    keyward_persistence::let_go_of_connection();
    target::check_url(url, call.app.webhooks.allow_private).await
}
