//! streamhooks-worker: the webhook core the API uses, and the dispatcher that delivers what it
//! queues. The crate keeps the two apart by role:
//!
//! - `core/`: queuing an event inside the caller's transaction (outbox, queue, the in-process
//!   hand-off), the trigger names, secrets at rest, the outbound guard, the request on the wire
//!   and its signatures. A backend calls these; nothing in them knows the dispatcher.
//! - `dispatch/`: the run loop and what it drives: claim due events under a lease, deliver,
//!   conclude (retry or finish), record in batches, prune old history.
//! - `rows.rs`, `config.rs`, `error.rs`: the row types both halves pass around, the settings (a
//!   public module as it stands: the API flattens them into its command line) and the error type,
//!   below both.
//!
//! The two halves meet only in the database and through a [`Notifier`] (and PostgreSQL `NOTIFY`),
//! which is why any number of API and worker processes can share one PostgreSQL; a process that
//! runs both may also hand events over in memory ([`handoff`]). The hot path is split by how often
//! things change: the payload is written once (`webhooks_event_payloads`), a claim touches only a
//! small queue row (`webhooks_queue`), and a result rewrites Speckle's ~150-byte event row and adds
//! an attempt row. Leases rather than row locks: a lease needs no open transaction during a
//! ten-second HTTP request and expires by itself if its worker dies.
//!
//! What follows is the whole public surface: the names the API, the end-to-end tests and the bench
//! use, each re-exported from the file that defines it. Everything else is private to the crate.
//! A module below keeps a path callers already use (`streamhooks_worker::outbox::emit`); its list
//! is what may be named there.

#![forbid(unsafe_code)]

pub mod config;
mod core;
mod dispatch;
mod error;
mod rows;
pub mod speckle;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use crate::config::WorkerConfig;
pub use crate::core::metrics::Metrics;
pub use crate::core::notifier::Notifier;
pub use crate::core::queue::queue_depth;
pub use crate::dispatch::run::{run, run_with};
pub use crate::error::{Error, Result};

// The core: what the API calls inside its transactions and at start-up.

/// Queuing events: [`emit`](outbox::emit) inside the transaction that makes a change.
pub mod outbox {
    pub use crate::core::outbox::manual::{queue_manual, redeliver};
    pub use crate::core::outbox::payload::{stream_json, timestamp, user_json, Event, ServerInfo};
    pub use crate::core::outbox::targets::{
        select_list, targets, targets_columns, targets_from, Targets,
    };
    pub use crate::core::outbox::{emit, prepare_with, store, Outbox, Prepared};
}

/// Storing events as rows of the queue.
pub mod queue {
    pub use crate::core::queue::{add_counts, insert, NewEvent, MAX_ONE_STATEMENT};
}

/// The in-process hand-off from a queuing commit to this process's dispatcher.
pub mod handoff {
    pub use crate::core::handoff::{HandOff, Inbox, Pending, Stash, MAX_WAITING_BYTES};
}

/// Speckle's trigger names: all of the file, every name in it being Speckle's.
pub mod triggers {
    pub use crate::core::triggers::*;
}

/// Webhook secrets at rest: the key, the cipher, and the database side.
pub mod secrets {
    pub use crate::core::secrets::cipher::Secrets;
    pub use crate::core::secrets::key::{create_key_file, generate_key, Loaded, SecretsConfig};

    /// One key per database.
    pub mod check {
        pub use crate::core::secrets::check::adopt_key;
    }

    /// The start-up pass, the re-key and the scrub.
    pub mod store {
        pub use crate::core::secrets::store::{
            key_file_or_create, prepare, prepare_for_rekey, rekey, scrub,
        };
        pub use crate::core::secrets::stored::StoreError;
    }
}

/// Outbound safety: which destinations a webhook may reach.
pub mod guard {
    pub use crate::core::guard::Guard;
}

/// The request on the wire: body and headers in the webhook's format.
pub mod wire {
    pub use crate::core::wire::{body, prepare, Delivery, Format};
    pub use crate::rows::Endpoint;
}

/// The signatures a delivery carries.
pub mod sign {
    pub use crate::core::sign::signature;
}

/// Queuing failed events again (recovery after an outage).
pub mod requeue {
    pub use crate::core::requeue::{failed_since, requeue_failed};
}

/// Small PostgreSQL pools beside a process's main pool.
pub mod pool {
    pub use crate::core::pool::postgres_beside;
}

/// Helpers for multi-row statements.
pub mod sql {
    pub use crate::core::sql::{mark, values};
}

/// Waking the dispatcher across processes.
pub mod notifier {
    pub use crate::core::notifier::CHANNEL;
}

/// Delivery counters for operators: how an attempt ended.
pub mod metrics {
    pub use crate::core::metrics::Outcome;
}

// The dispatcher's statements and steps, for the bench's EXPLAIN (docs/query-plans.md) and the
// tests that drive them one at a time.

/// Claiming due events.
pub mod claim {
    pub use crate::dispatch::claim::{claim, claim_statement, claim_with_webhooks, NEXT_DUE_SQL};
    pub use crate::dispatch::record::record_interrupted;
    pub use crate::rows::{Claimed, Endpoint};
}

/// Writing results back, and the row types they are written from.
pub mod record {
    pub use crate::dispatch::record::{insert_attempts, write};
    pub use crate::rows::{AttemptRow, Effect, Kind, Update};
}

/// The statements of a result batch.
pub mod record_sql {
    pub use crate::core::lease::requeue;
    pub use crate::dispatch::record::finish_all::FinishAll;
    pub use crate::dispatch::record::statements::{attempts, events, finish};
}

/// Pruning the history.
pub mod retention {
    pub use crate::dispatch::retention::{
        delete_aged, delete_beyond, keep_cutoff, run_once, OVER_LIMIT_SQL, PENDING_SQL,
    };
}
