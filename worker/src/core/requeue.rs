//! Queuing failed events again, many at once: the recovery after an outage, when a receiver was
//! down long enough for its events to run out of retries (status 3). The API decides who may and
//! what (`webhookRedeliverFailed`, `streamhooks redeliver`); this is the queue side.
//!
//! Each event is queued again as itself, not copied: the same row, so the same delivery id
//! (`X-WEBHOOK-DELIVERY`, `webhook-id`) a receiver may already have seen, and its attempts list
//! goes on (the new queue row starts at the number of attempts made, so the next claim makes the
//! next number). Its retry count goes back to 0: a fresh retry schedule.
//!
//! The decision a reader will question is that nothing is locked or marked before the update:
//! only rows still at status 3 are taken, by the `UPDATE … AND status = 3` itself. Two calls at
//! once (PostgreSQL re-checks the condition on a row another transaction changed; SQLite writes
//! one transaction at a time), or a second call while the first batch is still queued, cannot
//! queue an event twice. The failed events are found by walking the webhook's own events on
//! `idx_webhooks_events_webhook` and reading status and `last_update` from the rows: an index on
//! either would be rewritten by every delivery result, which are HOT updates on PostgreSQL
//! because none of their columns is indexed, and retention keeps a webhook's finished events to a
//! bounded number (`RETENTION_KEEP_PER_WEBHOOK`).

use chrono::{DateTime, Utc};
use entity::webhook_event::{STATUS_FAILED, STATUS_QUEUED};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};

use crate::core::notifier::CHANNEL;
use crate::core::sql;

/// Failed events found: their ids, oldest first, and whether more were left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failed {
    pub ids: Vec<i64>,
    pub more: bool,
}

/// The events of `webhook` at status 3 whose last update is at or after `since`, oldest first,
/// at most `max` of them, and whether there are more.
pub async fn failed_since(
    db: &impl ConnectionTrait,
    webhook: &str,
    since: DateTime<Utc>,
    max: u64,
) -> Result<Failed, DbErr> {
    let backend = db.get_database_backend();
    let limit = i64::try_from(max).unwrap_or(i64::MAX - 1) + 1;
    let stmt = Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT id FROM webhooks_events WHERE webhook_id = {} AND status = {} \
             AND last_update >= {} ORDER BY id LIMIT {limit}",
            sql::mark(backend, 1),
            sql::mark(backend, 2),
            sql::mark(backend, 3),
        ),
        [webhook.into(), STATUS_FAILED.into(), since.into()],
    );
    let mut ids = db
        .query_all(stmt)
        .await?
        .iter()
        .map(|r| r.try_get::<i64>("", "id"))
        .collect::<Result<Vec<_>, DbErr>>()?;
    let more = ids.len() as u64 > max;
    ids.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    Ok(Failed { ids, more })
}

/// Queues the events `ids` of `webhook` again, those still at status 3, due now, with
/// `status_info` saying so; returns the ids it queued. Call inside a transaction (on SQLite it is
/// two statements). On PostgreSQL it also NOTIFYs the dispatchers, delivered on commit.
pub async fn requeue_failed(
    db: &impl ConnectionTrait,
    webhook: &str,
    ids: &[i64],
    status_info: &str,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    // Every id travels as one parameter, so 10,000 of them stay within any bind limit.
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let set = format!(
        "status = {STATUS_QUEUED}, retry_count = 0, status_info = {}, last_update = {}",
        sql::mark(backend, 2),
        sql::mark(backend, 3)
    );
    // The attempts made so far; the claim then numbers the next one.
    let attempts = "COALESCE((SELECT MAX(a.number) FROM webhooks_event_attempts a \
                    WHERE a.event_id = t.id), 0)";
    let rows = if backend == DatabaseBackend::Postgres {
        let sql = format!(
            "WITH t AS (UPDATE webhooks_events SET {set} \
               WHERE id = ANY(CAST($1 AS BIGINT[])) AND status = {STATUS_FAILED} \
               AND webhook_id = $5 RETURNING id), \
             q AS (INSERT INTO webhooks_queue (event_id, webhook_id, due_at, attempt) \
               SELECT t.id, $5, $4, {attempts} FROM t ON CONFLICT (event_id) DO NOTHING) \
             SELECT t.id, (SELECT pg_notify('{CHANNEL}', '')) AS notified FROM t"
        );
        let values: Vec<Value> = vec![
            format!("{{{}}}", list.join(",")).into(),
            status_info.into(),
            now.into(),
            now.timestamp_millis().into(),
            webhook.into(),
        ];
        db.query_all(Statement::from_sql_and_values(backend, sql, values))
            .await?
    } else {
        let update = format!(
            "UPDATE webhooks_events SET {set} WHERE id IN (SELECT value FROM json_each(?)) \
             AND status = {STATUS_FAILED} AND webhook_id = ? RETURNING id"
        );
        // SQLite numbers `?` marks by position: the SET's two come first.
        let values: Vec<Value> = vec![
            status_info.into(),
            now.into(),
            format!("[{}]", list.join(",")).into(),
            webhook.into(),
        ];
        let taken = db
            .query_all(Statement::from_sql_and_values(backend, update, values))
            .await?;
        let taken_ids = taken
            .iter()
            .map(|r| r.try_get::<i64>("", "id").map(|id| id.to_string()))
            .collect::<Result<Vec<_>, DbErr>>()?;
        // `WHERE true` keeps SQLite from reading `ON CONFLICT` as a join's `ON`.
        let insert = format!(
            "INSERT INTO webhooks_queue (event_id, webhook_id, due_at, attempt) \
             SELECT t.id, ?, ?, {attempts} \
             FROM (SELECT CAST(value AS INTEGER) AS id FROM json_each(?)) t \
             WHERE true ON CONFLICT (event_id) DO NOTHING"
        );
        db.execute(Statement::from_sql_and_values(
            backend,
            insert,
            [
                webhook.into(),
                now.timestamp_millis().into(),
                format!("[{}]", taken_ids.join(",")).into(),
            ],
        ))
        .await?;
        taken
    };
    rows.iter()
        .map(|r| r.try_get::<i64>("", "id"))
        .collect::<Result<Vec<_>, DbErr>>()
}
