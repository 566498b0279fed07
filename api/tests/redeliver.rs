//! `streamhooks redeliver`, the operator's side of recovering from an outage, on the shared
//! database (a SQLite file, or PostgreSQL when TEST_DATABASE_URL is set): it counts (`--dry-run`)
//! and queues again a webhook's events that failed for good since a time (given as how long ago),
//! prints one JSON object, queues nothing twice, refuses an unknown webhook or time with one
//! sentence, and a `streamhooks worker` then delivers each event as itself.

use std::collections::HashSet;
use std::process::{Command, Output};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};
use streamhooks_api::testkit::process::{self, KillOnDrop};
use streamhooks_api::testkit::{TestReceiver, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_streamhooks");

fn redeliver(url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("redeliver")
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "off")
        .output()
        .unwrap_or_else(|e| panic!("redeliver: {e}"))
}

fn printed(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeliver_counts_queues_once_and_a_worker_sends_each_event_as_itself() {
    let server = TestServer::start_with(&["--allow-local-network", "true"], false).await;
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "outage").await;
    let rx = TestReceiver::start().await;
    let hook = server
        .create_webhook(&owner, &stream, &rx.url(), &["stream_update"], None)
        .await;
    // Two events that failed for good an hour ago, as the recorder leaves them.
    let db = &server.running.state.db;
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let mut failed = HashSet::new();
    for _ in 0..2 {
        let row = db
            .query_one(Statement::from_sql_and_values(
                db.get_database_backend(),
                "INSERT INTO webhooks_events (webhook_id, stream_id, event_name, status, \
                 status_info, retry_count, last_update, created_at, manual) \
                 VALUES ($1, $2, 'stream_update', 3, 'HTTP 500.', 0, $3, $3, false) RETURNING id",
                [
                    hook.as_str().into(),
                    stream.as_str().into(),
                    an_hour_ago.into(),
                ],
            ))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no id"));
        let id: i64 = row.try_get("", "id").unwrap_or_else(|e| panic!("{e}"));
        db.execute(Statement::from_sql_and_values(
            db.get_database_backend(),
            "INSERT INTO webhooks_event_payloads (event_id, payload) VALUES ($1, '{}')",
            [id.into()],
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        failed.insert(id.to_string());
    }
    let url = server.db.url.clone();

    let counted = printed(&redeliver(
        &url,
        &["--webhook", &hook, "--since", "2h", "--dry-run"],
    ));
    assert_eq!(counted, json!({ "queued": 2, "moreRemain": false }));
    let queued = printed(&redeliver(&url, &["--webhook", &hook, "--since", "2h"]));
    assert_eq!(queued, json!({ "queued": 2, "moreRemain": false }));
    let again = printed(&redeliver(&url, &["--webhook", &hook, "--since", "2h"]));
    assert_eq!(
        again,
        json!({ "queued": 0, "moreRemain": false }),
        "nothing twice"
    );

    for (args, code, expected) in [
        (
            vec!["--webhook", "0123456789", "--since", "2h"],
            1,
            "there is no webhook 0123456789",
        ),
        (
            vec!["--webhook", hook.as_str(), "--since", "last tuesday"],
            2,
            "is neither a time (2026-11-24T08:00:00Z) nor a duration ago (24h)",
        ),
    ] {
        let out = redeliver(&url, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }

    let worker = process::worker(BIN, &server)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn worker: {e}"));
    let _worker = KillOnDrop(worker);
    let mut delivered = HashSet::new();
    for _ in 0..2 {
        let got = rx
            .next(Duration::from_secs(15))
            .await
            .unwrap_or_else(|| panic!("the worker sent nothing"));
        delivered.insert(got.header("x-webhook-delivery").unwrap_or("").to_owned());
    }
    assert_eq!(delivered, failed, "each event as itself");
    server.shutdown().await;
}
