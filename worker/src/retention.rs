//! Pruning the history: finished events (status 2 or 3) older than `retention_max_age`, finished
//! events beyond the newest `retention_keep_per_webhook` of each webhook, and webhooks whose stream
//! is gone once nothing of theirs is pending (their events go with them by cascade); and previous
//! secrets whose rotation grace has ended.
//!
//! Every delete is capped at [`BATCH`] rows per statement and the task yields between statements.
//! One `DELETE` of a million rows would hold SQLite's single write lock (or, on PostgreSQL, a long
//! transaction and its WAL) for seconds, stalling the recorder and with it every delivery; small
//! statements let result writes slip in between. Queued and leased rows are never touched.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, Statement};
use tokio_util::sync::CancellationToken;

use crate::WorkerConfig;

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
    webhook_id: String,
}

#[derive(FromQueryResult)]
struct Id {
    id: i64,
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
            Statement::from_sql_and_values(
                backend,
                "DELETE FROM webhooks_events WHERE id IN (SELECT id FROM webhooks_events \
                 WHERE status IN (2, 3) AND last_update < $1 LIMIT $2)",
                [cutoff.into(), limit.into()],
            ),
        )
        .await?;
    }

    let keep = i64::try_from(config.retention_keep_per_webhook).unwrap_or(i64::MAX);
    if keep > 0 {
        // Per webhook, the id of its newest finished event beyond the keep limit: everything at
        // or below it goes. Both lookups walk the (webhook_id, id) index.
        let over = WebhookId::find_by_statement(Statement::from_sql_and_values(
            backend,
            "SELECT webhook_id FROM webhooks_events WHERE status IN (2, 3) \
             GROUP BY webhook_id HAVING COUNT(*) > $1",
            [keep.into()],
        ))
        .all(db)
        .await?;
        for w in over {
            let cutoff = Id::find_by_statement(Statement::from_sql_and_values(
                backend,
                "SELECT id FROM webhooks_events WHERE webhook_id = $1 AND status IN (2, 3) \
                 ORDER BY id DESC LIMIT 1 OFFSET $2",
                [w.webhook_id.as_str().into(), keep.into()],
            ))
            .one(db)
            .await?;
            let Some(cutoff) = cutoff else { continue };
            delete_in_batches(
                db,
                &mut report,
                cancel,
                batch,
                Statement::from_sql_and_values(
                    backend,
                    "DELETE FROM webhooks_events WHERE id IN (SELECT id FROM webhooks_events \
                     WHERE webhook_id = $1 AND status IN (2, 3) AND id <= $2 LIMIT $3)",
                    [w.webhook_id.as_str().into(), cutoff.id.into(), limit.into()],
                ),
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
             AND NOT EXISTS (SELECT 1 FROM webhooks_events e \
               WHERE e.webhook_id = webhooks_config.id AND e.status IN (0, 1))",
        ))
        .await?;
    report.webhooks_deleted = res.rows_affected();
    // A previous secret whose rotation grace is over signs nothing any more: it goes too.
    let forgotten =
        crate::secrets::store::forget_expired_previous(db, Utc::now().timestamp_millis()).await?;
    if report.webhooks_deleted > 0 || forgotten > 0 {
        // Their sealed secrets go with them, off the disk too.
        crate::secrets::store::scrub(db).await;
    }
    Ok(report)
}

/// Repeats `stmt` until it deletes fewer than `batch` rows, yielding between statements.
async fn delete_in_batches(
    db: &DatabaseConnection,
    report: &mut Report,
    cancel: &CancellationToken,
    batch: u64,
    stmt: Statement,
) -> Result<(), DbErr> {
    loop {
        let n = db.execute(stmt.clone()).await?.rows_affected();
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
