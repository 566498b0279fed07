//! The request context: what every handler and resolver of every domain stands on, and nothing
//! of any one domain. [`state`] (the one `AppState`), [`config`], [`db`], [`auth`] (who is
//! calling), [`error`] (one error type and its GraphQL codes), [`validate`] (every check on text a
//! user sends), [`ids`] (new random ids), [`limits`] (what one request may cost), [`ingest`] (the
//! shared reads and writes of `POST /api/events` that the state holds), and for GraphQL the
//! [`resolver`] helpers, Speckle's [`scalars`], the answer's [`notes`] and the [`input_errors`]
//! extension.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod ids;
pub mod ingest;
pub mod input_errors;
pub mod limits;
pub mod notes;
pub mod resolver;
pub mod scalars;
pub mod state;
pub mod validate;
