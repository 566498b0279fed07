//! Per-webhook wire formats and secret rotation with grace, as three columns on
//! `webhooks_config`:
//! - `format`: `speckle-string` (the seeds' double-encoded body) or `speckle-object` (Speckle
//!   2.12 and later). Existing webhooks get `speckle-string`, the only format their receivers
//!   were ever sent, so upgrading changes no byte on the wire.
//! - `previous_secret`: the secret replaced by the last change, sealed exactly like `secret`
//!   (the same `v1:` form, the same key, the same re-key and scrub passes).
//! - `previous_secret_expires_at`: until when (epoch ms, like the other scheduling columns, so
//!   SQLite and PostgreSQL compare it alike) the previous secret also signs.
//!
//! The decision a reader may question: the end of the grace is stored, computed by the API when
//! the secret changes, rather than "changed at" plus a grace each dispatcher applies. Then every
//! process agrees on when the grace ends whatever its own settings, and changing
//! `SECRET_ROTATION_GRACE` affects later rotations only, as with Svix's and Stripe's rolls.
//! One column per statement: SQLite's `ALTER TABLE` takes one change at a time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(WebhooksConfig::Table)
                .add_column(string(WebhooksConfig::Format).default("speckle-string"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(WebhooksConfig::Table)
                .add_column(text_null(WebhooksConfig::PreviousSecret))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(WebhooksConfig::Table)
                .add_column(big_integer_null(WebhooksConfig::PreviousSecretExpiresAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            WebhooksConfig::PreviousSecretExpiresAt,
            WebhooksConfig::PreviousSecret,
            WebhooksConfig::Format,
        ] {
            m.alter_table(
                Table::alter()
                    .table(WebhooksConfig::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhooksConfig {
    Table,
    Format,
    PreviousSecret,
    PreviousSecretExpiresAt,
}
