//! The queue's own statements: storing new events (the event row, its payload, its queue row and
//! the webhook's event count), and the queue's depth for operators ([`queue_depth`]). New events
//! go in as one multi-row statement per table on SQLite, and as one statement for all four on
//! PostgreSQL (data-modifying CTEs). The caller's transaction (or, on PostgreSQL, that one
//! statement) makes them one unit (an event exists exactly when its change committed, with its
//! payload and its place in the queue).
//!
//! Durability: nothing here flushes on its own; whatever the caller's commit buys (SQLite
//! `synchronous=NORMAL`, PostgreSQL `synchronous_commit`) is what a queued event gets. The queue
//! rows may be written already leased to this process's dispatcher ([`crate::core::handoff`]),
//! and the ids returned here are what it is handed.
//!
//! The question a reader will ask is how returned ids are matched to rows: both databases assign
//! the ids of one multi-row `INSERT` in row order (PostgreSQL evaluates `nextval` per row as
//! the VALUES are read, SQLite takes max(rowid)+1 per row under its write lock), so the sorted
//! `RETURNING` ids line up with the input; the webhook id returned beside each is checked anyway.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::webhook_event::STATUS_QUEUED;
use entity::webhook_event_count::SHARDS;
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, FromQueryResult, Statement, Value};

use crate::core::lease::Lease;
use crate::core::sql;

/// Rows per statement at most.
const MAX_ROWS: usize = 256;

/// One event to queue for one webhook.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub webhook_id: String,
    pub stream_id: String,
    pub event_name: String,
    /// The payload object serialised as JSON: exactly what will be signed and sent.
    pub payload: String,
    /// `statusInfo` until the first attempt, e.g. "Queued; not attempted yet."
    pub status_info: String,
    /// Asked for explicitly (ping, redelivery).
    pub manual: bool,
}

/// Inserts `events` due at `now` and returns their ids in the same order. Call inside a
/// transaction: the four statements are only atomic together within one.
pub async fn insert(
    db: &impl ConnectionTrait,
    events: &[NewEvent],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    insert_leased(db, events, now, None, false).await
}

/// Most rows [`insert_leased`] writes in one statement on PostgreSQL; up to this many it needs no
/// surrounding transaction there.
pub const MAX_ONE_STATEMENT: usize = MAX_ROWS;

/// [`insert`], with the queue rows already leased by `lease` (the in-process hand-off,
/// [`crate::core::handoff`]), and with `notify` a PostgreSQL `NOTIFY` for other processes'
/// dispatchers. On PostgreSQL up to [`MAX_ONE_STATEMENT`] events are one statement (events,
/// payloads, queue rows, counts and the NOTIFY as data-modifying CTEs), which is atomic by itself:
/// the single ingest path runs it without BEGIN and COMMIT. SQLite has no such CTEs, and its
/// statements are calls into the same process, so there it stays one statement per table inside
/// the caller's transaction.
pub async fn insert_leased(
    db: &impl ConnectionTrait,
    events: &[NewEvent],
    now: DateTime<Utc>,
    lease: Option<Lease>,
    notify: bool,
) -> Result<Vec<i64>, DbErr> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        let mut ids = Vec::with_capacity(events.len());
        for (i, chunk) in sql::pow2_chunks(events, MAX_ROWS).into_iter().enumerate() {
            ids.extend(insert_postgres(db, chunk, now, lease, notify && i == 0).await?);
        }
        return Ok(ids);
    }
    let mut ids = Vec::with_capacity(events.len());
    for chunk in sql::pow2_chunks(events, MAX_ROWS) {
        let chunk_ids = insert_events(db, chunk, now).await?;
        insert_payloads(db, chunk, &chunk_ids).await?;
        insert_queue(db, chunk, &chunk_ids, now.timestamp_millis(), lease).await?;
        ids.extend(chunk_ids);
    }
    let mut per_webhook: BTreeMap<&str, i64> = BTreeMap::new();
    for e in events {
        *per_webhook.entry(e.webhook_id.as_str()).or_default() += 1;
    }

    add_counts(db, &per_webhook.into_iter().collect::<Vec<_>>(), None).await?;
    Ok(ids)
}

async fn insert_events(
    db: &impl ConnectionTrait,
    chunk: &[NewEvent],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "INSERT INTO webhooks_events (webhook_id, stream_id, event_name, status, status_info, \
         retry_count, last_update, created_at, manual) VALUES {} RETURNING id, webhook_id",
        sql::values(backend, chunk.len(), 9, 1)
    );
    let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 9);
    for e in chunk {
        values.extend([
            e.webhook_id.as_str().into(),
            e.stream_id.as_str().into(),
            e.event_name.as_str().into(),
            STATUS_QUEUED.into(),
            e.status_info.as_str().into(),
            0i32.into(),
            now.into(),
            now.into(),
            e.manual.into(),
        ]);
    }
    let rows = db
        .query_all(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut got = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<i64>("", "id")?,
                r.try_get::<String>("", "webhook_id")?,
            ))
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    got.sort_unstable_by_key(|(id, _)| *id);
    if got.len() != chunk.len() || got.iter().zip(chunk).any(|((_, w), e)| *w != e.webhook_id) {
        return Err(DbErr::Custom(
            "the ids returned by INSERT do not match the rows in order".into(),
        ));
    }
    Ok(got.into_iter().map(|(id, _)| id).collect())
}

async fn insert_payloads(
    db: &impl ConnectionTrait,
    chunk: &[NewEvent],
    ids: &[i64],
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "INSERT INTO webhooks_event_payloads (event_id, payload) VALUES {}",
        sql::values(backend, chunk.len(), 2, 1)
    );
    let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 2);
    for (e, id) in chunk.iter().zip(ids) {
        values.extend([(*id).into(), e.payload.as_str().into()]);
    }
    db.execute(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

async fn insert_queue(
    db: &impl ConnectionTrait,
    chunk: &[NewEvent],
    ids: &[i64],
    due_at: i64,
    lease: Option<Lease>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "INSERT INTO webhooks_queue (event_id, webhook_id, due_at, attempt, lease_token, \
         lease_until, leased_at) VALUES {}",
        sql::values(backend, chunk.len(), 7, 1)
    );
    let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 7);
    let (attempt, token, until, at) = lease_columns(lease);
    for (e, id) in chunk.iter().zip(ids) {
        values.extend([
            (*id).into(),
            e.webhook_id.as_str().into(),
            due_at.into(),
            attempt.into(),
            token.into(),
            until.into(),
            at.into(),
        ]);
    }
    db.execute(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// The queue row's lease columns as a claim would write them: leased rows start at attempt 1.
fn lease_columns(lease: Option<Lease>) -> (i32, Option<i64>, Option<i64>, Option<i64>) {
    match lease {
        Some(l) => (1, Some(l.token), Some(l.until), Some(l.leased_at)),
        None => (0, None, None, None),
    }
}

/// One chunk on PostgreSQL in one statement. Ids are drawn from the events' sequence first (one
/// `nextval` per input row, in input order, materialised once), so every table's rows are joined
/// to their payload by the input's position rather than by trusting RETURNING's order; foreign
/// keys are checked at the end of the statement, when the event rows exist.
async fn insert_postgres(
    db: &impl ConnectionTrait,
    chunk: &[NewEvent],
    now: DateTime<Utc>,
    lease: Option<Lease>,
    notify: bool,
) -> Result<Vec<i64>, DbErr> {
    let backend = DatabaseBackend::Postgres;
    let (attempt, token, until, at) = lease_columns(lease);
    let mut values: Vec<Value> = vec![
        now.into(),
        now.timestamp_millis().into(),
        attempt.into(),
        token.into(),
        until.into(),
        at.into(),
    ];
    let fixed = values.len();
    let rows = sql::values(backend, chunk.len(), 7, fixed + 1);
    values.reserve(chunk.len() * 7);
    for (i, e) in chunk.iter().enumerate() {
        values.extend([
            (i as i64).into(),
            e.webhook_id.as_str().into(),
            e.stream_id.as_str().into(),
            e.event_name.as_str().into(),
            e.status_info.as_str().into(),
            e.manual.into(),
            e.payload.as_str().into(),
        ]);
    }
    let notify = if notify {
        format!(
            ", (SELECT pg_notify('{}', '')) AS notified",
            crate::core::notifier::CHANNEL
        )
    } else {
        String::new()
    };
    let sql = format!(
        "WITH input (ord, webhook_id, stream_id, event_name, status_info, manual, payload) AS \
           (VALUES {rows}), \
         ids AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('webhooks_events', 'id')) \
           AS id, input.* FROM (SELECT * FROM input ORDER BY ord) input), \
         e AS (INSERT INTO webhooks_events (id, webhook_id, stream_id, event_name, status, \
           status_info, retry_count, last_update, created_at, manual) \
           SELECT id, webhook_id, stream_id, event_name, {STATUS_QUEUED}, status_info, 0, $1, $1, \
           manual FROM ids), \
         p AS (INSERT INTO webhooks_event_payloads (event_id, payload) SELECT id, payload FROM ids), \
         q AS (INSERT INTO webhooks_queue (event_id, webhook_id, due_at, attempt, lease_token, \
           lease_until, leased_at) SELECT id, webhook_id, $2, $3, $4, $5, $6 FROM ids), \
         c AS (INSERT INTO webhooks_event_counts (webhook_id, shard, events) \
           SELECT webhook_id, CAST(txid_current() % {SHARDS} AS SMALLINT), COUNT(*) FROM ids \
           GROUP BY webhook_id ORDER BY webhook_id \
           ON CONFLICT (webhook_id, shard) \
           DO UPDATE SET events = webhooks_event_counts.events + excluded.events) \
         SELECT id{notify} FROM ids ORDER BY ord"
    );
    let rows = db
        .query_all(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let ids = rows
        .iter()
        .map(|r| r.try_get::<i64>("", "id"))
        .collect::<Result<Vec<_>, DbErr>>()?;
    if ids.len() != chunk.len() {
        return Err(DbErr::Custom(
            "the queuing statement returned too few ids".into(),
        ));
    }
    Ok(ids)
}

/// Adds `delta` events to each webhook's count, in webhook id order so that two transactions
/// lock the rows they share in the same order. `shard: None` picks the transaction's own shard
/// (queuing); retention passes its reserved shard [`SHARDS`], which queuing never uses, so it
/// never waits for a queuing transaction nor they for it.
pub async fn add_counts(
    db: &impl ConnectionTrait,
    deltas: &[(&str, i64)],
    shard: Option<i16>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let shard_sql = match (shard, backend) {
        (Some(s), _) => s.to_string(),
        (None, DatabaseBackend::Postgres) => {
            format!("CAST(txid_current() % {SHARDS} AS SMALLINT)")
        }
        // One writer at a time: no transaction ever waits on another's row.
        (None, _) => "0".to_owned(),
    };
    for chunk in sql::pow2_chunks(deltas, MAX_ROWS) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let (w, n) = (sql::mark(backend, 2 * i + 1), sql::mark(backend, 2 * i + 2));
                format!("({w}, {shard_sql}, {n})")
            })
            .collect();
        let sql = format!(
            "INSERT INTO webhooks_event_counts (webhook_id, shard, events) VALUES {} \
             ON CONFLICT (webhook_id, shard) \
             DO UPDATE SET events = webhooks_event_counts.events + excluded.events",
            rows.join(", ")
        );
        let values: Vec<Value> = chunk
            .iter()
            .flat_map(|(w, n)| [Value::from(*w), Value::from(*n)])
            .collect();
        db.execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

#[derive(Debug, FromQueryResult)]
struct Depth {
    n: i64,
}

/// Events not finished yet: queued, waiting for a retry, or leased.
pub async fn queue_depth(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let stmt = Statement::from_string(
        db.get_database_backend(),
        "SELECT COUNT(*) AS n FROM webhooks_queue",
    );
    Ok(Depth::find_by_statement(stmt)
        .one(db)
        .await?
        .map_or(0, |d| d.n))
}
