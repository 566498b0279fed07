//! Starting the dispatcher and stopping it in order. Start: the hot path's connections
//! ([`super::hot_path`]), the recorder, the helpers beside the loop (`LISTEN` on PostgreSQL,
//! retention), then the loop. Stop: the loop ends at `cancel` and gives back what it had not
//! started ([`super::shutdown`]); then the helpers stop, the recorder writes its last batch, and
//! the hot path's pool closes. The order is the point: the recorder outlives every delivery task,
//! so no result is dropped on the way out.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::core::guard::Guard;
use crate::core::handoff::Inbox;
use crate::core::metrics::Metrics;
use crate::core::notifier::Notifier;
use crate::core::secrets::cipher::Secrets;
use crate::dispatch::dispatcher::Dispatcher;
use crate::dispatch::gate::WriteGate;
use crate::dispatch::hot_path::{hot_path, warm};
use crate::dispatch::record;
use crate::dispatch::{deliver, listen, retention};
use crate::error::Error;

/// Runs the dispatcher until `cancel`: claims due events, delivers them, records the results and
/// schedules retries (`dispatch/` has a file per step). Returns only after in-flight deliveries
/// have finished (or hit the request timeout) and every result is written.
pub async fn run(
    db: DatabaseConnection,
    config: Arc<WorkerConfig>,
    secrets: Secrets,
    notifier: Notifier,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> Result<(), Error> {
    run_with(db, config, secrets, notifier, metrics, None, cancel).await
}

/// [`run`], also taking the events this process's queuing commits lease to it
/// ([`crate::core::handoff`]).
pub async fn run_with(
    db: DatabaseConnection,
    config: Arc<WorkerConfig>,
    secrets: Secrets,
    notifier: Notifier,
    metrics: Arc<Metrics>,
    inbox: Option<Inbox>,
    cancel: CancellationToken,
) -> Result<(), Error> {
    config.validate().map_err(Error::Config)?;
    let guard = Arc::new(Guard::from_config(&config));
    let client = deliver::client(&config, guard.clone())?;
    let gate = WriteGate::for_backend(db.get_database_backend());
    let hot = hot_path(&db);
    if hot.get_database_backend() == DatabaseBackend::Postgres {
        warm(hot.get_postgres_connection_pool()).await;
    }
    // Kept to close the hot path's own pool once everything using it has stopped.
    let hot_handle = hot.clone();
    let (records, recorder) = record::spawn(
        hot.clone(),
        config.disable_after_failures,
        notifier.clone(),
        gate.clone(),
    );

    // Helpers stop with the loop even if it ends for another reason than `cancel`.
    let helpers_stop = cancel.child_token();
    let mut helpers = JoinSet::new();
    if db.get_database_backend() == DatabaseBackend::Postgres {
        let pool = db.get_postgres_connection_pool().clone();
        helpers.spawn(listen::run(pool, notifier.clone(), helpers_stop.clone()));
    }
    helpers.spawn(retention::run(
        db.clone(),
        config.clone(),
        helpers_stop.clone(),
    ));

    let worker_name: Arc<str> = config.worker_label().into();
    tracing::info!(worker = %worker_name, "dispatcher started");
    let mut d = Dispatcher {
        global: Arc::new(Semaphore::new(config.concurrency)),
        worker_name,
        outage: None,
        db,
        hot,
        config,
        client,
        guard,
        secrets,
        metrics,
        records,
        gate,
        lanes: HashMap::new(),
        waiting_jobs: 0,
        tasks: JoinSet::new(),
        handed_waiting: inbox.as_ref().map(|i| i.waiting.clone()),
    };
    d.run_loop(&notifier, inbox, &cancel).await;
    d.shutdown().await;
    drop(d);
    helpers_stop.cancel();
    while helpers.join_next().await.is_some() {}
    if let Err(e) = recorder.await {
        tracing::error!(error = %e, "the result recorder stopped abnormally");
    }
    if hot_handle.get_database_backend() == DatabaseBackend::Postgres {
        // Its connections end now rather than whenever the runtime does.
        hot_handle.get_postgres_connection_pool().close().await;
    }
    Ok(())
}
