//! The statements of a result batch (see [`super`]), built here so the bench can EXPLAIN exactly
//! what runs (docs/query-plans.md); the end of a lease is [`crate::core::lease::requeue`], and
//! PostgreSQL's one-statement batch is [`super::finish_all`]. Each finds its rows through the
//! primary key of the table it changes. The two backends get the rows in different shapes, and
//! that is the decision a reader will question:
//!
//! - SQLite: `WITH v(…) AS (VALUES (?, …), …)` with anonymous parameters, at most 256 rows per
//!   statement, padded to a power of two with rows that match nothing. Statements are planned in
//!   process and cost little to prepare; sqlx caches one per text, hence the few sizes.
//! - PostgreSQL: the whole batch as one JSON parameter, unpacked by `jsonb_to_recordset` (the
//!   common batch of plain finishes, `FinishAll`, binds one binary array per column instead). With
//!   VALUES every statement would carry up to 2,560 parameters, which the server parses and plans
//!   anew each time (measured: a quarter of its time on the recorder's statements) and the
//!   dispatcher encodes one by one; one text parameter costs neither. The ids also go in as an
//!   array (`= ANY`), so the rows are found by primary key whatever the planner's statistics say:
//!   joined with `v` alone, it prefers hashing `v` against a sequential scan of the table when the
//!   table is small (a backlog of a few thousand), which costs O(table) per batch.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseBackend, Statement};
use serde::Serialize;

use crate::core::sql::{json_text, pg, values_cte};
use crate::rows::{AttemptRow, Update};

/// Deletes the queue rows of finished events still leased with the given tokens; returns
/// `event_id`s.
pub fn finish(backend: DatabaseBackend, chunk: &[&Update]) -> Statement {
    if backend == DatabaseBackend::Postgres {
        #[derive(Serialize)]
        struct Row {
            id: i64,
            token: i64,
        }
        let rows: Vec<Row> = chunk
            .iter()
            .map(|u| Row {
                id: u.id,
                token: u.lease_token,
            })
            .collect();
        return pg(
            &finish_using(
                "jsonb_to_recordset(CAST($1 AS JSONB)) AS v(id BIGINT, token BIGINT)",
                "CAST($2 AS BIGINT[])",
            ),
            &rows,
            chunk.iter().map(|u| u.id),
        );
    }
    let rows = chunk
        .iter()
        .map(|u| vec![u.id.into(), u.lease_token.into()])
        .collect();
    let (cte, values) = values_cte(backend, "id, token", rows, &[(-1i64).into(), 0i64.into()]);
    let sql = format!(
        "{cte}DELETE FROM webhooks_queue WHERE (event_id, lease_token) IN (SELECT id, token FROM v) \
         RETURNING event_id"
    );
    Statement::from_sql_and_values(backend, sql, values)
}

/// Speckle's columns of the event rows ([`EVENT_SET`]).
pub fn events(backend: DatabaseBackend, chunk: &[&Update]) -> Statement {
    if backend == DatabaseBackend::Postgres {
        let rows: Vec<EventRow<'_>> = chunk.iter().map(|u| EventRow::of(u)).collect();
        return pg(
            &events_using(
                &format!("jsonb_to_recordset(CAST($1 AS JSONB)) AS v(id BIGINT, {EVENT_JSON})"),
                "CAST($2 AS BIGINT[])",
            ),
            &rows,
            chunk.iter().map(|u| u.id),
        );
    }
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
    let (cte, values) = values_cte(backend, "id, status, info, retries, updated", rows, &pad);
    let sql = format!(
        "{cte}UPDATE webhooks_events SET {EVENT_SET} FROM v WHERE webhooks_events.id = v.id"
    );
    Statement::from_sql_and_values(backend, sql, values)
}

/// Inserts attempt rows; `if_new` skips those whose (event, number) exists already.
///
/// `if_new` is the insert of attempts an expired lease interrupted, made outside the transaction
/// that holds their queue rows, so their event may have been deleted since the claim: such
/// attempts are skipped, not an error. On PostgreSQL, where attempts have no foreign key
/// (migration `m20261124_000008`), it also locks each event as the key's check did, so a delete
/// running meanwhile waits for this insert and its trigger then removes the rows. Every other
/// insert is ordered against deletes by the queue row it changes in the same transaction.
pub fn attempts(backend: DatabaseBackend, chunk: &[AttemptRow], if_new: bool) -> Statement {
    let cols = ATTEMPT_COLUMNS;
    let conflict = if if_new {
        " ON CONFLICT (event_id, number) DO NOTHING"
    } else {
        ""
    };
    if backend == DatabaseBackend::Postgres {
        let filter = if if_new {
            " WHERE EXISTS (SELECT 1 FROM webhooks_events e WHERE e.id = v.event_id \
             FOR KEY SHARE)"
        } else {
            ""
        };
        return Statement::from_sql_and_values(
            backend,
            attempts_from_json("$1", filter, conflict),
            [attempts_json(chunk).into()],
        );
    }
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
    let (cte, values) = values_cte(backend, cols, rows, &pad);
    let exists = if if_new {
        " AND EXISTS (SELECT 1 FROM webhooks_events e WHERE e.id = v.event_id)"
    } else {
        ""
    };
    // The WHERE drops the padding rows; SQLite also needs one before ON CONFLICT after a SELECT.
    let sql = format!(
        "{cte}INSERT INTO webhooks_event_attempts ({cols}) SELECT {cols} FROM v \
         WHERE event_id <> -1{exists}{conflict}"
    );
    Statement::from_sql_and_values(backend, sql, values)
}

/// `DELETE` of the queue rows in `src` (a table `v` of `id` and `token`) whose ids are in the
/// array `ids` and still leased with their token, `RETURNING` their `event_id`s.
pub(super) fn finish_using(src: &str, ids: &str) -> String {
    format!(
        "DELETE FROM webhooks_queue q USING {src} WHERE q.event_id = ANY({ids}) \
         AND q.event_id = v.id AND q.lease_token = v.token RETURNING q.event_id"
    )
}

/// What a result writes to its event row, from `v`'s columns ([`EVENT_JSON`] on PostgreSQL).
/// None of these columns is indexed, so on PostgreSQL the update is HOT.
const EVENT_SET: &str = "status = v.status, status_info = v.info, retry_count = v.retries, \
                         last_update = v.updated";
/// The columns beside `id` of the JSON rows [`EventRow`] makes, as `jsonb_to_recordset` reads them.
const EVENT_JSON: &str = "status SMALLINT, info TEXT, retries INT, updated TIMESTAMPTZ";

/// An event row's new values as JSON (PostgreSQL).
#[derive(Serialize)]
struct EventRow<'a> {
    id: i64,
    status: i16,
    info: &'a str,
    retries: i32,
    updated: DateTime<Utc>,
}

impl<'a> EventRow<'a> {
    fn of(u: &'a Update) -> Self {
        Self {
            id: u.id,
            status: u.status,
            info: &u.status_info,
            retries: u.retry_count,
            updated: u.last_update,
        }
    }
}

/// `UPDATE` of the event rows in `src` (a table `v` with `id` and [`EVENT_JSON`]'s columns) whose
/// ids are in the array `ids`.
pub(super) fn events_using(src: &str, ids: &str) -> String {
    format!(
        "UPDATE webhooks_events SET {EVENT_SET} FROM {src} \
         WHERE webhooks_events.id = ANY({ids}) AND webhooks_events.id = v.id"
    )
}

/// The columns of an attempt row.
pub(super) const ATTEMPT_COLUMNS: &str =
    "event_id, number, started_at, duration_ms, outcome, status_code, \
                               error, response_headers, response_body, worker";

/// `INSERT INTO webhooks_event_attempts … SELECT … FROM` the JSON array `param` (made by
/// [`attempts_json`]), with `filter` (a `WHERE` on `v`) and `conflict` appended.
fn attempts_from_json(param: &str, filter: &str, conflict: &str) -> String {
    format!(
        "INSERT INTO webhooks_event_attempts ({ATTEMPT_COLUMNS}) SELECT {ATTEMPT_COLUMNS} \
         FROM jsonb_to_recordset(CAST({param} AS JSONB)) AS v(event_id BIGINT, number INT, \
           started_at TIMESTAMPTZ, duration_ms INT, outcome TEXT, status_code INT, \
           error TEXT, response_headers TEXT, response_body TEXT, worker TEXT){filter}{conflict}"
    )
}

/// Attempt rows as the JSON array [`attempts_from_json`] reads.
fn attempts_json<'a>(chunk: impl IntoIterator<Item = &'a AttemptRow>) -> String {
    #[derive(Serialize)]
    struct Row<'a> {
        event_id: i64,
        number: i32,
        started_at: DateTime<Utc>,
        duration_ms: Option<i32>,
        outcome: &'a str,
        status_code: Option<i32>,
        error: Option<&'a str>,
        response_headers: &'a str,
        response_body: Option<&'a str>,
        worker: Option<&'a str>,
    }
    let rows: Vec<Row<'_>> = chunk
        .into_iter()
        .map(|a| Row {
            event_id: a.event_id,
            number: a.number,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            outcome: a.outcome,
            status_code: a.status_code,
            error: a.error.as_deref(),
            response_headers: &a.response_headers,
            response_body: a.response_body.as_deref(),
            worker: a.worker.as_deref(),
        })
        .collect();
    json_text(&rows)
}
