//! `POST /api/events/batch` and the in-process hand-off. A batch with one bad event is
//! refused whole, as README documents, and stores nothing: no event, payload, queue row or count;
//! a batch over MAX_INGEST_BATCH likewise. A good batch answers per event. Events queued by a
//! server that also dispatches are leased to its own dispatcher in the inserting statement and
//! sent from memory; each reaches the receiver exactly once, with one attempt on record, whether
//! it came one per request (sent concurrently, so several share a statement) or in a batch.
//! GraphQL mutations, pings and redeliveries take the same path from their commit, with no claim
//! (counted by `/metrics`). (The SIGKILL case is a process test: api/tests/ingest.rs.)

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{probe, TestReceiver, TestServer, TestUser, TEST_ARGS};

async fn post(server: &TestServer, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| json!(text)),
    )
}

async fn count(server: &TestServer, table: &str) -> i64 {
    crate::support::count(server, &format!("SELECT COUNT(*) FROM {table}")).await
}

/// Every table a queued event writes to, and the webhook's event count.
async fn stored(server: &TestServer) -> [i64; 4] {
    [
        count(server, "webhooks_events").await,
        count(server, "webhooks_event_payloads").await,
        count(server, "webhooks_queue").await,
        count(server, "webhooks_event_counts").await,
    ]
}

struct World {
    server: TestServer,
    admin: TestUser,
    owner: TestUser,
    stream: String,
}

async fn world(worker: bool, extra: &[&str], receiver: &str) -> World {
    let mut args: Vec<&str> = TEST_ARGS.to_vec();
    args.extend_from_slice(extra);
    let server = TestServer::start_with(&args, worker).await;
    let owner = server.create_user("Olga", "olga@example.com").await;
    let admin = server.create_admin("Ad Min", "admin@example.com").await;
    let stream = server.create_stream(&owner, "ingested").await;
    server
        .create_webhook(
            &owner,
            &stream,
            receiver,
            &["commit_create", "stream_update"],
            None,
        )
        .await;
    World {
        server,
        admin,
        owner,
        stream,
    }
}

fn event(w: &World, name: &str, i: usize) -> Value {
    json!({ "streamId": w.stream, "userId": w.owner.id, "event": name, "data": { "n": i } })
}

#[tokio::test]
async fn a_batch_with_a_bad_event_is_refused_whole_and_stores_nothing() {
    let w = world(
        false,
        &["--max-ingest-batch", "4"],
        "http://127.0.0.1:9/hook",
    )
    .await;
    let good = event(&w, "commit_create", 0);
    let batch = json!({ "events": [
        good,
        { "streamId": w.stream, "userId": w.owner.id, "event": "no_such_event" },
        { "streamId": w.stream, "userId": w.owner.id, "event": "commit_create", "bogus": 1 },
        "not an object",
    ] });
    let (status, body) = post(&w.server, "/api/events/batch", &w.admin.token, &batch).await;
    assert_eq!(status, 400, "{body}");
    let refused: Vec<u64> = body["refused"]
        .as_array()
        .unwrap_or_else(|| panic!("no refused list: {body}"))
        .iter()
        .map(|r| r["index"].as_u64().unwrap_or(99))
        .collect();
    assert_eq!(refused, [1, 2, 3], "{body}");
    assert!(body["error"]
        .as_str()
        .is_some_and(|e| e.contains("nothing was queued")));
    assert!(body["refused"][1]["error"]
        .as_str()
        .is_some_and(|e| e.contains("bogus")));
    assert_eq!(stored(&w.server).await, [0, 0, 0, 0]);

    // Over MAX_INGEST_BATCH: refused before any event is looked at.
    let five: Vec<Value> = (0..5).map(|i| event(&w, "commit_create", i)).collect();
    let (status, body) = post(
        &w.server,
        "/api/events/batch",
        &w.admin.token,
        &json!({ "events": five }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]
        .as_str()
        .is_some_and(|e| e.contains("MAX_INGEST_BATCH")));
    let (status, _) = post(
        &w.server,
        "/api/events/batch",
        &w.admin.token,
        &json!({ "events": [] }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(stored(&w.server).await, [0, 0, 0, 0]);

    // Not an admin: 403, nothing stored.
    let (status, _) = post(
        &w.server,
        "/api/events/batch",
        &w.owner.token,
        &json!({ "events": [event(&w, "commit_create", 0)] }),
    )
    .await;
    assert_eq!(status, 403);

    // A good batch: one answer per event, in order; an event no webhook subscribes to queues 0,
    // and a stream this server does not hold is fine with its `stream` object.
    let batch = json!({ "events": [
        event(&w, "commit_create", 1),
        event(&w, "branch_create", 2),
        { "streamId": "elsewhere", "userId": "u1", "event": "commit_create",
          "stream": { "id": "elsewhere", "name": "E" } },
        event(&w, "stream_update", 3),
    ] });
    let (status, body) = post(&w.server, "/api/events/batch", &w.admin.token, &batch).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body,
        json!({ "queued": 2, "events": [
            { "queued": 1 }, { "queued": 0 }, { "queued": 0 }, { "queued": 1 }
        ] })
    );
    let [events, payloads, queue, counts] = stored(&w.server).await;
    assert_eq!((events, payloads, queue), (2, 2, 2));
    assert!(counts >= 1);
    // No dispatcher in this process: nothing was leased, so any worker may claim them.
    assert_eq!(
        count(&w.server, "webhooks_queue WHERE lease_token IS NULL").await,
        2
    );
    w.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handed_off_events_are_delivered_exactly_once() {
    let rx = TestReceiver::start().await;
    let w = world(true, &[], &rx.url()).await;
    // Sent all at once, so that the server writes several in one statement (group commit).
    let singles = 20;
    let answers = futures_util::future::join_all((0..singles).map(|i| {
        let body = event(&w, "commit_create", i);
        let (server, token) = (&w.server, w.admin.token.clone());
        async move { post(server, "/api/events", &token, &body).await }
    }))
    .await;
    for (status, body) in answers {
        assert_eq!((status, body), (202, json!({ "queued": 1 })));
    }
    let batch: Vec<Value> = (0..30).map(|i| event(&w, "stream_update", i)).collect();
    let (status, body) = post(
        &w.server,
        "/api/events/batch",
        &w.admin.token,
        &json!({ "events": batch }),
    )
    .await;
    assert_eq!((status, body["queued"].clone()), (202, json!(30)));
    let total = singles + 30;

    let mut seen: HashMap<String, usize> = HashMap::new();
    while seen.len() < total {
        let got = rx
            .next(Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("only {} of {total} events arrived", seen.len()));
        let id = got.header("x-webhook-delivery").unwrap_or("").to_owned();
        *seen.entry(id).or_default() += 1;
    }
    // Everything recorded: the queue is empty once every result is written.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(&w.server, "webhooks_queue").await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "results not recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing more arrives: a second send would come within the lease or the poll.
    assert!(rx.next(Duration::from_millis(1500)).await.is_none());
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert_eq!(
        count(&w.server, "webhooks_event_attempts").await,
        total as i64
    );
    assert_eq!(
        count(&w.server, "webhooks_event_attempts WHERE number = 1").await,
        total as i64
    );
    // Taken once each; handed over unless the dispatcher's room (2 × concurrency) was full.
    let (handed, claimed) = (
        taken(&w.server, "handoff").await,
        taken(&w.server, "claim").await,
    );
    assert_eq!(handed + claimed, total as u64);
    assert!(handed > 0, "nothing was handed over");
    w.server.shutdown().await;
}

/// Nothing about the caller or the webhooks is cached: a disabled webhook gets no more events,
/// and a revoked token is refused, from the very next request.
#[tokio::test]
async fn a_disabled_webhook_and_a_revoked_token_count_at_once() {
    let w = world(false, &[], "http://127.0.0.1:9/hook").await;
    let hook = w
        .server
        .create_webhook(
            &w.owner,
            &w.stream,
            "http://127.0.0.1:9/other",
            &["commit_create"],
            None,
        )
        .await;
    let one = event(&w, "commit_create", 0);
    let (status, body) = post(&w.server, "/api/events", &w.admin.token, &one).await;
    assert_eq!((status, body), (202, json!({ "queued": 2 })));
    w.server
        .update_webhook(&w.owner, &w.stream, &hook, json!({ "enabled": false }))
        .await;
    let (status, body) = post(&w.server, "/api/events", &w.admin.token, &one).await;
    assert_eq!((status, body), (202, json!({ "queued": 1 })));

    w.server
        .gql_ok(
            &w.admin.token,
            "mutation($t: String!) { apiTokenRevoke(token: $t) }",
            json!({ "t": w.admin.token }),
        )
        .await;
    let (status, _) = post(&w.server, "/api/events", &w.admin.token, &one).await;
    assert_eq!(status, 401);
    // The token is judged before the body.
    let (status, _) = post(
        &w.server,
        "/api/events",
        &w.admin.token,
        &json!({ "bad": 1 }),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post(
        &w.server,
        "/api/events/batch",
        &w.admin.token,
        &json!({ "events": [one] }),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(count(&w.server, "webhooks_events").await, 3);
    w.server.shutdown().await;
}

/// Concurrent requests have their tokens and webhooks read together, in one statement
/// (`webhooks::lookup`); each must still be answered from its own rows: its own token (admin,
/// not admin, revoked) and its own stream's webhooks (one, two, or a stream nobody knows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_read_together_are_each_answered_from_their_own_rows() {
    let w = world(false, &[], "http://127.0.0.1:9/hook").await;
    let two = w.server.create_stream(&w.owner, "two hooks").await;
    for path in ["a", "b"] {
        w.server
            .create_webhook(
                &w.owner,
                &two,
                &format!("http://127.0.0.1:9/{path}"),
                &["commit_create"],
                None,
            )
            .await;
    }
    let revoked = w.server.create_admin("Gone", "gone@example.com").await;
    w.server
        .gql_ok(
            &revoked.token,
            "mutation($t: String!) { apiTokenRevoke(token: $t) }",
            json!({ "t": revoked.token }),
        )
        .await;
    // (token, stream, expected status, expected body or None for any error body)
    let kinds: [(&str, &str, u16, Option<Value>); 5] = [
        (&w.admin.token, &w.stream, 202, Some(json!({ "queued": 1 }))),
        (&w.admin.token, &two, 202, Some(json!({ "queued": 2 }))),
        (&w.owner.token, &two, 403, None),
        (&revoked.token, &w.stream, 401, None),
        // No webhooks there, so nothing to queue (the stream is only needed for a payload).
        (
            &w.admin.token,
            "nosuchstream",
            202,
            Some(json!({ "queued": 0 })),
        ),
    ];
    let rounds = 12;
    let answers = futures_util::future::join_all((0..rounds * kinds.len()).map(|i| {
        let (token, stream, _, _) = &kinds[i % kinds.len()];
        let body = json!({ "streamId": stream, "userId": w.owner.id, "event": "commit_create",
                           "data": { "n": i } });
        let (server, token) = (&w.server, token.to_string());
        async move { post(server, "/api/events", &token, &body).await }
    }))
    .await;
    for (i, (status, body)) in answers.into_iter().enumerate() {
        let (_, stream, want, want_body) = &kinds[i % kinds.len()];
        assert_eq!(status, *want, "request {i} ({stream}): {body}");
        if let Some(b) = want_body {
            assert_eq!(&body, b, "request {i}");
        }
    }
    assert_eq!(count(&w.server, "webhooks_events").await, rounds as i64 * 3);
    w.server.shutdown().await;
}

/// `streamhooks_events_taken_total{via="…"}` from the server's own `/metrics`.
async fn taken(server: &TestServer, via: &str) -> u64 {
    let series = format!("streamhooks_events_taken_total{{via=\"{via}\"}}");
    probe::metric(&server.url(), &series)
        .await
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
}

/// A mutation's events go from its commit to the dispatcher in memory, as ingested ones do: no
/// claim takes any of them, and each is sent once.
#[tokio::test]
async fn mutations_pings_and_redeliveries_are_handed_over_without_a_claim() {
    let rx = TestReceiver::start().await;
    let w = world(true, &[], &rx.url()).await;
    let s = &w.server;
    let hook = s
        .gql_ok(
            &w.owner.token,
            "query($s: String!) { stream(id: $s) { webhooks { items { id } } } }",
            json!({ "s": w.stream }),
        )
        .await["stream"]["webhooks"]["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut ids = Vec::new();
    for i in 0..3 {
        w.server
            .update_stream(
                &w.owner,
                &w.stream,
                json!({ "description": format!("v{i}") }),
            )
            .await;
        let got = rx
            .next(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("stream_update {i} did not arrive"));
        ids.push(got.header("x-webhook-delivery").unwrap_or("").to_owned());
    }
    let ping = s
        .ping(&w.owner, &w.stream, &hook, Some("commit_create"))
        .await;
    s.gql_ok(
        &w.owner.token,
        "mutation($e: WebhookEventRedeliverInput!) { webhookEventRedeliver(event: $e) }",
        json!({ "e": { "id": ping, "webhookId": hook, "streamId": w.stream } }),
    )
    .await;
    for what in ["ping", "redelivery"] {
        let got = rx
            .next(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("the {what} did not arrive"));
        ids.push(got.header("x-webhook-delivery").unwrap_or("").to_owned());
    }
    assert!(
        rx.next(Duration::from_millis(1500)).await.is_none(),
        "sent twice"
    );
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "{ids:?}");
    assert_eq!(taken(s, "handoff").await, 5);
    assert_eq!(taken(s, "claim").await, 0);
    w.server.shutdown().await;
}
