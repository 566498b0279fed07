//! A webhook's history as the API shows it: `WebhookEventCollection`, `WebhookEvent` (Speckle's
//! fields, plus `attempts`, every attempt with its response, like GitHub's "Recent deliveries")
//! and `WebhookEventAttempt`. The page itself is loaded by `Webhook.history` ([`super::webhook`]).

use async_graphql::{ComplexObject, Context, SimpleObject};
use chrono::{DateTime, Utc};
use entity::webhook_event_attempt;

use crate::context::error::Result;
use crate::context::resolver::state;
use crate::webhooks::history::{self, EventRow};

#[derive(SimpleObject)]
pub struct WebhookEventCollection {
    pub(super) total_count: Option<i32>,
    /// Not in Speckle's `WebhookEventCollection` (its other collections have one): pass it as
    /// `history(cursor:)` for the next, older page; null when this page is the last (it holds
    /// fewer events than its limit). A full page's cursor may lead to an empty page.
    pub(super) cursor: Option<String>,
    pub(super) items: Option<Vec<Option<WebhookEvent>>>,
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
    pub(super) fn new(
        e: EventRow,
        attempts: Option<Vec<webhook_event_attempt::Model>>,
        now_ms: i64,
    ) -> Self {
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
