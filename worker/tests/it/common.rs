//! Test fixtures: a fresh database per test (a SQLite file, and PostgreSQL when
//! `TEST_DATABASE_URL` is set), row builders and a running dispatcher; the receiver and the
//! databases are the crate's `testkit` ones, which the API's tests and the benchmark use too.
//! Every test body runs against each database in `databases()`, so both claim paths are covered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use entity::{
    stream, webhook_config, webhook_event, webhook_event_attempt, webhook_event_count,
    webhook_queue,
};
use migration::{Migrator, MigratorTrait};
use rand::Rng;
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, Set, Statement, TransactionTrait,
};
use streamhooks_worker::config::RetrySchedule;
use streamhooks_worker::queue::{self, NewEvent};
use streamhooks_worker::secrets::Secrets;
pub use streamhooks_worker::testkit::{hmac_hex, Received, Reply, TestDatabase, TestReceiver};
use streamhooks_worker::{Metrics, Notifier, WorkerConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A fresh database opened for one test: the kit's [`TestDatabase`] with the pool this suite
/// wants (WAL and foreign keys on SQLite, as the server opens it).
pub struct TestDb {
    pub db: DatabaseConnection,
    pub name: &'static str,
    made: TestDatabase,
}

/// A fresh, migrated SQLite database, plus a fresh PostgreSQL one if `TEST_DATABASE_URL` is set.
pub async fn databases() -> Vec<TestDb> {
    let mut out = Vec::new();
    for t in empty_databases().await {
        Migrator::up(&t.db, None)
            .await
            .unwrap_or_else(|e| panic!("migrate {}: {e}", t.name));
        out.push(t);
    }
    out
}

/// Like [`databases`], without any migration applied.
pub async fn empty_databases() -> Vec<TestDb> {
    let mut out = Vec::new();
    for made in TestDatabase::each_backend()
        .await
        .unwrap_or_else(|e| panic!("test database: {e}"))
    {
        out.push(open(made).await);
    }
    out
}

async fn open(made: TestDatabase) -> TestDb {
    let mut opts = ConnectOptions::new(made.url.clone());
    opts.sqlx_logging(false);
    if made.is_postgres() {
        opts.max_connections(16);
    } else {
        opts.max_connections(8);
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    }
    let db = Database::connect(opts)
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", made.backend()));
    TestDb {
        db,
        name: made.backend(),
        made,
    }
}

impl TestDb {
    /// Closes the pool, then removes the database (dropping the kit's handle does that).
    pub async fn cleanup(self) {
        self.db.close().await.ok();
        drop(self.made);
    }
}

fn random_name() -> String {
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}

/// Settings for tests: short durations, local network allowed (the receiver is on 127.0.0.1).
pub fn config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 16,
        per_webhook_concurrency: 4,
        batch_size: 100,
        request_timeout: Duration::from_secs(2),
        retry_schedule: RetrySchedule(vec![Duration::from_millis(50), Duration::from_millis(100)]),
        lease: Duration::from_secs(5),
        poll_interval: Duration::from_millis(500),
        allow_local_network: true,
        allowed_cidrs: Vec::new(),
        response_body_limit: 65_536,
        disable_after_failures: 0,
        retention_max_age: Duration::ZERO,
        retention_keep_per_webhook: 0,
        retention_interval: Duration::from_secs(3600),
        worker_name: Some("test-worker".into()),
    }
}

pub async fn insert_stream(db: &DatabaseConnection) -> String {
    let id = random_name()[..10].to_owned();
    stream::ActiveModel {
        id: Set(id.clone()),
        name: Set("Golden Nugget 🌻".into()),
        description: Set(None),
        is_public: Set(false),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .expect("insert stream");
    id
}

pub async fn insert_webhook(
    db: &DatabaseConnection,
    stream_id: &str,
    url: &str,
    secret: Option<&str>,
) -> webhook_config::Model {
    webhook_config::ActiveModel {
        id: Set(random_name()[..10].to_owned()),
        stream_id: Set(stream_id.to_owned()),
        url: Set(url.to_owned()),
        description: Set(None),
        secret: Set(secret.map(|s| key().seal(s).expect("seal"))),
        triggers: Set(r#"["stream_update"]"#.into()),
        enabled: Set(true),
        disabled_reason: Set(None),
        consecutive_failures: Set(0),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        // The format is the column's default, `speckle-string`, as for webhooks made before it.
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert webhook")
}

/// A queued event, due now.
pub async fn insert_event(
    db: &DatabaseConnection,
    webhook: &webhook_config::Model,
    payload: &str,
) -> i64 {
    insert_event_with(db, webhook, payload, |_| {}).await
}

/// How a test wants an inserted event: queued and due now unless changed.
#[derive(Debug, Clone)]
pub struct Seed {
    /// 0 queued, 1 leased (needs `lease`), 2 or 3 finished (no queue row).
    pub status: i16,
    pub last_update: chrono::DateTime<Utc>,
    pub manual: bool,
    pub due_at: i64,
    /// `(lease_token, lease_until)` of a lease some worker holds.
    pub lease: Option<(i64, i64)>,
}

pub async fn insert_event_with(
    db: &DatabaseConnection,
    webhook: &webhook_config::Model,
    payload: &str,
    tweak: impl FnOnce(&mut Seed),
) -> i64 {
    let now = Utc::now();
    let mut seed = Seed {
        status: webhook_event::STATUS_QUEUED,
        last_update: now,
        manual: false,
        due_at: now.timestamp_millis(),
        lease: None,
    };
    tweak(&mut seed);
    let txn = db.begin().await.expect("begin");
    let ids = queue::insert(
        &txn,
        &[NewEvent {
            webhook_id: webhook.id.clone(),
            stream_id: webhook.stream_id.clone(),
            event_name: "stream_update".into(),
            payload: payload.to_owned(),
            status_info: "Queued.".into(),
            manual: seed.manual,
        }],
        now,
    )
    .await
    .expect("insert event");
    let id = ids[0];
    let b = txn.get_database_backend();
    let stored_status = if seed.status == 1 { 0 } else { seed.status };
    txn.execute(Statement::from_sql_and_values(
        b,
        "UPDATE webhooks_events SET status = $1, last_update = $2, created_at = $3 WHERE id = $4",
        [
            stored_status.into(),
            seed.last_update.into(),
            seed.last_update.min(now).into(),
            id.into(),
        ],
    ))
    .await
    .expect("set status");
    if seed.status >= 2 {
        txn.execute(Statement::from_sql_and_values(
            b,
            "DELETE FROM webhooks_queue WHERE event_id = $1",
            [id.into()],
        ))
        .await
        .expect("finish");
    } else {
        let (token, until) = match seed.lease {
            Some((t, u)) => (Some(t), Some(u)),
            None => (None, None),
        };
        txn.execute(Statement::from_sql_and_values(
            b,
            "UPDATE webhooks_queue SET due_at = $1, lease_token = $2, lease_until = $3, \
             leased_at = $4, attempt = $5 WHERE event_id = $6",
            [
                seed.due_at.into(),
                token.into(),
                until.into(),
                until.map(|u| u - 5_000).into(),
                i32::from(seed.lease.is_some()).into(),
                id.into(),
            ],
        ))
        .await
        .expect("schedule");
    }
    txn.commit().await.expect("commit");
    id
}

/// An event as the tests look at it: its row, plus its queue row if it is not finished.
#[derive(Debug, Clone)]
pub struct Row {
    /// As the API reports it: 1 while leased.
    pub status: i16,
    pub status_info: String,
    pub retry_count: i32,
    pub due_at: Option<i64>,
    pub attempt: Option<i32>,
    pub lease_token: Option<i64>,
    pub lease_until: Option<i64>,
}

pub async fn event(db: &DatabaseConnection, id: i64) -> Row {
    let e = webhook_event::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("read event")
        .expect("event exists");
    let q = webhook_queue::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("read queue row");
    let leased = q.as_ref().is_some_and(|q| q.lease_token.is_some());
    Row {
        status: if leased && e.status == 0 { 1 } else { e.status },
        status_info: e.status_info,
        retry_count: e.retry_count,
        due_at: q.as_ref().map(|q| q.due_at),
        attempt: q.as_ref().map(|q| q.attempt),
        lease_token: q.as_ref().and_then(|q| q.lease_token),
        lease_until: q.as_ref().and_then(|q| q.lease_until),
    }
}

/// Records a finished attempt for event `id`, as the recorder would.
pub async fn insert_attempt(db: &DatabaseConnection, id: i64, number: i32) {
    streamhooks_worker::record::insert_attempts(
        db,
        &[streamhooks_worker::record::AttemptRow {
            event_id: id,
            number,
            started_at: Utc::now(),
            duration_ms: Some(5),
            outcome: "success",
            status_code: Some(200),
            error: None,
            response_headers: "[]".into(),
            response_body: Some("ok".into()),
            worker: None,
        }],
        false,
    )
    .await
    .expect("insert attempt");
}

/// The webhook's event count as `history.totalCount` reads it.
pub async fn counted(db: &DatabaseConnection, webhook_id: &str) -> i64 {
    webhook_event_count::Entity::find()
        .filter(webhook_event_count::Column::WebhookId.eq(webhook_id))
        .all(db)
        .await
        .expect("read counts")
        .iter()
        .map(|c| c.events)
        .sum()
}

/// The attempts recorded for an event, first first.
pub async fn attempts(db: &DatabaseConnection, id: i64) -> Vec<webhook_event_attempt::Model> {
    webhook_event_attempt::Entity::find()
        .filter(webhook_event_attempt::Column::EventId.eq(id))
        .order_by_asc(webhook_event_attempt::Column::Number)
        .all(db)
        .await
        .expect("read attempts")
}

/// Each attempt as (number, outcome, HTTP status), the part most tests compare whole.
pub fn summary(attempts: &[webhook_event_attempt::Model]) -> Vec<(i32, &str, Option<i32>)> {
    attempts
        .iter()
        .map(|a| (a.number, a.outcome.as_str(), a.status_code))
        .collect()
}

pub async fn webhook(db: &DatabaseConnection, id: &str) -> webhook_config::Model {
    webhook_config::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("read webhook")
        .expect("webhook exists")
}

/// Polls the row until `done` holds; panics with its last state after `within`.
pub async fn wait_event(
    db: &DatabaseConnection,
    id: i64,
    within: Duration,
    done: impl Fn(&Row) -> bool,
) -> Row {
    let deadline = Instant::now() + within;
    loop {
        let e = event(db, id).await;
        if done(&e) {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "event {id} did not reach the expected state: {e:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Queues an event (`{}`) for `hook`, wakes `w`, and waits until `rx` gets it and its row is
/// finished; returns that row.
pub async fn deliver_once(
    db: &DatabaseConnection,
    w: &Worker,
    rx: &TestReceiver,
    hook: &webhook_config::Model,
) -> Row {
    let id = insert_event(db, hook, "{}").await;
    w.notifier.wake();
    rx.expect_next(Duration::from_secs(5)).await;
    wait_finished(db, id).await
}

/// Waits for a finished row (status 2 or 3).
pub async fn wait_finished(db: &DatabaseConnection, id: i64) -> Row {
    wait_event(db, id, Duration::from_secs(10), |e| e.status >= 2).await
}

/// A dispatcher running in the background of a test.
pub struct Worker {
    pub cancel: CancellationToken,
    pub notifier: Notifier,
    pub metrics: Arc<Metrics>,
    handle: JoinHandle<Result<(), streamhooks_worker::Error>>,
}

/// The key webhook secrets are sealed with in these tests, as the API seals them.
pub fn key() -> Secrets {
    Secrets::new(&[42; 32])
}

pub fn start(db: &DatabaseConnection, config: WorkerConfig) -> Worker {
    start_with_key(db, config, key())
}

pub fn start_with_key(db: &DatabaseConnection, config: WorkerConfig, secrets: Secrets) -> Worker {
    let cancel = CancellationToken::new();
    let notifier = Notifier::new();
    let metrics = Arc::new(Metrics::new());
    let handle = tokio::spawn(streamhooks_worker::run(
        db.clone(),
        Arc::new(config),
        secrets,
        notifier.clone(),
        metrics.clone(),
        cancel.clone(),
    ));
    Worker {
        cancel,
        notifier,
        metrics,
        handle,
    }
}

impl Worker {
    /// Cancels and waits; returns how long the shutdown took.
    pub async fn stop(self) -> Duration {
        let t = Instant::now();
        self.cancel.cancel();
        let res = tokio::time::timeout(Duration::from_secs(15), self.handle)
            .await
            .expect("dispatcher stops within 15s");
        res.expect("dispatcher task did not panic")
            .expect("dispatcher returned Ok");
        t.elapsed()
    }
}

/// A port with nothing listening on it: bind, note the port, close.
pub async fn dead_url() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}/hook")
}
