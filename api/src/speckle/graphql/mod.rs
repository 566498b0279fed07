//! Speckle's resources in GraphQL, one module per resource (`XQuery` / `XMutation`), merged into
//! the root schema by [`crate::schema`]. Two generations of Speckle's names sit side by side over
//! the same tables: the legacy ones (`stream`, `branch`, `commit`: `streamCreate`, `commitCreate`,
//! …) and today's (`project`, `model`, `version`: `projectMutations`, `versionMutations`, …). A
//! legacy mutation and its twin call one write, which lives with today's name
//! ([`project_mutations`], [`model`], [`version_mutations`]).
//!
//! Files import only downward. Lowest: [`permissions`], [`object`], [`user`] and [`containers`]
//! (the types a child points back up to: stream, branch, model); then [`version`], [`model`],
//! [`version_mutations`], [`commit`], [`branch`], [`project`], [`project_mutations`],
//! [`stream`], and at the top [`active_user`], which reaches most of them.

pub mod active_user;
pub mod branch;
pub mod commit;
pub mod containers;
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
pub mod version_mutations;
pub mod workspace;
