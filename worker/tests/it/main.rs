//! Integration tests of the dispatcher: a real database (SQLite, and PostgreSQL when
//! `TEST_DATABASE_URL` is set), a real HTTP receiver on 127.0.0.1, and `streamhooks_worker::run`
//! started in-process. One binary with modules, so it links once.

mod attempts;
mod claim;
mod common;
mod disable;
mod guard;
mod isolation;
mod lease;
mod migrate;
mod outcomes;
mod retention;
mod rotation;
mod schema;
mod secrets;
mod shutdown;
mod wakeup;
mod wire;
