//! The rules of Speckle's resources, callable with any `ConnectionTrait` so the same function runs
//! inside a caller's transaction. GraphQL resolvers only extract, authorise and call.

pub mod branch;
pub mod commit;
pub mod model;
pub mod page;
pub mod project;
pub mod stream;
pub mod token;
pub mod user;
pub mod version;
