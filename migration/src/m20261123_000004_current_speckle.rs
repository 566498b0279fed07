//! What today's Speckle API (projects, models, versions) needs beyond the legacy tables:
//! `streams.allow_public_comments` (Speckle's `Project.allowPublicComments`, false for new
//! projects as in Speckle), and the indexes its newest-first, cursor-paged lists walk
//! (a project's versions, a model's versions). Visibility needs no column: `PUBLIC` and the
//! legacy `UNLISTED` are `is_public`, `PRIVATE` is not, and `WORKSPACE` is refused because this
//! server has no workspaces.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Streams::Table)
                .add_column(boolean(Streams::AllowPublicComments).default(false))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_commits_stream_created")
                .table(Commits::Table)
                .col(Commits::StreamId)
                .col(Commits::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_commits_branch_created")
                .table(Commits::Table)
                .col(Commits::BranchId)
                .col(Commits::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in ["idx_commits_branch_created", "idx_commits_stream_created"] {
            m.drop_index(Index::drop().name(name).table(Commits::Table).to_owned())
                .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Streams::Table)
                .drop_column(Streams::AllowPublicComments)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Streams {
    Table,
    AllowPublicComments,
}

#[derive(DeriveIden)]
enum Commits {
    Table,
    StreamId,
    BranchId,
    CreatedAt,
}
