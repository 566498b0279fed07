//! `idx_webhooks_config_failing`: the webhooks whose failure streak is not zero, as a partial
//! index on `webhooks_config (id)`.
//!
//! Every batch of results ends the streak of the webhooks that succeeded (`UPDATE webhooks_config
//! SET consecutive_failures = 0 WHERE id = ANY(…) AND consecutive_failures <> 0`). Through the
//! primary key that is one probe per distinct webhook of the batch, although nearly every streak
//! is already zero. Through this index the probes meet only the webhooks that are failing,
//! usually none: with a backlog spread over 10,000 webhooks, the reset took 4.8 µs of the
//! database's time per result before it and 1.4 after (`auto_explain` with `log_analyze` over one
//! 5,000-event drain of `streamhooks-bench --only spread`; BENCHMARKS.md "spread").
//!
//! The price: `consecutive_failures` now takes part in an index's predicate, so on PostgreSQL an
//! update of it is no longer HOT. It changes on final failures and on the first success after
//! them, not on the delivery path of a healthy webhook.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's name, as `EXPLAIN` shows it.
const INDEX: &str = "idx_webhooks_config_failing";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Both backends accept the same partial-index syntax; sea-query's index builder has no
        // `WHERE`.
        m.get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {INDEX} ON webhooks_config (id) WHERE consecutive_failures <> 0"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(&format!("DROP INDEX {INDEX}"))
            .await?;
        Ok(())
    }
}
