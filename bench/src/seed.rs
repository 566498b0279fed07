//! Database set-up for the benchmark: a fresh SQLite file (the embedded default, opened by the
//! server's own `db::connect_and_migrate`, so with its settings) or a fresh PostgreSQL database,
//! both made by the test kit's `TestDatabase`; 100 webhooks; and events inserted in multi-row
//! statements so seeding a million rows takes seconds, not the benchmark's time.

use chrono::Utc;
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbErr, Statement, TransactionTrait, Value,
};
use streamhooks_worker::queue::{self, NewEvent};
use streamhooks_worker::testkit::TestDatabase;

/// A fresh database (the test kit's [`TestDatabase`], removed when this is cleaned up or
/// dropped) and a connection to it.
pub struct BenchDb {
    pub db: DatabaseConnection,
    /// What other processes (the `processes` scenario's workers) connect to.
    pub url: String,
    made: TestDatabase,
}

/// Opens `url` exactly as `streamhooks serve` does (same pool and SQLite settings) and migrates.
async fn open(url: String) -> Result<DatabaseConnection, DbErr> {
    streamhooks_api::context::db::connect_and_migrate(&url)
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))
}

/// Connects to `made`, migrating it the way the server does when `migrate` is true.
async fn connect(made: TestDatabase, migrate: bool) -> Result<BenchDb, DbErr> {
    let url = made.url.clone();
    let db = if migrate {
        open(url.clone()).await?
    } else {
        Database::connect(&url).await?
    };
    Ok(BenchDb { db, url, made })
}

pub async fn sqlite() -> Result<BenchDb, DbErr> {
    connect(TestDatabase::sqlite(), true).await
}

/// A fresh SQLite file, left for the binary under test to migrate.
pub async fn sqlite_unmigrated() -> Result<BenchDb, DbErr> {
    connect(TestDatabase::sqlite(), false).await
}

pub async fn postgres(admin_url: &str) -> Result<BenchDb, DbErr> {
    postgres_with(admin_url, true).await
}

/// A fresh PostgreSQL database; unmigrated when `migrate` is false (the binary under test
/// migrates it, so it gets that binary's schema).
pub async fn postgres_with(admin_url: &str, migrate: bool) -> Result<BenchDb, DbErr> {
    let made = TestDatabase::postgres(admin_url)
        .await
        .map_err(DbErr::Custom)?;
    connect(made, migrate).await
}

impl BenchDb {
    /// Closes the connection, then removes the database.
    pub async fn cleanup(self) {
        let _ = self.db.close().await;
        drop(self.made);
    }
}

/// One stream and `n` webhooks pointing at `base_url/hook/<i>`, each with the stored (sealed)
/// secret `secret` and the wire format `format`; returns the webhook ids.
pub async fn webhooks(
    db: &DatabaseConnection,
    base_url: &str,
    n: usize,
    secret: &str,
    format: &str,
) -> Result<Vec<String>, DbErr> {
    insert_webhooks(db, base_url, n, Some((secret, format))).await
}

/// One stream and `n` webhooks without a secret, pointing at `base_url/hook/<i>`, written with
/// the columns every schema since the first has, so the side-by-side can seed a database made by
/// any build (the format defaults to `speckle-string` where it exists; deliveries are signed with
/// the empty key, as Speckle signs for a webhook without a secret). Returns the webhook ids.
pub async fn plain_webhooks(
    db: &DatabaseConnection,
    base_url: &str,
    n: usize,
) -> Result<Vec<String>, DbErr> {
    insert_webhooks(db, base_url, n, None).await
}

/// The stream `benchstream` and its webhooks `wh00000`…, with `(secret, format)` written when
/// given and those columns left out otherwise.
async fn insert_webhooks(
    db: &DatabaseConnection,
    base_url: &str,
    n: usize,
    sealed: Option<(&str, &str)>,
) -> Result<Vec<String>, DbErr> {
    let b = db.get_database_backend();
    let now = Utc::now();
    db.execute(Statement::from_sql_and_values(
        b,
        "INSERT INTO streams (id, name, description, is_public, created_at, updated_at) VALUES ($1, $2, NULL, $3, $4, $4)",
        ["benchstream".into(), "Bench".into(), false.into(), now.into()],
    ))
    .await?;
    let (extra_columns, extra_marks) = match sealed {
        Some(_) => (", secret, format", ", $5, $6"),
        None => ("", ""),
    };
    let sql = format!(
        "INSERT INTO webhooks_config (id, stream_id, url, description, triggers, enabled, \
         disabled_reason, consecutive_failures, created_at, updated_at{extra_columns}) \
         VALUES ($1, 'benchstream', $2, NULL, '[\"commit_create\"]', $3, NULL, 0, $4, $4{extra_marks})"
    );
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("wh{i:05}");
        let mut values: Vec<sea_orm::Value> = vec![
            id.as_str().into(),
            format!("{base_url}/hook/{i}").into(),
            true.into(),
            now.into(),
        ];
        if let Some((secret, format)) = sealed {
            values.extend([secret.into(), format.into()]);
        }
        db.execute(Statement::from_sql_and_values(b, sql.as_str(), values))
            .await?;
        ids.push(id);
    }
    Ok(ids)
}

/// A payload of about 1 KB shaped like a Speckle `commit_create`.
pub fn payload() -> String {
    let filler = "x".repeat(820);
    format!(
        "{{\"streamId\":\"benchstream\",\"userId\":\"u1\",\"activityMessage\":\"Commit created\",\
         \"event\":{{\"event_name\":\"commit_create\",\"data\":{{\"id\":\"c1\",\"commit\":{{\"message\":\"{filler}\"}}}}}},\
         \"server\":{{\"name\":\"bench\"}},\"stream\":{{\"id\":\"benchstream\"}}}}"
    )
}

const ROWS_PER_STATEMENT: usize = 500;

/// Whether `db` has the delivery-record schema (a `webhooks_queue` table) rather than the one
/// before it, so the side-by-side can seed a database made by either binary.
pub async fn has_queue_table(db: &DatabaseConnection) -> Result<bool, DbErr> {
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = 'webhooks_queue'"
        }
        _ => "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'webhooks_queue'",
    };
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0)
        > 0)
}

/// Events not finished yet, in either schema.
pub async fn depth(db: &DatabaseConnection, new_schema: bool) -> Result<i64, DbErr> {
    let sql = if new_schema {
        "SELECT COUNT(*) AS n FROM webhooks_queue"
    } else {
        "SELECT COUNT(*) AS n FROM webhooks_events WHERE status IN (0, 1)"
    };
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

/// Queues `n` events round-robin over `webhooks`, due now, in whichever schema `db` has.
pub async fn events(db: &DatabaseConnection, webhooks: &[String], n: usize) -> Result<(), DbErr> {
    if has_queue_table(db).await? {
        events_new(db, webhooks, n).await
    } else {
        events_old(db, webhooks, n).await
    }
}

/// The delivery-record schema, through the same `queue::insert` the outbox uses.
async fn events_new(db: &DatabaseConnection, webhooks: &[String], n: usize) -> Result<(), DbErr> {
    let payload = payload();
    let mut done = 0;
    while done < n {
        let rows: Vec<NewEvent> = (done..n.min(done + 4096))
            .map(|i| NewEvent {
                webhook_id: webhooks[i % webhooks.len()].clone(),
                stream_id: "benchstream".into(),
                event_name: "commit_create".into(),
                payload: payload.clone(),
                status_info: "Queued.".into(),
                manual: false,
            })
            .collect();
        let txn = db.begin().await?;
        queue::insert(&txn, &rows, Utc::now()).await?;
        txn.commit().await?;
        done += rows.len();
    }
    Ok(())
}

/// The schema before the delivery record (commit 6366400), as its bench seeded it.
async fn events_old(db: &DatabaseConnection, webhooks: &[String], n: usize) -> Result<(), DbErr> {
    let b = db.get_database_backend();
    let payload = payload();
    let mut done = 0;
    while done < n {
        let txn = db.begin().await?;
        for _ in 0..20 {
            let rows = ROWS_PER_STATEMENT.min(n - done);
            if rows == 0 {
                break;
            }
            let now = Utc::now();
            let mut sql = String::from(
                "INSERT INTO webhooks_events (webhook_id, stream_id, event_name, status, status_info, \
                 retry_count, last_update, payload, created_at, next_attempt_at) VALUES ",
            );
            let mut values: Vec<Value> = vec![
                now.into(),
                payload.as_str().into(),
                now.timestamp_millis().into(),
            ];
            for r in 0..rows {
                let p = values.len() + 1;
                if r > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${p}, 'benchstream', 'commit_create', 0, 'Queued.', 0, $1, $2, $1, $3)"
                ));
                values.push(webhooks[(done + r) % webhooks.len()].as_str().into());
            }
            txn.execute(Statement::from_sql_and_values(b, sql, values))
                .await?;
            done += rows;
        }
        txn.commit().await?;
    }
    Ok(())
}

/// One event in its own transaction, as the API queues it; returns its id.
pub async fn one_event(
    db: &DatabaseConnection,
    webhook: &str,
    payload: &str,
) -> Result<i64, DbErr> {
    let txn = db.begin().await?;
    let ids = queue::insert(
        &txn,
        &[NewEvent {
            webhook_id: webhook.to_owned(),
            stream_id: "benchstream".into(),
            event_name: "commit_create".into(),
            payload: payload.to_owned(),
            status_info: "Queued.".into(),
            manual: false,
        }],
        Utc::now(),
    )
    .await?;
    txn.commit().await?;
    ids.first()
        .copied()
        .ok_or_else(|| DbErr::Custom("INSERT returned no id".into()))
}
