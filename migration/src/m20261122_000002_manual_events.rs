//! `webhooks_events.manual`: true for deliveries a user asked for explicitly (a ping or a
//! redelivery). Those are sent even when the webhook is disabled — testing an endpoint before
//! switching the webhook on is the point of a ping — and do not count towards auto-disable.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(WebhooksEvents::Table)
                .add_column(boolean(WebhooksEvents::Manual).default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(WebhooksEvents::Table)
                .drop_column(WebhooksEvents::Manual)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum WebhooksEvents {
    Table,
    Manual,
}
