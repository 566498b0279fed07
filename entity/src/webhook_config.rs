//! `webhooks_config`: one subscriber URL on a stream. There is deliberately no foreign key to
//! `streams` (Speckle dropped it too): a `stream_delete` event must still reach the stream's
//! webhooks after the stream row is gone, so configs outlive their stream until nothing is pending.

use sea_orm::entity::prelude::*;
use sea_orm::QueryOrder;

/// Speckle's limit, enforced atomically on create.
pub const MAX_PER_STREAM: u64 = 100;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks_config")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub stream_id: String,
    pub url: String,
    pub description: Option<String>,
    /// Write-only: never returned by the API and never put in a payload.
    pub secret: Option<String>,
    /// JSON array of trigger names, e.g. `["commit_create","stream_update"]`.
    pub triggers: String,
    pub enabled: bool,
    /// Why the dispatcher turned the webhook off, if it did; cleared when a user re-enables it.
    pub disabled_reason: Option<String>,
    /// Final failures in a row; reset by any success.
    pub consecutive_failures: i32,
    /// How deliveries are encoded and signed: `speckle-string` (the seeds' double-encoded body)
    /// or `speckle-object` (Speckle 2.12 and later). Read at send time, so retries, pings and
    /// redeliveries all use the webhook's current format.
    pub format: String,
    /// The secret replaced by the last change, sealed like `secret`; it also signs (a second
    /// `webhook-signature` entry) until `previous_secret_expires_at`.
    pub previous_secret: Option<String>,
    /// End of the rotation grace (epoch ms); the previous secret signs only before it.
    pub previous_secret_expires_at: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Trigger names; a malformed column reads as no triggers rather than failing the request.
    pub fn trigger_list(&self) -> Vec<String> {
        serde_json::from_str(&self.triggers).unwrap_or_default()
    }

    pub fn has_secret(&self) -> bool {
        self.secret.as_deref().is_some_and(|s| !s.is_empty())
    }
}

/// The webhooks of `stream_id`, oldest first, optionally only the one with `id`.
pub async fn find_for_stream<C: ConnectionTrait>(
    db: &C,
    stream_id: &str,
    id: Option<&str>,
) -> Result<Vec<Model>, DbErr> {
    let mut q = Entity::find().filter(Column::StreamId.eq(stream_id));
    if let Some(id) = id {
        q = q.filter(Column::Id.eq(id));
    }
    q.order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await
}
