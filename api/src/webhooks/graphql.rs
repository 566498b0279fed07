//! The webhook API exactly as Speckle defines it (`webhookCreate/Update/Delete`, `webhooks(id)`,
//! `history(limit)`), plus added fields a Speckle client that does not ask for them never sees:
//! `disabledReason`, and `format` (output, and optional on both inputs). Every operation needs
//! the stream's owner with `streams:write`.

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{webhook_config, webhook_event};

use crate::error::Result;
use crate::graphql::{owner, state};
use crate::webhooks::service as svc;

#[derive(SimpleObject)]
pub struct WebhookCollection {
    total_count: i32,
    items: Vec<Webhook>,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Webhook {
    id: String,
    stream_id: String,
    project_id: String,
    has_secret: bool,
    url: String,
    description: Option<String>,
    triggers: Vec<String>,
    enabled: Option<bool>,
    /// Why the server disabled this webhook (it kept failing), if it did; null otherwise.
    disabled_reason: Option<String>,
    /// How deliveries are encoded and signed: `speckle-string` (`{"payload":"<json string>"}`,
    /// signed over that string) or `speckle-object` (`{"payload":{…}}`, signed over the raw body,
    /// as Speckle sends since 2.12). Both also carry the Standard Webhooks headers.
    format: String,
}

#[ComplexObject]
impl Webhook {
    /// The webhook's events, newest first; `totalCount` counts all of them.
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 25)] limit: i32,
    ) -> Result<Option<WebhookEventCollection>> {
        // Priced by its limit before the request runs (graphql::cost); its events' text counts
        // against the request's answer budget before they are loaded.
        let limit = svc::check_history_limit(limit)?;
        crate::graphql::budget::reserve_history(ctx, &self.id, limit).await?;
        let (total, items) = svc::history(&state(ctx).db, &self.id, limit).await?;
        Ok(Some(WebhookEventCollection {
            total_count: Some(i32::try_from(total).unwrap_or(i32::MAX)),
            items: Some(items.into_iter().map(|e| Some(e.into())).collect()),
        }))
    }
}

impl From<webhook_config::Model> for Webhook {
    fn from(w: webhook_config::Model) -> Self {
        Self {
            has_secret: w.has_secret(),
            triggers: w.trigger_list(),
            project_id: w.stream_id.clone(),
            id: w.id,
            stream_id: w.stream_id,
            url: w.url,
            description: w.description,
            enabled: Some(w.enabled),
            disabled_reason: w.disabled_reason,
            format: w.format,
        }
    }
}

#[derive(SimpleObject)]
pub struct WebhookEventCollection {
    total_count: Option<i32>,
    items: Option<Vec<Option<WebhookEvent>>>,
}

#[derive(SimpleObject)]
pub struct WebhookEvent {
    id: String,
    webhook_id: String,
    /// 0 queued (or waiting for a retry), 1 being delivered, 2 succeeded, 3 failed for good.
    status: i32,
    /// What happened on the last attempt, and when the next one is due.
    status_info: String,
    retry_count: i32,
    last_update: DateTime<Utc>,
    /// The payload object as the JSON string that was (or will be) signed and sent.
    payload: String,
}

impl From<webhook_event::Model> for WebhookEvent {
    fn from(e: webhook_event::Model) -> Self {
        Self {
            id: e.id.to_string(),
            webhook_id: e.webhook_id,
            status: i32::from(e.status),
            status_info: e.status_info,
            retry_count: e.retry_count,
            last_update: e.last_update,
            payload: e.payload,
        }
    }
}

/// `Stream.webhooks` / `Project.webhooks`: owner-only; an `id` of another stream's webhook
/// yields an empty list, not an error, so ids cannot be probed.
pub(crate) async fn webhooks_of(
    ctx: &Context<'_>,
    stream_id: &str,
    id: Option<&str>,
) -> Result<WebhookCollection> {
    let st = state(ctx);
    owner(ctx, stream_id).await?;
    if let Some(id) = id {
        crate::validate::id(id, "webhook id")?;
    }
    let items: Vec<Webhook> = webhook_config::find_for_stream(&st.db, stream_id, id)
        .await?
        .into_iter()
        .map(Webhook::from)
        .collect();
    Ok(WebhookCollection {
        total_count: items.len() as i32,
        items,
    })
}

#[derive(InputObject)]
pub struct WebhookCreateInput {
    stream_id: String,
    url: String,
    description: Option<String>,
    triggers: Vec<String>,
    secret: Option<String>,
    enabled: Option<bool>,
    /// `speckle-string` or `speckle-object`; the server's default (`WEBHOOK_FORMAT`) if omitted.
    format: Option<String>,
}

#[derive(InputObject)]
pub struct WebhookUpdateInput {
    id: String,
    stream_id: String,
    url: Option<String>,
    description: Option<String>,
    secret: Option<String>,
    enabled: Option<bool>,
    triggers: Option<Vec<String>>,
    /// `speckle-string` or `speckle-object`; queued events, retries, pings and redeliveries are
    /// sent in the new format from now on.
    format: Option<String>,
}

#[derive(InputObject)]
pub struct WebhookDeleteInput {
    id: String,
    stream_id: String,
}

#[derive(InputObject)]
pub struct WebhookPingInput {
    /// The webhook.
    id: String,
    stream_id: String,
    /// Which event to imitate; `stream_update` if omitted. Sent even if the webhook is disabled or
    /// not subscribed to it.
    trigger: Option<String>,
}

#[derive(InputObject)]
pub struct WebhookEventRedeliverInput {
    /// The event to send again (from `history`).
    id: String,
    webhook_id: String,
    stream_id: String,
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Creates a webhook and returns its id.
    async fn webhook_create(
        &self,
        ctx: &Context<'_>,
        webhook: WebhookCreateInput,
    ) -> Result<String> {
        owner(ctx, &webhook.stream_id).await?;
        let st = state(ctx);
        svc::create(
            &st.db,
            &st.secrets,
            &st.guard,
            &st.config.wire,
            svc::CreateInput {
                stream_id: webhook.stream_id,
                url: webhook.url,
                description: webhook.description,
                triggers: webhook.triggers,
                secret: webhook.secret,
                enabled: webhook.enabled,
                format: webhook.format,
            },
        )
        .await
    }

    /// Changes the fields given (others stay as they are); returns the id.
    async fn webhook_update(
        &self,
        ctx: &Context<'_>,
        webhook: WebhookUpdateInput,
    ) -> Result<String> {
        owner(ctx, &webhook.stream_id).await?;
        let st = state(ctx);
        svc::update(
            &st.db,
            &st.secrets,
            &st.guard,
            &st.config.wire,
            svc::UpdateInput {
                id: webhook.id,
                stream_id: webhook.stream_id,
                url: webhook.url,
                description: webhook.description,
                secret: webhook.secret,
                enabled: webhook.enabled,
                triggers: webhook.triggers,
                format: webhook.format,
            },
        )
        .await
    }

    /// Sends a sample event to the webhook now (signed and recorded in its history like any
    /// other); returns the new event's id. Not in Speckle.
    async fn webhook_ping(&self, ctx: &Context<'_>, webhook: WebhookPingInput) -> Result<String> {
        let user = owner(ctx, &webhook.stream_id).await?;
        let st = state(ctx);
        let hook = svc::find_on_stream(&st.db, &webhook.id, &webhook.stream_id).await?;
        let id = crate::webhooks::ping::ping(
            &st.db,
            &st.server_info,
            user,
            &hook,
            webhook.trigger.as_deref(),
        )
        .await?;
        st.queued(1);
        Ok(id.to_string())
    }

    /// Sends an existing event (any status) again as a fresh delivery, recorded in the history;
    /// returns the new event's id. Not in Speckle.
    async fn webhook_event_redeliver(
        &self,
        ctx: &Context<'_>,
        event: WebhookEventRedeliverInput,
    ) -> Result<String> {
        owner(ctx, &event.stream_id).await?;
        let st = state(ctx);
        let hook = svc::find_on_stream(&st.db, &event.webhook_id, &event.stream_id).await?;
        let id = crate::webhooks::ping::redeliver(&st.db, &hook, &event.id).await?;
        st.queued(1);
        Ok(id.to_string())
    }

    /// Deletes a webhook with its history; returns the id.
    async fn webhook_delete(
        &self,
        ctx: &Context<'_>,
        webhook: WebhookDeleteInput,
    ) -> Result<String> {
        owner(ctx, &webhook.stream_id).await?;
        svc::delete(&state(ctx).db, &webhook.id, &webhook.stream_id).await
    }
}
