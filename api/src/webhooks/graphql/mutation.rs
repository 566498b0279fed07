//! `webhookCreate`, `webhookUpdate`, `webhookDelete` as Speckle defines them (with the added
//! optional `format`), and the added operations: `webhookPing` (a sample event now),
//! `webhookEventRedeliver` (an existing event again) and the query `webhookTriggers` (the trigger
//! names forms offer). Every mutation needs the stream's owner with `streams:write`.

use async_graphql::{Context, InputObject, Object};
use entity::ids::{EventId, StreamId, WebhookId};
use streamhooks_worker::triggers::TRIGGERS;

use crate::context::error::Result;
use crate::context::resolver::{in_transaction, owner, state};
use crate::context::validate;
use crate::webhooks::ping;
use crate::webhooks::service as svc;

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
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The trigger names a webhook can subscribe to, in the server's order. Not in Speckle.
    async fn webhook_triggers(&self) -> Vec<&'static str> {
        TRIGGERS.to_vec()
    }
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
        let stream = StreamId::from(webhook.stream_id);
        owner(ctx, &stream).await?;
        let st = state(ctx);
        let input = svc::CreateInput {
            stream_id: stream,
            url: webhook.url,
            description: webhook.description,
            triggers: webhook.triggers,
            secret: webhook.secret,
            enabled: webhook.enabled,
            format: webhook.format,
        };
        let (secrets, guard, wire) = (&st.secrets, &st.guard, &st.config.wire);
        Ok(svc::create(&st.db, secrets, guard, wire, input)
            .await?
            .into())
    }

    /// Changes the fields given (others stay as they are); returns the id.
    async fn webhook_update(
        &self,
        ctx: &Context<'_>,
        webhook: WebhookUpdateInput,
    ) -> Result<String> {
        let stream = StreamId::from(webhook.stream_id);
        owner(ctx, &stream).await?;
        let st = state(ctx);
        let input = svc::UpdateInput {
            id: WebhookId::from(webhook.id),
            stream_id: stream,
            url: webhook.url,
            description: webhook.description,
            secret: webhook.secret,
            enabled: webhook.enabled,
            triggers: webhook.triggers,
            format: webhook.format,
        };
        let (secrets, guard, wire) = (&st.secrets, &st.guard, &st.config.wire);
        Ok(svc::update(&st.db, secrets, guard, wire, input)
            .await?
            .into())
    }

    /// Sends a sample event to the webhook now (signed and recorded in its history like any
    /// other); returns the new event's id. Not in Speckle.
    async fn webhook_ping(&self, ctx: &Context<'_>, webhook: WebhookPingInput) -> Result<String> {
        let stream = StreamId::from(webhook.stream_id);
        let user = owner(ctx, &stream).await?;
        let st = state(ctx);
        let hook = svc::find_on_stream(&st.db, &WebhookId::from(webhook.id), &stream).await?;
        // Event, payload, queue row and count are written together.
        let trigger = webhook.trigger.as_deref();
        let id = in_transaction(ctx, async |tx| {
            let id = ping::ping(tx.txn, tx.server, user, &hook, trigger).await?;
            Ok((id, 1))
        })
        .await?;
        Ok(id.to_string())
    }

    /// Sends an existing event (any status) again as a fresh delivery, recorded in the history;
    /// returns the new event's id. Not in Speckle.
    async fn webhook_event_redeliver(
        &self,
        ctx: &Context<'_>,
        event: WebhookEventRedeliverInput,
    ) -> Result<String> {
        let stream = StreamId::from(event.stream_id);
        owner(ctx, &stream).await?;
        let st = state(ctx);
        let hook = svc::find_on_stream(&st.db, &WebhookId::from(event.webhook_id), &stream).await?;
        let again = EventId::from(validate::event_id(&event.id)?);
        let id = in_transaction(ctx, async |tx| {
            Ok((ping::redeliver(tx.txn, &hook, again).await?, 1))
        })
        .await?;
        Ok(id.to_string())
    }

    /// Deletes a webhook with its history; returns the id.
    async fn webhook_delete(
        &self,
        ctx: &Context<'_>,
        webhook: WebhookDeleteInput,
    ) -> Result<String> {
        let stream = StreamId::from(webhook.stream_id);
        owner(ctx, &stream).await?;
        let id = WebhookId::from(webhook.id);
        Ok(svc::delete(&state(ctx).db, &id, &stream).await?.into())
    }
}
