//! `webhooks_events`: the outbox. One row per (event, webhook), written in the same transaction as
//! the change that caused it, holding the payload built at that moment. The dispatcher leases rows
//! (`status = 1` until `lease_expires_at`) instead of holding row locks across the HTTP request:
//! a lease survives without an open transaction and expires by itself if its worker dies.
//! Scheduling columns are epoch milliseconds so that comparisons and indexes behave the same on
//! SQLite (which stores timestamps as text) and PostgreSQL.

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
    pub retry_count: i32,
    pub last_update: DateTimeUtc,
    /// The payload object serialised as JSON: exactly the string that is signed and sent.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub created_at: DateTimeUtc,
    /// When the row may next be claimed (epoch ms).
    pub next_attempt_at: i64,
    /// While `status = 1`: when the lease runs out and another worker may take the row (epoch ms).
    pub lease_expires_at: Option<i64>,
    /// Random per claim; a worker records a result only if its token still holds the row.
    pub lease_token: Option<i64>,
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
