//! `objects`: Speckle's object store for the REST API that `ServerTransport` uses, keyed by
//! (stream, object id) as Speckle keys it. The key is the only index: every read names its
//! stream and ids. Objects go with their stream (cascade), as in Speckle, so deleting a project
//! leaves nothing of its data behind.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Objects::Table)
                .if_not_exists()
                .col(string(Objects::StreamId))
                .col(string(Objects::Id))
                .col(text(Objects::Data))
                .col(timestamp_with_time_zone(Objects::CreatedAt))
                .primary_key(Index::create().col(Objects::StreamId).col(Objects::Id))
                .foreign_key(
                    ForeignKey::create()
                        .from(Objects::Table, Objects::StreamId)
                        .to(Streams::Table, Streams::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Objects::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Objects {
    Table,
    StreamId,
    Id,
    Data,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Streams {
    Table,
    Id,
}
