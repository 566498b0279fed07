//! A `streamhooks serve` process killed (SIGKILL) right after answering 202 loses no acknowledged
//! event, on the shared database (a SQLite file, or PostgreSQL when TEST_DATABASE_URL
//! is set, as `.ci/run` does). The events were queued one per request and in a batch, leased to
//! the server's own dispatcher by the inserting statement and handed over in memory; the
//! receiver holds its answers, so the killed process had them in flight. Every 202 is on disk
//! after the kill, and a `streamhooks worker` started afterwards recovers each handed-off event
//! once its lease runs out and delivers it, with the killed attempt on record as interrupted.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};
use streamhooks_api::testkit::{TestDatabase, TestReceiver, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_streamhooks");
const TIMING: [&str; 6] = [
    "--request-timeout",
    "2s",
    "--lease",
    "3s",
    "--poll-interval",
    "200ms",
];

/// `streamhooks serve` on `server`'s database (with its secrets key), and its address.
fn spawn_serve(server: &TestServer) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            &server.db.url,
        ])
        .args(["--allow-local-network", "true"])
        .args(TIMING)
        .env("SECRETS_KEY", server.secrets_key().unwrap_or_default())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn serve: {e}"));
    let (addr, _rest) = streamhooks_api::testkit::process::listening_address(&mut child);
    (child, addr)
}

async fn scalar(server: &TestServer, sql: &str) -> i64 {
    let db = &server.running.state.db;
    db.query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or_else(|| panic!("{sql}: no answer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serve_killed_after_202_loses_no_event_and_another_worker_recovers_them() {
    // An API-only server of the test's own sets up users, stream and webhook and reads the tables.
    let db = TestDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let setup = TestServer::start_on(db, &["--allow-local-network", "true"], false).await;
    let owner = setup.create_user("Olga", "olga@example.com").await;
    let admin = setup.create_admin("Ad Min", "admin@example.com").await;
    let stream = setup.create_stream(&owner, "s").await;
    let rx = TestReceiver::start().await;
    rx.set_delay(Duration::from_secs(60));
    setup
        .create_webhook(&owner, &stream, &rx.url(), &["commit_create"], None)
        .await;

    let (mut serve, addr) = spawn_serve(&setup);
    let http = reqwest::Client::new();
    let event = |i: usize| json!({ "streamId": stream, "userId": owner.id, "event": "commit_create", "data": { "n": i } });
    let mut acknowledged = 0;
    for i in 0..10 {
        let resp = http
            .post(format!("http://{addr}/api/events"))
            .header("authorization", format!("Bearer {}", admin.token))
            .header("content-type", "application/json")
            .body(event(i).to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST: {e}"));
        assert_eq!(resp.status().as_u16(), 202);
        acknowledged += 1;
    }
    let batch: Vec<Value> = (10..30).map(event).collect();
    let resp = http
        .post(format!("http://{addr}/api/events/batch"))
        .header("authorization", format!("Bearer {}", admin.token))
        .header("content-type", "application/json")
        .body(json!({ "events": batch }).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST batch: {e}"));
    assert_eq!(resp.status().as_u16(), 202);
    acknowledged += 20;
    // SIGKILL straight after the last 202: no shutdown, no release, nothing recorded.
    let _ = serve.kill();
    let _ = serve.wait();

    // Every acknowledged event is stored and still queued.
    assert_eq!(
        scalar(&setup, "SELECT COUNT(*) AS n FROM webhooks_events").await,
        acknowledged
    );
    assert_eq!(
        scalar(&setup, "SELECT COUNT(*) AS n FROM webhooks_queue").await,
        acknowledged
    );
    // Handed off: leased to the killed process by the statement that inserted them.
    let leased = scalar(
        &setup,
        "SELECT COUNT(*) AS n FROM webhooks_queue WHERE lease_token IS NOT NULL",
    )
    .await;
    assert!(leased > 0, "nothing was handed off");
    let sent_before_kill = rx.drain().await.len();

    rx.set_delay(Duration::ZERO);
    let mut worker = Command::new(BIN)
        .args(["worker", "--database-url", &setup.db.url])
        .args(["--allow-local-network", "true"])
        .args(TIMING)
        .env("SECRETS_KEY", setup.secrets_key().unwrap_or_default())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn worker: {e}"));
    let mut delivered = HashSet::new();
    while delivered.len() < acknowledged as usize {
        let Some(got) = rx.next(Duration::from_secs(20)).await else {
            let _ = worker.kill();
            panic!(
                "only {} of {acknowledged} events recovered",
                delivered.len()
            );
        };
        delivered.insert(got.header("x-webhook-delivery").unwrap_or("").to_owned());
    }
    let start = Instant::now();
    while scalar(&setup, "SELECT COUNT(*) AS n FROM webhooks_queue").await > 0 {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = worker.kill();
            panic!("results not recorded");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = worker.kill();
    let _ = worker.wait();
    assert_eq!(
        scalar(
            &setup,
            "SELECT COUNT(*) AS n FROM webhooks_event_attempts WHERE outcome = 'success'"
        )
        .await,
        acknowledged
    );
    // What the killed process had sent is on record as interrupted, never as a success.
    let interrupted = scalar(
        &setup,
        "SELECT COUNT(*) AS n FROM webhooks_event_attempts WHERE outcome = 'interrupted'",
    )
    .await;
    assert!(
        interrupted >= sent_before_kill as i64,
        "{interrupted} interrupted, {sent_before_kill} sent before the kill"
    );
    setup.shutdown().await;
}
