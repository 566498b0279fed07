//! Writing attempt results back, in batches. Delivery tasks send an [`Update`] over a channel;
//! one recorder task drains whatever has accumulated and writes it in a single transaction, so a
//! burst of N results costs one commit (one fsync) instead of N. Per batch, a few statements of up
//! to 256 rows each: the queue rows are deleted (finished) or given back (retry, release), the
//! event rows get their new status (~150 bytes, no indexed column, so HOT on PostgreSQL), the
//! attempts are inserted, and the webhooks' failure streaks are updated ([`crate::streak`]).
//!
//! The lease token is what makes leases safe: the queue statements match `lease_token`, and only
//! the rows they matched go on to the other statements. A worker whose lease ran out (and whose
//! event another worker claimed with a new token) changes nothing, so it can neither overwrite the
//! newer result nor count a failure against the webhook twice.
//!
//! Durability: this commit is the one that matters. Until it is flushed the receiver may have the
//! event while the database still shows it leased; a crash then means one more delivery after the
//! lease (at least once), never a lost event.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::webhook_event::{self, STATUS_FAILED};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement, TransactionTrait, Value,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::claim::Claimed;
use crate::{sql, streak, Notifier};

/// Results written per transaction at most.
const MAX_BATCH: usize = 1024;

/// Rows per statement at most (a power of two; see [`crate::sql`]).
const ROWS_PER_STATEMENT: usize = 256;

/// What a recorded result does to its webhook's failure streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    Success,
    FinalFailure,
}

/// What becomes of the queue row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The event is done (succeeded, failed for good, or not sent): the queue row goes.
    Finish,
    /// Another attempt at `due_at` (epoch ms).
    Retry { due_at: i64 },
    /// Given back untouched (shutdown, or a lease too short to start safely): the attempt it had
    /// counted is taken back and the event row is left alone.
    Release,
}

/// One attempt as stored in `webhooks_event_attempts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub event_id: i64,
    pub number: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: Option<i32>,
    pub outcome: &'static str,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// JSON array of `[name, value]` pairs.
    pub response_headers: String,
    pub response_body: Option<String>,
    pub worker: Option<Arc<str>>,
}

/// The new state of one leased event.
#[derive(Debug, Clone)]
pub struct Update {
    pub id: i64,
    pub lease_token: i64,
    /// When the lease runs out (epoch ms); after that this result can no longer apply.
    pub lease_until: i64,
    pub webhook_id: String,
    pub kind: Kind,
    pub status: i16,
    pub status_info: String,
    pub retry_count: i32,
    pub last_update: DateTime<Utc>,
    pub effect: Effect,
    /// The attempt this result comes from; none for a release or an event not sent.
    pub attempt: Option<AttemptRow>,
}

impl Update {
    /// The claimed event finished with nothing changed yet, to be filled in with struct-update
    /// syntax.
    pub fn for_event(event: &Claimed, now: DateTime<Utc>) -> Self {
        Update {
            id: event.id,
            lease_token: event.lease_token,
            lease_until: event.lease_until,
            webhook_id: event.webhook_id.clone(),
            kind: Kind::Finish,
            status: webhook_event::STATUS_QUEUED,
            status_info: String::new(),
            retry_count: event.retry_count,
            last_update: now,
            effect: Effect::None,
            attempt: None,
        }
    }

    /// Gives a claimed row back untouched.
    pub fn release(event: &Claimed) -> Self {
        Update {
            kind: Kind::Release,
            ..Update::for_event(event, Utc::now())
        }
    }

    /// Finishes a row without sending it, e.g. because its webhook was disabled or deleted.
    pub fn not_sent(event: &Claimed, why: String, now: DateTime<Utc>) -> Self {
        Update {
            status: STATUS_FAILED,
            status_info: why,
            ..Update::for_event(event, now)
        }
    }
}

/// Starts the recorder; it stops once every sender is dropped and the last batch is written.
/// After a batch that put rows back in the queue (retries, releases) it wakes the dispatcher,
/// which then learns the new earliest due time; without this the dispatcher would only see a
/// retry scheduled after its last look at the next poll.
pub fn spawn(
    db: DatabaseConnection,
    disable_after: u32,
    notifier: Notifier,
) -> (mpsc::Sender<Update>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Update>(MAX_BATCH * 4);
    let handle = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            write_until_done(&db, &batch, disable_after).await;
            if batch.iter().any(|u| u.kind != Kind::Finish) {
                notifier.wake();
            }
            batch.clear();
        }
    });
    (tx, handle)
}

/// Writes `batch`, retrying with a growing pause while the database is away (a restart, a
/// failover). While this waits, delivery tasks wait to hand over their results and the
/// dispatcher stops claiming, so an outage slows delivery down instead of piling up results.
/// Once every lease in the batch has run out the results could no longer be applied (their rows
/// are someone else's or will be), so the batch is dropped: those events are sent again, never
/// lost.
async fn write_until_done(db: &DatabaseConnection, batch: &[Update], disable_after: u32) {
    let mut pause = Duration::from_millis(100);
    let mut tries = 0u32;
    loop {
        tries += 1;
        match write(db, batch, disable_after).await {
            Ok(()) => {
                if tries > 1 {
                    tracing::info!(
                        tries,
                        rows = batch.len(),
                        "results recorded after the database came back"
                    );
                }
                return;
            }
            Err(e) => {
                let last_lease = batch.iter().map(|u| u.lease_until).max().unwrap_or(0);
                if Utc::now().timestamp_millis() > last_lease {
                    tracing::error!(error = %e, rows = batch.len(), "giving up on these results: their leases have run out, so the events will be sent again");
                    return;
                }
                tracing::warn!(error = %e, try_no = tries, rows = batch.len(), pause_ms = pause.as_millis() as u64, "recording results failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Writes one batch in one transaction.
pub async fn write(
    db: &DatabaseConnection,
    batch: &[Update],
    disable_after: u32,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    let (finishes, requeues): (Vec<&Update>, Vec<&Update>) =
        latest_per_event(batch).partition(|u| u.kind == Kind::Finish);
    let mut applied = HashSet::with_capacity(batch.len());
    for chunk in finishes.chunks(ROWS_PER_STATEMENT) {
        applied.extend(finish_queue_rows(&txn, chunk).await?);
    }
    for chunk in requeues.chunks(ROWS_PER_STATEMENT) {
        applied.extend(requeue_rows(&txn, chunk).await?);
    }
    let applied_updates: Vec<&Update> = latest_per_event(batch)
        .filter(|u| {
            let ok = applied.contains(&u.id);
            if !ok {
                tracing::debug!(
                    event = u.id,
                    "lease lost before the result was recorded; result dropped"
                );
            }
            ok && u.kind != Kind::Release
        })
        .collect();
    for chunk in applied_updates.chunks(ROWS_PER_STATEMENT) {
        update_events(&txn, chunk).await?;
    }
    let attempts: Vec<AttemptRow> = applied_updates
        .iter()
        .filter_map(|u| u.attempt.clone())
        .collect();
    insert_attempts(&txn, &attempts, false).await?;
    streak::update(&txn, &applied_updates, disable_after).await?;
    txn.commit().await
}

/// The updates of `batch`, but for an event that appears more than once only the one from its
/// latest claim. Several can only meet in one batch when this process's lease ran out and it
/// claimed the event again (during a database outage, say); only the latest claim's token can
/// still hold the row, and the statements below match rows by event id, so an earlier claim's
/// result would otherwise ride along with the latest one's.
fn latest_per_event(batch: &[Update]) -> impl Iterator<Item = &Update> {
    let mut latest: HashMap<i64, (i64, usize)> = HashMap::with_capacity(batch.len());
    for (i, u) in batch.iter().enumerate() {
        let e = latest.entry(u.id).or_insert((u.lease_until, i));
        if u.lease_until >= e.0 {
            *e = (u.lease_until, i);
        }
    }
    batch.iter().enumerate().filter_map(move |(i, u)| {
        let keep = latest.get(&u.id).is_some_and(|(_, j)| *j == i);
        if !keep {
            tracing::debug!(event = u.id, "result of a superseded claim dropped");
        }
        keep.then_some(u)
    })
}

/// `WITH v(cols) AS (VALUES …)` for `rows`, padded to a power of two with `pad` rows (ids that
/// match nothing), and the parameters in order.
fn values_cte(
    backend: DatabaseBackend,
    cols: &str,
    rows: Vec<Vec<Value>>,
    pad: &[Value],
) -> (String, Vec<Value>) {
    let n = rows.len().next_power_of_two();
    let width = pad.len();
    let mut values: Vec<Value> = Vec::with_capacity(n * width);
    for r in rows {
        values.extend(r);
    }
    while values.len() < n * width {
        values.extend_from_slice(pad);
    }
    let sql = format!(
        "WITH v({cols}) AS (VALUES {}) ",
        sql::values(backend, n, width, 1)
    );
    (sql, values)
}

/// On PostgreSQL, ` AND column = ANY('{ids}')`, appended to `values`: the join with `v` alone
/// leaves the planner free to hash-join it against a sequential scan of the table, which it
/// prefers for small tables (a backlog of a few thousand) and which then costs O(table) per
/// batch; with the array it finds the rows by primary key whatever its statistics say. SQLite
/// already drives the join from `v` (see docs/query-plans.md) and gets nothing.
fn by_ids(backend: DatabaseBackend, column: &str, ids: &[i64], values: &mut Vec<Value>) -> String {
    if backend != DatabaseBackend::Postgres {
        return String::new();
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    values.push(format!("{{{}}}", list.join(",")).into());
    format!(" AND {column} = ANY(CAST(${} AS BIGINT[]))", values.len())
}

fn returned_ids(rows: Vec<sea_orm::QueryResult>) -> Result<Vec<i64>, DbErr> {
    rows.iter()
        .map(|r| r.try_get::<i64>("", "event_id"))
        .collect()
}

/// Deletes the queue rows of finished events still leased with the given tokens.
async fn finish_queue_rows(
    txn: &impl ConnectionTrait,
    chunk: &[&Update],
) -> Result<Vec<i64>, DbErr> {
    let stmt = finish_statement(txn.get_database_backend(), chunk);
    returned_ids(txn.query_all(stmt).await?)
}

/// The statements of a result batch, public so the bench can EXPLAIN exactly what runs
/// (docs/query-plans.md). Each matches rows through the primary key of the table it changes.
pub fn finish_statement(backend: DatabaseBackend, chunk: &[&Update]) -> Statement {
    let rows = chunk
        .iter()
        .map(|u| vec![u.id.into(), u.lease_token.into()])
        .collect();
    let (cte, mut values) = values_cte(backend, "id, token", rows, &[(-1i64).into(), 0i64.into()]);
    let ids: Vec<i64> = chunk.iter().map(|u| u.id).collect();
    let hint = by_ids(backend, "event_id", &ids, &mut values);
    let sql = format!(
        "{cte}DELETE FROM webhooks_queue WHERE (event_id, lease_token) IN (SELECT id, token FROM v)\
         {hint} RETURNING event_id"
    );
    Statement::from_sql_and_values(backend, sql, values)
}

/// Ends the lease of rows to be tried again (new `due_at`) or given back (`undo` takes back the
/// attempt the claim counted).
async fn requeue_rows(txn: &impl ConnectionTrait, chunk: &[&Update]) -> Result<Vec<i64>, DbErr> {
    let stmt = requeue_statement(txn.get_database_backend(), chunk);
    returned_ids(txn.query_all(stmt).await?)
}

pub fn requeue_statement(backend: DatabaseBackend, chunk: &[&Update]) -> Statement {
    let rows = chunk
        .iter()
        .map(|u| {
            let (due, undo) = match u.kind {
                Kind::Retry { due_at } => (Some(due_at), 0i32),
                _ => (None, 1i32),
            };
            vec![u.id.into(), u.lease_token.into(), due.into(), undo.into()]
        })
        .collect();
    let pad = [(-1i64).into(), 0i64.into(), Some(0i64).into(), 0i32.into()];
    let (cte, mut values) = values_cte(backend, "id, token, due, undo", rows, &pad);
    let ids: Vec<i64> = chunk.iter().map(|u| u.id).collect();
    let hint = by_ids(backend, "webhooks_queue.event_id", &ids, &mut values);
    let sql = format!(
        "{cte}UPDATE webhooks_queue SET due_at = COALESCE(v.due, webhooks_queue.due_at), \
         attempt = webhooks_queue.attempt - v.undo, lease_token = NULL, lease_until = NULL, \
         leased_at = NULL, prior_lease_at = NULL \
         FROM v WHERE webhooks_queue.event_id = v.id AND webhooks_queue.lease_token = v.token\
         {hint} RETURNING webhooks_queue.event_id"
    );
    Statement::from_sql_and_values(backend, sql, values)
}

/// Speckle's columns of the event row; none of them is indexed.
async fn update_events(txn: &impl ConnectionTrait, chunk: &[&Update]) -> Result<(), DbErr> {
    txn.execute(events_statement(txn.get_database_backend(), chunk))
        .await?;
    Ok(())
}

pub fn events_statement(backend: DatabaseBackend, chunk: &[&Update]) -> Statement {
    let pad_time = chunk.first().map_or_else(Utc::now, |u| u.last_update);
    let rows = chunk
        .iter()
        .map(|u| {
            vec![
                u.id.into(),
                u.status.into(),
                u.status_info.as_str().into(),
                u.retry_count.into(),
                u.last_update.into(),
            ]
        })
        .collect();
    let pad = [
        (-1i64).into(),
        0i16.into(),
        "".into(),
        0i32.into(),
        pad_time.into(),
    ];
    let (cte, mut values) = values_cte(backend, "id, status, info, retries, updated", rows, &pad);
    let ids: Vec<i64> = chunk.iter().map(|u| u.id).collect();
    let hint = by_ids(backend, "webhooks_events.id", &ids, &mut values);
    let sql = format!(
        "{cte}UPDATE webhooks_events SET status = v.status, status_info = v.info, \
         retry_count = v.retries, last_update = v.updated FROM v WHERE webhooks_events.id = v.id\
         {hint}"
    );
    Statement::from_sql_and_values(backend, sql, values)
}

/// Inserts attempt rows. `if_new` skips rows whose (event, number) exists already (interrupted
/// attempts found by two claims in a race).
pub async fn insert_attempts(
    txn: &impl ConnectionTrait,
    attempts: &[AttemptRow],
    if_new: bool,
) -> Result<(), DbErr> {
    for chunk in attempts.chunks(ROWS_PER_STATEMENT) {
        txn.execute(attempts_statement(
            txn.get_database_backend(),
            chunk,
            if_new,
        ))
        .await?;
    }
    Ok(())
}

pub fn attempts_statement(
    backend: DatabaseBackend,
    chunk: &[AttemptRow],
    if_new: bool,
) -> Statement {
    let pad_time = chunk.first().map_or_else(Utc::now, |a| a.started_at);
    let rows = chunk
        .iter()
        .map(|a| {
            vec![
                a.event_id.into(),
                a.number.into(),
                a.started_at.into(),
                a.duration_ms.into(),
                a.outcome.into(),
                a.status_code.into(),
                a.error.clone().into(),
                a.response_headers.as_str().into(),
                a.response_body.clone().into(),
                a.worker.as_deref().map(str::to_owned).into(),
            ]
        })
        .collect();
    let pad = [
        (-1i64).into(),
        0i32.into(),
        pad_time.into(),
        None::<i32>.into(),
        "".into(),
        None::<i32>.into(),
        None::<String>.into(),
        "".into(),
        None::<String>.into(),
        None::<String>.into(),
    ];
    let cols = "event_id, number, started_at, duration_ms, outcome, status_code, error, \
                response_headers, response_body, worker";
    let (cte, values) = values_cte(backend, cols, rows, &pad);
    let conflict = if if_new {
        " ON CONFLICT (event_id, number) DO NOTHING"
    } else {
        ""
    };
    // The WHERE drops the padding rows; SQLite also needs one before ON CONFLICT after a SELECT.
    let sql = format!(
        "{cte}INSERT INTO webhooks_event_attempts ({cols}) SELECT {cols} FROM v \
         WHERE event_id <> -1{conflict}"
    );
    Statement::from_sql_and_values(backend, sql, values)
}
