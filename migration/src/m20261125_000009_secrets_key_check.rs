//! `secrets_key_check`: one row per database recording which key its webhook secrets are sealed
//! under, so that a process started with another key refuses to start instead of failing every
//! delivery ("the secret was encrypted under another key").
//!
//! The decision a reader may question: the row holds a check value (HMAC-SHA256 of a fixed text
//! under the key) and the key's short fingerprint, never the key, and it is written by the first
//! process that opens the database with a key, not by this migration, which has none. The
//! `id = 1` check keeps it to one row, so two processes starting at once on a fresh database
//! cannot record two keys: the second insert finds the first and compares with it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SecretsKeyCheck::Table)
                .col(
                    small_integer(SecretsKeyCheck::Id)
                        .primary_key()
                        .check(Expr::col(SecretsKeyCheck::Id).eq(1)),
                )
                .col(text(SecretsKeyCheck::CheckValue))
                .col(text(SecretsKeyCheck::Fingerprint))
                .col(timestamp_with_time_zone(SecretsKeyCheck::RecordedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SecretsKeyCheck::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SecretsKeyCheck {
    Table,
    Id,
    CheckValue,
    Fingerprint,
    RecordedAt,
}
