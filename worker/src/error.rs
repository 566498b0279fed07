//! The worker crate's error type. Only start-up and database failures surface here: a failed
//! delivery is not an error of the dispatcher but an outcome it records on the event row, so
//! nothing a subscriber does can make [`crate::run`] return early.

use sea_orm::DbErr;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The settings contradict each other (see
    /// [`WorkerConfig::validate`](crate::config::WorkerConfig::validate)).
    #[error("invalid worker configuration: {0}")]
    Config(String),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// The shared HTTP client could not be built (e.g. no TLS roots); nothing can be delivered.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}
