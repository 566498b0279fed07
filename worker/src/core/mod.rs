//! The webhook core: everything the API calls, inside its transactions or at start-up, and what
//! the dispatcher builds on. Queuing an event ([`outbox`], storing through [`queue`], handing it
//! over in memory through [`handoff`]), the trigger names ([`triggers`]), the secrets at rest
//! ([`secrets`]), the outbound guard ([`guard`]), the request on the wire and its signatures
//! ([`wire`], [`sign`]), and the small shared parts: leases ([`lease`]), recovery of failed
//! events ([`requeue`]), the wake-up ([`notifier`]), the counters ([`metrics`]), side pools
//! ([`pool`]) and multi-row SQL ([`sql`]).
//!
//! Nothing here imports the dispatcher (`crate::dispatch`): the dispatcher stands on the core, so
//! a process that only queues events (`serve --no-worker`) uses this half alone. What the API may
//! name is listed in the crate root (`lib.rs`), not here.

pub(crate) mod guard;
pub(crate) mod handoff;
pub(crate) mod lease;
pub(crate) mod metrics;
pub(crate) mod notifier;
pub(crate) mod outbox;
pub(crate) mod pool;
pub(crate) mod queue;
pub(crate) mod requeue;
pub(crate) mod secrets;
pub(crate) mod sign;
pub(crate) mod sql;
pub(crate) mod triggers;
pub(crate) mod wire;
