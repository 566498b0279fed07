//! Writing attempt results back, in batches. Delivery tasks send an [`Update`] over a channel;
//! one recorder task drains whatever has accumulated and writes it in a single transaction, so a
//! burst of N results costs one commit (one fsync on SQLite) instead of N. This is the hot path:
//! every 256 results are one `UPDATE … FROM (VALUES …) WHERE id = v.id AND lease_token = v.token`
//! (per-row statements cost more in round trips to the database thread than in SQL), plus one
//! statement that resets the failure streak of webhooks that succeeded.
//!
//! The `lease_token` condition is what makes leases safe: a worker whose lease ran out (and whose
//! event another worker claimed with a new token) updates zero rows, so it can neither overwrite
//! the newer result nor count a failure against the webhook twice. The webhook counters are
//! read-modify-written inside the same transaction with `RETURNING`, so two recorders cannot lose
//! each other's increments.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use entity::webhook_event::{self, STATUS_FAILED};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, FromQueryResult, Statement,
    TransactionTrait, Value,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Notifier;

/// Results written per transaction at most.
const MAX_BATCH: usize = 1024;

/// What a recorded result does to its webhook's failure streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    Success,
    FinalFailure,
}

/// The new state of one leased row.
#[derive(Debug, Clone)]
pub struct Update {
    pub id: i64,
    pub lease_token: i64,
    pub webhook_id: String,
    pub status: i16,
    pub status_info: String,
    pub retry_count: i32,
    pub next_attempt_at: i64,
    pub last_update: DateTime<Utc>,
    pub effect: Effect,
}

impl Update {
    /// The row as claimed, to be changed with struct-update syntax; written as is, it releases
    /// the lease without counting an attempt.
    pub fn for_event(event: &webhook_event::Model, now: DateTime<Utc>) -> Self {
        Update {
            id: event.id,
            lease_token: event.lease_token.unwrap_or_default(),
            webhook_id: event.webhook_id.clone(),
            status: webhook_event::STATUS_QUEUED,
            status_info: event.status_info.clone(),
            retry_count: event.retry_count,
            next_attempt_at: event.next_attempt_at,
            last_update: now,
            effect: Effect::None,
        }
    }

    /// Gives a claimed row back untouched (shutdown, or a lease too short to start safely).
    pub fn release(event: &webhook_event::Model) -> Self {
        Update {
            last_update: event.last_update,
            ..Update::for_event(event, event.last_update)
        }
    }

    /// Finishes a row without sending it, e.g. because its webhook was disabled or deleted.
    pub fn not_sent(event: &webhook_event::Model, why: String, now: DateTime<Utc>) -> Self {
        Update {
            status: STATUS_FAILED,
            status_info: why,
            ..Update::for_event(event, now)
        }
    }
}

/// Starts the recorder; it stops once every sender is dropped and the last batch is written.
/// After a batch that put rows back in the queue (retries, releases) it wakes the dispatcher,
/// which then learns the new earliest `next_attempt_at`; without this the dispatcher would only
/// see a retry scheduled after its last look at the next poll.
pub fn spawn(
    db: DatabaseConnection,
    disable_after: u32,
    notifier: Notifier,
) -> (mpsc::Sender<Update>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Update>(MAX_BATCH * 4);
    let handle = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            write_with_retries(&db, &batch, disable_after).await;
            if batch
                .iter()
                .any(|u| u.status == webhook_event::STATUS_QUEUED)
            {
                notifier.wake();
            }
            batch.clear();
        }
    });
    (tx, handle)
}

/// A failed write is retried briefly; if the database stays away the rows keep their leases,
/// which expire, and the events are delivered again: at-least-once, never lost.
async fn write_with_retries(db: &DatabaseConnection, batch: &[Update], disable_after: u32) {
    for (i, pause) in [100u64, 500, 2_000, 0].into_iter().enumerate() {
        match write(db, batch, disable_after).await {
            Ok(()) => return,
            Err(e) if pause > 0 => {
                tracing::warn!(error = %e, try_no = i + 1, rows = batch.len(), "recording results failed; retrying");
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            Err(e) => {
                tracing::error!(error = %e, rows = batch.len(), "recording results failed; their leases will expire and they will be sent again");
            }
        }
    }
}

/// Rows per `UPDATE … FROM (VALUES …)`.
const ROWS_PER_STATEMENT: usize = 256;

/// Writes `chunk` in one statement and returns the ids whose lease token still matched.
///
/// The row count is padded to a power of two with rows that match nothing (id -1), so there are
/// only nine distinct statement texts. sqlx caches a prepared statement per text and connection;
/// with one text per batch size, hundreds of large prepared statements piled up (60 MB while
/// draining a million events).
async fn update_events(txn: &impl ConnectionTrait, chunk: &[Update]) -> Result<Vec<i64>, DbErr> {
    let mut sql =
        String::from("WITH v(id, token, status, info, retries, next_at, updated) AS (VALUES ");
    let backend = txn.get_database_backend();
    // Anonymous `?` on SQLite: sqlx asks SQLite for every parameter's name, a linear search for
    // numbered ones, which made a 7,000-parameter statement quadratic (40% of the CPU).
    let mark = |n: usize| match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let rows = chunk.len().next_power_of_two();
    let pad_time = chunk.first().map_or_else(Utc::now, |u| u.last_update);
    let mut values: Vec<Value> = Vec::with_capacity(rows * 7);
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        let marks: Vec<String> = (i * 7 + 1..=i * 7 + 7).map(mark).collect();
        sql.push('(');
        sql.push_str(&marks.join(", "));
        sql.push(')');
        let (id, token, status, info, retries, next_at, updated) = match chunk.get(i) {
            Some(u) => (
                u.id,
                u.lease_token,
                u.status,
                u.status_info.as_str(),
                u.retry_count,
                u.next_attempt_at,
                u.last_update,
            ),
            None => (-1, -1, 0, "", 0, 0, pad_time),
        };
        values.extend([
            id.into(),
            token.into(),
            status.into(),
            info.into(),
            retries.into(),
            next_at.into(),
            updated.into(),
        ]);
    }
    sql.push_str(
        ") UPDATE webhooks_events SET status = v.status, status_info = v.info, \
         retry_count = v.retries, next_attempt_at = v.next_at, last_update = v.updated, \
         lease_expires_at = NULL, lease_token = NULL \
         FROM v WHERE webhooks_events.id = v.id AND webhooks_events.lease_token = v.token \
         RETURNING webhooks_events.id",
    );
    let stmt = Statement::from_sql_and_values(backend, sql, values);
    txn.query_all(stmt)
        .await?
        .iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect()
}

#[derive(Default)]
struct Streak<'a> {
    succeeded: bool,
    finals_after_success: i32,
    last_error: &'a str,
}

#[derive(FromQueryResult)]
struct Counter {
    consecutive_failures: i32,
    enabled: bool,
}

/// Writes one batch in one transaction.
pub async fn write(
    db: &DatabaseConnection,
    batch: &[Update],
    disable_after: u32,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    let mut applied = HashSet::with_capacity(batch.len());
    for chunk in batch.chunks(ROWS_PER_STATEMENT) {
        applied.extend(update_events(&txn, chunk).await?);
    }
    let mut streaks: HashMap<&str, Streak<'_>> = HashMap::new();
    for u in batch {
        if !applied.contains(&u.id) {
            tracing::debug!(
                event = u.id,
                "lease lost before the result was recorded; result dropped"
            );
            continue;
        }
        // Results arrive in completion order, so "after the last success" is the streak.
        match u.effect {
            Effect::None => {}
            Effect::Success => {
                let s = streaks.entry(&u.webhook_id).or_default();
                s.succeeded = true;
                s.finals_after_success = 0;
            }
            Effect::FinalFailure => {
                let s = streaks.entry(&u.webhook_id).or_default();
                s.finals_after_success += 1;
                s.last_error = &u.status_info;
            }
        }
    }

    let reset: Vec<Value> = streaks
        .iter()
        .filter(|(_, s)| s.succeeded && s.finals_after_success == 0)
        .map(|(id, _)| Value::from(*id))
        .collect();
    if !reset.is_empty() {
        let marks: Vec<String> = (1..=reset.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "UPDATE webhooks_config SET consecutive_failures = 0 \
             WHERE consecutive_failures <> 0 AND id IN ({})",
            marks.join(", ")
        );
        txn.execute(Statement::from_sql_and_values(backend, sql, reset))
            .await?;
    }

    let now = Utc::now();
    for (id, s) in streaks.iter().filter(|(_, s)| s.finals_after_success > 0) {
        let base = if s.succeeded {
            "0"
        } else {
            "consecutive_failures"
        };
        let sql = format!(
            "UPDATE webhooks_config SET consecutive_failures = {base} + $1 WHERE id = $2 \
             RETURNING consecutive_failures, enabled"
        );
        let stmt = Statement::from_sql_and_values(
            backend,
            sql,
            [s.finals_after_success.into(), (*id).into()],
        );
        let Some(c) = Counter::find_by_statement(stmt).one(&txn).await? else {
            continue;
        };
        let limit = i64::from(disable_after);
        if disable_after == 0 || i64::from(c.consecutive_failures) < limit || !c.enabled {
            continue;
        }
        let reason = format!(
            "Disabled automatically at {} after {} deliveries in a row failed finally. Last error: {}",
            now.to_rfc3339_opts(SecondsFormat::Secs, true),
            c.consecutive_failures,
            s.last_error
        );
        tracing::warn!(webhook = *id, %reason, "webhook disabled");
        txn.execute(Statement::from_sql_and_values(
            backend,
            "UPDATE webhooks_config SET enabled = $1, disabled_reason = $2, updated_at = $3 WHERE id = $4",
            [false.into(), reason.into(), now.into(), (*id).into()],
        ))
        .await?;
    }
    txn.commit().await
}
