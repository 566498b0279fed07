//! The streamhooks dispatcher: claims due events under a lease, signs and POSTs them, records
//! each attempt and its result and schedules retries; plus retention and metrics.
//!
//! The queue side ([`outbox`], storing through [`queue`]) is what a backend calls inside its own
//! transaction: it inserts one event per matching webhook (so an event exists exactly when its
//! change committed), then the dispatcher is woken. The hot path is split by how often things
//! change: the payload is written once (`webhooks_event_payloads`), a claim touches only a small
//! queue row (`webhooks_queue`), and a result rewrites Speckle's ~150-byte event row and adds an
//! attempt row ([`claim`], [`record`]). The two meet only in the database and through a
//! [`Notifier`] (and PostgreSQL `NOTIFY`), which is why any number of API and worker processes can
//! share one PostgreSQL. Leases rather than row locks: a lease needs no open transaction during a
//! ten-second HTTP request and expires by itself if its worker dies.

#![forbid(unsafe_code)]

pub mod claim;
pub mod config;
pub mod deliver;
pub mod dispatcher;
pub mod error;
pub mod gate;
pub mod guard;
pub mod handoff;
pub mod listen;
pub mod metrics;
pub mod notifier;
pub mod outbox;
pub mod pool;
pub mod queue;
pub mod record;
pub mod record_sql;
pub mod requeue;
pub mod retention;
pub mod retry;
pub mod secrets;
pub mod sign;
pub mod sql;
pub mod streak;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod triggers;
pub mod wire;

pub use claim::queue_depth;
pub use config::WorkerConfig;
pub use dispatcher::{run, run_with};
pub use error::{Error, Result};
pub use metrics::Metrics;
pub use notifier::Notifier;
