//! `WebhookEvent.attempts` through the API: every attempt of a fail, fail, succeed delivery with
//! what the receiver answered; pings and redeliveries get attempts too; the history of a
//! stream's hundred webhooks costs the same few database statements as one webhook's; and pages
//! over the answer budget are refused before a payload is read.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{
    config_from_args, graphql, graphql_ok, Reply, TestDatabase, TestReceiver, TestUser, TEST_ARGS,
};
use streamhooks_api::{http, schema, AppState};
use streamhooks_worker::outbox::{emit, Event};
use streamhooks_worker::Notifier;

use crate::support::world;

const HISTORY: &str = "query($s: String!, $w: String) { stream(id: $s) { webhooks(id: $w) { items { id history(limit: 5) { totalCount items { id status statusInfo retryCount attempts { number startedAt durationMs outcome statusCode error responseHeaders { name value } responseBody worker } } } } } } }";

/// A receiver that answers from a script: (status, `x-answer` header, body) per request, then
/// 200 with `x-answer: extra`.
async fn scripted(replies: Vec<(u16, &'static str, &'static str)>) -> TestReceiver {
    let reply = |(status, tag, body): (u16, &str, &str)| Reply {
        status,
        headers: vec![("x-answer", tag.to_owned())],
        body: body.to_owned(),
    };
    let rx = TestReceiver::start().await;
    rx.script(replies.into_iter().map(reply).collect());
    rx.set_reply(reply((200, "extra", "")));
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attempt_is_shown_with_its_response() {
    let w = world().await;
    // Receiver-controlled text that must come back intact as JSON: quotes, markup, a newline.
    let rx = scripted(vec![
        (500, "one", "<b>\"boom\"</b>\nretry later"),
        (502, "two", ""),
        (200, "three", "thanks"),
    ])
    .await;
    let hook = w.webhook(&rx.url(), &["stream_update"], Some("s")).await;
    w.update_stream(json!({ "description": "changed" })).await;
    let done = w
        .server
        .wait_for_history(&w.owner, &w.stream, &hook, Duration::from_secs(10), |h| {
            h.first().is_some_and(|e| e["status"] == json!(2))
        })
        .await;
    assert_eq!(done[0]["status"], json!(2), "{done:?}");
    let d = w
        .server
        .gql_ok(&w.owner.token, HISTORY, json!({ "s": w.stream, "w": hook }))
        .await;
    let event = &d["stream"]["webhooks"]["items"][0]["history"]["items"][0];
    assert_eq!(event["retryCount"], json!(2));
    assert!(event["statusInfo"]
        .as_str()
        .is_some_and(|s| s.starts_with("HTTP 200 in ")));
    let attempts = event["attempts"].as_array().cloned().unwrap_or_default();
    let view: Vec<(Value, Value, Value, Value)> = attempts
        .iter()
        .map(|a| {
            (
                a["number"].clone(),
                a["outcome"].clone(),
                a["statusCode"].clone(),
                a["responseBody"].clone(),
            )
        })
        .collect();
    assert_eq!(
        view,
        vec![
            (
                json!(1),
                json!("http_error"),
                json!(500),
                json!("<b>\"boom\"</b>\nretry later")
            ),
            (json!(2), json!("http_error"), json!(502), json!("")),
            (json!(3), json!("success"), json!(200), json!("thanks")),
        ]
    );
    for (a, tag) in attempts.iter().zip(["one", "two", "three"]) {
        let headers = a["responseHeaders"].as_array().cloned().unwrap_or_default();
        assert!(
            headers.contains(&json!({ "name": "x-answer", "value": tag })),
            "{headers:?}"
        );
        assert!(a["durationMs"].as_i64().is_some(), "{a}");
        assert!(a["startedAt"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z') || s.contains('+')));
        assert!(a["worker"].as_str().is_some_and(|s| !s.is_empty()));
    }
    assert!(attempts[0]["error"].as_str().is_some_and(
        |e| e.starts_with("HTTP 500 Internal Server Error: <b>\"boom\"</b> retry later")
    ));
    assert_eq!(attempts[2]["error"], Value::Null);
    w.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_and_redeliveries_have_attempts() {
    let w = world().await;
    let rx = scripted(vec![
        (200, "ping", "pong"),
        (418, "again", "short and stout"),
    ])
    .await;
    let hook = w.webhook(&rx.url(), &["commit_create"], None).await;
    let ping = w.server.ping(&w.owner, &w.stream, &hook, None).await;
    w.server
        .wait_for_history(&w.owner, &w.stream, &hook, Duration::from_secs(10), |h| {
            h.first().is_some_and(|e| e["status"] == json!(2))
        })
        .await;
    let again = w
        .server
        .gql_ok(
            &w.owner.token,
            "mutation($e: WebhookEventRedeliverInput!) { webhookEventRedeliver(event: $e) }",
            json!({ "e": { "id": ping, "webhookId": hook, "streamId": w.stream } }),
        )
        .await["webhookEventRedeliver"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // The redelivery fails with 418 and waits for a retry (status 0 with an attempt on record).
    let mut items = Vec::new();
    for _ in 0..500 {
        let d = w
            .server
            .gql_ok(&w.owner.token, HISTORY, json!({ "s": w.stream, "w": hook }))
            .await;
        items = d["stream"]["webhooks"]["items"][0]["history"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if items.len() == 2 && !items[0]["attempts"].as_array().is_none_or(|a| a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(items[0]["id"], json!(again), "{items:?}");
    assert_eq!(items[1]["id"], json!(ping));
    let first = |e: &Value, key: &str| e["attempts"][0][key].clone();
    assert_eq!(first(&items[1], "outcome"), json!("success"));
    assert_eq!(first(&items[1], "responseBody"), json!("pong"));
    assert_eq!(first(&items[0], "outcome"), json!("http_error"));
    assert_eq!(first(&items[0], "statusCode"), json!(418));
    w.server.shutdown().await;
}

/// A server assembled from the library's parts around a database connection that counts every
/// statement sea-orm runs on it: the real router, schema and loaders, no dispatcher.
struct Counted {
    url: String,
    /// A user with a token that has every scope.
    user: TestUser,
    statements: Arc<AtomicUsize>,
    /// The text of every statement run, in order.
    sql: Arc<Mutex<Vec<String>>>,
    state: AppState,
    _db: TestDatabase,
}

async fn counted_server(extra: &[&str]) -> Counted {
    let tdb = TestDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut db = streamhooks_api::context::db::connect_and_migrate(&tdb.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let statements = Arc::new(AtomicUsize::new(0));
    let sql = Arc::new(Mutex::new(Vec::new()));
    let (seen, texts) = (statements.clone(), sql.clone());
    db.set_metric_callback(move |info| {
        seen.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut t) = texts.lock() {
            t.push(info.statement.sql.clone());
        }
    });
    let mut args: Vec<&str> = TEST_ARGS.to_vec();
    args.extend(["--database-url", &tdb.url]);
    args.extend_from_slice(extra);
    let config = config_from_args(args).unwrap_or_else(|e| panic!("{e}"));
    let secrets = streamhooks_worker::secrets::store::prepare(&db, &config.secrets)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::new(db, Arc::new(config), secrets, Notifier::new());
    let created = streamhooks_api::speckle::service::user::create_with_token(
        &state.db,
        "Olga",
        "olga@example.com",
        false,
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.public_message()));
    let user = TestUser {
        id: created.id,
        token: created.token,
    };
    let app = http::router(state.clone(), schema::build_schema(state.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let url = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Counted {
        url,
        user,
        statements,
        sql,
        state,
        _db: tdb,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_webhooks_histories_cost_the_same_few_statements_as_one() {
    let s = counted_server(&[]).await;
    let gql = |query: &'static str, vars: Value| graphql_ok(&s.url, &s.user.token, query, vars);
    let mut streams = Vec::new();
    for (name, hooks) in [("one", 1usize), ("hundred", 100)] {
        let stream = gql(
            "mutation($s: StreamCreateInput!) { streamCreate(stream: $s) }",
            json!({ "s": { "name": name } }),
        )
        .await["streamCreate"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        for i in 0..hooks {
            gql(
                "mutation($w: WebhookCreateInput!) { webhookCreate(webhook: $w) }",
                json!({ "w": { "streamId": stream, "url": format!("http://203.0.113.1/{i}"), "triggers": ["commit_create"] } }),
            )
            .await;
        }
        // Three events per webhook, queued as a mutation queues them.
        let txn = s.state.begin().await.unwrap_or_else(|e| panic!("{e}"));
        for n in 0..3 {
            let ev = Event::new(
                &stream,
                &s.user.id,
                "commit_create",
                format!("c{n}"),
                json!({ "n": n }),
            );
            emit(&txn, &s.state.server_info, &ev)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
        streams.push((stream, hooks));
    }

    let mut costs = Vec::new();
    for (stream, hooks) in &streams {
        let before = s.statements.load(Ordering::SeqCst);
        let d = gql(
            "query($s: String!) { stream(id: $s) { webhooks { totalCount items { id history(limit: 10) { totalCount items { id status payload attempts { number outcome } } } } } } }",
            json!({ "s": stream }),
        )
        .await;
        costs.push(s.statements.load(Ordering::SeqCst) - before);
        let items = d["stream"]["webhooks"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(items.len(), *hooks);
        for w in &items {
            assert_eq!(w["history"]["totalCount"], json!(3), "{w}");
            assert_eq!(w["history"]["items"].as_array().map(Vec::len), Some(3));
        }
    }
    assert_eq!(
        costs[0], costs[1],
        "1 webhook vs 100 webhooks: {costs:?} statements"
    );
    assert!(costs[1] <= 10, "{costs:?} statements");
}

/// Pages whose payloads would pass the answer budget are refused from their stored sizes: no
/// statement that reads a payload runs, whether the pages are loaded ahead for a stream's
/// webhooks, one webhook's page is asked by id, or a page below a cursor.
#[tokio::test]
async fn history_over_the_budget_is_refused_before_a_payload_is_read() {
    let s = counted_server(&["--graphql-max-response-bytes", "65536"]).await;
    let gql = |query: &'static str, vars: Value| graphql(&s.url, Some(&s.user.token), query, vars);
    let stream = gql(
        "mutation($s: StreamCreateInput!) { streamCreate(stream: $s) }",
        json!({ "s": { "name": "big" } }),
    )
    .await["data"]["streamCreate"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let hook = gql(
        "mutation($w: WebhookCreateInput!) { webhookCreate(webhook: $w) }",
        json!({ "w": { "streamId": stream, "url": "http://203.0.113.1/h", "triggers": ["commit_create"] } }),
    )
    .await["data"]["webhookCreate"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Four events of ~40 KB: any page of two or more is over the 64 KiB budget.
    let txn = s.state.begin().await.unwrap_or_else(|e| panic!("{e}"));
    for n in 0..4 {
        let ev = Event::new(
            &stream,
            &s.user.id,
            "commit_create",
            format!("c{n}"),
            json!({ "pad": "x".repeat(40_000) }),
        );
        emit(&txn, &s.state.server_info, &ev)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
    // The first page of one event fits, and hands out a cursor for the rest.
    let first = gql("query($s: String!, $w: String) { stream(id: $s) { webhooks(id: $w) { items { history(limit: 1) { cursor items { payload } } } } } }", json!({ "s": stream, "w": hook })).await;
    let cursor = first["data"]["stream"]["webhooks"]["items"][0]["history"]["cursor"].clone();
    assert!(cursor.is_string(), "{first}");

    for (how, query) in [
        ("loaded ahead", "query($s: String!) { stream(id: $s) { webhooks { items { history(limit: 4) { items { payload } } } } } }"),
        ("by id", "query($s: String!, $w: String) { stream(id: $s) { webhooks(id: $w) { items { history(limit: 4) { items { payload } } } } } }"),
        ("a deeper page", "query($s: String!, $w: String) { stream(id: $s) { webhooks(id: $w) { items { history(limit: 2, offset: 1) { items { payload } } } } } }"),
        ("below a cursor", "query($s: String!, $w: String, $c: String) { stream(id: $s) { webhooks(id: $w) { items { history(limit: 2, cursor: $c) { items { payload } } } } } }"),
    ] {
        let from = s.sql.lock().map(|t| t.len()).unwrap_or(0);
        let r = gql(query, json!({ "s": stream, "w": hook, "c": cursor })).await;
        assert_eq!(r["errors"][0]["extensions"]["code"], json!("RESPONSE_TOO_LARGE"), "{how}: {}", r["errors"]);
        let ran: Vec<String> = s.sql.lock().map(|t| t[from..].to_vec()).unwrap_or_default();
        // `history::page_statement` selects the payload beside the queue row's lease.
        assert!(
            !ran.iter().any(|q| q.contains("p.payload, q.lease_until")),
            "{how}: a page was read before it was refused: {ran:#?}"
        );
    }
    // A page that fits is read and answered.
    let r = gql("query($s: String!) { stream(id: $s) { webhooks { items { history(limit: 1) { items { payload } } } } } }", json!({ "s": stream })).await;
    assert!(r.get("errors").is_none(), "{r}");
    assert!(s
        .sql
        .lock()
        .map(|t| t.iter().any(|q| q.contains("p.payload, q.lease_until")))
        .unwrap_or(false));
}
