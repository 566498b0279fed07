//! Reading the attempts of deliveries from a Speckle database, for operators: Speckle's web app
//! shows one `statusInfo` per event, this shows every attempt, with what the receiver answered.
//! Newest first; by Speckle's event id, or by webhook.

use chrono::{DateTime, Utc};
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::{self, PgPool, Row as _};
use serde::Serialize;

/// Speckle's id of an event (`webhooks_events.id`, 20 random characters), not our bigint
/// delivery id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeckleEventId(pub String);

/// Speckle's id of a webhook (`webhooks_config.id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeckleWebhookId(pub String);

/// Which attempts to read.
#[derive(Debug, Clone)]
pub enum Which {
    Event(SpeckleEventId),
    Webhook(SpeckleWebhookId),
}

/// One attempt, as printed (one JSON object per line).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub event_id: String,
    pub webhook_id: String,
    /// Our delivery id: the `webhook-id` header the receiver got.
    pub delivery_id: i64,
    pub number: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: Option<i32>,
    pub outcome: String,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// `[[name, value], …]`, as the receiver sent them (capped).
    pub response_headers: serde_json::Value,
    pub response_body: Option<String>,
    pub worker: Option<String>,
}

impl AttemptView {
    fn read(r: &PgRow) -> Result<Self, sqlx::Error> {
        let headers: String = r.try_get("response_headers")?;
        Ok(AttemptView {
            event_id: r.try_get("event_id")?,
            webhook_id: r.try_get("webhook_id")?,
            delivery_id: r.try_get("delivery_id")?,
            number: r.try_get("number")?,
            started_at: r.try_get("started_at")?,
            duration_ms: r.try_get("duration_ms")?,
            outcome: r.try_get("outcome")?,
            status_code: r.try_get("status_code")?,
            error: r.try_get("error")?,
            response_headers: serde_json::from_str(&headers).unwrap_or(serde_json::Value::Null),
            response_body: r.try_get("response_body")?,
            worker: r.try_get("worker")?,
        })
    }
}

/// The newest `limit` attempts of `which`: an index walk of `attempts_event` or
/// `attempts_webhook`.
pub async fn read(
    pool: &PgPool,
    which: &Which,
    limit: i64,
) -> Result<Vec<AttemptView>, sqlx::Error> {
    let (filter, id) = match which {
        Which::Event(SpeckleEventId(id)) => ("event_id = $1", id),
        Which::Webhook(SpeckleWebhookId(id)) => ("webhook_id = $1", id),
    };
    sqlx::query(&format!(
        "SELECT event_id, webhook_id, delivery_id, number, started_at, duration_ms, outcome, \
                status_code, error, response_headers, response_body, worker \
         FROM streamhooks.attempts WHERE {filter} \
         ORDER BY started_at DESC, number DESC LIMIT $2"
    ))
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(AttemptView::read)
    .collect()
}
