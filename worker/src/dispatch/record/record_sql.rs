//! The statements of a result batch (see [`crate::dispatch::record`]), public so the bench can EXPLAIN
//! exactly what runs (docs/query-plans.md). Each finds its rows through the primary key of the
//! table it changes. The two backends get the rows in different shapes, and that is the decision
//! a reader will question:
//!
//! - SQLite: `WITH v(…) AS (VALUES (?, …), …)` with anonymous parameters, at most 256 rows per
//!   statement, padded to a power of two with rows that match nothing. Statements are planned in
//!   process and cost little to prepare; sqlx caches one per text, hence the few sizes.
//! - PostgreSQL: the whole batch as one JSON parameter, unpacked by `jsonb_to_recordset` (the
//!   common batch of plain finishes, [`FinishAll`], binds one binary array per column instead). With
//!   VALUES, every statement carried up to 2,560 parameters, which the server parsed and planned
//!   anew each time (a quarter of its time on the recorder's statements) and the dispatcher
//!   encoded one by one; one text parameter costs neither. The ids also go in as an array
//!   (`= ANY`), so the rows are found by primary key whatever the planner's statistics say: joined
//!   with `v` alone, it preferred hashing `v` against a sequential scan of the table when the table
//!   was small (a backlog of a few thousand), which costs O(table) per batch.

use chrono::{DateTime, Utc};
use sea_orm::sqlx::{self, Row as _};
use sea_orm::{DatabaseBackend, DbErr, RuntimeErr, Statement, Value};
use serde::Serialize;

use crate::core::sql::{self, json_text, pg, values_cte};
use crate::rows::{AttemptRow, Effect, Update};

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

/// PostgreSQL only: a whole batch of finished events in one statement, for the common batch in
/// which every result finishes its event and none is a final failure (nothing to count towards
/// disabling a webhook). The statement deletes the queue rows still leased with the batch's
/// tokens and, for exactly those rows (data-modifying CTEs see each other's `RETURNING`, not each
/// other's changes), updates the events, inserts the attempts and ends the failure streak of the
/// webhooks that succeeded; returns the `event_id`s it applied. One statement is atomic without
/// BEGIN and COMMIT, so a batch costs one round trip instead of six. `succeeded` must be sorted:
/// the streak rows are then taken in id order, as [`crate::dispatch::record::streak`] takes them.
///
/// The rows go in as one array per column, unpacked by `unnest`, and [`FinishAll::fetch`] binds
/// them in PostgreSQL's binary format. As one JSON parameter (`jsonb_to_recordset`, as the other
/// statements here) the server parsed every value out of text after building a binary JSON
/// document of the batch: ~6 µs per result (measured: 200 batches of 128 rows in `psql`), of the
/// ~40 µs of server time a delivery took in issue 11's side-by-side.
///
/// The events are found by `id = ANY(ARRAY(SELECT … FROM fin))`, an array built once: with
/// `= ANY($1)` beside the join on `fin`, PostgreSQL put the array into the inner index scan of a
/// nested loop and prepared the whole array again for every row, which made a batch of 1,024
/// cost four times what the separate statements cost (measured: a drain at half the rate).
#[derive(Debug, Default)]
pub struct FinishAll<'a> {
    ids: Vec<i64>,
    tokens: Vec<i64>,
    status: Vec<i16>,
    info: Vec<&'a str>,
    retries: Vec<i32>,
    updated: Vec<DateTime<Utc>>,
    webhooks: Vec<&'a str>,
    success: Vec<bool>,
    att_event: Vec<i64>,
    att_number: Vec<i32>,
    att_started: Vec<DateTime<Utc>>,
    att_duration: Vec<Option<i32>>,
    att_outcome: Vec<&'static str>,
    att_status: Vec<Option<i32>>,
    att_error: Vec<Option<&'a str>>,
    att_headers: Vec<&'a str>,
    att_body: Vec<Option<&'a str>>,
    att_worker: Vec<Option<&'a str>>,
    succeeded: Vec<&'a str>,
}

/// [`FinishAll`]'s statement; `$1`..`$8` are the results' columns, `$9`..`$18` the attempts',
/// `$19` the webhooks that succeeded.
pub static FINISH_ALL_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH v AS MATERIALIZED (SELECT * FROM unnest(CAST($1 AS BIGINT[]), \
           CAST($2 AS BIGINT[]), CAST($3 AS SMALLINT[]), CAST($4 AS TEXT[]), CAST($5 AS INT[]), \
           CAST($6 AS TIMESTAMPTZ[]), CAST($7 AS TEXT[]), CAST($8 AS BOOLEAN[])) \
           AS v(id, token, status, info, retries, updated, webhook, success)), \
         fin AS ({}), \
         ev AS ({}), \
         att AS (INSERT INTO webhooks_event_attempts ({ATTEMPT_COLUMNS}) \
           SELECT {ATTEMPT_COLUMNS} FROM unnest(CAST($9 AS BIGINT[]), CAST($10 AS INT[]), \
             CAST($11 AS TIMESTAMPTZ[]), CAST($12 AS INT[]), CAST($13 AS TEXT[]), \
             CAST($14 AS INT[]), CAST($15 AS TEXT[]), CAST($16 AS TEXT[]), CAST($17 AS TEXT[]), \
             CAST($18 AS TEXT[])) AS a({ATTEMPT_COLUMNS}) \
           WHERE a.event_id IN (SELECT event_id FROM fin)), \
         streak AS (UPDATE webhooks_config SET consecutive_failures = 0 \
           WHERE id = ANY(CAST($19 AS TEXT[])) AND consecutive_failures <> 0 \
           AND EXISTS (SELECT 1 FROM v JOIN fin ON fin.event_id = v.id \
             WHERE v.webhook = webhooks_config.id AND v.success)) \
         SELECT event_id FROM fin",
        finish_using("v", "CAST($1 AS BIGINT[])"),
        events_using("v", "ARRAY(SELECT event_id FROM fin)"),
    )
});

impl<'a> FinishAll<'a> {
    /// The batch's columns, borrowed from `chunk`: nothing is copied per result.
    pub fn new(chunk: &[&'a Update], succeeded: &[&'a str]) -> Self {
        let mut f = FinishAll {
            succeeded: succeeded.to_vec(),
            ..FinishAll::default()
        };
        for u in chunk {
            f.ids.push(u.id);
            f.tokens.push(u.lease_token);
            f.status.push(u.status);
            f.info.push(&u.status_info);
            f.retries.push(u.retry_count);
            f.updated.push(u.last_update);
            f.webhooks.push(&u.webhook_id);
            f.success.push(u.effect == Effect::Success);
            if let Some(a) = &u.attempt {
                f.att_event.push(a.event_id);
                f.att_number.push(a.number);
                f.att_started.push(a.started_at);
                f.att_duration.push(a.duration_ms);
                f.att_outcome.push(a.outcome);
                f.att_status.push(a.status_code);
                f.att_error.push(a.error.as_deref());
                f.att_headers.push(&a.response_headers);
                f.att_body.push(a.response_body.as_deref());
                f.att_worker.push(a.worker.as_deref());
            }
        }
        f
    }

    /// Runs the statement on `on` (a pool or one connection) with every array bound in binary;
    /// returns the applied ids.
    pub async fn fetch<'c>(self, on: impl sqlx::PgExecutor<'c>) -> Result<Vec<i64>, DbErr> {
        let rows = sqlx::query(&FINISH_ALL_SQL)
            .bind(self.ids)
            .bind(self.tokens)
            .bind(self.status)
            .bind(self.info)
            .bind(self.retries)
            .bind(self.updated)
            .bind(self.webhooks)
            .bind(self.success)
            .bind(self.att_event)
            .bind(self.att_number)
            .bind(self.att_started)
            .bind(self.att_duration)
            .bind(self.att_outcome)
            .bind(self.att_status)
            .bind(self.att_error)
            .bind(self.att_headers)
            .bind(self.att_body)
            .bind(self.att_worker)
            .bind(self.succeeded)
            .fetch_all(on)
            .await
            .map_err(|e| DbErr::Query(RuntimeErr::SqlxError(e)))?;
        rows.iter()
            .map(|r| {
                r.try_get::<i64, _>("event_id")
                    .map_err(|e| DbErr::Query(RuntimeErr::SqlxError(e)))
            })
            .collect()
    }

    /// The same statement with its arrays as text literals, for EXPLAIN (the bench's
    /// docs/query-plans.md), which needs them written out.
    pub fn statement(&self) -> Statement {
        fn lit<T: ToString>(items: &[T]) -> Value {
            sql::pg_array_literal(items.iter().map(|i| Some(i.to_string()))).into()
        }
        fn opt<T: ToString>(items: &[Option<T>]) -> Value {
            sql::pg_array_literal(items.iter().map(|i| i.as_ref().map(T::to_string))).into()
        }
        let times: Vec<String> = self.updated.iter().map(DateTime::to_rfc3339).collect();
        let started: Vec<String> = self.att_started.iter().map(DateTime::to_rfc3339).collect();
        let values = vec![
            lit(&self.ids),
            lit(&self.tokens),
            lit(&self.status),
            lit(&self.info),
            lit(&self.retries),
            lit(&times),
            lit(&self.webhooks),
            lit(&self.success),
            lit(&self.att_event),
            lit(&self.att_number),
            lit(&started),
            opt(&self.att_duration),
            lit(&self.att_outcome),
            opt(&self.att_status),
            opt(&self.att_error),
            lit(&self.att_headers),
            opt(&self.att_body),
            opt(&self.att_worker),
            lit(&self.succeeded),
        ];
        Statement::from_sql_and_values(DatabaseBackend::Postgres, FINISH_ALL_SQL.as_str(), values)
    }
}

/// `DELETE` of the queue rows in `src` (a table `v` of `id` and `token`) whose ids are in the
/// array `ids` and still leased with their token, `RETURNING` their `event_id`s.
fn finish_using(src: &str, ids: &str) -> String {
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
fn events_using(src: &str, ids: &str) -> String {
    format!(
        "UPDATE webhooks_events SET {EVENT_SET} FROM {src} \
         WHERE webhooks_events.id = ANY({ids}) AND webhooks_events.id = v.id"
    )
}

/// The columns of an attempt row.
const ATTEMPT_COLUMNS: &str = "event_id, number, started_at, duration_ms, outcome, status_code, \
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::Kind;

    /// The EXPLAIN form writes each array as a PostgreSQL array literal: every element quoted
    /// with `\` and `"` escaped, NULL bare, in the order of the binary form's parameters.
    #[test]
    fn finish_all_literals_quote_and_keep_nulls() {
        let at = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let u = Update {
            id: 7,
            lease_token: -3,
            lease_until: 0,
            webhook_id: "wh".into(),
            kind: Kind::Finish,
            status: 2,
            status_info: r#"said "no" \ twice"#.into(),
            retry_count: 1,
            last_update: at,
            effect: Effect::Success,
            attempt: Some(AttemptRow {
                event_id: 7,
                number: 2,
                started_at: at,
                duration_ms: None,
                outcome: "success",
                status_code: Some(200),
                error: None,
                response_headers: r#"[["a","b"]]"#.into(),
                response_body: Some(String::new()),
                worker: None,
            }),
        };
        let stmt = FinishAll::new(&[&u], &["wh"]).statement();
        let values: Vec<String> = stmt
            .values
            .iter()
            .flat_map(|v| v.0.iter())
            .map(|v| match v {
                Value::String(Some(s)) => s.to_string(),
                other => panic!("not a text literal: {other:?}"),
            })
            .collect();
        assert_eq!(values.len(), 19);
        assert_eq!(values[0], r#"{"7"}"#);
        assert_eq!(values[1], r#"{"-3"}"#);
        assert_eq!(values[3], r#"{"said \"no\" \\ twice"}"#);
        assert_eq!(values[7], r#"{"true"}"#);
        assert_eq!(values[11], "{NULL}");
        assert_eq!(values[13], r#"{"200"}"#);
        assert_eq!(values[15], r#"{"[[\"a\",\"b\"]]"}"#);
        assert_eq!(values[16], r#"{""}"#);
        assert_eq!(values[17], "{NULL}");
        assert_eq!(values[18], r#"{"wh"}"#);
        assert!(stmt.sql.contains("CAST($19 AS TEXT[])"));
    }
}
