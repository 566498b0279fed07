//! One key per database, as operators meet it through the `streamhooks` binary on a shared
//! database (a SQLite file, or PostgreSQL when TEST_DATABASE_URL is set, as `.ci/run` does):
//! `serve` with key A records A; a `worker` given key B (by `SECRETS_KEY` or by a key file) exits
//! non-zero with one sentence naming where its key came from and how to fix it, before it claims
//! anything; a `worker` with key A delivers.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{json, Value};
use streamhooks_api::testkit::process::{self, KillOnDrop};
use streamhooks_api::testkit::{graphql_ok, hmac_hex, TestDatabase, TestReceiver};
use streamhooks_worker::secrets::generate_key;

const BIN: &str = env!("CARGO_BIN_EXE_streamhooks");

/// The binary with `key` as `SECRETS_KEY` (or none) and no other key settings inherited.
fn streamhooks(args: &[&str], database_url: &str, key: Option<&str>) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("SECRETS_KEY")
        .env_remove("SECRETS_KEY_FILE")
        .env("RUST_LOG", "warn");
    if let Some(k) = key {
        c.env("SECRETS_KEY", k);
    }
    c
}

/// Runs to completion, failing the test after 30 s (a worker that accepted the key runs on).
fn finish(cmd: Command) -> Output {
    process::finish(cmd, Duration::from_secs(30))
}

/// The `data` of a GraphQL request to the `serve` process at `addr`.
async fn gql(addr: &str, token: &str, query: &str, variables: Value) -> Value {
    graphql_ok(&format!("http://{addr}"), token, query, variables).await
}

/// The queue rows as (attempt, leased) pairs.
async fn queue(url: &str) -> Vec<(i32, bool)> {
    let db = Database::connect(url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT attempt, lease_token FROM webhooks_queue",
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = db.close().await;
    rows.iter()
        .map(|r| {
            (
                r.try_get::<i32>("", "attempt").unwrap_or(-1),
                r.try_get::<Option<i64>>("", "lease_token")
                    .ok()
                    .flatten()
                    .is_some(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_another_key_refuses_to_start_and_one_with_the_right_key_delivers() {
    let tdb = TestDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let key_a = generate_key().unwrap_or_else(|e| panic!("{e}"));
    let key_b = generate_key().unwrap_or_else(|e| panic!("{e}"));
    let rx = TestReceiver::start().await;

    // `serve` (no dispatcher of its own) with key A: a user, a stream, a webhook with a secret,
    // and one event queued for it.
    let mut serve = streamhooks(
        &["serve", "--bind", "127.0.0.1:0", "--no-worker"],
        &tdb.url,
        Some(&key_a),
    );
    serve
        .args(["--allow-local-network", "true"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut serve = KillOnDrop(serve.spawn().unwrap_or_else(|e| panic!("spawn serve: {e}")));
    let (addr, _log) = process::listening_address(&mut serve.0);
    let created = finish(streamhooks(
        &[
            "user",
            "create",
            "--name",
            "Olga",
            "--email",
            "olga@example.com",
        ],
        &tdb.url,
        None,
    ));
    let user: Value = serde_json::from_slice(&created.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&created.stderr)));
    let token = user["token"].as_str().unwrap_or_default();
    let stream = gql(
        &addr,
        token,
        "mutation($s: StreamCreateInput!) { streamCreate(stream: $s) }",
        json!({ "s": { "name": "keys" } }),
    )
    .await["streamCreate"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    gql(
        &addr,
        token,
        "mutation($w: WebhookCreateInput!) { webhookCreate(webhook: $w) }",
        json!({ "w": { "streamId": stream, "url": rx.url(), "triggers": ["stream_update"], "secret": "s3cr3t" } }),
    )
    .await;
    gql(
        &addr,
        token,
        "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }",
        json!({ "s": { "id": stream, "description": "changed" } }),
    )
    .await;
    assert_eq!(queue(&tdb.url).await, vec![(0, false)], "queued, unclaimed");

    // A worker with key B, from SECRETS_KEY.
    let out = finish(streamhooks(
        &["worker", "--allow-local-network", "true"],
        &tdb.url,
        Some(&key_b),
    ));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
    assert!(
        err.contains("The secrets key from SECRETS_KEY (fingerprint ")
            && err.contains("is not the key this database's webhook secrets are encrypted under")
            && err.contains("give this process the key every other process on this database uses"),
        "{err}"
    );
    assert!(!err.contains(&key_b) && !err.contains(&key_a), "{err}");

    // The same key B from a key file: the sentence names the file.
    let dir = std::env::temp_dir().join(format!("streamhooks-keys-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("other.key");
    std::fs::write(&file, &key_b).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut from_file = streamhooks(&["worker", "--allow-local-network", "true"], &tdb.url, None);
    from_file.env("SECRETS_KEY_FILE", &file);
    let out = finish(from_file);
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "The secrets key from the key file {} (SECRETS_KEY_FILE)",
            file.display()
        )),
        "{err}"
    );

    // Neither refused worker claimed or sent anything.
    assert_eq!(queue(&tdb.url).await, vec![(0, false)], "still unclaimed");
    assert!(rx.drain().await.is_empty(), "nothing was sent");

    // A worker with key A delivers, signed with the secret A sealed.
    let mut right = streamhooks(
        &[
            "worker",
            "--allow-local-network",
            "true",
            "--poll-interval",
            "200ms",
        ],
        &tdb.url,
        Some(&key_a),
    );
    right.stdout(Stdio::null()).stderr(Stdio::inherit());
    let _right = KillOnDrop(
        right
            .spawn()
            .unwrap_or_else(|e| panic!("spawn worker: {e}")),
    );
    let got = rx
        .next(Duration::from_secs(15))
        .await
        .unwrap_or_else(|| panic!("the worker with key A delivered nothing"));
    let payload = got.payload_string().unwrap_or_default();
    assert_eq!(
        got.header("x-webhook-signature"),
        Some(hmac_hex("s3cr3t", &payload).as_str())
    );
}
