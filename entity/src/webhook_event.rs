//! `webhooks_events`: Speckle's event row. One row per (event, webhook), written in the same
//! transaction as the change that caused it. It holds what the history shows and what a result
//! changes (`status`, `status_info`, `retry_count`, `last_update`); the payload, written once, is
//! in [`super::webhook_event_payload`] and the schedule and lease in [`super::webhook_queue`], so
//! a claim never touches this row and a result rewrites ~150 bytes, none of them indexed.
//!
//! `status` is 0 from queuing until a result says otherwise, also while a worker holds the event:
//! "being delivered" (1) is a lease in `webhooks_queue`, and the API reports 1 from there. Old rows
//! written as 1 were turned into 0 plus a queue row by the migration.

use sea_orm::entity::prelude::*;

pub const STATUS_QUEUED: i16 = 0;
pub const STATUS_PROCESSING: i16 = 1;
pub const STATUS_SUCCEEDED: i16 = 2;
pub const STATUS_FAILED: i16 = 3;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks_events")]
pub struct Model {
    /// Insertion order, so `id DESC` is newest first; sent to receivers as the delivery id.
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webhook_id: String,
    pub stream_id: String,
    pub event_name: String,
    pub status: i16,
    pub status_info: String,
    /// Retries scheduled so far (attempts after the first), as Speckle counts them.
    pub retry_count: i32,
    pub last_update: DateTimeUtc,
    pub created_at: DateTimeUtc,
    /// Asked for explicitly (ping, redelivery): sent even to a disabled webhook.
    pub manual: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::webhook_config::Entity",
        from = "Column::WebhookId",
        to = "super::webhook_config::Column::Id",
        on_delete = "Cascade"
    )]
    Webhook,
}

impl Related<super::webhook_config::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Webhook.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
