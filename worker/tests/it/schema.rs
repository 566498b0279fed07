//! Claiming keeps working on a pooled connection that has not yet seen a migration applied
//! through another connection (as when `serve` migrates while connections already exist). With
//! `RETURNING *` such a connection prepared the claim with the old column list, SQLite re-prepared
//! it with the new one on the first step, and sqlx panicked on the mismatch.

use std::time::Duration;

use chrono::Utc;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};
use streamhooks_worker::claim;

use crate::common::*;

async fn single_connection(url: &str) -> DatabaseConnection {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    opts.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10))
    });
    Database::connect(opts).await.expect("open sqlite")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claiming_survives_a_migration_applied_by_another_connection() {
    let dir = std::env::temp_dir().join(format!(
        "streamhooks-test-schema-{}",
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());

    // This connection knows the schema as of the first migration only.
    let stale = single_connection(&url).await;
    Migrator::up(&stale, Some(1))
        .await
        .expect("first migration");
    stale
        .execute(Statement::from_string(
            stale.get_database_backend(),
            "SELECT * FROM webhooks_events LIMIT 0",
        ))
        .await
        .expect("load the schema");

    // Another connection applies the rest (adding a column to webhooks_events) and queues.
    let fresh = single_connection(&url).await;
    Migrator::up(&fresh, None)
        .await
        .expect("remaining migrations");
    let s = insert_stream(&fresh).await;
    let hook = insert_webhook(&fresh, &s, "http://203.0.113.1/", None).await;
    let id = insert_event(&fresh, &hook, "{}").await;

    let now = Utc::now().timestamp_millis();
    let rows = tokio::time::timeout(
        Duration::from_secs(5),
        claim::claim(&stale, now, 1_000, 10, &[]),
    )
    .await
    .expect("the claim returns")
    .expect("the claim succeeds on the stale connection");
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id]);
    assert!(!rows[0].manual);

    stale.close().await.ok();
    fresh.close().await.ok();
    std::fs::remove_dir_all(dir).ok();
}
