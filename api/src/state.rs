//! The state every handler and resolver shares: one clone-able struct, as axum `State` and as
//! GraphQL schema data.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use streamhooks_worker::Notifier;

use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    /// Woken after every commit that queued webhook events.
    pub notifier: Notifier,
}
