//! The state every handler and resolver shares: one clone-able struct, as axum `State` and as
//! GraphQL schema data.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use streamhooks_worker::outbox::ServerInfo;
use streamhooks_worker::{Metrics, Notifier};

use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    /// Built once from the config: `server` in every payload and `serverInfo`.
    pub server_info: Arc<ServerInfo>,
    /// Woken after every commit that queued webhook events.
    pub notifier: Notifier,
    /// Delivery counters of this process's dispatcher (zero when it runs none), for `/metrics`.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, config: Arc<Config>, notifier: Notifier) -> Self {
        let server_info = Arc::new(ServerInfo {
            name: config.server_name.clone(),
            description: config.server_description.clone(),
            canonical_url: config.canonical_url.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        });
        Self {
            db,
            config,
            server_info,
            notifier,
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// Call after committing a transaction that queued `n` events.
    pub fn queued(&self, n: u64) {
        if n > 0 {
            self.notifier.wake();
        }
    }
}
