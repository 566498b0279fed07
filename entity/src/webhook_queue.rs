//! `webhooks_queue`: one small row per event that is not finished, holding its schedule and lease;
//! deleted when the event succeeds or fails for good, so its one index covers the backlog, not the
//! history. The dispatcher leases rows instead of holding row locks across the HTTP request: a
//! lease needs no open transaction and expires by itself if its worker dies.
//!
//! A claim writes only unindexed columns (`lease_*`, `attempt`), so on PostgreSQL it is a HOT
//! update; the price is that leased rows stay in the `due_at` index and a claim steps over them
//! (at most what is in flight, never the backlog). Times are epoch milliseconds so comparisons
//! behave the same on SQLite (which stores timestamps as text) and PostgreSQL.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks_queue")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: i64,
    /// Copied from the event so claims can leave out webhooks whose lane is full.
    pub webhook_id: String,
    /// When the next attempt may start (epoch ms); a claim leaves it as it is.
    pub due_at: i64,
    /// Attempts begun, counting the one in flight: a claim adds one, a release takes it back.
    pub attempt: i32,
    /// Random per claim; a worker records a result only while its token still holds the row.
    pub lease_token: Option<i64>,
    /// While leased: when another worker may take the row (epoch ms).
    pub lease_until: Option<i64>,
    /// While leased: when the lease began, i.e. when the attempt started (epoch ms).
    pub leased_at: Option<i64>,
    /// Set by a claim that took over an expired lease: when that lease began, so the attempt it
    /// abandoned can be recorded as interrupted. NULL otherwise.
    pub prior_lease_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::webhook_event::Entity",
        from = "Column::EventId",
        to = "super::webhook_event::Column::Id",
        on_delete = "Cascade"
    )]
    Event,
}

impl Related<super::webhook_event::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Event.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
