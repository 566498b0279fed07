//! Paging a webhook's history by cursor while events keep arriving: three pages read one after
//! another, with forty events queued between the loads and every older event delivered (its
//! `lastUpdate` moved) in between, show each event that existed at the first load exactly once,
//! in order. `offset` still works, and shifts as it always did; a cursor the server did not give
//! out, or a cursor with an offset, is refused.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{config_from_args, TestReceiver};
use streamhooks_worker::Metrics;
use tokio_util::sync::CancellationToken;

use crate::support::{code, message, quiet_world, World};

const PAGE: &str = "query($s: String!, $w: String, $l: Int!, $c: String, $o: Int! = 0) { stream(id: $s) { webhooks(id: $w) { items { history(limit: $l, cursor: $c, offset: $o) { totalCount cursor items { id status lastUpdate } } } } } }";

async fn page(w: &World, hook: &str, limit: i32, cursor: &Value, offset: i32) -> Value {
    let d = w
        .server
        .gql_ok(
            &w.owner.token,
            PAGE,
            json!({ "s": w.stream, "w": hook, "l": limit, "c": cursor, "o": offset }),
        )
        .await;
    d["stream"]["webhooks"]["items"][0]["history"].clone()
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|e| e["id"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn time(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("lastUpdate {v}: {e}"))
}

/// Queues `n` events for the stream's webhook, one `streamUpdate` each.
async fn queue(w: &World, n: usize) {
    for i in 0..n {
        w.update_stream(json!({ "description": format!("change {i}") }))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_pages_neither_repeat_nor_skip_while_events_arrive_and_change() {
    // No dispatcher yet: the first page is read while every event is still queued.
    let w = quiet_world().await;
    let rx = TestReceiver::start().await;
    let hook = w.webhook(&rx.url(), &["stream_update"], None).await;
    queue(&w, 60).await;
    let all = page(&w, &hook, 100, &Value::Null, 0).await;
    let existing = ids(&all);
    assert_eq!(existing.len(), 60);

    let first = page(&w, &hook, 25, &Value::Null, 0).await;
    assert_eq!(ids(&first), existing[..25]);
    let last_seen = time(&first["items"][24]["lastUpdate"]);

    // Twenty new events, then a dispatcher that delivers all eighty: every event's lastUpdate
    // moves past the first page's (a walk by lastUpdate would now find nothing below it).
    queue(&w, 20).await;
    let st = &w.server.running.state;
    let config = config_from_args(["--allow-local-network", "true"])
        .unwrap_or_else(|e| panic!("{e}"))
        .worker;
    let stop = CancellationToken::new();
    let dispatcher = tokio::spawn(streamhooks_worker::run(
        st.db.clone(),
        Arc::new(config),
        st.secrets.clone(),
        st.notifier.clone(),
        Arc::new(Metrics::new()),
        stop.clone(),
    ));
    st.notifier.wake();
    let delivered = w
        .server
        .wait_for_history(&w.owner, &w.stream, &hook, Duration::from_secs(20), |h| {
            h.len() == 80 && h.iter().all(|e| e["status"] == json!(2))
        })
        .await;
    assert!(
        delivered.iter().all(|e| e["status"] == json!(2)),
        "not all delivered"
    );

    let second = page(&w, &hook, 25, &first["cursor"], 0).await;
    assert_eq!(ids(&second), existing[25..50], "{second}");
    assert!(
        second["items"]
            .as_array()
            .is_some_and(|items| items.iter().all(|e| time(&e["lastUpdate"]) > last_seen)),
        "every event of the second page changed after the first page was read"
    );
    assert_eq!(second["totalCount"], json!(80));

    // Twenty more, then the last page: the ten oldest, and no cursor after it.
    queue(&w, 20).await;
    let third = page(&w, &hook, 25, &second["cursor"], 0).await;
    assert_eq!(ids(&third), existing[50..], "{third}");
    assert_eq!(third["cursor"], Value::Null, "the last page");
    assert_eq!(third["totalCount"], json!(100));

    let mut walked = ids(&first);
    walked.extend(ids(&second));
    walked.extend(ids(&third));
    assert_eq!(walked, existing, "each event once, newest first");

    // `offset` still answers, counted from the newest now: its second page overlaps the first
    // cursor page, which is why the console walks by cursor.
    let by_offset = page(&w, &hook, 25, &Value::Null, 25).await;
    assert_eq!(ids(&by_offset).len(), 25);
    assert!(ids(&by_offset).iter().any(|id| ids(&first).contains(id)));

    stop.cancel();
    let _ = dispatcher.await;
    w.server.shutdown().await;
}

#[tokio::test]
async fn cursors_are_the_servers_own_and_exclude_an_offset() {
    let w = quiet_world().await;
    let hook = w
        .webhook("https://example.com/h", &["stream_update"], None)
        .await;
    queue(&w, 3).await;
    let first = page(&w, &hook, 2, &Value::Null, 0).await;
    let cursor = first["cursor"].clone();
    assert!(cursor.is_string(), "a full page has a cursor: {first}");
    let rest = page(&w, &hook, 2, &cursor, 0).await;
    assert_eq!(ids(&rest).len(), 1);
    assert_eq!(rest["cursor"], Value::Null);
    assert_eq!(
        page(&w, &hook, 0, &Value::Null, 0).await["cursor"],
        Value::Null
    );

    for (bad, offset) in [
        (json!("not-a-cursor"), 0),
        (json!("aDE6LTU"), 0), // "h1:-5"
        (json!("x".repeat(500)), 0),
        (cursor.clone(), 1),
    ] {
        let r = w
            .server
            .gql(
                Some(&w.owner.token),
                PAGE,
                json!({ "s": w.stream, "w": hook, "l": 2, "c": bad, "o": offset }),
            )
            .await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{bad}: {r}");
        let m = message(&r);
        assert!(
            m.contains("is not one this server gave out")
                || m.contains("history takes a cursor or an offset, not both"),
            "{m}"
        );
        assert!(!m.contains(&"x".repeat(100)), "the input is shortened: {m}");
    }
    w.server.shutdown().await;
}

/// A page below a cursor, and its size for the answer budget, are one range of
/// `idx_webhooks_events_webhook` (webhook_id, id), walked backwards from the cursor: as cheap
/// deep in a history as at its top. On PostgreSQL sequential scans and sorts are switched off
/// for the EXPLAIN (a test table is too small for the planner to prefer the index by cost), so
/// the plan shows whether the index can serve the walk without a sort.
#[tokio::test]
async fn a_cursor_page_is_a_backward_range_of_the_webhook_index() {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    use streamhooks_api::webhooks::history::{page_statement, Start};
    use streamhooks_api::webhooks::history_size::page_bytes_statement;

    let w = quiet_world().await;
    let db = &w.server.running.state.db;
    let backend = db.get_database_backend();
    let cursor = Start::Before(1_000);
    let statements = [
        page_statement(backend, &["wh1"], 25, cursor, true),
        page_bytes_statement(backend, &[("wh1".to_owned(), 25, cursor)]),
    ];
    for stmt in statements {
        let plan: Vec<String> = match backend {
            DatabaseBackend::Postgres => {
                let txn = streamhooks_api::context::db::begin_write(db)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                txn.execute_unprepared(
                    "SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off",
                )
                .await
                .unwrap_or_else(|e| panic!("{e}"));
                let explain = Statement::from_sql_and_values(
                    backend,
                    format!("EXPLAIN {}", stmt.sql),
                    stmt.values.clone().map(|v| v.0).unwrap_or_default(),
                );
                let rows = txn
                    .query_all(explain)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                rows.iter()
                    .map(|r| r.try_get_by_index::<String>(0).unwrap_or_default())
                    .collect()
            }
            _ => {
                let explain = Statement::from_sql_and_values(
                    backend,
                    format!("EXPLAIN QUERY PLAN {}", stmt.sql),
                    stmt.values.clone().map(|v| v.0).unwrap_or_default(),
                );
                let rows = db
                    .query_all(explain)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                rows.iter()
                    .map(|r| r.try_get::<String>("", "detail").unwrap_or_default())
                    .collect()
            }
        };
        let text = plan.join("\n");
        match backend {
            DatabaseBackend::Postgres => assert!(
                text.contains("Index Only Scan Backward using idx_webhooks_events_webhook")
                    && text.contains("(id < ")
                    && !text.contains("Sort"),
                "{}\n{text}",
                stmt.sql
            ),
            _ => assert!(
                text.contains("idx_webhooks_events_webhook (webhook_id=? AND id<?)")
                    && !text.contains("SCAN webhooks_events")
                    && !text.contains("TEMP B-TREE"),
                "{}\n{text}",
                stmt.sql
            ),
        }
    }
    w.server.shutdown().await;
}
