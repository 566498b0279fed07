//! sea-orm models of the streamhooks tables, one module per table, plus small scoped finders
//! (and `project_settings`, a narrow second view of `streams`; its doc says why).
//!
//! Nothing here knows about GraphQL or HTTP: the public schema lives in `api`, so a column can be
//! renamed without changing what clients see, and the reverse. Table names follow Speckle where
//! Speckle has the table (`webhooks_config`, `webhooks_events`, `stream_acl`, `api_tokens`); the
//! delivery machinery Speckle lacks has tables of its own (`webhooks_queue`,
//! `webhooks_event_payloads`, `webhooks_event_attempts`, `webhooks_event_counts`), as does the key
//! check (`secrets_key_check`). [`ids`] holds the typed ids that function signatures take.

pub mod api_token;
pub mod branch;
pub mod commit;
pub mod ids;
pub mod object;
pub mod project_settings;
pub mod secrets_key_check;
pub mod stream;
pub mod stream_acl;
pub mod user;
pub mod webhook_config;
pub mod webhook_event;
pub mod webhook_event_attempt;
pub mod webhook_event_count;
pub mod webhook_event_payload;
pub mod webhook_queue;

pub use sea_orm;
