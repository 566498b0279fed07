//! Reading the delivery history in batches: `webhooks { items { history { items { attempts } } } }`
//! costs the same one query for one webhook or a hundred: the pages of events for every (webhook,
//! limit) asked, each row with its webhook's total from `webhooks_event_counts` and its attempts.
//! The `webhooks` resolver looks ahead at what the query selects and loads it all before its items
//! resolve (see `graphql::webhook`).
//!
//! Why look-ahead and not async-graphql's DataLoader: a DataLoader batches what arrives within a
//! timer (1 ms by default), so how many queries a request costs depends on how fast the resolvers
//! run, and a slow moment splits the batch. Looking ahead costs the same every time.
//!
//! Each page is its own `ORDER BY … id DESC LIMIT n` subquery (a backward walk of
//! idx_webhooks_events_webhook that stops after n rows), joined by `UNION ALL`: a window function
//! over all of the webhooks' events would read every one of them to number them. `totalCount` is a
//! sum over at most 17 counter rows, not a count over a million events.
//!
//! A page starts after the `offset` newest events, or below a cursor ([`Start`]): the id of the
//! last event of the page before. Pages walk by event id, the order history is shown in
//! (insertion order, newest first), not by `lastUpdate`: an id never changes, while `lastUpdate`
//! moves with every attempt, so a walk by it would skip an event retried between two page loads
//! (it jumps above the cursor), which is what an outage does to a history, and would need an
//! index on a column every result rewrites (results are HOT updates on PostgreSQL because none
//! of their columns is indexed). Events that arrive meanwhile get higher ids, above every cursor,
//! so a walk never repeats or skips one; the cursor's page is the same index range walk, started
//! at the cursor instead of counted off from the top.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::webhook_event::{STATUS_PROCESSING, STATUS_QUEUED};
use entity::webhook_event_attempt;
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, FromQueryResult, Statement, Value};

/// Where a page of history starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Start {
    /// After this many of the newest events.
    Offset(u64),
    /// Below this event id (a cursor: the last event of the page before).
    Before(i64),
}

impl Start {
    /// The first page.
    pub const NEWEST: Start = Start::Offset(0);
}

/// A page of history: at most `limit` events, newest first, and how many the webhook has.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub total: i64,
    pub items: Vec<EventRow>,
    /// The attempts of each event on the page, when they were asked for.
    pub attempts: Option<HashMap<i64, Vec<webhook_event_attempt::Model>>>,
}

/// One event as the history shows it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct EventRow {
    pub id: i64,
    pub webhook_id: String,
    pub status: i16,
    pub status_info: String,
    pub retry_count: i32,
    pub last_update: DateTime<Utc>,
    pub payload: Option<String>,
    /// The queue row's lease end, if the event is leased.
    pub lease_until: Option<i64>,
}

impl EventRow {
    /// Speckle's status: 1 while a worker holds a live lease (the row itself says 0 until the
    /// result is in; see `entity::webhook_event`).
    pub fn status(&self, now_ms: i64) -> i16 {
        match self.lease_until {
            Some(until) if self.status == STATUS_QUEUED && until >= now_ms => STATUS_PROCESSING,
            _ => self.status,
        }
    }
}

#[derive(FromQueryResult)]
struct Total {
    webhook_id: String,
    total: i64,
}

/// Pages for every `(webhook id, limit)` in `keys`, each starting at `start`, with the attempts
/// of their events if `with_attempts`: one statement per distinct limit (in practice one), which
/// brings each page's events, its total and the attempts; or, for `limit: 0`, only the totals.
pub async fn pages(
    db: &impl ConnectionTrait,
    keys: &[(String, u64)],
    start: Start,
    with_attempts: bool,
) -> Result<HashMap<(String, u64), Page>, DbErr> {
    let backend = db.get_database_backend();
    let mut by_limit: HashMap<u64, Vec<&str>> = HashMap::new();
    for (w, limit) in keys {
        by_limit.entry(*limit).or_default().push(w);
    }
    let mut out = HashMap::with_capacity(keys.len());
    for (limit, mut webhooks) in by_limit {
        webhooks.sort_unstable();
        webhooks.dedup();
        let mut pages: HashMap<&str, Page> =
            webhooks.iter().map(|w| (*w, Page::default())).collect();
        if limit == 0 {
            for t in Total::find_by_statement(totals_statement(backend, &webhooks))
                .all(db)
                .await?
            {
                if let Some(p) = pages.get_mut(t.webhook_id.as_str()) {
                    p.total = t.total;
                }
            }
        } else {
            let stmt = page_statement(backend, &webhooks, limit, start, with_attempts);
            for row in PageRow::find_by_statement(stmt).all(db).await? {
                let Some(page) = pages.get_mut(row.event.webhook_id.as_str()) else {
                    continue;
                };
                // A webhook with events always has a row here, so one without rows has none.
                page.total = row.total.unwrap_or(0);
                if with_attempts {
                    let attempts = parse_attempts(row.event.id, row.attempts.as_deref());
                    page.attempts
                        .get_or_insert_with(HashMap::new)
                        .insert(row.event.id, attempts);
                }
                page.items.push(row.event);
            }
        }
        for (w, mut page) in pages {
            page.items.sort_unstable_by_key(|r| std::cmp::Reverse(r.id));
            if with_attempts {
                page.attempts.get_or_insert_with(HashMap::new);
            }
            out.insert((w.to_owned(), limit), page);
        }
    }
    Ok(out)
}

#[derive(FromQueryResult)]
struct PageRow {
    #[sea_orm(nested)]
    event: EventRow,
    total: Option<i64>,
    /// The event's attempts as a JSON array of arrays, when asked for.
    attempts: Option<String>,
}

/// One attempt as the page statement aggregates it: `[number, started_at, duration_ms, outcome,
/// status_code, error, response_headers, response_body, worker]`.
type AttemptTuple = (
    i32,
    DateTime<Utc>,
    Option<i32>,
    String,
    Option<i32>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

/// The attempts of `event_id` from the page statement's JSON, first first. Text the database
/// itself wrote; anything unreadable is skipped rather than failing the history.
fn parse_attempts(event_id: i64, json: Option<&str>) -> Vec<webhook_event_attempt::Model> {
    let tuples: Vec<AttemptTuple> = json
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    let mut out: Vec<webhook_event_attempt::Model> = tuples
        .into_iter()
        .map(|t| webhook_event_attempt::Model {
            event_id,
            number: t.0,
            started_at: t.1,
            duration_ms: t.2,
            outcome: t.3,
            status_code: t.4,
            error: t.5,
            response_headers: t.6,
            response_body: t.7,
            worker: t.8,
        })
        .collect();
    out.sort_unstable_by_key(|a| a.number);
    out
}

/// The event counts of `webhooks`: at most 17 rows each, by primary key.
pub fn totals_statement(backend: DatabaseBackend, webhooks: &[&str]) -> Statement {
    let marks: Vec<String> = (1..=webhooks.len()).map(|i| format!("${i}")).collect();
    Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT webhook_id, CAST(SUM(events) AS BIGINT) AS total FROM webhooks_event_counts \
             WHERE webhook_id IN ({}) GROUP BY webhook_id",
            marks.join(", ")
        ),
        webhooks.iter().map(|w| Value::from(*w)),
    )
}

/// The ids of one page of a webhook's events (the webhook's id bound at `webhook_mark`; with
/// [`Start::Before`], the cursor's id at `cursor_mark`), newest first, from
/// `idx_webhooks_events_webhook` alone: what both the page ([`page_statement`]) and its size for
/// the answer budget ([`super::history_size::page_bytes_statement`]) start from. A cursor's id is
/// bound, not written in: one statement text serves every cursor, so a client walking pages does
/// not churn the statement cache.
///
/// LIMIT and OFFSET are written into the text, not bound. Bound, they keep PostgreSQL from ever
/// choosing a generic plan for either statement: both are then planned on every call, 0.47 + 0.31
/// ms of a history request's ~2 ms in the database (`pg_stat_statements` over `streamhooks-bench
/// --only history --runs 1 --history-requests 1000`). With the webhook's id as the only parameter,
/// a connection plans them 5 times and then keeps the generic plan, the same as the custom one for
/// a webhook of a million events or of five thousand (docs/query-plans.md). They are integers, so
/// nothing to escape; each (limit, offset) is a statement of its own in sqlx's per-connection
/// cache, which is bounded (least recently used goes first), so a client walking offsets only
/// churns it.
pub(crate) fn page_ids_sql(
    webhook_mark: &str,
    limit: u64,
    start: Start,
    cursor_mark: &str,
) -> String {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    match start {
        Start::Offset(offset) => {
            let offset = i64::try_from(offset).unwrap_or(i64::MAX);
            format!(
                "SELECT id FROM webhooks_events WHERE webhook_id = {webhook_mark} \
                 ORDER BY id DESC LIMIT {limit} OFFSET {offset}"
            )
        }
        Start::Before(_) => format!(
            "SELECT id FROM webhooks_events WHERE webhook_id = {webhook_mark} \
             AND id < {cursor_mark} ORDER BY id DESC LIMIT {limit}"
        ),
    }
}

/// The values [`page_ids_sql`] binds for `webhook` at `start`, in the order its marks appear.
pub(crate) fn page_ids_values(webhook: &str, start: Start) -> Vec<Value> {
    match start {
        Start::Offset(_) => vec![webhook.into()],
        Start::Before(id) => vec![webhook.into(), id.into()],
    }
}

/// A page of `limit` events from `start` of each webhook in `webhooks`, with payload, lease, the
/// webhook's total and (with `with_attempts`) the event's attempts as JSON; public so the bench
/// can EXPLAIN exactly what runs. One statement instead of three saves two round trips per
/// request, a third of a history request's time on PostgreSQL.
pub fn page_statement(
    backend: DatabaseBackend,
    webhooks: &[&str],
    limit: u64,
    start: Start,
    with_attempts: bool,
) -> Statement {
    let attempts = match (with_attempts, backend) {
        (false, _) => "NULL".to_owned(),
        (true, DatabaseBackend::Postgres) => "(SELECT CAST(json_agg(json_build_array(a.number, \
             a.started_at, a.duration_ms, a.outcome, a.status_code, a.error, a.response_headers, \
             a.response_body, a.worker)) AS TEXT) FROM webhooks_event_attempts a \
             WHERE a.event_id = e.id)"
            .to_owned(),
        (true, _) => "(SELECT json_group_array(json_array(a.number, a.started_at, \
             a.duration_ms, a.outcome, a.status_code, a.error, a.response_headers, \
             a.response_body, a.worker)) FROM webhooks_event_attempts a WHERE a.event_id = e.id)"
            .to_owned(),
    };
    // The page's ids are chosen alone, from idx_webhooks_events_webhook only, then joined by
    // primary key. Asked for with the other columns, PostgreSQL preferred walking the primary key
    // backwards and filtering on the webhook (its estimate: matches are common and that index
    // follows the heap's order), which reads every newer event of every other webhook first; an
    // index-only walk of the webhook's own entries is cheaper by any estimate.
    // Marks are numbered in the order they appear (SQLite numbers `$n` marks that way).
    let mut values: Vec<Value> = Vec::with_capacity(webhooks.len() * 2);
    let parts: Vec<String> = webhooks
        .iter()
        .map(|w| {
            let ids = page_ids_values(w, start);
            let (webhook_mark, cursor_mark) = (
                format!("${}", values.len() + 1),
                format!("${}", values.len() + 2),
            );
            values.extend(ids);
            format!(
                "SELECT * FROM (SELECT e.id, e.webhook_id, e.status, e.status_info, \
                 e.retry_count, e.last_update, p.payload, q.lease_until, \
                 (SELECT CAST(SUM(c.events) AS BIGINT) FROM webhooks_event_counts c \
                   WHERE c.webhook_id = e.webhook_id) AS total, \
                 {attempts} AS attempts \
                 FROM ({}) AS k \
                 JOIN webhooks_events e ON e.id = k.id \
                 LEFT JOIN webhooks_event_payloads p ON p.event_id = e.id \
                 LEFT JOIN webhooks_queue q ON q.event_id = e.id) AS h{}",
                page_ids_sql(&webhook_mark, limit, start, &cursor_mark),
                values.len()
            )
        })
        .collect();
    Statement::from_sql_and_values(backend, parts.join(" UNION ALL "), values)
}

/// The attempts of each event in `ids`, first attempt first: one primary-key range per event.
/// The ids travel as one JSON array, so the statement text (and its plan) is the same for any
/// number of events.
pub async fn attempts(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<webhook_event_attempt::Model>>, DbErr> {
    let mut out: HashMap<i64, Vec<webhook_event_attempt::Model>> =
        ids.iter().map(|id| (*id, Vec::new())).collect();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = webhook_event_attempt::Model::find_by_statement(attempts_statement(
        db.get_database_backend(),
        ids,
    ))
    .all(db)
    .await?;
    for a in rows {
        out.entry(a.event_id).or_default().push(a);
    }
    Ok(out)
}

/// The attempts query; public so the bench can EXPLAIN exactly what runs.
pub fn attempts_statement(backend: DatabaseBackend, ids: &[i64]) -> Statement {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let ids_sql = match backend {
        DatabaseBackend::Postgres => {
            "SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text(CAST($1 AS JSONB))"
        }
        _ => "SELECT value FROM json_each($1)",
    };
    Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT event_id, number, started_at, duration_ms, outcome, status_code, error, \
             response_headers, response_body, worker FROM webhooks_event_attempts \
             WHERE event_id IN ({ids_sql}) ORDER BY event_id, number"
        ),
        [format!("[{}]", list.join(",")).into()],
    )
}
