//! Dispatcher processes as operators run them: `streamhooks worker` against a shared database
//! (a SQLite file, or PostgreSQL when TEST_DATABASE_URL is set, as `.ci/run` does). A worker killed
//! while its request hangs loses nothing: another worker delivers the event after the lease, and
//! the killed attempt is on record as interrupted, never as a success. Two workers draining 10,000
//! events deliver every one exactly once. A PostgreSQL restarted in the middle of a drain (a
//! private server the test starts, never the shared one) is noticed, waited out and recovered
//! from, with nothing lost or left leased (see `restart.rs` in this folder).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use entity::webhook_event;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use serde_json::json;
use streamhooks_api::testkit::{hmac_hex, probe, process, TestDatabase, TestReceiver, TestServer};
use streamhooks_worker::outbox::{emit, Event};

const BIN: &str = env!("CARGO_BIN_EXE_streamhooks");

/// A `streamhooks worker` on `server`'s database, polling every 200 ms.
fn spawn_worker(server: &TestServer, extra: &[&str]) -> Child {
    process::worker(BIN, server)
        .args(["--poll-interval", "200ms"])
        .args(extra)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn worker: {e}"))
}

fn terminate(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(
                status.success(),
                "worker exited with {status:?} after SIGTERM"
            );
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "worker did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server without a dispatcher of its own, to queue events through the real API. It allows the
/// local network like its workers do: the API refuses to save a URL the dispatchers would block.
async fn api_only() -> TestServer {
    let db = TestDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    TestServer::start_on(db, &["--allow-local-network", "true"], false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_nothing() {
    let server = api_only().await;
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "s").await;
    let rx = TestReceiver::start().await;
    rx.set_delay(Duration::from_secs(60));
    let hook = server
        .create_webhook(
            &owner,
            &stream,
            &rx.url(),
            &["stream_update"],
            Some("shared 🔑"),
        )
        .await;
    server
        .update_stream(&owner, &stream, json!({ "name": "n" }))
        .await;

    let timing = ["--request-timeout", "3s", "--lease", "4s"];
    let mut first = spawn_worker(&server, &timing);
    let hung = rx
        .next(Duration::from_secs(15))
        .await
        .unwrap_or_else(|| panic!("first worker sent nothing"));
    // SIGKILL: no chance to release the lease or record anything.
    let _ = first.kill();
    let _ = first.wait();
    rx.set_delay(Duration::ZERO);

    let second = spawn_worker(&server, &timing);
    let again = rx
        .next(Duration::from_secs(15))
        .await
        .unwrap_or_else(|| panic!("the event was lost"));
    assert_eq!(
        again.header("x-webhook-delivery"),
        hung.header("x-webhook-delivery"),
        "same event, same delivery id"
    );
    assert_eq!(again.body, hung.body);
    assert_eq!(hung.header("x-webhook-attempt"), Some("1"));
    assert_eq!(again.header("x-webhook-attempt"), Some("2"));
    // The worker processes opened the secret the API sealed: they share its key.
    let payload = again.payload_string().unwrap_or_default();
    assert_eq!(
        again.header("x-webhook-signature"),
        Some(hmac_hex("shared 🔑", &payload).as_str())
    );
    let h = server
        .wait_for_history(&owner, &stream, &hook, Duration::from_secs(10), |h| {
            h.first().is_some_and(|e| e["status"] == json!(2))
        })
        .await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["status"], json!(2), "{h:?}");
    // The attempt the killed worker made is on record as interrupted, not as a success.
    let d = server
        .gql_ok(
            &owner.token,
            "query($s: String!, $w: String!) { stream(id: $s) { webhooks(id: $w) { items { history { items { attempts { number outcome statusCode durationMs } } } } } } }",
            json!({ "s": stream, "w": hook }),
        )
        .await;
    let attempts = d["stream"]["webhooks"]["items"][0]["history"]["items"][0]["attempts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let view: Vec<_> = attempts
        .iter()
        .map(|a| {
            (
                a["number"].clone(),
                a["outcome"].clone(),
                a["statusCode"].clone(),
            )
        })
        .collect();
    assert_eq!(
        view,
        [
            (json!(1), json!("interrupted"), json!(null)),
            (json!(2), json!("success"), json!(200)),
        ],
        "{d}"
    );
    assert_eq!(
        attempts[0]["durationMs"],
        json!(null),
        "nobody timed the killed attempt"
    );
    terminate(second);
    assert!(
        rx.drain().await.is_empty(),
        "delivered exactly twice: once to the dead worker, once after"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_deliver_ten_thousand_events_once_each() {
    const HOOKS: usize = 10;
    const CHANGES: usize = 1_000;
    let server = api_only().await;
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "s").await;
    let rx = TestReceiver::start().await;
    for _ in 0..HOOKS {
        server
            .create_webhook(&owner, &stream, &rx.url(), &["commit_create"], Some("k"))
            .await;
    }
    // 1,000 changes × 10 webhooks through the same emit() the mutations use, in one transaction.
    let db = &server.running.state.db;
    let txn = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    for i in 0..CHANGES {
        let ev = Event {
            stream_id: stream.clone(),
            user_id: owner.id.clone(),
            event_name: "commit_create".into(),
            activity_message: format!("change {i}"),
            data: json!({ "id": format!("c{i}"), "commit": { "message": "x".repeat(200) } }),
            stream: None,
            user: None,
        };
        emit(&txn, &server.running.state.server_info, &ev)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let total = (HOOKS * CHANGES) as u64;

    let a = spawn_worker(&server, &[]);
    let b = spawn_worker(&server, &[]);
    let mut ids = std::collections::HashMap::<String, u32>::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    while (ids.values().sum::<u32>() as u64) < total && Instant::now() < deadline {
        if let Some(r) = rx.next(Duration::from_secs(5)).await {
            *ids.entry(r.header("x-webhook-delivery").unwrap_or("").to_owned())
                .or_default() += 1;
        }
    }
    // Let both finish recording, then make sure nothing more arrives.
    let done = async {
        loop {
            let n = webhook_event::Entity::find()
                .filter(webhook_event::Column::Status.eq(webhook_event::STATUS_SUCCEEDED))
                .count(db)
                .await
                .unwrap_or(0);
            if n == total {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let succeeded = tokio::time::timeout(Duration::from_secs(60), done)
        .await
        .unwrap_or(0);
    terminate(a);
    terminate(b);
    for r in rx.drain().await {
        *ids.entry(r.header("x-webhook-delivery").unwrap_or("").to_owned())
            .or_default() += 1;
    }
    let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert_eq!(ids.len() as u64, total, "every event delivered");
    assert_eq!(succeeded, total, "every status recorded");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_serves_health_and_its_metrics_on_metrics_bind() {
    use std::io::{BufRead, BufReader};
    let server = api_only().await;
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "s").await;
    let rx = TestReceiver::start().await;
    server
        .create_webhook(&owner, &stream, &rx.url(), &["stream_update"], None)
        .await;

    let mut child = Command::new(BIN)
        .arg("worker")
        .args([
            "--database-url",
            &server.db.url,
            "--allow-local-network",
            "true",
            "--metrics-bind",
            "127.0.0.1:0",
        ])
        .env("SECRETS_KEY", server.secrets_key().unwrap_or_default())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn worker: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("worker exited before listening"))
            .unwrap_or_default();
        if line.contains("operator endpoints listening") {
            if let Some(i) = line.find("addr=") {
                break line[i + 5..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_owned();
            }
        }
    };
    std::thread::spawn(move || for _ in lines.by_ref() {});

    server
        .update_stream(&owner, &stream, json!({ "name": "n" }))
        .await;
    rx.next(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("not delivered"));
    let base = format!("http://{addr}");
    let get = |path: &str| probe::get(format!("{base}{path}"));
    assert_eq!(get("/healthz").await, (200, "ok".to_owned()));
    assert_eq!(get("/readyz").await, (200, "ready".to_owned()));
    let success = "streamhooks_deliveries_total{outcome=\"success\"} 1";
    let metrics = probe::metrics_showing(&base, success).await;
    assert!(metrics.contains(success), "{metrics}");
    assert_eq!(get("/graphql").await.0, 404, "a worker serves no API");
    terminate(child);
    server.shutdown().await;
}
