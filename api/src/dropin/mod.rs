//! `streamhooks speckle-dispatch`: our dispatcher in place of Speckle's webhook-service container,
//! on a live Speckle server's own database (the store is `streamhooks_worker::speckle`; this is
//! the command around it). It reads the stock service's environment ([`config`]), so Speckle's
//! Helm chart and docker-compose files start it unchanged, logs as it does ([`logging`]), serves
//! `/metrics` where it did ([`metrics`]), keeps the chart's liveness file fresh and answers the
//! chart's `node -e` probe ([`node`]), and delivers from one database or from every region's
//! ([`regions`]), one engine per database in this process.
//!
//! Start-up refuses, with one sentence and a non-zero exit, anything that would make it deliver
//! wrongly rather than not at all: bad settings, a database that is not Speckle's, a user that
//! may not create our schema, and Speckle's own webhook-service still connected (two dispatchers
//! on one database send events twice; `--allow-stock-service` overrides). When every database is
//! ready it prints one JSON line on stdout, `{"ready": true, "metrics": "<host:port>",
//! "regions": [...]}`, for scripts and the benchmark.

pub mod config;
pub mod logging;
pub mod metrics;
pub mod node;
pub mod regions;

use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Args, Subcommand};
use sea_orm::sqlx::{self, PgPool};
use streamhooks_worker::speckle::attempts::{self, SpeckleEventId, SpeckleWebhookId, Which};
use streamhooks_worker::speckle::probe::Probe;
use streamhooks_worker::speckle::sweep::SweepSettings;
use streamhooks_worker::speckle::{self, stock, Settings};
use streamhooks_worker::Metrics;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::dropin::config::{Connection, Run};
use crate::dropin::regions::Region;

/// `streamhooks speckle-dispatch [attempts …]`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SpeckleDispatch {
    #[command(subcommand)]
    pub view: Option<View>,
    #[command(flatten)]
    pub connection: Connection,
    #[command(flatten)]
    pub run: Run,
}

/// What else the command does besides delivering.
#[derive(Subcommand, Debug)]
pub enum View {
    /// Print the attempts of an event or of a webhook, newest first, one JSON object per line
    /// (the database is found as for delivering: PG_CONNECTION_STRING, or a region's).
    Attempts {
        /// Speckle's id of the event (`webhooks_events.id`).
        #[arg(long, conflicts_with = "webhook", required_unless_present = "webhook")]
        event: Option<String>,
        /// Speckle's id of the webhook (`webhooks_config.id`).
        #[arg(long)]
        webhook: Option<String>,
        /// Attempts at most.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// With multi-region, the region whose database to read (`main` by default).
        #[arg(long, default_value = "main")]
        region: String,
        #[command(flatten)]
        connection: Connection,
    },
}

impl SpeckleDispatch {
    /// The logging settings, to install before anything logs.
    pub fn logging(&self) -> (&str, &str) {
        (&self.run.log_level, &self.run.log_pretty)
    }
}

/// Runs the command until `cancel` (or, for a view, until it has printed).
pub async fn run(cmd: SpeckleDispatch, cancel: CancellationToken) -> Result<(), String> {
    match cmd.view {
        Some(View::Attempts {
            event,
            webhook,
            limit,
            region,
            connection,
        }) => {
            let which = match (event, webhook) {
                (Some(e), _) => Which::Event(SpeckleEventId(e)),
                (None, Some(w)) => Which::Webhook(SpeckleWebhookId(w)),
                (None, None) => return Err("name an --event or a --webhook".into()),
            };
            print_attempts(&connection, &region, &which, limit).await
        }
        None => dispatch(&cmd.connection, &cmd.run, cancel).await,
    }
}

/// A region's pool, after its first connection succeeded within the create timeout.
async fn open(c: &Connection, region: &Region) -> Result<PgPool, String> {
    let pool = speckle::pool(
        speckle::connect_options(region.options.clone()),
        c.max_connections,
        c.acquire_timeout(),
    );
    match tokio::time::timeout(c.create_timeout(), pool.acquire()).await {
        Ok(Ok(_)) => Ok(pool),
        Ok(Err(e)) => Err(format!(
            "cannot connect to the database of region {} ({}): {e}",
            region.key, region.shown
        )),
        Err(_) => Err(format!(
            "cannot connect to the database of region {} ({}) within \
             POSTGRES_CONNECTION_CREATE_TIMEOUT_MILLIS ({} ms)",
            region.key, region.shown, c.create_timeout_ms
        )),
    }
}

async fn dispatch(c: &Connection, run: &Run, cancel: CancellationToken) -> Result<(), String> {
    run.validate()?;
    let regions = regions::regions(c)?;
    let mut pools = Vec::with_capacity(regions.len());
    for region in &regions {
        let pool = open(c, region).await?;
        let stock = stock::stock_sessions(&pool)
            .await
            .map_err(|e| format!("region {}: cannot read pg_stat_activity: {e}", region.key))?;
        if !stock.is_empty() {
            let what = format!("the database of region {} ({})", region.key, region.shown);
            if !run.allow_stock_service {
                return Err(stock::refusal(&what, &stock));
            }
            tracing::warn!(region = %region.key, sessions = stock.len(), "Speckle's own webhook-service is connected too; running beside it as --allow-stock-service says (events may be sent twice)");
        }
        let newer = speckle::prepare(&pool)
            .await
            .map_err(|e| format!("region {}: {e}", region.key))?;
        if !newer.is_empty() {
            tracing::warn!(region = %region.key, migrations = ?newer, "Speckle's webhook tables have migrations newer than this version knows ({}); check the release notes before relying on it", speckle::schema::LAST_KNOWN_MIGRATION);
        }
        pools.push((region.key.clone(), pool));
    }

    let probe = Arc::new(Probe::new(run.probe_file.clone()));
    let metrics = Arc::new(Metrics::new());
    let listener = metrics::bind(SocketAddr::new(run.metrics_host, run.metrics_port)).await?;
    let metrics_addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the metrics address: {e}"))?;
    let stop = cancel.child_token();
    let mut tasks = JoinSet::new();
    tasks.spawn({
        let scraped = metrics::Scraped {
            metrics: metrics.clone(),
            regions: pools.clone(),
            probe: probe.clone(),
        };
        let stop = stop.clone();
        async move {
            metrics::serve(listener, scraped, stop).await;
            Ok(())
        }
    });
    let config = Arc::new(run.worker());
    for (key, pool) in &pools {
        let settings = Settings {
            sweep: SweepSettings {
                interval: run.sweep_interval,
                adopt_after: run.adopt_after,
                attempts_max_age: run.attempts_max_age,
                stock_allowed: run.allow_stock_service,
                region: key.clone(),
            },
            probe: Some(probe.clone()),
        };
        let (pool, config, metrics, stop, key) = (
            pool.clone(),
            config.clone(),
            metrics.clone(),
            stop.clone(),
            key.clone(),
        );
        tasks.spawn(async move {
            speckle::run(pool, settings, config, metrics, stop)
                .await
                .map_err(|e| format!("region {key}: {e}"))
        });
    }
    let keys: Vec<&str> = pools.iter().map(|(k, _)| k.as_str()).collect();
    tracing::info!(metrics = %metrics_addr, regions = ?keys, "delivering from Speckle's database");
    println!(
        "{}",
        serde_json::json!({ "ready": true, "metrics": metrics_addr.to_string(), "regions": keys })
    );

    // One region failing stops the others: a half-running process would look healthy to the
    // probe while a database's events wait.
    let mut failed = None;
    while let Some(done) = tasks.join_next().await {
        let outcome = done.unwrap_or_else(|e| Err(format!("a dispatcher task failed: {e}")));
        if let Err(e) = outcome {
            failed.get_or_insert(e);
            stop.cancel();
        }
    }
    for (_, pool) in &pools {
        pool.close().await;
    }
    failed.map_or(Ok(()), Err)
}

async fn print_attempts(
    c: &Connection,
    key: &str,
    which: &Which,
    limit: u32,
) -> Result<(), String> {
    let regions = regions::regions(c)?;
    let region = regions.iter().find(|r| r.key == key).ok_or_else(|| {
        let known: Vec<&str> = regions.iter().map(|r| r.key.as_str()).collect();
        format!("there is no region {key:?} (known: {})", known.join(", "))
    })?;
    let pool = open(c, region).await?;
    let found = attempts::read(&pool, which, i64::from(limit)).await;
    let rows = match found {
        Ok(rows) => rows,
        // 3F000: no such schema; 42P01: no such table.
        Err(sqlx::Error::Database(d)) if matches!(d.code().as_deref(), Some("3F000" | "42P01")) => {
            return Err(format!(
                "the database of region {} has no {} schema: nothing was delivered from it yet",
                region.key,
                speckle::schema::SCHEMA
            ))
        }
        Err(e) => return Err(format!("cannot read attempts: {e}")),
    };
    for row in rows {
        println!(
            "{}",
            serde_json::to_string(&row).map_err(|e| e.to_string())?
        );
    }
    pool.close().await;
    Ok(())
}
