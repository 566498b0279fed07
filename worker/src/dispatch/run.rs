//! Starting the dispatcher and stopping it in order. Start: the store's connections (for ours,
//! the hot path's, [`super::hot_path`]), the recorder, the helpers beside the loop (for ours,
//! `LISTEN` on PostgreSQL and retention), then the loop. Stop: the loop ends at `cancel` and gives
//! back what it had not started ([`super::shutdown`]); then the helpers stop, the recorder writes
//! its last batch, and the store closes its connections. The order is the point: the recorder outlives every delivery task,
//! so no result is dropped on the way out.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::core::guard::Guard;
use crate::core::handoff::Inbox;
use crate::core::metrics::Metrics;
use crate::core::notifier::Notifier;
use crate::core::secrets::cipher::Secrets;
use crate::dispatch::deliver;
use crate::dispatch::dispatcher::Dispatcher;
use crate::dispatch::floor::Floor;
use crate::dispatch::gate::WriteGate;
use crate::dispatch::ours::Ours;
use crate::dispatch::record;
use crate::dispatch::store::Store;
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
    let store = Arc::new(Ours::new(db, config.clone()));
    run_store(store, config, secrets, notifier, metrics, inbox, cancel).await
}

/// The engine over any store ([`Store`]): ours through [`run_with`], a Speckle database's through
/// `crate::speckle`. `config` is validated by the caller.
pub(crate) async fn run_store(
    store: Arc<dyn Store>,
    config: Arc<WorkerConfig>,
    secrets: Secrets,
    notifier: Notifier,
    metrics: Arc<Metrics>,
    inbox: Option<Inbox>,
    cancel: CancellationToken,
) -> Result<(), Error> {
    let guard = Arc::new(Guard::from_config(&config));
    let client = deliver::client(&config, guard.clone())?;
    let gate = WriteGate::for_backend(store.backend());
    store.warm().await;
    let (records, recorder) = record::spawn(store.clone(), notifier.clone(), gate.clone());

    // Helpers stop with the loop even if it ends for another reason than `cancel`.
    let helpers_stop = cancel.child_token();
    let mut helpers = JoinSet::new();
    for helper in store.helpers(&notifier, helpers_stop.clone()) {
        helpers.spawn(helper);
    }

    let worker_name: Arc<str> = config.worker_label().into();
    tracing::info!(worker = %worker_name, "dispatcher started");
    let mut d = Dispatcher {
        global: Arc::new(Semaphore::new(config.concurrency)),
        worker_name,
        outage: None,
        success: store.success(),
        store: store.clone(),
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
        floor: Floor::default(),
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
    store.close().await;
    Ok(())
}
