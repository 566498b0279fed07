//! `webhooks_event_counts`: how many events each webhook has, so `history.totalCount` is a sum of
//! at most [`SHARDS`] rows instead of a count over a million. Queuing adds to one shard per
//! transaction, retention subtracts; the sum is exact.
//!
//! Why shards: the row a queuing transaction increments stays locked until it commits, so with
//! one row per webhook every change on a stream would wait for the previous one's commit. With
//! the shard chosen from the transaction (PostgreSQL: its id; SQLite has one writer anyway), two
//! transactions meet on a row only one time in [`SHARDS`].

use sea_orm::entity::prelude::*;

pub const SHARDS: i16 = 16;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks_event_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub webhook_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i16,
    pub events: i64,
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
