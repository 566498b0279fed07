//! The webhook API: Speckle's `webhookCreate/Update/Delete` and `webhooks { history }` in
//! [`graphql`], their rules in [`service`], batched history and attempt reads in [`history`] (and
//! what a page weighs before it is read, for the answer budget, in [`history_size`]),
//! test deliveries (ping, redelivery) in [`ping`], recovery after an outage (every failed
//! delivery since a time, queued again) in [`recover`], and
//! `POST /api/events` for backends that are not this server in [`ingest`] (many at once:
//! [`batch`]). Delivery itself is
//! the `streamhooks-worker` crate's.

pub mod batch;
pub mod graphql;
pub mod history;
pub mod history_size;
pub mod ingest;
pub mod ping;
pub mod recover;
pub mod service;
