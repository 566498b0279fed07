//! The webhook API exactly as Speckle defines it (`webhookCreate/Update/Delete`, `webhooks(id)`,
//! `history(limit)`), plus added fields a Speckle client that does not ask for them never sees:
//! `disabledReason`, `format` (output, and optional on both inputs), `WebhookEvent.attempts`
//! (every attempt with its response, like GitHub's "Recent deliveries"), and `history`'s
//! `offset` and `cursor` (with `WebhookEventCollection.cursor`) for the pages after the first;
//! and added operations: pings and redeliveries (`webhookRedeliverFailed`, the recovery after an
//! outage, is in `recover::graphql`). Every operation needs
//! the stream's owner with `streams:write`, except `webhookTriggers`, the public list of trigger
//! names that forms (the console's) offer.
//!
//! `webhooks(...)` looks ahead: when the query selects `items { history }` (and perhaps their
//! `attempts`), it loads every webhook's page in one batch ([`crate::webhooks::history::pages`])
//! before the items resolve, so a stream's hundred webhooks cost one query, not three hundred.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::ids::{EventId, StreamId, WebhookId};
use entity::{webhook_config, webhook_event_attempt};
use streamhooks_worker::triggers::TRIGGERS;

use crate::context::error::Result;
use crate::context::limits::budget;
use crate::context::resolver::{in_transaction, owner, state};
use crate::context::validate;
use crate::webhooks::history::{self, EventRow, Page, Start};
use crate::webhooks::history_size::{self, reserve_history, text_copies};
use crate::webhooks::ping;
use crate::webhooks::service as svc;

/// Pages loaded ahead by `webhooks(...)` for its items, by (webhook id, limit).
type Prefetched = Arc<HashMap<(String, u64), Page>>;

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
    #[graphql(skip)]
    prefetched: Option<Prefetched>,
}

#[ComplexObject]
impl Webhook {
    /// The webhook's events, newest first; `totalCount` counts all of them. Not in Speckle:
    /// `cursor` continues below the page whose `cursor` it is (pages walk by event id, so events
    /// that arrive between two pages neither repeat nor hide one), and `offset` skips that many
    /// of the newest events instead (up to 10,000; later arrivals shift it). Give one of them.
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 25)] limit: i32,
        #[graphql(default = 0)] offset: i32,
        cursor: Option<String>,
    ) -> Result<Option<WebhookEventCollection>> {
        // Priced by its limit before the request runs (`context::limits::cost`); its events' text counts
        // against the request's answer budget before they are loaded.
        let limit = svc::check_history_limit(limit)?;
        let offset = svc::check_history_offset(offset)?;
        let start = match cursor.as_deref() {
            None => Start::Offset(offset),
            Some(_) if offset > 0 => {
                return Err(crate::context::error::Error::bad_input(
                    "history takes a cursor or an offset, not both",
                ))
            }
            Some(c) => Start::Before(svc::check_history_cursor(c)?),
        };
        let key = (self.id.clone(), limit);
        let ahead = match start {
            Start::NEWEST => self.prefetched.as_ref().and_then(|p| p.get(&key)).cloned(),
            _ => None,
        };
        let page = match ahead {
            // Loaded with its neighbours, and charged before they were loaded.
            Some(page) => page,
            None => {
                let copies = text_copies(ctx.look_ahead().field("items"));
                reserve_history(ctx, &[((self.id.clone(), limit, start), copies)], || {
                    format!("{}(limit: {limit})", budget::field_path(ctx))
                })
                .await?;
                let attempts = ctx.look_ahead().field("items").field("attempts").exists();
                history::pages(&state(ctx).db, std::slice::from_ref(&key), start, attempts)
                    .await?
                    .remove(&key)
                    .unwrap_or_default()
            }
        };
        let now_ms = Utc::now().timestamp_millis();
        let mut attempts = page.attempts.unwrap_or_default();
        // A full page may have older events below it; a short one is the last.
        let full = limit > 0 && page.items.len() as u64 == limit;
        let next = page
            .items
            .last()
            .filter(|_| full)
            .map(|e| svc::history_cursor(e.id));
        Ok(Some(WebhookEventCollection {
            total_count: Some(i32::try_from(page.total).unwrap_or(i32::MAX)),
            cursor: next,
            items: Some(
                page.items
                    .into_iter()
                    .map(|e| {
                        let a = attempts.remove(&e.id);
                        Some(WebhookEvent::new(e, a, now_ms))
                    })
                    .collect(),
            ),
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
            prefetched: None,
        }
    }
}

#[derive(SimpleObject)]
pub struct WebhookEventCollection {
    total_count: Option<i32>,
    /// Not in Speckle's `WebhookEventCollection` (its other collections have one): pass it as
    /// `history(cursor:)` for the next, older page; null when this page is the last (it holds
    /// fewer events than its limit). A full page's cursor may lead to an empty page.
    cursor: Option<String>,
    items: Option<Vec<Option<WebhookEvent>>>,
}

#[derive(SimpleObject)]
#[graphql(complex)]
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
    #[graphql(skip)]
    event_id: i64,
    /// Loaded with the page when the query asked for them.
    #[graphql(skip)]
    loaded_attempts: Option<Vec<webhook_event_attempt::Model>>,
}

impl WebhookEvent {
    fn new(e: EventRow, attempts: Option<Vec<webhook_event_attempt::Model>>, now_ms: i64) -> Self {
        Self {
            id: e.id.to_string(),
            status: i32::from(e.status(now_ms)),
            webhook_id: e.webhook_id,
            status_info: e.status_info,
            retry_count: e.retry_count,
            last_update: e.last_update,
            payload: e.payload.unwrap_or_default(),
            event_id: e.id,
            loaded_attempts: attempts,
        }
    }
}

#[ComplexObject]
impl WebhookEvent {
    /// Every attempt to deliver this event, first attempt first, with what the receiver
    /// answered. Not in Speckle.
    async fn attempts(&self, ctx: &Context<'_>) -> Result<Vec<WebhookEventAttempt>> {
        let rows = match &self.loaded_attempts {
            Some(rows) => rows.clone(),
            None => history::attempts(&state(ctx).db, &[self.event_id])
                .await?
                .remove(&self.event_id)
                .unwrap_or_default(),
        };
        Ok(rows.into_iter().map(WebhookEventAttempt::from).collect())
    }
}

/// One delivery attempt. Not in Speckle.
#[derive(SimpleObject)]
pub struct WebhookEventAttempt {
    /// 1 for the first attempt (the `X-WEBHOOK-ATTEMPT` header it was sent with).
    number: i32,
    started_at: DateTime<Utc>,
    /// How long until the response was read or the attempt failed; null when no request was
    /// made or the attempt was interrupted.
    duration_ms: Option<i32>,
    /// `success`, `http_error`, `timeout`, `network`, `blocked` or `interrupted` (the worker
    /// stopped before recording a result; the request may or may not have arrived).
    outcome: String,
    /// The HTTP status the receiver answered, if it answered.
    status_code: Option<i32>,
    /// What went wrong, as a sentence; null on success.
    error: Option<String>,
    /// The response headers (at most 32, values capped), as received.
    response_headers: Vec<WebhookHeader>,
    /// The start of the response body (at most 4 KiB), as text; null when no response arrived.
    response_body: Option<String>,
    /// The dispatcher that made the attempt (`WORKER_NAME`); null when unknown.
    worker: Option<String>,
}

/// One HTTP header.
#[derive(SimpleObject)]
pub struct WebhookHeader {
    name: String,
    value: String,
}

impl From<webhook_event_attempt::Model> for WebhookEventAttempt {
    fn from(a: webhook_event_attempt::Model) -> Self {
        Self {
            response_headers: a
                .header_list()
                .into_iter()
                .map(|(name, value)| WebhookHeader { name, value })
                .collect(),
            number: a.number,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            outcome: a.outcome,
            status_code: a.status_code,
            error: a.error,
            response_body: a.response_body,
            worker: a.worker,
        }
    }
}

/// `Stream.webhooks` / `Project.webhooks`: owner-only; an `id` of another stream's webhook
/// yields an empty list, not an error, so ids cannot be probed.
pub(crate) async fn webhooks_of(
    ctx: &Context<'_>,
    stream: &StreamId,
    id: Option<&str>,
) -> Result<WebhookCollection> {
    let st = state(ctx);
    owner(ctx, stream).await?;
    if let Some(id) = id {
        validate::id(id, "webhook id")?;
    }
    let mut items: Vec<Webhook> = webhook_config::find_for_stream(&st.db, stream.as_str(), id)
        .await?
        .into_iter()
        .map(Webhook::from)
        .collect();
    let history = ctx.look_ahead().field("items").field("history");
    if history.exists() && !items.is_empty() {
        // Every `history(limit:)` the query asks for (aliases may ask for several), with the
        // copies of each event's text it selects; a limit the resolver will refuse is not loaded.
        let asked: Vec<(u64, usize)> = history
            .selection_fields()
            .into_iter()
            .filter_map(|f| {
                let arguments = f.arguments().ok()?;
                // A deeper page (`offset`, `cursor`) is loaded by its own resolver.
                let deeper = arguments.iter().any(|(name, v)| match name.as_str() {
                    "offset" => *v != async_graphql::Value::from(0),
                    "cursor" => *v != async_graphql::Value::Null,
                    _ => false,
                });
                if deeper {
                    return None;
                }
                let limit = arguments
                    .into_iter()
                    .find(|(name, _)| name.as_str() == "limit")
                    .map_or(Some(25), |(_, v)| match v {
                        async_graphql::Value::Number(n) => n.as_i64(),
                        _ => None,
                    })?;
                let limit = svc::check_history_limit(i32::try_from(limit).ok()?).ok()?;
                let items = async_graphql::Lookahead::from(f).field("items");
                Some((limit, text_copies(items)))
            })
            .collect();
        // Charged before anything is loaded, once for each time the answer will hold a page
        // (aliases may ask for the same one twice), from the stored lengths.
        let charged: Vec<(history_size::PageKey, usize)> = items
            .iter()
            .flat_map(|w| {
                asked
                    .iter()
                    .map(|(l, c)| ((w.id.clone(), *l, Start::NEWEST), *c))
            })
            .collect();
        let largest = asked.iter().map(|(l, _)| *l).max().unwrap_or(0);
        reserve_history(ctx, &charged, || {
            format!(
                "{}.items.history(limit: {largest})",
                budget::field_path(ctx)
            )
        })
        .await?;
        let mut limits: Vec<u64> = asked.iter().map(|(l, _)| *l).collect();
        limits.sort_unstable();
        limits.dedup();
        let keys: Vec<(String, u64)> = items
            .iter()
            .flat_map(|w| limits.iter().map(|l| (w.id.clone(), *l)))
            .collect();
        let attempts = history.field("items").field("attempts").exists();
        let pages: Prefetched =
            Arc::new(history::pages(&st.db, &keys, Start::NEWEST, attempts).await?);
        for w in &mut items {
            w.prefetched = Some(pages.clone());
        }
    }
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
        let id = in_transaction(ctx, async |txn| {
            let id = ping::ping(txn, &st.server_info, user, &hook, trigger).await?;
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
        let id = in_transaction(ctx, async |txn| {
            Ok((ping::redeliver(txn, &hook, again).await?, 1))
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
