//! Pruning the history: finished events (status 2 or 3) older than `retention_max_age`, finished
//! events beyond the newest `retention_keep_per_webhook` of each webhook, and webhooks whose stream
//! is gone once nothing of theirs is pending (their events go with them by cascade); and previous
//! secrets whose rotation grace has ended. An event's payload, attempts and queue row go with it
//! by cascade, and its webhook's event count drops in the same transaction.
//!
//! Every delete is capped at [`BATCH`] rows per statement and the task yields between statements.
//! One `DELETE` of a million rows would hold SQLite's single write lock (or, on PostgreSQL, a long
//! transaction and its WAL) for seconds, stalling the recorder and with it every delivery; small
//! statements let result writes slip in between. Queued and leased rows are never touched.

use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::webhook_event_count::SHARDS;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, FromQueryResult, Statement,
    TransactionTrait,
};
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::core::queue;

/// Rows per `DELETE` statement.
pub const BATCH: u64 = 5_000;

/// What one pass removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub events_deleted: u64,
    pub webhooks_deleted: u64,
    /// `DELETE` statements that removed events, to show the work was split.
    pub statements: u64,
}

/// Runs a pass every `retention_interval` until `cancel`.
pub async fn run(db: DatabaseConnection, config: Arc<WorkerConfig>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(config.retention_interval) => {}
        }
        match run_once(&db, &config, BATCH, &cancel).await {
            Ok(r) if r.events_deleted + r.webhooks_deleted > 0 => tracing::info!(
                events = r.events_deleted,
                webhooks = r.webhooks_deleted,
                "retention pass"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "retention pass failed; trying again next interval")
            }
        }
    }
}

#[derive(FromQueryResult)]
struct WebhookId {
    id: String,
}

#[derive(FromQueryResult)]
struct Id {
    id: i64,
}

/// `DELETE FROM webhooks_events WHERE id IN (ids) RETURNING webhook_id`. On PostgreSQL the ids
/// go in as `id = ANY(ARRAY(ids))`, so the rows are found through the primary key: as a
/// semi-join, the planner hashed the ids against a sequential scan of every event, per batch.
fn delete_events(backend: DatabaseBackend, ids: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => {
            format!("DELETE FROM webhooks_events WHERE id = ANY(ARRAY({ids})) RETURNING webhook_id")
        }
        _ => format!("DELETE FROM webhooks_events WHERE id IN ({ids}) RETURNING webhook_id"),
    }
}

/// Finished events last updated before `cutoff`, `limit` at a time: a range scan of
/// idx_webhooks_events_created up to the cutoff (an event last updated before it was created
/// before it), stopping after `limit` finished rows. Public, like the others, so the bench can
/// EXPLAIN exactly what runs (docs/query-plans.md).
pub fn delete_aged(backend: DatabaseBackend, cutoff: DateTime<Utc>, limit: i64) -> Statement {
    let ids = "SELECT id FROM webhooks_events WHERE created_at < $1 AND last_update < $1 \
               AND status IN (2, 3) LIMIT $2";
    Statement::from_sql_and_values(
        backend,
        delete_events(backend, ids),
        [cutoff.into(), limit.into()],
    )
}

/// Webhooks with more than `$1` events in all: a scan of the small counts table.
pub const OVER_LIMIT_SQL: &str = "SELECT webhook_id AS id FROM webhooks_event_counts \
     GROUP BY webhook_id HAVING SUM(events) > $1 ORDER BY webhook_id";

/// A webhook's pending events: they are the newest ones, mostly, and must not count towards the
/// finished events kept. A scan of the queue (the backlog, not the history), once per webhook
/// over the limit and pass.
pub const PENDING_SQL: &str = "SELECT COUNT(*) AS id FROM webhooks_queue WHERE webhook_id = $1";

/// The id `offset` events back from a webhook's newest: a backward walk of
/// idx_webhooks_events_webhook reading only ids (an index-only scan on PostgreSQL), `offset`
/// entries long. With `offset` = limit + pending events, everything at or below it is beyond
/// the newest `limit` finished events (a few more may be kept if pending events are older).
/// Asking for the status as well let PostgreSQL prefer walking the primary key backwards through
/// every other webhook's events, by its estimate.
pub fn keep_cutoff(backend: DatabaseBackend, webhook: &str, offset: i64) -> Statement {
    Statement::from_sql_and_values(
        backend,
        "SELECT id FROM webhooks_events WHERE webhook_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2",
        [webhook.into(), offset.into()],
    )
}

/// Finished events of `webhook` at or below id `cutoff`, `limit` at a time: a range of
/// idx_webhooks_events_webhook.
pub fn delete_beyond(
    backend: DatabaseBackend,
    webhook: &str,
    cutoff: i64,
    limit: i64,
) -> Statement {
    let ids = "SELECT id FROM webhooks_events WHERE webhook_id = $1 AND id <= $2 \
               AND status IN (2, 3) LIMIT $3";
    Statement::from_sql_and_values(
        backend,
        delete_events(backend, ids),
        [webhook.into(), cutoff.into(), limit.into()],
    )
}

/// One pass, deleting at most `batch` rows per statement.
pub async fn run_once(
    db: &DatabaseConnection,
    config: &WorkerConfig,
    batch: u64,
    cancel: &CancellationToken,
) -> Result<Report, DbErr> {
    let backend = db.get_database_backend();
    let limit = i64::try_from(batch).unwrap_or(i64::MAX);
    let mut report = Report::default();

    if !config.retention_max_age.is_zero() {
        let age =
            chrono::Duration::from_std(config.retention_max_age).unwrap_or(chrono::Duration::MAX);
        let cutoff = Utc::now()
            .checked_sub_signed(age)
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
        delete_in_batches(
            db,
            &mut report,
            cancel,
            batch,
            delete_aged(backend, cutoff, limit),
        )
        .await?;
    }

    let keep = i64::try_from(config.retention_keep_per_webhook).unwrap_or(i64::MAX);
    if keep > 0 {
        // Only webhooks with more events than the limit (from the counts, not a count over the
        // events), and for each the id of its newest finished event beyond the limit: finished
        // events at or below it go.
        let webhooks = WebhookId::find_by_statement(Statement::from_sql_and_values(
            backend,
            OVER_LIMIT_SQL,
            [keep.into()],
        ))
        .all(db)
        .await?;
        for w in webhooks {
            if cancel.is_cancelled() {
                break;
            }
            let pending = Id::find_by_statement(Statement::from_sql_and_values(
                backend,
                PENDING_SQL,
                [w.id.as_str().into()],
            ))
            .one(db)
            .await?
            .map_or(0, |p| p.id);
            let cutoff = Id::find_by_statement(keep_cutoff(backend, &w.id, keep + pending))
                .one(db)
                .await?;
            let Some(cutoff) = cutoff else { continue };
            delete_in_batches(
                db,
                &mut report,
                cancel,
                batch,
                delete_beyond(backend, &w.id, cutoff.id, limit),
            )
            .await?;
        }
    }

    // Webhooks of deleted streams stay until their last event is out (a `stream_delete` must
    // still reach them), then go; their finished events cascade.
    let res = db
        .execute(Statement::from_string(
            backend,
            "DELETE FROM webhooks_config WHERE NOT EXISTS \
               (SELECT 1 FROM streams s WHERE s.id = webhooks_config.stream_id) \
             AND NOT EXISTS (SELECT 1 FROM webhooks_queue q \
               WHERE q.webhook_id = webhooks_config.id)",
        ))
        .await?;
    report.webhooks_deleted = res.rows_affected();
    // A previous secret whose rotation grace is over signs nothing any more: it goes too.
    let forgotten =
        crate::core::secrets::store::forget_expired_previous(db, Utc::now().timestamp_millis())
            .await?;
    if report.webhooks_deleted > 0 || forgotten > 0 {
        // Their sealed secrets go with them, off the disk too.
        crate::core::secrets::store::scrub(db).await;
    }
    Ok(report)
}

#[derive(FromQueryResult)]
struct Gone {
    webhook_id: String,
}

/// Repeats `stmt` (a `DELETE … RETURNING webhook_id`) until it deletes fewer than `batch` rows,
/// yielding between statements. Each statement runs in a transaction with the matching decrement
/// of the webhooks' event counts (on retention's own shard, so it never waits for queuing).
/// Attempts, payloads and queue rows go with their events by cascade.
async fn delete_in_batches(
    db: &DatabaseConnection,
    report: &mut Report,
    cancel: &CancellationToken,
    batch: u64,
    stmt: Statement,
) -> Result<(), DbErr> {
    loop {
        let txn = db.begin().await?;
        let gone = Gone::find_by_statement(stmt.clone()).all(&txn).await?;
        let mut per_webhook: BTreeMap<&str, i64> = BTreeMap::new();
        for g in &gone {
            *per_webhook.entry(g.webhook_id.as_str()).or_default() -= 1;
        }
        let deltas: Vec<(&str, i64)> = per_webhook.into_iter().collect();
        queue::add_counts(&txn, &deltas, Some(SHARDS)).await?;
        txn.commit().await?;
        let n = gone.len() as u64;
        report.events_deleted += n;
        if n > 0 {
            report.statements += 1;
        }
        if n < batch || cancel.is_cancelled() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
