//! Our own tables behind the engine's seam ([`super::store::Store`]): every method calls what the
//! dispatcher called before the seam existed, unchanged — the claim of [`super::claim`], the
//! result batches of [`super::record`], `LISTEN` ([`super::listen`]) and retention
//! ([`super::retention`]) — so the statements, their plans and the hot path's own connections
//! ([`super::hot_path`]) are exactly those `docs/query-plans.md` shows.

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::core::handoff::Delivery;
use crate::core::notifier::Notifier;
use crate::dispatch::attempt::SuccessCodes;
use crate::dispatch::hot_path::{hot_path, warm};
use crate::dispatch::store::{Helper, Store, StoreFuture};
use crate::dispatch::{claim, listen, record, retention};
use crate::rows::{Claimed, Update};

/// Our tables: `db` for the helpers and the next due time, the hot path's connections for claims
/// and results.
pub(crate) struct Ours {
    db: DatabaseConnection,
    hot: DatabaseConnection,
    config: Arc<WorkerConfig>,
}

impl Ours {
    pub(crate) fn new(db: DatabaseConnection, config: Arc<WorkerConfig>) -> Self {
        let hot = hot_path(&db);
        Ours { db, hot, config }
    }
}

impl Store for Ours {
    fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    fn warm(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if self.hot.get_database_backend() == DatabaseBackend::Postgres {
                warm(self.hot.get_postgres_connection_pool()).await;
            }
        })
    }

    fn claim<'a>(
        &'a self,
        now_ms: i64,
        lease_ms: i64,
        limit: u64,
        skipped: &'a [String],
        from_due: i64,
    ) -> StoreFuture<'a, Result<Delivery, DbErr>> {
        Box::pin(claim::claim_with_webhooks(
            &self.hot, now_ms, lease_ms, limit, skipped, from_due,
        ))
    }

    fn next_due(&self) -> StoreFuture<'_, Result<Option<i64>, DbErr>> {
        Box::pin(claim::next_due(&self.db))
    }

    fn record_interrupted<'a>(&'a self, rows: &'a [Claimed]) -> StoreFuture<'a, Result<(), DbErr>> {
        Box::pin(record::record_interrupted(&self.hot, rows))
    }

    fn write<'a>(&'a self, batch: &'a [Update]) -> StoreFuture<'a, Result<(), DbErr>> {
        Box::pin(record::write(
            &self.hot,
            batch,
            self.config.disable_after_failures,
        ))
    }

    fn helpers(&self, notifier: &Notifier, stop: CancellationToken) -> Vec<Helper> {
        let mut helpers: Vec<Helper> = Vec::new();
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            let pool = self.db.get_postgres_connection_pool().clone();
            helpers.push(Box::pin(listen::run(pool, notifier.clone(), stop.clone())));
        }
        helpers.push(Box::pin(retention::run(
            self.db.clone(),
            self.config.clone(),
            stop,
        )));
        helpers
    }

    fn success(&self) -> SuccessCodes {
        SuccessCodes::Range200To204
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if self.hot.get_database_backend() == DatabaseBackend::Postgres {
                // Its connections end now rather than whenever the runtime does.
                self.hot.get_postgres_connection_pool().close().await;
            }
        })
    }
}
