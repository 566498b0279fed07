//! PostgreSQL's common result batch, every result finishing its event, as one statement
//! ([`FinishAll`]): the recorder's fast path, and the statement the dispatcher warms on each of
//! its connections before the first claim. Its pieces are the separate statements' own
//! ([`super::statements`]), so the two paths write the same rows the same way.

use chrono::{DateTime, Utc};
use sea_orm::sqlx::{self, Row as _};
use sea_orm::{DatabaseBackend, DbErr, Statement, Value};

use crate::core::sql;
use crate::dispatch::record::statements::{events_using, finish_using, ATTEMPT_COLUMNS};
use crate::rows::{AttemptRow, Effect, Update};

/// PostgreSQL only: a whole batch of finished events in one statement, for the common batch in
/// which every result finishes its event and none is a final failure (nothing to count towards
/// disabling a webhook). The statement deletes the queue rows still leased with the batch's
/// tokens and, for exactly those rows (data-modifying CTEs see each other's `RETURNING`, not each
/// other's changes), updates the events, inserts the attempts and ends the failure streak of the
/// webhooks that succeeded; returns the `event_id`s it applied. One statement is atomic without
/// BEGIN and COMMIT, so a batch costs one round trip instead of six.
///
/// The streak's webhooks are one array built once from the applied successes (`ARRAY(SELECT …)`,
/// an InitPlan), walked by one index scan: a btree scan of `= ANY(array)` sorts the array, so the
/// rows are taken in id order, as [`crate::dispatch::record::streak`] takes them. Written as a
/// correlated `EXISTS` beside a parameter array instead, PostgreSQL probes the index once per
/// webhook of the batch with the whole array as a second key, sorting it again each time: a cost
/// of (webhooks in the batch)² that took 52 of a 56 ms batch of 380 results for 380 webhooks
/// (`auto_explain` under `streamhooks-bench --only spread`).
///
/// The rows go in as one array per column, unpacked by `unnest`, and [`FinishAll::fetch`] binds
/// them in PostgreSQL's binary format. As one JSON parameter (`jsonb_to_recordset`, as the other
/// statements take) the server parses every value out of text after building a binary JSON
/// document of the batch: ~6 µs per result (measured: 200 batches of 128 rows in `psql`), of the
/// ~40 µs of server time a delivery takes under `streamhooks-bench --only side`.
///
/// The events are found by `id = ANY(ARRAY(SELECT … FROM fin))`, an array built once: with
/// `= ANY($1)` beside the join on `fin`, PostgreSQL puts the array into the inner index scan of a
/// nested loop and prepares the whole array again for every row, which makes a batch of 1,024
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
    attempts: AttemptColumns<'a>,
}

/// Attempts as one array per column, in [`ATTEMPT_COLUMNS`]' order, borrowed from their rows:
/// what a result batch binds in PostgreSQL's binary format ([`FinishAll`]'s `$9`..`$18`, and the
/// Speckle store's batch).
#[derive(Debug, Default)]
pub(crate) struct AttemptColumns<'a> {
    event: Vec<i64>,
    number: Vec<i32>,
    started: Vec<DateTime<Utc>>,
    duration: Vec<Option<i32>>,
    outcome: Vec<&'static str>,
    status: Vec<Option<i32>>,
    error: Vec<Option<&'a str>>,
    headers: Vec<&'a str>,
    body: Vec<Option<&'a str>>,
    worker: Vec<Option<&'a str>>,
}

impl<'a> AttemptColumns<'a> {
    /// Adds `a`, with `started_at` as its start (its own, or as a store rounds it).
    pub(crate) fn push(&mut self, a: &'a AttemptRow, started_at: DateTime<Utc>) {
        self.event.push(a.event_id);
        self.number.push(a.number);
        self.started.push(started_at);
        self.duration.push(a.duration_ms);
        self.outcome.push(a.outcome);
        self.status.push(a.status_code);
        self.error.push(a.error.as_deref());
        self.headers.push(&a.response_headers);
        self.body.push(a.response_body.as_deref());
        self.worker.push(a.worker.as_deref());
    }

    /// Binds the ten arrays to `q`'s next ten parameters.
    pub(crate) fn bind<'q>(self, q: PgQuery<'q>) -> PgQuery<'q>
    where
        'a: 'q,
    {
        q.bind(self.event)
            .bind(self.number)
            .bind(self.started)
            .bind(self.duration)
            .bind(self.outcome)
            .bind(self.status)
            .bind(self.error)
            .bind(self.headers)
            .bind(self.body)
            .bind(self.worker)
    }
}

/// A statement of sqlx's for PostgreSQL, with its parameters.
pub(crate) type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// [`FinishAll`]'s statement; `$1`..`$8` are the results' columns, `$9`..`$18` the attempts'.
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
           WHERE id = ANY(ARRAY(SELECT v.webhook FROM v JOIN fin ON fin.event_id = v.id \
             WHERE v.success)) \
           AND consecutive_failures <> 0) \
         SELECT event_id FROM fin",
        finish_using("v", "CAST($1 AS BIGINT[])"),
        events_using("v", "ARRAY(SELECT event_id FROM fin)"),
    )
});

impl<'a> FinishAll<'a> {
    /// The batch's columns, borrowed from `chunk`: nothing is copied per result.
    pub fn new(chunk: &[&'a Update]) -> Self {
        let mut f = FinishAll::default();
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
                f.attempts.push(a, a.started_at);
            }
        }
        f
    }

    /// Runs the statement on `on` (a pool or one connection) with every array bound in binary;
    /// returns the applied ids.
    pub async fn fetch<'c>(self, on: impl sqlx::PgExecutor<'c>) -> Result<Vec<i64>, DbErr> {
        let results = sqlx::query(&FINISH_ALL_SQL)
            .bind(self.ids)
            .bind(self.tokens)
            .bind(self.status)
            .bind(self.info)
            .bind(self.retries)
            .bind(self.updated)
            .bind(self.webhooks)
            .bind(self.success);
        let rows = self
            .attempts
            .bind(results)
            .fetch_all(on)
            .await
            .map_err(sql::db_err)?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>("event_id").map_err(sql::db_err))
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
        let a = &self.attempts;
        let started: Vec<String> = a.started.iter().map(DateTime::to_rfc3339).collect();
        let values = vec![
            lit(&self.ids),
            lit(&self.tokens),
            lit(&self.status),
            lit(&self.info),
            lit(&self.retries),
            lit(&times),
            lit(&self.webhooks),
            lit(&self.success),
            lit(&a.event),
            lit(&a.number),
            lit(&started),
            opt(&a.duration),
            lit(&a.outcome),
            opt(&a.status),
            opt(&a.error),
            lit(&a.headers),
            opt(&a.body),
            opt(&a.worker),
        ];
        Statement::from_sql_and_values(DatabaseBackend::Postgres, FINISH_ALL_SQL.as_str(), values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::{AttemptRow, Kind};

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
        let stmt = FinishAll::new(&[&u]).statement();
        let values: Vec<String> = stmt
            .values
            .iter()
            .flat_map(|v| v.0.iter())
            .map(|v| match v {
                Value::String(Some(s)) => s.to_string(),
                other => panic!("not a text literal: {other:?}"),
            })
            .collect();
        assert_eq!(values.len(), 18);
        assert_eq!(values[0], r#"{"7"}"#);
        assert_eq!(values[1], r#"{"-3"}"#);
        assert_eq!(values[3], r#"{"said \"no\" \\ twice"}"#);
        assert_eq!(values[7], r#"{"true"}"#);
        assert_eq!(values[11], "{NULL}");
        assert_eq!(values[13], r#"{"200"}"#);
        assert_eq!(values[15], r#"{"[[\"a\",\"b\"]]"}"#);
        assert_eq!(values[16], r#"{""}"#);
        assert_eq!(values[17], "{NULL}");
        assert!(stmt.sql.contains("CAST($18 AS TEXT[])"));
        assert!(!stmt.sql.contains("$19"));
    }
}
