//! The streamhooks outbox and dispatcher.
//!
//! The queue side (`outbox`) is what a backend calls inside its own transaction: it writes one
//! `webhooks_events` row per matching webhook, so an event exists exactly when its change
//! committed. The delivery side (`dispatcher`) claims due rows under a lease, signs and POSTs
//! them, records the result and schedules retries. They meet only in the database and through a
//! [`Notifier`], which is why any number of API and worker processes can share one PostgreSQL.

#![forbid(unsafe_code)]

pub mod config;
pub mod notifier;
pub mod outbox;
pub mod triggers;

pub use config::WorkerConfig;
pub use notifier::Notifier;
