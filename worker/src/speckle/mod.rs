//! The engine on a live Speckle server's PostgreSQL, in place of Speckle's webhook-service: the
//! second store behind the dispatcher's seam (`crate::dispatch::store`), not a second dispatcher.
//! Claims, lanes and caps, the guard, the request on the wire, retries and the batching of results
//! are the engine's; this module says where events wait and where results go.
//!
//! Speckle's `webhooks_config` and `webhooks_events` are read as Speckle's migrations made them;
//! of them only `status`, `statusInfo` and `lastUpdate` of `webhooks_events` are written, with
//! Speckle's meanings, and no DDL is run on them. Leases, retry schedules and attempts live in our
//! schema ([`schema`]). Files by job: [`claim`] (one statement takes new events and due retries),
//! [`record`] (one statement per result batch), [`sweep`] (adoption of abandoned rows, orphans,
//! old attempts), [`stock`] (is Speckle's own service connected?), [`probe`] (the Helm chart's
//! liveness file), [`attempts`] (the operators' view).
//!
//! Two things differ from our store and a reader may look for them. Speckle's server sends no
//! `NOTIFY` and we may add no trigger, so new events are found by polling (the engine's poll
//! interval, short here: one index probe per poll when idle). And there is no auto-disable: that
//! would write `webhooks_config`, which is Speckle's to write.

pub mod attempts;
pub mod claim;
pub mod probe;
pub mod record;
pub mod schema;
pub mod stock;
pub mod sweep;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::RngCore;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::{self, Executor, PgPool};
use sea_orm::{DatabaseBackend, DbErr};
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::core::handoff::Delivery;
use crate::core::metrics::Metrics;
use crate::core::notifier::Notifier;
use crate::core::secrets::cipher::{Secrets, KEY_LEN};
use crate::core::sql::db_err;
use crate::dispatch::attempt::SuccessCodes;
use crate::dispatch::run::run_store;
use crate::dispatch::store::{Helper, Store, StoreFuture};
use crate::error::Error;
use crate::rows::{AttemptRow, Claimed, Update};
use crate::speckle::probe::Probe;
use crate::speckle::sweep::SweepSettings;

/// Connections a region's pool needs at least: a claim (or the next-due lookup, which the loop
/// runs between claims), a result batch, and one for the sweep, `/metrics` and the like.
pub const MIN_CONNECTIONS: u32 = 3;

/// What a region's dispatcher needs beside the engine's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub sweep: SweepSettings,
    /// Touched after every successful poll, when set.
    pub probe: Option<Arc<Probe>>,
}

/// Our connections' options on top of `options` (the URL's, with TLS): our `application_name`,
/// so operators and [`stock`] tell our sessions apart.
pub fn connect_options(options: PgConnectOptions) -> PgConnectOptions {
    options.application_name(stock::APPLICATION_NAME)
}

/// A region's pool, opened lazily: `size` connections (at least [`MIN_CONNECTIONS`]), kept open.
///
/// Every connection runs with `enable_seqscan = off` and `enable_bitmapscan = off`, set after
/// connecting rather than as startup options (poolers such as PgBouncer refuse unknown startup
/// options). Every statement of this store walks an index in order and stops at its `LIMIT`; the
/// claim must. On a table whose rows are nearly all pending the planner would otherwise pick a
/// sequential scan, which steps over every row claimed before it on each claim, or a bitmap scan,
/// which collects every pending row's address before taking `limit` of them: either is
/// O(backlog) per claim (`claim` says more).
///
/// And with `jit = off`: with sequential scans priced out, a statement that has no index to walk
/// (the start's look at `knex_migrations`, the catalog queries) is estimated at billions, far
/// over `jit_above_cost`, so PostgreSQL compiled it with LLVM: 78 ms of the server's CPU for one
/// three-row `knex_migrations` read (`pg_stat_statements`' `jit_*` columns), ~15 ms per 1,000
/// deliveries of a 5,000-event drain. None of this store's statements runs long enough for
/// compiled expressions to pay back.
pub fn pool(options: PgConnectOptions, size: u32, acquire_timeout: Duration) -> PgPool {
    let size = size.max(MIN_CONNECTIONS);
    PgPoolOptions::new()
        .max_connections(size)
        .min_connections(size)
        .acquire_timeout(acquire_timeout)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(
                    "SET enable_seqscan = off; SET enable_bitmapscan = off; SET jit = off",
                )
                .await?;
                Ok(())
            })
        })
        .connect_lazy_with(options)
}

/// Checks that the database is Speckle's and creates our schema; returns the webhooks migrations
/// of Speckle's newer than those this store knows, for a warning.
pub async fn prepare(pool: &PgPool) -> Result<Vec<String>, schema::SchemaError> {
    schema::check_speckle_tables(pool).await?;
    schema::create_side_schema(pool).await?;
    Ok(schema::newer_webhook_migrations(pool).await?)
}

/// Events pending or in flight (status 0 or 1), for `/metrics`.
pub async fn queue_depth(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM webhooks_events WHERE status IN (0, 1)")
        .fetch_one(pool)
        .await
}

/// Runs the engine on one Speckle database until `cancel` (see [`crate::run`] for how it stops).
/// `prepare` must have succeeded on `pool`.
pub async fn run(
    pool: PgPool,
    settings: Settings,
    config: Arc<WorkerConfig>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> Result<(), Error> {
    config.validate().map_err(Error::Config)?;
    // Speckle keeps secrets in plain text; the engine signs with secrets it opens. A key that
    // lives only in this process's memory seals them on the way in (`claim::claim`): no
    // key file, no key shared with anything.
    let mut key = [0u8; KEY_LEN];
    rand::rngs::OsRng
        .try_fill_bytes(&mut key)
        .map_err(|e| Error::Config(format!("cannot draw a random key: {e}")))?;
    let secrets = Secrets::new(&key);
    let store = Arc::new(SpeckleStore {
        pool,
        secrets: secrets.clone(),
        settings,
    });
    run_store(
        store,
        config,
        secrets,
        Notifier::new(),
        metrics,
        None,
        cancel,
    )
    .await
}

struct SpeckleStore {
    pool: PgPool,
    secrets: Secrets,
    settings: Settings,
}

impl Store for SpeckleStore {
    fn backend(&self) -> DatabaseBackend {
        DatabaseBackend::Postgres
    }

    fn warm(&self) -> StoreFuture<'_, ()> {
        // A claim of no rows on each connection: the backends load their catalog caches and
        // plan the claim before the first real one, as our store's hot path does.
        Box::pin(async move {
            let warm = async {
                let _ = tokio::join!(
                    claim::claim(&self.pool, &self.secrets, 0, 0, 0, &[]),
                    claim::claim(&self.pool, &self.secrets, 0, 0, 0, &[])
                );
            };
            let _ = tokio::time::timeout(Duration::from_secs(2), warm).await;
        })
    }

    fn claim<'a>(
        &'a self,
        now_ms: i64,
        lease_ms: i64,
        limit: u64,
        skipped: &'a [String],
        // New events are found by Speckle's `status` index, which has no due time to start from.
        _from_due: i64,
    ) -> StoreFuture<'a, Result<Delivery, DbErr>> {
        Box::pin(async move {
            let got =
                claim::claim(&self.pool, &self.secrets, now_ms, lease_ms, limit, skipped).await?;
            if !got.unreadable.is_empty() {
                let now = Utc::now();
                let finish: Vec<Update> = got
                    .unreadable
                    .into_iter()
                    .map(|(event, why)| Update::not_sent(&event, why, now))
                    .collect();
                record::write(&self.pool, &finish).await.map_err(db_err)?;
            }
            if let Some(probe) = &self.settings.probe {
                probe.touch().await;
            }
            Ok((got.ready, got.webhooks))
        })
    }

    /// None: every poll's claim takes due retries first, so with the short poll this store runs
    /// with, a look-up of the next due time would be a second statement per poll that changes
    /// nothing.
    fn next_due(&self) -> StoreFuture<'_, Result<Option<i64>, DbErr>> {
        Box::pin(async { Ok(None) })
    }

    fn record_interrupted<'a>(&'a self, rows: &'a [Claimed]) -> StoreFuture<'a, Result<(), DbErr>> {
        Box::pin(async move {
            let taken_over: Vec<AttemptRow> = rows
                .iter()
                .filter_map(|r| AttemptRow::interrupted(r, INTERRUPTED))
                .collect();
            record::insert_interrupted(&self.pool, &taken_over)
                .await
                .map_err(db_err)
        })
    }

    fn write<'a>(&'a self, batch: &'a [Update]) -> StoreFuture<'a, Result<(), DbErr>> {
        Box::pin(async move { record::write(&self.pool, batch).await.map_err(db_err) })
    }

    fn helpers(&self, notifier: &Notifier, stop: CancellationToken) -> Vec<Helper> {
        vec![Box::pin(sweep::run(
            self.pool.clone(),
            self.settings.sweep.clone(),
            notifier.clone(),
            stop,
        ))]
    }

    fn success(&self) -> SuccessCodes {
        SuccessCodes::Speckle
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        // The pool is the caller's (it also serves `/metrics`), and closed by it.
        Box::pin(async {})
    }
}

/// What an interrupted attempt's `error` says in a Speckle database's attempts.
const INTERRUPTED: &str = "Interrupted: the dispatcher making this attempt stopped or lost its \
     lease before recording a result; the request may or may not have reached the receiver.";
