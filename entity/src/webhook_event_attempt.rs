//! `webhooks_event_attempts`: every delivery attempt of an event, as GitHub's "Recent deliveries"
//! and Svix's message attempts keep them: when, how long, what came back. Inserted with the
//! attempt's result (one multi-row INSERT per recorder batch) and never updated; deleted with its
//! event. Response headers and body are the receiver's text, stored capped (see the worker's
//! `deliver` module); they are data, never to be interpreted or logged unescaped.

use sea_orm::entity::prelude::*;

pub const OUTCOME_SUCCESS: &str = "success";
pub const OUTCOME_HTTP_ERROR: &str = "http_error";
pub const OUTCOME_TIMEOUT: &str = "timeout";
pub const OUTCOME_NETWORK: &str = "network";
pub const OUTCOME_BLOCKED: &str = "blocked";
/// The worker stopped (or lost its lease) before recording a result.
pub const OUTCOME_INTERRUPTED: &str = "interrupted";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks_event_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: i64,
    /// 1 for the first attempt; sent as `X-WEBHOOK-ATTEMPT`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub number: i32,
    pub started_at: DateTimeUtc,
    /// Until the response was read or the attempt failed; NULL when no request was made or the
    /// attempt was interrupted.
    pub duration_ms: Option<i32>,
    /// One of the `OUTCOME_*` names.
    pub outcome: String,
    pub status_code: Option<i32>,
    /// What went wrong, as a sentence; NULL on success.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// JSON array of `[name, value]` pairs, capped.
    #[sea_orm(column_type = "Text")]
    pub response_headers: String,
    /// The start of the response body, capped; NULL when no response arrived.
    #[sea_orm(column_type = "Text", nullable)]
    pub response_body: Option<String>,
    /// The dispatcher that made the attempt (`WORKER_NAME`); NULL when unknown.
    pub worker: Option<String>,
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

impl Model {
    /// The response headers as stored; a malformed column reads as none rather than failing.
    pub fn header_list(&self) -> Vec<(String, String)> {
        serde_json::from_str(&self.response_headers).unwrap_or_default()
    }
}
