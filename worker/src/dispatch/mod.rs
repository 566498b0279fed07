//! The dispatcher: claim due events under a lease, send each one (signed, in its webhook's
//! format, through the outbound guard), record the attempt and its result, schedule a retry or
//! finish, and prune old history. It stands on the core (`crate::core`) and never the other way.
//!
//! Follow one event through the files. [`run`] starts everything and stops it in order;
//! [`claim_loop`] waits for work and claims due rows through [`claim`] (on the hot path's own
//! connections, [`hot_path`]; from where [`floor`] says the due rows start); [`start`] puts each event in its webhook's lane ([`lanes`]) and
//! starts it within the concurrency caps; [`deliver`] sends one attempt and says what came of it
//! ([`attempt`]); [`retry`] turns that into the event's new state; [`record`] writes the states
//! back in batches (its statements in `record::statements` and `record::finish_all`, the
//! auto-disable bookkeeping in `record::streak`), taking turns with claims at [`gate`] on SQLite;
//! [`shutdown`] gives back what was not started. The loop's state is one struct
//! ([`dispatcher`]). Beside the loop run [`listen`] (PostgreSQL `LISTEN` for wake-ups from other
//! processes) and [`retention`] (pruning finished events).

pub(crate) mod attempt;
pub(crate) mod claim;
pub(crate) mod claim_loop;
pub(crate) mod deliver;
pub(crate) mod dispatcher;
pub(crate) mod floor;
pub(crate) mod gate;
pub(crate) mod hot_path;
pub(crate) mod lanes;
pub(crate) mod listen;
pub(crate) mod ours;
pub(crate) mod record;
pub(crate) mod retention;
pub(crate) mod retry;
pub(crate) mod run;
pub(crate) mod shutdown;
pub(crate) mod start;
pub(crate) mod store;
