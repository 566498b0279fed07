//! Stand-ins for what a webhook test needs around the code under test, behind the `testkit`
//! feature: [`TestReceiver`], a real HTTP subscriber on `127.0.0.1` (with [`hmac_hex`] to check the
//! signatures it gets), and [`TestDatabase`], a fresh SQLite or PostgreSQL database removed again
//! when dropped.
//!
//! They live in this crate, the lowest that every user can depend on: the dispatcher's own tests
//! (`worker/tests`, which cannot depend on the API crate without building this crate twice), the
//! API's test kit (`streamhooks_api::testkit`, which re-exports both beside its `TestServer`),
//! the end-to-end suite and the benchmark. Nothing else in this crate imports them, and without
//! the feature they are not built, so the `streamhooks` binary carries no test code.

mod database;
mod receiver;

pub use database::TestDatabase;
pub use receiver::{hmac_hex, Received, Reply, TestReceiver};
