//! The dispatcher's state, owned by its run loop: the two concurrency caps, the lanes, the
//! delivery tasks, and the connections and channels deliveries use.
//!
//! Its behaviour is split by job, one `impl Dispatcher` per file: [`super::run`] starts it and
//! stops it in order, [`super::claim_loop`] waits for work and claims it, [`super::start`] puts
//! claimed and handed-off events in their lanes and starts them within the caps, and
//! [`super::shutdown`] gives back what was not started. The decision a reader will question is one
//! struct with its methods over several files rather than a type per job: the jobs share nearly
//! every field (starting a delivery needs the client, the secrets, the recorder's channel, the caps
//! and the lanes), so separate types would only hand the same state back and forth. The files
//! split what is read together; the state stays in one place.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::WorkerConfig;
use crate::core::guard::Guard;
use crate::core::handoff::Delivery;
use crate::core::metrics::Metrics;
use crate::core::secrets::cipher::Secrets;
use crate::dispatch::attempt::SuccessCodes;
use crate::dispatch::floor::Floor;
use crate::dispatch::gate::WriteGate;
use crate::dispatch::lanes::Lane;
use crate::dispatch::store::Store;
use crate::error::Error;
use crate::rows::Update;

/// A claim in flight ([`Store::claim`]).
pub(super) type ClaimFuture = Pin<Box<dyn Future<Output = Result<Delivery, Error>> + Send>>;

/// The run loop's state (the module docs say which file holds which of its jobs).
pub(super) struct Dispatcher {
    /// The tables events are claimed from and results written to ([`super::store`]).
    pub(super) store: Arc<dyn Store>,
    /// The store's idea of a delivered request, given to every delivery's target.
    pub(super) success: SuccessCodes,
    pub(super) config: Arc<WorkerConfig>,
    pub(super) client: reqwest::Client,
    pub(super) guard: Arc<Guard>,
    pub(super) secrets: Secrets,
    pub(super) metrics: Arc<Metrics>,
    pub(super) records: mpsc::Sender<Update>,
    /// Claims take their turn here with the recorder's batches (SQLite's one writer).
    pub(super) gate: WriteGate,
    pub(super) global: Arc<Semaphore>,
    pub(super) lanes: HashMap<String, Lane>,
    /// Jobs in all `pending` queues.
    pub(super) waiting_jobs: usize,
    /// Delivery tasks; each returns its webhook id so the loop can refill that lane.
    pub(super) tasks: JoinSet<String>,
    /// Recorded with every attempt.
    pub(super) worker_name: Arc<str>,
    /// While the database fails: since when, and the pause before the next try.
    pub(super) outage: Option<(Instant, Duration)>,
    /// Where the next claim may start its walk of the due rows ([`super::floor`]).
    pub(super) floor: Floor,
    /// The hand-off's weight of handed-off events waiting here ([`crate::core::handoff::weight`]).
    pub(super) handed_waiting: Option<Arc<AtomicUsize>>,
}
