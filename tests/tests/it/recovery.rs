//! Recovering from an outage with `webhookRedeliverFailed`: a receiver down long enough for 50
//! events to fail for good; one call queues exactly those 50 (not the events sent before, not
//! those that failed before `since`), each is delivered once more as itself (the same delivery
//! id, a third attempt in its list), and a second call while they are still queued queues
//! nothing. Only the stream's owner with `streams:write` may; a disabled webhook is refused
//! unless the call re-enables it; and a call takes at most 10,000 events, saying when more
//! remain.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{TestReceiver, TestServer, TestUser};

use crate::support::{code, count, grant, message, quiet_world};

/// One retry 50 ms after the first attempt, so an event fails for good after two attempts; no
/// automatic disabling, so all fifty keep their two attempts.
const ARGS: [&str; 12] = [
    "--allow-local-network",
    "true",
    "--retry-schedule",
    "50ms",
    "--disable-after-failures",
    "0",
    "--request-timeout",
    "2s",
    "--lease",
    "5s",
    "--poll-interval",
    "200ms",
];

const RECOVER: &str =
    "mutation($w: WebhookRedeliverFailedInput!) { webhookRedeliverFailed(webhook: $w) }";
const HISTORY: &str = "query($s: String!, $w: String) { stream(id: $s) { webhooks(id: $w) { items { enabled history(limit: 100) { items { id status attempts { number outcome } } } } } } }";

/// Queues `n` events for the stream's webhooks, one `streamUpdate` each.
async fn queue(server: &TestServer, owner: &TestUser, stream: &str, n: usize) {
    for i in 0..n {
        server
            .update_stream(
                owner,
                stream,
                json!({ "description": format!("change {i}") }),
            )
            .await;
    }
}

/// The webhook's events, newest first, with their attempts.
async fn events(server: &TestServer, owner: &TestUser, stream: &str, hook: &str) -> Vec<Value> {
    let d = server
        .gql_ok(&owner.token, HISTORY, json!({ "s": stream, "w": hook }))
        .await;
    d["stream"]["webhooks"]["items"][0]["history"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until `n` events have `status`.
async fn wait_for(
    server: &TestServer,
    owner: &TestUser,
    stream: &str,
    hook: &str,
    status: i64,
    n: usize,
) -> Vec<Value> {
    let h = server
        .wait_for_history(owner, stream, hook, Duration::from_secs(30), |h| {
            h.iter().filter(|e| e["status"] == json!(status)).count() == n
        })
        .await;
    assert_eq!(
        h.iter().filter(|e| e["status"] == json!(status)).count(),
        n,
        "{h:?}"
    );
    events(server, owner, stream, hook).await
}

fn with_status(events: &[Value], status: i64) -> HashSet<String> {
    events
        .iter()
        .filter(|e| e["status"] == json!(status))
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failed_events_since_are_queued_once_and_delivered_as_themselves() {
    let server = TestServer::start_with(&ARGS, true).await;
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "outage").await;
    let rx = TestReceiver::start().await;
    let hook = server
        .create_webhook(&owner, &stream, &rx.url(), &["stream_update"], None)
        .await;

    // Five that failed before the outage in question: left alone.
    rx.set_status(500);
    queue(&server, &owner, &stream, 5).await;
    let before = with_status(&wait_for(&server, &owner, &stream, &hook, 3, 5).await, 3);
    let since = chrono::Utc::now();
    // Five sent after `since`: left alone.
    rx.set_status(200);
    queue(&server, &owner, &stream, 5).await;
    let sent = with_status(&wait_for(&server, &owner, &stream, &hook, 2, 5).await, 2);
    // The outage: fifty fail for good, two attempts each.
    rx.set_status(500);
    queue(&server, &owner, &stream, 50).await;
    let all = wait_for(&server, &owner, &stream, &hook, 3, 55).await;
    let outage: HashSet<String> = with_status(&all, 3).difference(&before).cloned().collect();
    assert_eq!(outage.len(), 50);
    rx.drain().await;

    // The receiver is back, answering slowly enough that the batch is still queued or in
    // flight when the second call comes.
    rx.set_status(200);
    rx.set_delay(Duration::from_millis(300));
    let input = json!({ "w": { "id": hook, "streamId": stream, "since": since.to_rfc3339() } });
    let r = server.gql(Some(&owner.token), RECOVER, input.clone()).await;
    assert_eq!(r["data"]["webhookRedeliverFailed"], json!(50), "{r}");
    assert_eq!(
        r["extensions"]["webhookRedeliverFailed"],
        json!([{ "path": ["webhookRedeliverFailed"], "queued": 50, "limit": 10000, "moreRemain": false, "dryRun": false }])
    );
    let again = server.gql(Some(&owner.token), RECOVER, input).await;
    assert_eq!(again["data"]["webhookRedeliverFailed"], json!(0), "{again}");
    let during = events(&server, &owner, &stream, &hook).await;
    assert!(
        during
            .iter()
            .any(|e| outage.contains(e["id"].as_str().unwrap_or_default())
                && e["status"] != json!(2)),
        "the second call came while the batch was still being delivered"
    );

    let after = wait_for(&server, &owner, &stream, &hook, 2, 55).await;
    let received = rx.drain().await;
    assert_eq!(received.len(), 50, "each once");
    let delivered: HashSet<String> = received
        .iter()
        .filter_map(|r| r.header("x-webhook-delivery").map(str::to_owned))
        .collect();
    assert_eq!(delivered, outage, "the same delivery ids, each once");
    assert!(received
        .iter()
        .all(|r| r.header("x-webhook-attempt") == Some("3")));
    for e in &after {
        let id = e["id"].as_str().unwrap_or_default();
        let attempts: Vec<(i64, String)> = e["attempts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        (
                            x["number"].as_i64().unwrap_or(0),
                            x["outcome"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let expected: Vec<(i64, String)> = if outage.contains(id) {
            vec![
                (1, "http_error".into()),
                (2, "http_error".into()),
                (3, "success".into()),
            ]
        } else if sent.contains(id) {
            vec![(1, "success".into())]
        } else {
            assert!(before.contains(id), "{e}");
            assert_eq!(e["status"], json!(3), "failed before `since`: not queued");
            vec![(1, "http_error".into()), (2, "http_error".into())]
        };
        assert_eq!(attempts, expected, "event {id}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn only_the_owner_with_streams_write_may_and_bad_input_is_refused() {
    let w = quiet_world().await;
    let s = &w.server;
    let hook = w
        .webhook("https://example.com/h", &["stream_update"], None)
        .await;
    let reviewer = s.create_user("Re Viewer", "rev@example.com").await;
    grant(&w, &w.stream, &reviewer, "stream:reviewer").await;
    let read_only = w.server.create_token(&w.owner, &["streams:read"]).await;
    let input = |id: &str, stream: &str, since: &str| json!({ "w": { "id": id, "streamId": stream, "since": since } });
    let since = "2026-01-01T00:00:00Z";
    for (who, token) in [
        ("reviewer", Some(reviewer.token.as_str())),
        ("owner without streams:write", Some(read_only.as_str())),
        ("stranger", Some(w.other.token.as_str())),
        ("anonymous", None),
    ] {
        let r = s.gql(token, RECOVER, input(&hook, &w.stream, since)).await;
        assert_eq!(code(&r), "FORBIDDEN", "{who}: {r}");
        assert!(r["data"].is_null(), "{who}: {r}");
    }
    let r = s
        .gql(
            Some(&w.owner.token),
            RECOVER,
            input("0123456789", &w.stream, since),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    assert!(message(&r).contains("do not match"), "{r}");
    let r = s
        .gql(
            Some(&w.owner.token),
            RECOVER,
            input(&hook, &w.stream, "yesterday"),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    w.server.shutdown().await;
}

/// `n` events of `hook` on `stream` that failed for good an hour ago, written as the recorder
/// leaves them (status 3, no queue row), straight into the tables: the dispatcher would take
/// minutes to fail ten thousand for real.
async fn failed_events(server: &TestServer, stream: &str, hook: &str, n: usize) {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    let db = &server.running.state.db;
    let backend = db.get_database_backend();
    let numbers = match backend {
        DatabaseBackend::Postgres => format!("SELECT generate_series(1, {n}) AS i"),
        _ => format!(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
             SELECT i FROM s"
        ),
    };
    let sql = format!(
        "INSERT INTO webhooks_events (webhook_id, stream_id, event_name, status, status_info, \
         retry_count, last_update, created_at, manual) \
         SELECT $1, $2, 'stream_update', 3, 'HTTP 500. Attempt 2 of 2; no attempts left.', 1, \
         $3, $3, false FROM ({numbers}) AS n"
    );
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    db.execute(Statement::from_sql_and_values(
        backend,
        sql,
        [hook.into(), stream.into(), an_hour_ago.into()],
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_queues_at_most_ten_thousand_and_says_that_more_remain() {
    let w = quiet_world().await;
    let s = &w.server;
    let hook = w
        .webhook("https://example.com/h", &["stream_update"], None)
        .await;
    failed_events(s, &w.stream, &hook, 10_005).await;
    let since = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let call = |dry: bool| {
        s.gql(
            Some(&w.owner.token),
            RECOVER,
            json!({ "w": { "id": hook, "streamId": w.stream, "since": since, "dryRun": dry } }),
        )
    };

    let counted = call(true).await;
    assert_eq!(
        counted["data"]["webhookRedeliverFailed"],
        json!(10_000),
        "{counted}"
    );
    let note = &counted["extensions"]["webhookRedeliverFailed"][0];
    assert_eq!(
        (note["moreRemain"].clone(), note["dryRun"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM webhooks_queue").await,
        0,
        "a dry run queues nothing"
    );

    let first = call(false).await;
    assert_eq!(
        first["data"]["webhookRedeliverFailed"],
        json!(10_000),
        "{first}"
    );
    let note = &first["extensions"]["webhookRedeliverFailed"][0];
    assert_eq!(note["moreRemain"], json!(true));
    assert_eq!(note["limit"], json!(10_000));
    assert!(
        note["message"]
            .as_str()
            .is_some_and(|m| m.contains("Call webhookRedeliverFailed again with the same since")),
        "{note}"
    );
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM webhooks_queue").await,
        10_000
    );
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM webhooks_events WHERE status = 3").await,
        5,
        "the newest five wait for the next call"
    );

    let second = call(false).await;
    assert_eq!(
        second["data"]["webhookRedeliverFailed"],
        json!(5),
        "{second}"
    );
    assert_eq!(
        second["extensions"]["webhookRedeliverFailed"][0]["moreRemain"],
        json!(false)
    );
    assert!(second["extensions"]["webhookRedeliverFailed"][0]
        .get("message")
        .is_none());
    let third = call(false).await;
    assert_eq!(third["data"]["webhookRedeliverFailed"], json!(0), "{third}");
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM webhooks_queue").await,
        10_005
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn a_disabled_webhook_is_refused_unless_the_call_re_enables_it() {
    let w = quiet_world().await;
    let s = &w.server;
    let hook = w
        .webhook("https://example.com/h", &["stream_update"], None)
        .await;
    failed_events(s, &w.stream, &hook, 3).await;
    w.update_webhook(&hook, json!({ "enabled": false })).await;
    let since = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let call = |extra: Value| {
        let mut input = json!({ "id": hook, "streamId": w.stream, "since": since });
        if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
            i.extend(e.clone());
        }
        s.gql(Some(&w.owner.token), RECOVER, json!({ "w": input }))
    };
    let refused = call(json!({})).await;
    assert_eq!(code(&refused), "BAD_USER_INPUT", "{refused}");
    assert!(
        message(&refused).contains("is disabled") && message(&refused).contains("enable: true")
    );
    assert_eq!(count(s, "SELECT COUNT(*) FROM webhooks_queue").await, 0);
    let counted = call(json!({ "dryRun": true })).await;
    assert_eq!(
        counted["data"]["webhookRedeliverFailed"],
        json!(3),
        "counting is allowed"
    );

    let done = call(json!({ "enable": true })).await;
    assert_eq!(done["data"]["webhookRedeliverFailed"], json!(3), "{done}");
    let hooks = crate::support::list(&w, &w.stream).await;
    assert_eq!(hooks[0]["enabled"], json!(true));
    assert_eq!(hooks[0]["disabledReason"], Value::Null);
    assert_eq!(count(s, "SELECT COUNT(*) FROM webhooks_queue").await, 3);
    w.server.shutdown().await;
}
