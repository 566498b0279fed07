//! `streamhooks speckle-dispatch` on Speckle's own tables: the real binary, a PostgreSQL database
//! per test whose webhook tables Speckle's migration files made (knex from npm, Node from
//! Debian's packages: `tests/interop/speckle`, files from specklesystems/speckle-server at
//! 51d43b91), events queued as Speckle's `dispatchStreamEventFactory` queues them, and real
//! receivers on 127.0.0.1. One binary with modules, so it links once.
//!
//! - `delivery`: what Speckle's web app then shows (status 2 and `Webhook called`; 1 with the
//!   reason while retrying; 3 with the HTTP code), the stock service's bytes and signature, a
//!   disabled webhook, a webhook deleted mid-retry, a row a crashed service left at 1;
//! - `replicas`: two replicas and 1,000 events, each sent once; a SIGKILLed replica;
//! - `start`: the stock-service guard, bad settings, a user without the CREATE privilege;
//! - `deployment`: the liveness file and the chart's `node -e` probe, `/metrics`, two regions.

mod delivery;
mod deployment;
mod harness;
mod replicas;
mod start;
