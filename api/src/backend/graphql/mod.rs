//! The backend's GraphQL objects, one module per domain (`XQuery` / `XMutation`), merged into the
//! root schema by [`crate::graphql`].

pub mod branch;
pub mod commit;
pub mod server;
pub mod stream;
pub mod token;
pub mod user;
