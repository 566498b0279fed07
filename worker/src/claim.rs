//! Claiming due events: one statement that picks the next rows and leases them to this worker.
//!
//! A row is due when it is queued and its time has come (`status = 0 AND next_attempt_at <= now`)
//! or when another worker's lease ran out (`status = 1 AND lease_expires_at < now`: that worker
//! crashed or stalled, so the event is delivered again — at least once, with the row id as the
//! receiver's idempotency key). Claiming sets `status = 1`, a lease end and a fresh random
//! `lease_token`; results are recorded only while the token still matches (see `record`).
//!
//! Expired leases come first (that work is overdue), then queued rows in due order. The one
//! difference between backends is row locking. On PostgreSQL the inner `SELECT`s take
//! `FOR UPDATE SKIP LOCKED`, so concurrent workers each get different rows without waiting on one
//! another. SQLite has no row locks and needs none: it serialises writers, so the whole
//! `UPDATE … WHERE id IN (SELECT …) RETURNING` runs atomically and a second worker's statement
//! sees the rows already leased. Both use `$N` placeholders, which sqlx binds by number on SQLite
//! as well, so the statement text is otherwise shared.

use std::collections::HashMap;

use entity::{webhook_config, webhook_event};
use rand::Rng;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, FromQueryResult, IdenStatic,
    Iterable, PaginatorTrait, QueryFilter, Statement, Value,
};

/// Claims up to `limit` due rows for `lease_ms`, skipping the webhooks in `exclude` (those this
/// process cannot send to right now). Rows come back in due order.
pub async fn claim(
    db: &impl ConnectionTrait,
    now_ms: i64,
    lease_ms: i64,
    limit: u64,
    exclude: &[String],
) -> Result<Vec<webhook_event::Model>, DbErr> {
    let backend = db.get_database_backend();
    let token: i64 = rand::thread_rng().gen();
    let mut values: Vec<Value> = vec![
        (now_ms + lease_ms).into(),
        token.into(),
        now_ms.into(),
        i64::try_from(limit).unwrap_or(i64::MAX).into(),
    ];
    let mut not_in = String::new();
    if !exclude.is_empty() {
        let marks: Vec<String> = (0..exclude.len()).map(|i| format!("${}", i + 5)).collect();
        not_in = format!(" AND webhook_id NOT IN ({})", marks.join(", "));
        values.extend(exclude.iter().map(|w| Value::from(w.as_str())));
    }
    let lock = match backend {
        DatabaseBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    // The entity's columns by name, not `*`: a pooled SQLite connection that has not yet seen a
    // migration's ALTER TABLE expands `*` with the old column list at prepare time, SQLite then
    // re-prepares with the new one on the first step, and sqlx indexes past its cached column
    // list and panics. Named columns make the stale prepare fail and SQLite retry it.
    let returning: Vec<String> = webhook_event::Column::iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    let returning = returning.join(", ");
    // Two index range scans, each already in order and limited, rather than one `OR`: with the
    // `OR` both databases gather every due row and sort them, which is O(backlog) per claim.
    // EXPLAIN (SQLite 3.46, PostgreSQL 15, 200,000 due rows): range scans on
    // idx_webhooks_events_lease and idx_webhooks_events_due, no temporary sort (PostgreSQL: an
    // incremental sort on the presorted `next_attempt_at`, stopped by the LIMIT).
    let sql = format!(
        "WITH expired AS (SELECT id FROM webhooks_events \
           WHERE status = 1 AND lease_expires_at < $3{not_in} \
           ORDER BY lease_expires_at LIMIT $4{lock}), \
         queued AS (SELECT id FROM webhooks_events \
           WHERE status = 0 AND next_attempt_at <= $3{not_in} \
           ORDER BY next_attempt_at, id LIMIT $4{lock}) \
         UPDATE webhooks_events SET status = 1, lease_expires_at = $1, lease_token = $2 \
         WHERE id IN (SELECT id FROM expired UNION ALL SELECT id FROM queued LIMIT $4) \
         RETURNING {returning}"
    );
    let stmt = Statement::from_sql_and_values(backend, sql, values);
    let mut rows = webhook_event::Entity::find()
        .from_raw_sql(stmt)
        .all(db)
        .await?;
    // RETURNING follows no ORDER BY; restore due order so the oldest events go out first.
    rows.sort_by_key(|r| (r.next_attempt_at, r.id));
    Ok(rows)
}

/// The webhook of each claimed row, in one query per batch. A webhook deleted since the row was
/// queued is simply absent from the map.
pub async fn webhooks_of(
    db: &impl ConnectionTrait,
    rows: &[webhook_event::Model],
) -> Result<HashMap<String, webhook_config::Model>, DbErr> {
    let mut ids: Vec<&str> = rows.iter().map(|r| r.webhook_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found = webhook_config::Entity::find()
        .filter(webhook_config::Column::Id.is_in(ids))
        .all(db)
        .await?;
    Ok(found.into_iter().map(|w| (w.id.clone(), w)).collect())
}

#[derive(Debug, FromQueryResult)]
struct NextDue {
    queued: Option<i64>,
    leased: Option<i64>,
}

/// The earliest moment (epoch ms) a row becomes claimable: a retry's `next_attempt_at` or a
/// lease's end. Both are `MIN`s over the `(status, …)` indexes, so this is two index probes.
pub async fn next_due(db: &impl ConnectionTrait) -> Result<Option<i64>, DbErr> {
    let stmt = Statement::from_string(
        db.get_database_backend(),
        "SELECT (SELECT MIN(next_attempt_at) FROM webhooks_events WHERE status = 0) AS queued, \
                (SELECT MIN(lease_expires_at) FROM webhooks_events WHERE status = 1) AS leased",
    );
    let row = NextDue::find_by_statement(stmt).one(db).await?;
    Ok(row.and_then(|r| match (r.queued, r.leased) {
        (Some(q), Some(l)) => Some(q.min(l + 1)),
        (q, l) => q.or(l.map(|l| l + 1)),
    }))
}

/// Events not finished yet: queued, waiting for a retry, or leased (`status` 0 or 1).
pub async fn queue_depth(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let n = webhook_event::Entity::find()
        .filter(webhook_event::Column::Status.is_in([
            webhook_event::STATUS_QUEUED,
            webhook_event::STATUS_PROCESSING,
        ]))
        .count(db)
        .await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}
