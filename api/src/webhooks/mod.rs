//! The webhook API: Speckle's `webhookCreate/Update/Delete` and `webhooks { history }` in
//! [`graphql`], their rules in [`service`], batched history and attempt reads in [`history`],
//! test deliveries (ping, redelivery) in [`ping`], recovery after an outage (every failed
//! delivery since a time, queued again) in [`recover`], and
//! `POST /api/events` for backends that are not this server in [`ingest`] (many at once:
//! [`batch`]). Delivery itself is
//! the `streamhooks-worker` crate's.

pub mod batch;
pub mod combine;
pub mod graphql;
pub mod history;
pub mod ingest;
pub mod lookup;
pub mod ping;
pub mod recover;
pub mod service;
