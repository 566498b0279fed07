//! The streamhooks dispatcher: claims due `webhooks_events` rows under a lease, signs and POSTs
//! them, records each result and schedules retries; plus retention and metrics.
//!
//! The queue side ([`outbox`]) is what a backend calls inside its own transaction: it inserts one
//! `webhooks_events` row per matching webhook (so an event exists exactly when its change
//! committed), then the dispatcher is woken. The two meet only in the database and through a
//! [`Notifier`] (and PostgreSQL `NOTIFY`), which is why any number of API and worker processes can
//! share one PostgreSQL. Leases rather than row locks: a lease needs no open transaction during a
//! ten-second HTTP request and expires by itself if its worker dies.

#![forbid(unsafe_code)]

pub mod claim;
pub mod config;
pub mod deliver;
pub mod dispatcher;
pub mod error;
pub mod guard;
pub mod listen;
pub mod metrics;
pub mod notifier;
pub mod outbox;
pub mod record;
pub mod retention;
pub mod retry;
pub mod secrets;
pub mod sign;
pub mod triggers;
pub mod wire;

pub use claim::queue_depth;
pub use config::WorkerConfig;
pub use dispatcher::run;
pub use error::{Error, Result};
pub use metrics::Metrics;
pub use notifier::Notifier;
