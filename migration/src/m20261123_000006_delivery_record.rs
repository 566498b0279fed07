//! The delivery record and a hot path that does not rewrite the payload.
//!
//! `webhooks_events` keeps Speckle's row (status, statusInfo, retryCount, lastUpdate) and loses
//! everything that changed per claim or was large: the payload moves to
//! `webhooks_event_payloads` (written once, never updated), the schedule and lease move to
//! `webhooks_queue` (one small row per unfinished event, deleted when the event finishes), each
//! attempt gets a row in `webhooks_event_attempts`, and `webhooks_event_counts` keeps
//! `history.totalCount` without counting a million rows.
//!
//! The decision a reader will question is moving `payload` out of Speckle's table although the
//! GraphQL history still shows it from there: neither database can update part of a row. On
//! SQLite an UPDATE rewrites the whole record, and on PostgreSQL a ~1.2 KB value stays inline
//! (TOAST starts at ~2 KB whatever `toast_tuple_target` says), so as long as the payload sat
//! beside `status` every result copied it. `status` stays unindexed so the result's UPDATE can be
//! HOT on PostgreSQL; the claim touches only `webhooks_queue` and changes no indexed column there.
//!
//! Existing rows are carried over: queued rows (status 0) keep their due time and retry count;
//! leased rows (status 1) become queued again, due when their old lease runs out, so an old
//! worker's request still in flight is not duplicated before then (its result is not recorded: stop
//! old workers before migrating). Finished rows keep status, statusInfo and retryCount; they have
//! no attempt rows, since the old schema kept only the last sentence.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, TransactionTrait,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        // PostgreSQL's migrator already runs in a transaction (this becomes a savepoint); SQLite's
        // does not, and a half-copied queue must not be left behind.
        let txn = m.get_connection().begin().await?;
        let run = |sql: String| exec(&txn, sql);
        let build = |t: &TableCreateStatement| backend.build(t).sql;
        let index = |i: &IndexCreateStatement| backend.build(i).sql;

        run(build(
            &Table::create()
                .table(Payloads::Table)
                .col(event_key(backend, Payloads::EventId))
                .col(text(Payloads::Payload))
                .foreign_key(&mut event_fk(Payloads::Table, Payloads::EventId))
                .to_owned(),
        ))
        .await?;

        run(build(
            &Table::create()
                .table(Queue::Table)
                .col(event_key(backend, Queue::EventId))
                .col(string(Queue::WebhookId))
                .col(big_integer(Queue::DueAt))
                .col(integer(Queue::Attempt).default(0))
                .col(big_integer_null(Queue::LeaseToken))
                .col(big_integer_null(Queue::LeaseUntil))
                .col(big_integer_null(Queue::LeasedAt))
                .col(big_integer_null(Queue::PriorLeaseAt))
                .foreign_key(&mut event_fk(Queue::Table, Queue::EventId))
                .to_owned(),
        ))
        .await?;
        // The claim's and next-due's only index. Claims do not change `due_at` (the lease lives in
        // unindexed columns), so on PostgreSQL they are HOT updates.
        run(index(
            &Index::create()
                .name("idx_webhooks_queue_due")
                .table(Queue::Table)
                .col(Queue::DueAt)
                .col(Queue::EventId)
                .to_owned(),
        ))
        .await?;

        // On SQLite, attempts (and counts) are WITHOUT ROWID tables: their rows are small and
        // always found by their composite key, so one B-tree keyed by it replaces a rowid table
        // plus a separate primary-key index, and each attempt is one insertion instead of two.
        let keyed = |sql: String| match backend {
            DbBackend::Sqlite => format!("{sql} WITHOUT ROWID"),
            _ => sql,
        };
        run(keyed(build(
            &Table::create()
                .table(Attempts::Table)
                .col(big_integer(Attempts::EventId))
                .col(integer(Attempts::Number))
                .col(timestamp_with_time_zone(Attempts::StartedAt))
                .col(integer_null(Attempts::DurationMs))
                .col(string(Attempts::Outcome))
                .col(integer_null(Attempts::StatusCode))
                .col(text_null(Attempts::Error))
                .col(text(Attempts::ResponseHeaders))
                .col(text_null(Attempts::ResponseBody))
                .col(string_null(Attempts::Worker))
                .primary_key(Index::create().col(Attempts::EventId).col(Attempts::Number))
                .foreign_key(&mut event_fk(Attempts::Table, Attempts::EventId))
                .to_owned(),
        )))
        .await?;

        run(keyed(build(
            &Table::create()
                .table(Counts::Table)
                .col(string(Counts::WebhookId))
                .col(small_integer(Counts::Shard))
                .col(big_integer(Counts::Events))
                .primary_key(Index::create().col(Counts::WebhookId).col(Counts::Shard))
                .foreign_key(
                    ForeignKey::create()
                        .from(Counts::Table, Counts::WebhookId)
                        .to(WebhooksConfig::Table, WebhooksConfig::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )))
        .await?;

        // Carry the rows over.
        run("INSERT INTO webhooks_event_payloads (event_id, payload) \
             SELECT id, payload FROM webhooks_events"
            .into())
        .await?;
        run(
            "INSERT INTO webhooks_queue (event_id, webhook_id, due_at, attempt) \
             SELECT id, webhook_id, \
                    CASE WHEN status = 1 THEN COALESCE(lease_expires_at, next_attempt_at) \
                         ELSE next_attempt_at END, \
                    retry_count \
             FROM webhooks_events WHERE status IN (0, 1)"
                .into(),
        )
        .await?;
        run("UPDATE webhooks_events SET status = 0 WHERE status = 1".into()).await?;
        run(
            "INSERT INTO webhooks_event_counts (webhook_id, shard, events) \
             SELECT webhook_id, 0, COUNT(*) FROM webhooks_events GROUP BY webhook_id"
                .into(),
        )
        .await?;

        // Then take the moved columns and their indexes off the event row.
        for idx in ["idx_webhooks_events_due", "idx_webhooks_events_lease"] {
            run(format!("DROP INDEX {idx}")).await?;
        }
        for col in [
            "payload",
            "next_attempt_at",
            "lease_expires_at",
            "lease_token",
        ] {
            run(format!("ALTER TABLE webhooks_events DROP COLUMN {col}")).await?;
        }
        // Retention's age scan: `created_at` is written once, so this index never moves.
        run(index(
            &Index::create()
                .name("idx_webhooks_events_created")
                .table(WebhooksEvents::Table)
                .col(WebhooksEvents::CreatedAt)
                .to_owned(),
        ))
        .await?;
        if backend == DbBackend::Postgres {
            // Room on each page for the next version of its rows, so a result (webhooks_events)
            // and a claim (webhooks_queue) can be HOT updates: a batch updates every row of a page
            // in one transaction, before any old version can be pruned.
            run("ALTER TABLE webhooks_events SET (fillfactor = 50)".into()).await?;
            run("ALTER TABLE webhooks_queue SET (fillfactor = 50)".into()).await?;
        }
        txn.commit().await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        let txn = m.get_connection().begin().await?;
        let run = |sql: String| exec(&txn, sql);
        if backend == DbBackend::Postgres {
            run("ALTER TABLE webhooks_events RESET (fillfactor)".into()).await?;
        }
        run("DROP INDEX idx_webhooks_events_created".into()).await?;
        for col in [
            "payload TEXT NOT NULL DEFAULT ''",
            "next_attempt_at BIGINT NOT NULL DEFAULT 0",
            "lease_expires_at BIGINT NULL",
            "lease_token BIGINT NULL",
        ] {
            run(format!("ALTER TABLE webhooks_events ADD COLUMN {col}")).await?;
        }
        run("UPDATE webhooks_events SET payload = (SELECT p.payload FROM webhooks_event_payloads p \
             WHERE p.event_id = webhooks_events.id)"
            .into())
        .await?;
        run(
            "UPDATE webhooks_events SET next_attempt_at = COALESCE((SELECT q.due_at \
             FROM webhooks_queue q WHERE q.event_id = webhooks_events.id), 0)"
                .into(),
        )
        .await?;
        run(
            "CREATE INDEX idx_webhooks_events_due ON webhooks_events (status, next_attempt_at)"
                .into(),
        )
        .await?;
        run(
            "CREATE INDEX idx_webhooks_events_lease ON webhooks_events (status, lease_expires_at)"
                .into(),
        )
        .await?;
        for t in [
            "webhooks_event_counts",
            "webhooks_event_attempts",
            "webhooks_queue",
            "webhooks_event_payloads",
        ] {
            run(format!("DROP TABLE {t}")).await?;
        }
        txn.commit().await
    }
}

/// The event id as primary key: `bigint` on PostgreSQL; on SQLite exactly `integer`, which makes
/// it the rowid, so the table needs no separate primary-key index.
fn event_key<C: IntoIden>(backend: DbBackend, col: C) -> ColumnDef {
    match backend {
        DbBackend::Sqlite => integer(col).primary_key().to_owned(),
        _ => big_integer(col).primary_key().to_owned(),
    }
}

async fn exec(txn: &DatabaseTransaction, sql: String) -> Result<(), DbErr> {
    txn.execute_unprepared(&sql).await.map(|_| ())
}

fn event_fk<T: IntoIden + 'static, C: IntoIden + 'static>(
    table: T,
    col: C,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(WebhooksEvents::Table, WebhooksEvents::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[derive(DeriveIden)]
enum WebhooksEvents {
    Table,
    Id,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhooksConfig {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Payloads {
    #[sea_orm(iden = "webhooks_event_payloads")]
    Table,
    EventId,
    Payload,
}

#[derive(DeriveIden)]
enum Queue {
    #[sea_orm(iden = "webhooks_queue")]
    Table,
    EventId,
    WebhookId,
    DueAt,
    Attempt,
    LeaseToken,
    LeaseUntil,
    LeasedAt,
    PriorLeaseAt,
}

#[derive(DeriveIden)]
enum Attempts {
    #[sea_orm(iden = "webhooks_event_attempts")]
    Table,
    EventId,
    Number,
    StartedAt,
    DurationMs,
    Outcome,
    StatusCode,
    Error,
    ResponseHeaders,
    ResponseBody,
    Worker,
}

#[derive(DeriveIden)]
enum Counts {
    #[sea_orm(iden = "webhooks_event_counts")]
    Table,
    WebhookId,
    Shard,
    Events,
}
