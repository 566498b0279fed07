//! Speckle's resources, the part of a Speckle server that webhooks report on: users, personal
//! access tokens, streams (projects), branches (models) and commits (versions). Each resource has
//! its GraphQL part in [`graphql`] and its rules in [`service`]; every change that Speckle
//! announces to webhooks queues its events through `streamhooks_worker::outbox::emit` in the
//! change's own transaction. [`objects`] is Speckle's object REST API (what SDKs send and receive
//! data through), stored beside them.

pub mod graphql;
pub mod objects;
pub mod service;
