//! PostgreSQL only: attempts lose their foreign key to events; a statement trigger on
//! `webhooks_events` deletes an event's attempts with it instead.
//!
//! The key's only work on the hot path was the check on insert: PostgreSQL runs it as a query of
//! its own per attempt row (`SELECT 1 … FOR KEY SHARE` on the event), ~6 µs each and about a
//! quarter of the statement that records a batch of results; without it a 5,000-event drain
//! (`streamhooks-bench --only side`) went from 16,416 to 18,191 deliveries/s (BENCHMARKS.md, side). What the key
//! guaranteed is kept another way:
//! - Deleting an event (retention, or a webhook or stream deleted, by cascade) deletes its
//!   attempts: `webhooks_events_delete_attempts` runs once per deleting statement, with the
//!   deleted rows as a transition table.
//! - No attempt without its event: the recorder inserts attempts only for events whose queue row
//!   it has just deleted or updated in the same statement or transaction, so the row lock on the
//!   queue row orders it against a concurrent delete (which cascades to that row); the one insert
//!   made outside such a transaction, of attempts an expired lease interrupted, locks its events
//!   itself (`worker::record_sql::attempts`).
//!
//! SQLite keeps the key: there the check is a lookup by rowid inside the engine, not a query, and
//! dropping it would mean rebuilding the table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The key as PostgreSQL named it when `m20261123_000006` created the table.
const KEY: &str = "webhooks_event_attempts_event_id_fkey";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE FUNCTION webhooks_events_delete_attempts() RETURNS trigger \
             LANGUAGE plpgsql AS $$ BEGIN \
               DELETE FROM webhooks_event_attempts a USING gone WHERE a.event_id = gone.id; \
               RETURN NULL; \
             END $$",
        )
        .await?;
        db.execute_unprepared(
            "CREATE TRIGGER webhooks_events_delete_attempts AFTER DELETE ON webhooks_events \
             REFERENCING OLD TABLE AS gone FOR EACH STATEMENT \
             EXECUTE FUNCTION webhooks_events_delete_attempts()",
        )
        .await?;
        db.execute_unprepared(&format!(
            "ALTER TABLE webhooks_event_attempts DROP CONSTRAINT {KEY}"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        // Attempts whose event is gone (none, if the trigger did its work) would fail the key.
        db.execute_unprepared(
            "DELETE FROM webhooks_event_attempts a \
             WHERE NOT EXISTS (SELECT 1 FROM webhooks_events e WHERE e.id = a.event_id)",
        )
        .await?;
        db.execute_unprepared(&format!(
            "ALTER TABLE webhooks_event_attempts ADD CONSTRAINT {KEY} FOREIGN KEY (event_id) \
             REFERENCES webhooks_events (id) ON DELETE CASCADE"
        ))
        .await?;
        db.execute_unprepared(
            "DROP TRIGGER webhooks_events_delete_attempts ON webhooks_events; \
             DROP FUNCTION webhooks_events_delete_attempts()",
        )
        .await?;
        Ok(())
    }
}
