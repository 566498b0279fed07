//! The backend's GraphQL objects, one module per domain (`XQuery` / `XMutation`), merged into the
//! root schema by [`crate::schema`]. Two generations of Speckle's names sit side by side over the
//! same tables: the legacy ones (`stream`, `branch`, `commit`: `streamCreate`, `commitCreate`, …)
//! and today's (`project`, `model`, `version`: `projectMutations`, `versionMutations`, …).

pub mod branch;
pub mod commit;
pub mod model;
pub mod object;
pub mod permissions;
pub mod project;
pub mod project_mutations;
pub mod server;
pub mod stream;
pub mod token;
pub mod user;
pub mod user_search;
pub mod version;
pub mod workspace;
