//! The initial schema: users, tokens, streams, roles, branches, commits and the webhook tables.
//! `webhooks_config.stream_id` has no foreign key on purpose (a deleted stream's webhooks must
//! still receive `stream_delete`); the dispatcher removes them once nothing is pending.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .if_not_exists()
                .col(string(Users::Id).primary_key())
                .col(string(Users::Name))
                .col(string_uniq(Users::Email))
                .col(text_null(Users::Avatar))
                .col(text_null(Users::Bio))
                .col(string_null(Users::Company))
                .col(string(Users::ServerRole))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .if_not_exists()
                .col(string(ApiTokens::Id).primary_key())
                .col(string(ApiTokens::TokenDigest))
                .col(string(ApiTokens::OwnerId))
                .col(string(ApiTokens::Name))
                .col(text(ApiTokens::Scopes))
                .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiTokens::Table, ApiTokens::OwnerId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Streams::Table)
                .if_not_exists()
                .col(string(Streams::Id).primary_key())
                .col(text(Streams::Name))
                .col(text_null(Streams::Description))
                .col(boolean(Streams::IsPublic))
                .col(timestamp_with_time_zone(Streams::CreatedAt))
                .col(timestamp_with_time_zone(Streams::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(StreamAcl::Table)
                .if_not_exists()
                .col(string(StreamAcl::StreamId))
                .col(string(StreamAcl::UserId))
                .col(string(StreamAcl::Role))
                .primary_key(
                    Index::create()
                        .col(StreamAcl::StreamId)
                        .col(StreamAcl::UserId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(StreamAcl::Table, StreamAcl::StreamId)
                        .to(Streams::Table, Streams::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(StreamAcl::Table, StreamAcl::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_stream_acl_user")
                .table(StreamAcl::Table)
                .col(StreamAcl::UserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Branches::Table)
                .if_not_exists()
                .col(string(Branches::Id).primary_key())
                .col(string(Branches::StreamId))
                .col(text(Branches::Name))
                .col(text_null(Branches::Description))
                .col(string_null(Branches::AuthorId))
                .col(timestamp_with_time_zone(Branches::CreatedAt))
                .col(timestamp_with_time_zone(Branches::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Branches::Table, Branches::StreamId)
                        .to(Streams::Table, Streams::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_branches_stream_name")
                .table(Branches::Table)
                .col(Branches::StreamId)
                .col(Branches::Name)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Commits::Table)
                .if_not_exists()
                .col(string(Commits::Id).primary_key())
                .col(string(Commits::StreamId))
                .col(string(Commits::BranchId))
                .col(string(Commits::ObjectId))
                .col(text_null(Commits::Message))
                .col(string_null(Commits::AuthorId))
                .col(string_null(Commits::SourceApplication))
                .col(integer_null(Commits::TotalChildrenCount))
                .col(text_null(Commits::Parents))
                .col(timestamp_with_time_zone(Commits::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Commits::Table, Commits::BranchId)
                        .to(Branches::Table, Branches::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Commits::Table, Commits::StreamId)
                        .to(Streams::Table, Streams::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_commits_branch")
                .table(Commits::Table)
                .col(Commits::BranchId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(WebhooksConfig::Table)
                .if_not_exists()
                .col(string(WebhooksConfig::Id).primary_key())
                .col(string(WebhooksConfig::StreamId))
                .col(text(WebhooksConfig::Url))
                .col(text_null(WebhooksConfig::Description))
                .col(text_null(WebhooksConfig::Secret))
                .col(text(WebhooksConfig::Triggers))
                .col(boolean(WebhooksConfig::Enabled))
                .col(text_null(WebhooksConfig::DisabledReason))
                .col(integer(WebhooksConfig::ConsecutiveFailures).default(0))
                .col(timestamp_with_time_zone(WebhooksConfig::CreatedAt))
                .col(timestamp_with_time_zone(WebhooksConfig::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhooks_config_stream")
                .table(WebhooksConfig::Table)
                .col(WebhooksConfig::StreamId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(WebhooksEvents::Table)
                .if_not_exists()
                .col(
                    big_integer(WebhooksEvents::Id)
                        .auto_increment()
                        .primary_key(),
                )
                .col(string(WebhooksEvents::WebhookId))
                .col(string(WebhooksEvents::StreamId))
                .col(string(WebhooksEvents::EventName))
                .col(small_integer(WebhooksEvents::Status))
                .col(text(WebhooksEvents::StatusInfo))
                .col(integer(WebhooksEvents::RetryCount))
                .col(timestamp_with_time_zone(WebhooksEvents::LastUpdate))
                .col(text(WebhooksEvents::Payload))
                .col(timestamp_with_time_zone(WebhooksEvents::CreatedAt))
                .col(big_integer(WebhooksEvents::NextAttemptAt))
                .col(big_integer_null(WebhooksEvents::LeaseExpiresAt))
                .col(big_integer_null(WebhooksEvents::LeaseToken))
                .foreign_key(
                    ForeignKey::create()
                        .from(WebhooksEvents::Table, WebhooksEvents::WebhookId)
                        .to(WebhooksConfig::Table, WebhooksConfig::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // History: a webhook's events, newest first.
        m.create_index(
            Index::create()
                .name("idx_webhooks_events_webhook")
                .table(WebhooksEvents::Table)
                .col(WebhooksEvents::WebhookId)
                .col(WebhooksEvents::Id)
                .to_owned(),
        )
        .await?;
        // Claiming: due rows by status and time; both queued (0) and leased (1) rows are probed.
        m.create_index(
            Index::create()
                .name("idx_webhooks_events_due")
                .table(WebhooksEvents::Table)
                .col(WebhooksEvents::Status)
                .col(WebhooksEvents::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhooks_events_lease")
                .table(WebhooksEvents::Table)
                .col(WebhooksEvents::Status)
                .col(WebhooksEvents::LeaseExpiresAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            WebhooksEvents::Table.into_iden(),
            WebhooksConfig::Table.into_iden(),
            Commits::Table.into_iden(),
            Branches::Table.into_iden(),
            StreamAcl::Table.into_iden(),
            Streams::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Name,
    Email,
    Avatar,
    Bio,
    Company,
    ServerRole,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    TokenDigest,
    OwnerId,
    Name,
    Scopes,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Streams {
    Table,
    Id,
    Name,
    Description,
    IsPublic,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StreamAcl {
    Table,
    StreamId,
    UserId,
    Role,
}

#[derive(DeriveIden)]
enum Branches {
    Table,
    Id,
    StreamId,
    Name,
    Description,
    AuthorId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Commits {
    Table,
    Id,
    StreamId,
    BranchId,
    ObjectId,
    Message,
    AuthorId,
    SourceApplication,
    TotalChildrenCount,
    Parents,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhooksConfig {
    Table,
    Id,
    StreamId,
    Url,
    Description,
    Secret,
    Triggers,
    Enabled,
    DisabledReason,
    ConsecutiveFailures,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhooksEvents {
    Table,
    Id,
    WebhookId,
    StreamId,
    EventName,
    Status,
    StatusInfo,
    RetryCount,
    LastUpdate,
    Payload,
    CreatedAt,
    NextAttemptAt,
    LeaseExpiresAt,
    LeaseToken,
}
