//! Webhook secrets at rest. [`disk`] reads the raw bytes of a SQLite database and its `-wal`
//! and `-shm` files, as a copy of the disk would hold them; [`keys`] covers the key itself: an
//! upgrade that seals secrets stored in plain text, and a server started with another key,
//! refused until that key is adopted.
//! Deliveries are checked with the test kit's `hmac_hex` (the `hmac` crate), never with the
//! server's signing code.

mod disk;
mod keys;

use std::path::PathBuf;
use std::time::Duration;

use entity::webhook_config;
use migration::MigratorTrait;
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, EntityTrait, Statement};
use serde_json::json;
pub use streamhooks_api::testkit::hmac_hex;
use streamhooks_api::testkit::{
    config_from_args, Received, TestDatabase, TestReceiver, TestServer, TEST_ARGS,
};
use streamhooks_worker::secrets::check::adopt_key;
use streamhooks_worker::secrets::{generate_key, Secrets};

use crate::support::{message, UPDATE};

pub const WAIT: Duration = Duration::from_secs(10);

/// A secret no other part of the test could produce by chance.
pub fn unique(label: &str) -> String {
    format!("{label}-{}", &hex::encode(rand::random::<[u8; 12]>()))
}

/// The SQLite file behind `url` and its WAL and shared-memory files.
pub fn files_of(url: &str) -> Vec<PathBuf> {
    let path = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{path}{suffix}")))
        .collect()
}

/// Which of the files contain `needle` (a missing file contains nothing).
pub fn found_in(files: &[PathBuf], needle: &str) -> Vec<String> {
    files
        .iter()
        .filter(|f| {
            std::fs::read(f)
                .unwrap_or_default()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        })
        .map(|f| f.display().to_string())
        .collect()
}

pub async fn stored_secret(server: &TestServer, id: &str) -> String {
    webhook_config::Entity::find_by_id(id.to_owned())
        .one(&server.running.state.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .and_then(|w| w.secret)
        .unwrap_or_default()
}

/// Changes the stream and returns the delivery that change causes.
pub async fn delivery(
    server: &TestServer,
    token: &str,
    stream: &str,
    rx: &TestReceiver,
) -> Received {
    server
        .gql_ok(
            token,
            "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }",
            json!({ "s": { "id": stream, "description": unique("d") } }),
        )
        .await;
    rx.next(WAIT)
        .await
        .unwrap_or_else(|| panic!("nothing delivered"))
}

pub fn assert_signed_with(req: &Received, secret: &str) {
    let payload = req.payload_string().unwrap_or_default();
    assert_eq!(
        req.header("x-webhook-signature"),
        Some(hmac_hex(secret, &payload).as_str())
    );
}

/// `(id, hasSecret)` of the stream's webhooks, by id.
pub async fn list_by_id(server: &TestServer, token: &str, stream: &str) -> Vec<(String, bool)> {
    let d = server
        .gql_ok(token, crate::support::LIST, json!({ "s": stream }))
        .await;
    let mut out: Vec<(String, bool)> = d["stream"]["webhooks"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|w| {
            (
                w["id"].as_str().unwrap_or_default().to_owned(),
                w["hasSecret"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}
