//! The seam between the engine and the tables it delivers from: what the run loop needs of a
//! database, and nothing of how a database does it. Two stores stand behind it: ours
//! ([`super::ours`]: `webhooks_queue` and the tables our migrations make) and a live Speckle
//! server's (`crate::speckle`: Speckle's `webhooks_events` plus a side schema of ours). Claiming
//! under a lease, lanes and caps, the request on the wire, the retry policy and the batching of
//! results are the engine's, the same for both; a store claims, says which webhook each event
//! goes to, writes a batch of results, and runs whatever must run beside the loop (wake-ups,
//! pruning, sweeping).
//!
//! The decision a reader will question: a trait object rather than a generic `Dispatcher<S>` or
//! an enum. A generic would thread a type parameter through every file of the loop, and an enum
//! would make this floor import the Speckle store, which stands above it. The price of `dyn` is a
//! boxed future per claim and per result batch, each of which is a database round trip anyway
//! (`streamhooks-bench --only side` is the guard that it stays unmeasurable).

use std::future::Future;
use std::pin::Pin;

use sea_orm::{DatabaseBackend, DbErr};
use tokio_util::sync::CancellationToken;

use crate::core::handoff::Delivery;
use crate::core::notifier::Notifier;
use crate::dispatch::attempt::SuccessCodes;
use crate::rows::{Claimed, Update};

/// A future a store returns, borrowing the store for as long as it runs.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A task that runs beside the loop until the token it was given is cancelled.
pub type Helper = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What the engine needs of the tables it delivers from (the module docs say why a trait object).
pub trait Store: Send + Sync + 'static {
    /// Which kind of database: SQLite's one writer makes claims and result batches take turns
    /// (`super::gate`).
    fn backend(&self) -> DatabaseBackend;

    /// Opens and prepares the connections claims and results go through before the first claim;
    /// best effort (a database that is down now is met by the loop's own back-off).
    fn warm(&self) -> StoreFuture<'_, ()>;

    /// Leases up to `limit` due events until `now_ms + lease_ms` (epoch ms), leaving out the
    /// webhooks in `skipped` (their lanes are full); oldest first, as far as the store can tell.
    /// With them, the webhook of each, as the engine sends with it: one claim is one wait for the
    /// database where it can be, since the slots the claim will fill stay empty meanwhile. Rows
    /// due before `from_due` may be left out (`super::floor` says why the engine knows it can);
    /// a store that cannot leave them out cheaply ignores it.
    fn claim<'a>(
        &'a self,
        now_ms: i64,
        lease_ms: i64,
        limit: u64,
        skipped: &'a [String],
        from_due: i64,
    ) -> StoreFuture<'a, Result<Delivery, DbErr>>;

    /// The earliest time (epoch ms) at which an event nobody holds becomes due, if any.
    fn next_due(&self) -> StoreFuture<'_, Result<Option<i64>, DbErr>>;

    /// Records the attempts that a claim took over from expired leases as interrupted.
    fn record_interrupted<'a>(&'a self, rows: &'a [Claimed]) -> StoreFuture<'a, Result<(), DbErr>>;

    /// Writes one batch of results (at most `crate::rows::MAX_BATCH`), each only while its lease
    /// token still holds the event.
    fn write<'a>(&'a self, batch: &'a [Update]) -> StoreFuture<'a, Result<(), DbErr>>;

    /// The tasks that run beside the loop until `stop`: wake-ups from other processes, pruning,
    /// sweeping. Each may call `notifier.wake()` when it finds work.
    fn helpers(&self, notifier: &Notifier, stop: CancellationToken) -> Vec<Helper>;

    /// Which HTTP statuses count as delivered.
    fn success(&self) -> SuccessCodes;

    /// Called once everything that uses the store has stopped: closes connections of its own.
    fn close(&self) -> StoreFuture<'_, ()>;
}
