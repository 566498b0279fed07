//! Claiming due events: lease the next rows of `webhooks_queue` to this worker and read what is
//! needed to send them (the event's name, retry count and payload).
//!
//! A queue row is claimable when its time has come (`due_at <= now`) and it is not leased, or its
//! lease ran out (`lease_until < now`: that worker crashed or stalled, so the event is delivered
//! again — at least once, with the event id as the receiver's idempotency key). A claim writes
//! only unindexed columns: a fresh random `lease_token` (results are recorded only while it still
//! matches, see `record`), `lease_until`, `leased_at`, and `attempt + 1`. So on PostgreSQL it is a
//! HOT update, and the event row and its payload are only read. The price: leased rows keep their
//! place in the `due_at` index, and a claim steps over them — at most what is in flight, never the
//! backlog. A claim that takes over an expired lease keeps that lease's start in
//! `prior_lease_at`, and the abandoned attempt is recorded as interrupted
//! ([`super::record::record_interrupted`]).
//!
//! Durability: a claim needs none. If it is lost in a crash (not yet flushed), the rows are simply
//! unleased again and will be claimed again (at least once already allows a second request); if
//! it survives the crash of its worker, the lease expires. So on PostgreSQL a claim commits with
//! `synchronous_commit = off` (`set_config(…, true)`, i.e. `SET LOCAL`, inside the statement's own
//! transaction): it returns without waiting for its WAL flush, and the requests start that much
//! sooner. What must be durable is written elsewhere with the default: the event itself (the 202
//! means committed) and every result (`record`). SQLite's `synchronous=NORMAL` in WAL mode already
//! does not sync a commit.
//!
//! Backends differ in one way. PostgreSQL takes `FOR UPDATE SKIP LOCKED` in the selecting CTE,
//! so concurrent workers get different rows without waiting. SQLite serialises writers, so its
//! `UPDATE … WHERE event_id IN (SELECT … LIMIT) RETURNING` is atomic by itself. Both read the
//! events and payloads in the same statement; PostgreSQL also reads each row's webhook there
//! ([`claim_with_webhooks`] says why), SQLite in a second statement.

use std::collections::HashMap;

use rand::Rng;
use sea_orm::sqlx::{self, postgres::PgRow, Row as _};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, FromQueryResult, Statement, Value,
};

use crate::core::handoff::Delivery;
use crate::rows::{Claimed, Endpoint};

#[derive(Debug, FromQueryResult)]
struct ClaimRow {
    event_id: i64,
    webhook_id: String,
    attempt: i32,
    due_at: i64,
    prior_lease_at: Option<i64>,
    event_name: Option<String>,
    retry_count: Option<i32>,
    manual: Option<bool>,
    payload: Option<String>,
}

/// Claims up to `limit` due rows for `lease_ms`, skipping the webhooks in `exclude` (those this
/// process cannot send to right now). Rows come back in due order.
pub async fn claim(
    db: &DatabaseConnection,
    now_ms: i64,
    lease_ms: i64,
    limit: u64,
    exclude: &[String],
) -> Result<Vec<Claimed>, DbErr> {
    Ok(
        claim_with_webhooks(db, now_ms, lease_ms, limit, exclude, i64::MIN)
            .await?
            .0,
    )
}

/// [`claim`], with the webhook of each claimed row (one deleted since its event was queued is
/// absent from the map), looking only at rows due at `from_due` or later (`i64::MIN` for all;
/// [`super::floor`] says when a claim may start later).
///
/// On PostgreSQL the webhooks come in the claim's own statement rather than in a lookup after
/// it, so a claim is one round trip to the database, not two. Claims run one at a time, and the
/// slots a claim will fill stay empty while it runs, so every round trip is throughput: with the
/// database one network hop away (`bench/delay_proxy.py` adding 0.5 ms each way, BENCHMARKS.md),
/// a drain of 5,000 events ran at 8,960 against 6,411/s over 10 webhooks and 8,957 against
/// 5,780/s over 10,000. SQLite, where the database is this process, keeps the lookup as a second
/// statement ([`webhooks_of`]).
pub async fn claim_with_webhooks(
    db: &DatabaseConnection,
    now_ms: i64,
    lease_ms: i64,
    limit: u64,
    exclude: &[String],
    from_due: i64,
) -> Result<Delivery, DbErr> {
    let backend = db.get_database_backend();
    let token: i64 = rand::thread_rng().gen();
    let lease_until = now_ms + lease_ms;
    let stmt = claim_statement(
        backend,
        now_ms,
        lease_until,
        token,
        limit,
        exclude,
        from_due,
    );
    if backend == DatabaseBackend::Postgres {
        let found = pg_query(&stmt)?
            .fetch_all(db.get_postgres_connection_pool())
            .await
            .map_err(crate::core::sql::db_err)?;
        let mut rows = Vec::with_capacity(found.len());
        let mut webhooks = HashMap::new();
        for r in found {
            let (event, webhook) = pg_claimed(&r, token, lease_until, now_ms, &webhooks)
                .map_err(crate::core::sql::db_err)?;
            if let Some(w) = webhook {
                webhooks.insert(w.id.clone(), w);
            }
            rows.push(event);
        }
        // In due order, as below.
        rows.sort_by_key(|r| (r.due_at, r.id));
        return Ok((rows, webhooks));
    }
    let lease = |id, webhook_id, attempt, due_at, prior_lease_at| Claimed {
        id,
        webhook_id,
        event_name: String::new(),
        payload: String::new(),
        retry_count: 0,
        manual: false,
        attempt,
        due_at,
        lease_token: token,
        lease_until,
        leased_at: now_ms,
        prior_lease_at,
    };
    // An event missing here (NULL columns on SQLite) was deleted with its webhook since the
    // claim; its queue row went with it, so there is nothing to release.
    let mut rows: Vec<Claimed> = ClaimRow::find_by_statement(stmt)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|r| {
            Some(Claimed {
                event_name: r.event_name?,
                payload: r.payload?,
                retry_count: r.retry_count?,
                manual: r.manual?,
                ..lease(
                    r.event_id,
                    r.webhook_id,
                    r.attempt,
                    r.due_at,
                    r.prior_lease_at,
                )
            })
        })
        .collect();
    // RETURNING follows no ORDER BY; restore due order so the oldest events go out first.
    rows.sort_by_key(|r| (r.due_at, r.id));
    let webhooks = webhooks_of(db, &rows).await?;
    Ok((rows, webhooks))
}

/// `stmt` as sqlx runs it on PostgreSQL, its values bound as sea-orm binds them (bigints, then a
/// text), so the statement prepared by the warm-up ([`super::hot_path::warm`]) is the one the
/// claims reuse.
pub(super) fn pg_query(
    stmt: &Statement,
) -> Result<sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>, DbErr> {
    let mut q = sqlx::query(&stmt.sql);
    for v in stmt.values.iter().flat_map(|v| v.0.iter()) {
        q = match v {
            Value::BigInt(n) => q.bind(*n),
            Value::String(t) => q.bind(t.as_deref().cloned()),
            other => {
                return Err(DbErr::Custom(format!(
                    "unexpected claim parameter {other:?}"
                )))
            }
        };
    }
    Ok(q)
}

/// A row of the PostgreSQL claim, its columns taken by position: the event as leased, and its
/// webhook where the row carries it (the first claimed event of each webhook does, unless the
/// webhook was deleted) and `seen` does not have it yet.
fn pg_claimed(
    r: &PgRow,
    lease_token: i64,
    lease_until: i64,
    leased_at: i64,
    seen: &HashMap<String, Endpoint>,
) -> Result<(Claimed, Option<Endpoint>), sqlx::Error> {
    let event = Claimed {
        id: r.try_get(0)?,
        webhook_id: r.try_get(1)?,
        attempt: r.try_get(2)?,
        due_at: r.try_get(3)?,
        prior_lease_at: r.try_get(4)?,
        event_name: r.try_get(5)?,
        retry_count: r.try_get(6)?,
        manual: r.try_get(7)?,
        payload: r.try_get(8)?,
        lease_token,
        lease_until,
        leased_at,
    };
    let webhook = match r.try_get::<Option<&str>, _>(WEBHOOK_COLUMN)? {
        Some(id) if !seen.contains_key(id) => Some(pg_webhook(r, WEBHOOK_COLUMN)?),
        _ => None,
    };
    Ok((event, webhook))
}

/// The claim statement; public so the bench can EXPLAIN exactly what runs (docs/query-plans.md).
pub fn claim_statement(
    backend: DatabaseBackend,
    now_ms: i64,
    lease_until: i64,
    token: i64,
    limit: u64,
    exclude: &[String],
    from_due: i64,
) -> Statement {
    let mut values: Vec<Value> = vec![
        lease_until.into(),
        token.into(),
        now_ms.into(),
        i64::try_from(limit).unwrap_or(i64::MAX).into(),
        from_due.into(),
    ];
    let mut not_in = String::new();
    if !exclude.is_empty() && backend == DatabaseBackend::Postgres {
        // One array, made once per claim (an InitPlan): a list of parameters, or a cast of one in
        // the hot path's generic plan, is made again for every row the scan looks at (walking
        // 200,000 rows of a left-out webhook in `psql`: 46 ms with the cast, 23 without).
        not_in = " AND webhook_id <> ALL(ARRAY(SELECT unnest(CAST($6 AS TEXT[]))))".to_owned();
        values.push(crate::core::sql::pg_array_literal(exclude.iter().map(Some)).into());
    } else if !exclude.is_empty() {
        let marks: Vec<String> = (0..exclude.len()).map(|i| format!("${}", i + 6)).collect();
        not_in = format!(" AND webhook_id NOT IN ({})", marks.join(", "));
        values.extend(exclude.iter().map(|w| Value::from(w.as_str())));
    }
    // One ordered, limited range scan of idx_webhooks_queue_due, from `from_due`: due rows in
    // order, stepping over the leased ones. (An `OR` over two indexes makes both databases
    // collect and sort every due row, O(backlog) per claim.)
    let pick = |col: &str| {
        format!(
            "SELECT {col} FROM webhooks_queue \
             WHERE due_at <= $3 AND due_at >= $5 \
             AND (lease_until IS NULL OR lease_until < $3){not_in} \
             ORDER BY due_at, event_id LIMIT $4"
        )
    };
    // `prior_lease_at = leased_at`: `leased_at` is cleared whenever a lease ends properly, so a
    // value still there means the previous lease expired with its attempt unrecorded.
    // On PostgreSQL the UPDATE finds each picked row by its `ctid`, the row version `picked`
    // has just locked (a TID scan: no second walk down an index, ~10% of the claim's time
    // measured against finding them by primary key). The ctids go in as an array: joined with
    // `picked`, the UPDATE runs as a hash join over a sequential scan of the queue (20 ms per
    // claim with 50,000 queued, i.e. O(backlog)). A row another transaction changed after this
    // statement's snapshot is locked in its newest version, which the UPDATE cannot see: it is
    // left out of this claim, unleased, and the next claim takes it. `OFFSET 0` keeps each
    // LATERAL subquery from being flattened into a join the planner may run over a sequential
    // scan of the events or payloads.
    let set = "lease_until = $1, lease_token = $2, leased_at = $3, \
               prior_lease_at = webhooks_queue.leased_at, attempt = webhooks_queue.attempt + 1";
    // Each webhook comes once, with the first of its claimed events (`firsts`, a hash table
    // built once per claim), by one primary-key probe; the other rows leave its columns NULL, as
    // does a webhook deleted since its event was queued. Probing for every row cost the server
    // ~3 ms more per 1,000 deliveries over 10 webhooks in one `streamhooks-bench --only side`
    // series. The hot path plans once per connection: a plan made while `webhooks_config` fits in
    // a few pages reads it whole per claimed webhook, and PostgreSQL plans again once the
    // table's statistics change (autovacuum's analyze after 50 rows and 10% more), so that read
    // stays a few pages.
    let columns = Endpoint::COLUMNS;
    let sql = match backend {
        DatabaseBackend::Postgres => format!(
            "WITH picked AS ({} FOR UPDATE SKIP LOCKED), \
             claimed AS (UPDATE webhooks_queue SET {set} \
               WHERE ctid = ANY(ARRAY(SELECT ctid FROM picked)) \
               RETURNING webhooks_queue.event_id, webhooks_queue.webhook_id, \
                 webhooks_queue.attempt, webhooks_queue.due_at, webhooks_queue.prior_lease_at), \
             firsts AS (SELECT min(event_id) AS event_id FROM claimed GROUP BY webhook_id) \
             SELECT c.event_id, c.webhook_id, c.attempt, c.due_at, c.prior_lease_at, \
               e.event_name, e.retry_count, e.manual, p.payload, w.* \
             FROM claimed c \
             CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS durability \
             CROSS JOIN LATERAL (SELECT event_name, retry_count, manual FROM webhooks_events \
               WHERE id = c.event_id OFFSET 0) e \
             CROSS JOIN LATERAL (SELECT payload FROM webhooks_event_payloads \
               WHERE event_id = c.event_id OFFSET 0) p \
             LEFT JOIN LATERAL (SELECT {columns} FROM webhooks_config \
               WHERE id = c.webhook_id AND c.event_id IN (SELECT event_id FROM firsts) \
               OFFSET 0) w ON true",
            pick("ctid")
        ),
        // SQLite cannot put an UPDATE in a CTE, but its RETURNING takes subqueries: one
        // statement, one trip to the database thread, and each row's event and payload found by
        // primary key.
        _ => format!(
            "UPDATE webhooks_queue SET {set} WHERE event_id IN ({}) \
             RETURNING event_id, webhook_id, attempt, due_at, prior_lease_at, \
             (SELECT event_name FROM webhooks_events e WHERE e.id = webhooks_queue.event_id) \
               AS event_name, \
             (SELECT retry_count FROM webhooks_events e WHERE e.id = webhooks_queue.event_id) \
               AS retry_count, \
             (SELECT manual FROM webhooks_events e WHERE e.id = webhooks_queue.event_id) \
               AS manual, \
             (SELECT payload FROM webhooks_event_payloads p \
               WHERE p.event_id = webhooks_queue.event_id) AS payload",
            pick("event_id")
        ),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// The webhook of each claimed row on SQLite, in one statement per claim. A webhook deleted
/// since the row was queued is simply absent from the map.
async fn webhooks_of(
    db: &DatabaseConnection,
    rows: &[Claimed],
) -> Result<HashMap<String, Endpoint>, DbErr> {
    let mut ids: Vec<&str> = rows.iter().map(|r| r.webhook_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found = Endpoint::find_by_statement(sqlite_webhooks_statement(&ids))
        .all(db)
        .await?;
    Ok(found.into_iter().map(|w| (w.id.clone(), w)).collect())
}

/// Where [`Endpoint::COLUMNS`] start in a row of the PostgreSQL claim.
const WEBHOOK_COLUMN: usize = 9;

/// The webhook in a row, its columns taken by position from `at` on. Decoded by sqlx directly:
/// with a backlog spread over thousands of webhooks nearly every claimed event brings a webhook
/// of its own, and sea-orm's decoding (each column looked up by a name it formats first, each
/// NULL an error value made and dropped) was ~20% of the lookup's time in the dispatcher (`perf
/// record --call-graph dwarf` on the worker under `streamhooks-bench --only spread` at 10,000
/// webhooks).
fn pg_webhook(r: &PgRow, at: usize) -> Result<Endpoint, sqlx::Error> {
    Ok(Endpoint {
        id: r.try_get(at)?,
        url: r.try_get(at + 1)?,
        secret: r.try_get(at + 2)?,
        enabled: r.try_get(at + 3)?,
        disabled_reason: r.try_get(at + 4)?,
        format: r.try_get(at + 5)?,
        previous_secret: r.try_get(at + 6)?,
        previous_secret_expires_at: r.try_get(at + 7)?,
    })
}

/// SQLite's webhook lookup: the webhooks `ids`, with the ids as one parameter
/// ([`crate::core::sql::text_in`]), so the statement's text is the same for every claim.
fn sqlite_webhooks_statement(ids: &[&str]) -> Statement {
    let backend = DatabaseBackend::Sqlite;
    let (cond, ids) = crate::core::sql::text_in(backend, "id", 1, ids);
    Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT {} FROM webhooks_config WHERE {cond}",
            Endpoint::COLUMNS
        ),
        [ids],
    )
}

#[derive(Debug, FromQueryResult)]
struct NextDue {
    due_at: i64,
}

/// The next statement's text for the query-plan doc.
pub const NEXT_DUE_SQL: &str = "SELECT due_at FROM webhooks_queue WHERE lease_until IS NULL \
     ORDER BY due_at LIMIT 1";

/// The earliest `due_at` of a row nobody holds (epoch ms): one walk of idx_webhooks_queue_due
/// from its start, stepping over leased rows. Leases that run out are not waited for here: a dead
/// worker's events are found by the next claim or poll, which is soon enough for a crash.
pub async fn next_due(db: &impl ConnectionTrait) -> Result<Option<i64>, DbErr> {
    let stmt = Statement::from_string(db.get_database_backend(), NEXT_DUE_SQL);
    Ok(NextDue::find_by_statement(stmt)
        .one(db)
        .await?
        .map(|r| r.due_at))
}

#[cfg(test)]
mod tests {
    #[test]
    fn exclusions_are_a_quoted_text_array() {
        assert_eq!(
            crate::core::sql::pg_array_literal(["ab", "a\"b\\c"].map(Some)),
            r#"{"ab","a\"b\\c"}"#
        );
    }
}
