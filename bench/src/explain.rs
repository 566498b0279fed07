//! `explain`: every per-delivery statement (claim, record, next due, history, retention), built
//! by the same functions the server uses, with its plan on the database of [`crate::big`]:
//! PostgreSQL `EXPLAIN (ANALYZE, BUFFERS)` inside a rolled-back transaction, SQLite
//! `EXPLAIN QUERY PLAN`. Its output is docs/query-plans.md.
//!
//! The question a reader will ask: why are some PostgreSQL plans generic ones, planned without the
//! parameters' values? Those are the plans the server runs: the dispatcher's connections plan its
//! claims and results once, generically, and PostgreSQL settles on a generic plan for a history
//! page after a few calls (see [`section`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, QueryResult,
    Statement, TransactionTrait,
};
use streamhooks_api::webhooks::history::Start;
use streamhooks_worker::claim::{self, Claimed};
use streamhooks_worker::record::{AttemptRow, Effect, Kind, Update};
use streamhooks_worker::record_sql;
use streamhooks_worker::retention;

use crate::big::Big;
use crate::stats::BoxError;

/// Every per-delivery statement with its plan, as markdown.
pub async fn explain(b: &Big) -> Result<String, BoxError> {
    let db = b.db();
    let now = Utc::now();
    let mut stmts = dispatcher_statements(db, now).await?;
    stmts.extend(history_statements(db, b.webhook()).await?);
    stmts.extend(retention_statements(
        db.get_database_backend(),
        b.webhook(),
        now,
    ));
    let mut out = String::new();
    for (name, stmt) in stmts {
        out.push_str(&section(db, name, stmt).await?);
    }
    Ok(out)
}

/// A heading and the statement it stands over.
type Named = (&'static str, Statement);

/// The dispatcher's statements: a claim, the next due time, and the recorder's writes of 256
/// results (the events claimed here, each finished by its first attempt, or sent back to retry).
async fn dispatcher_statements(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<Vec<Named>, BoxError> {
    let backend = db.get_database_backend();
    let now_ms = now.timestamp_millis();
    let queued = claim::claim(db, now_ms, 60_000, 256, &[]).await?;
    let updates = successes(&queued, now);
    let refs: Vec<&Update> = updates.iter().collect();
    let retries: Vec<Update> = updates
        .iter()
        .map(|u| Update {
            kind: Kind::Retry {
                due_at: now_ms + 10_000,
            },
            ..u.clone()
        })
        .collect();
    let retry_refs: Vec<&Update> = retries.iter().collect();
    let attempts: Vec<AttemptRow> = updates.iter().filter_map(|u| u.attempt.clone()).collect();
    let mut stmts: Vec<Named> = vec![
        (
            "claim (500 rows)",
            claim::claim_statement(backend, now_ms, now_ms + 60_000, 7, 500, &[], i64::MIN),
        ),
        (
            "next due",
            Statement::from_string(backend, claim::NEXT_DUE_SQL),
        ),
        (
            "record: finished events leave the queue (256 rows)",
            record_sql::finish(backend, &refs),
        ),
        (
            "record: retries go back to the queue (256 rows)",
            record_sql::requeue(backend, &retry_refs),
        ),
        (
            "record: the event rows (256 rows)",
            record_sql::events(backend, &refs),
        ),
        (
            "record: the attempts (256 rows)",
            record_sql::attempts(backend, &attempts, false),
        ),
    ];
    if backend == DatabaseBackend::Postgres {
        // What the recorder runs instead of the four above when every result is a plain finish.
        stmts.push((
            "record: a batch of plain finishes in one statement (256 rows)",
            record_sql::FinishAll::new(&refs).statement(),
        ));
    }
    Ok(stmts)
}

/// Each claimed event finished by a successful first attempt, as the recorder is handed it.
fn successes(queued: &[Claimed], now: DateTime<Utc>) -> Vec<Update> {
    queued
        .iter()
        .map(|c| Update {
            status: 2,
            status_info: "HTTP 200 in 3ms on attempt 1.".into(),
            effect: Effect::Success,
            attempt: Some(AttemptRow {
                event_id: c.id,
                number: c.attempt,
                started_at: now,
                duration_ms: Some(3),
                outcome: "success",
                status_code: Some(200),
                error: None,
                response_headers: "[]".into(),
                response_body: Some("ok".into()),
                worker: None,
            }),
            ..Update::for_event(c, now)
        })
        .collect()
}

/// The API's history statements: pages of the big webhook `webhook` (the first, and the next below
/// its cursor) and of a webhook of the backlog, their sizes, totals and one event's attempts.
async fn history_statements(
    db: &DatabaseConnection,
    webhook: &str,
) -> Result<Vec<Named>, BoxError> {
    let backend = db.get_database_backend();
    let big_ids: Vec<i64> = {
        let page = streamhooks_api::webhooks::history::pages(
            db,
            &[(webhook.to_owned(), 25)],
            Start::NEWEST,
            false,
        )
        .await?;
        page.values()
            .flat_map(|p| p.items.iter().map(|e| e.id))
            .collect()
    };
    // The cursor a first page of 25 hands out: its last (oldest) event.
    let cursor = Start::Before(big_ids.iter().copied().min().unwrap_or(i64::MAX));
    Ok(vec![
        (
            "history page: 25 events with their total and attempts, of the webhook of 1,000,000",
            streamhooks_api::webhooks::history::page_statement(
                backend,
                &[webhook],
                25,
                Start::NEWEST,
                true,
            ),
        ),
        (
            "history page: the same of a webhook of 5,000 (queued) events",
            streamhooks_api::webhooks::history::page_statement(
                backend,
                &["wh00000"],
                25,
                Start::NEWEST,
                true,
            ),
        ),
        (
            "history page: its size, for the answer budget, before it is read (1,000,000)",
            streamhooks_api::webhooks::history_size::page_bytes_statement(
                backend,
                &[(webhook.to_owned(), 25, Start::NEWEST)],
            ),
        ),
        (
            "history page below a cursor: the next 25 events of the webhook of 1,000,000",
            streamhooks_api::webhooks::history::page_statement(
                backend,
                &[webhook],
                25,
                cursor,
                true,
            ),
        ),
        (
            "history page below a cursor: its size, for the answer budget (1,000,000)",
            streamhooks_api::webhooks::history_size::page_bytes_statement(
                backend,
                &[(webhook.to_owned(), 25, cursor)],
            ),
        ),
        (
            "history: totals only (history(limit: 0))",
            streamhooks_api::webhooks::history::totals_statement(backend, &[webhook]),
        ),
        (
            "history: one event's attempts (WebhookEvent.attempts outside a page)",
            streamhooks_api::webhooks::history::attempts_statement(backend, &big_ids[..1]),
        ),
    ])
}

/// Retention's statements: finished events past 30 days, and the per-webhook limit applied to
/// `webhook`.
fn retention_statements(backend: DatabaseBackend, webhook: &str, now: DateTime<Utc>) -> Vec<Named> {
    let cutoff = now - chrono::Duration::days(30);
    vec![
        (
            "retention: finished events older than 30 days (5,000 at a time)",
            retention::delete_aged(backend, cutoff, 5_000),
        ),
        (
            "retention: webhooks over the per-webhook limit",
            Statement::from_sql_and_values(backend, retention::OVER_LIMIT_SQL, [1_000i64.into()]),
        ),
        (
            "retention: a webhook's pending events",
            Statement::from_sql_and_values(backend, retention::PENDING_SQL, [webhook.into()]),
        ),
        (
            "retention: the limit's cutoff id",
            retention::keep_cutoff(backend, webhook, 1_000),
        ),
        (
            "retention: finished events beyond the limit (5,000 at a time)",
            retention::delete_beyond(backend, webhook, i64::MAX / 2, 5_000),
        ),
    ]
}

/// One statement's part of the markdown: its heading, its text and its plan, asked for inside a
/// transaction that is rolled back, so that what `EXPLAIN ANALYZE` runs leaves the database as the
/// next statement expects it.
async fn section(db: &DatabaseConnection, name: &str, stmt: Statement) -> Result<String, BoxError> {
    let backend = db.get_database_backend();
    // Claims and results run on the dispatcher's own connections, which plan each statement
    // once, generically (`dispatch::hot_path`); a history page's statements have only the
    // webhook's id as a parameter and PostgreSQL settles on a generic plan for them after a
    // few calls (`history::page_statement`): those plans are the ones to show.
    let generic = backend == DatabaseBackend::Postgres
        && (name.starts_with("claim")
            || name.starts_with("record")
            || name.starts_with("history page"));
    let mut out = format!(
        "### {name}{}\n\n```sql\n{}\n```\n\n```\n",
        if generic { " (generic plan)" } else { "" },
        shorten(&stmt.sql)
    );
    let txn = db.begin().await?;
    let (prefix, col) = match backend {
        DatabaseBackend::Postgres => ("EXPLAIN (ANALYZE, BUFFERS) ", "QUERY PLAN"),
        _ => ("EXPLAIN QUERY PLAN ", "detail"),
    };
    let explained = if generic {
        generic_plan(&txn, prefix, &stmt).await?
    } else {
        Statement {
            sql: format!("{prefix}{}", stmt.sql),
            ..stmt
        }
    };
    out.push_str(&plan_text(backend, col, txn.query_all(explained).await?)?);
    if generic {
        // A prepared statement outlives the transaction.
        txn.execute_unprepared("DEALLOCATE explained").await?;
    }
    txn.rollback().await?;
    out.push_str("```\n\n");
    Ok(out)
}

/// PostgreSQL: `stmt` prepared as `explained` with generic plans forced for the transaction, and
/// `prefix` (the EXPLAIN) over its execution with `stmt`'s values.
async fn generic_plan(
    txn: &DatabaseTransaction,
    prefix: &str,
    stmt: &Statement,
) -> Result<Statement, BoxError> {
    use sea_orm::sea_query::{PostgresQueryBuilder, QueryBuilder};
    txn.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan")
        .await?;
    txn.execute_unprepared(&format!("PREPARE explained AS {}", stmt.sql))
        .await?;
    let args: Vec<String> = stmt
        .values
        .iter()
        .flat_map(|v| v.0.iter())
        .map(|v| PostgresQueryBuilder.value_to_string(v))
        .collect();
    Ok(Statement::from_string(
        DatabaseBackend::Postgres,
        format!("{prefix}EXECUTE explained({})", args.join(", ")),
    ))
}

/// The plan's rows (column `col`) as text, a line each; SQLite's rows are indented by their depth
/// in the plan's tree (each names its parent), as PostgreSQL's already are.
fn plan_text(
    backend: DatabaseBackend,
    col: &str,
    rows: Vec<QueryResult>,
) -> Result<String, BoxError> {
    let mut out = String::new();
    let mut depth: HashMap<i64, usize> = HashMap::new();
    for row in rows {
        let line: String = row.try_get("", col)?;
        if backend == DatabaseBackend::Postgres {
            out.push_str(&line);
        } else {
            let id: i64 = row.try_get("", "id").unwrap_or(0);
            let parent: i64 = row.try_get("", "parent").unwrap_or(0);
            let d = depth.get(&parent).map_or(0, |d| d + 1);
            depth.insert(id, d);
            out.push_str(&format!("{}{line}", "  ".repeat(d)));
        }
        out.push('\n');
    }
    Ok(out)
}

/// The statement text with a VALUES list cut to its first row.
fn shorten(sql: &str) -> String {
    let Some(v) = sql.find("VALUES (") else {
        return sql.to_owned();
    };
    let list = &sql[v + 7..];
    let mut depth = 0i32;
    let mut first_end = None;
    for (i, c) in list.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => {
                let first = first_end.unwrap_or(i);
                return format!("{}{}, …{}", &sql[..v + 7], &list[..first], &list[i..]);
            }
            ')' => {
                depth -= 1;
                if depth == 0 && first_end.is_none() {
                    first_end = Some(i + 1);
                }
            }
            _ => {}
        }
    }
    sql.to_owned()
}
