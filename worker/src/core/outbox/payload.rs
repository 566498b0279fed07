//! Payload shaping: the [`Event`] a backend reports, the [`ServerInfo`] every payload carries,
//! and the one row an event becomes for one webhook ([`row`]), its payload serialised once, when
//! it is queued. What a payload shows of a stream, a user and a webhook is decided here, and the
//! decision a reader may question is what it leaves out: never a user's email nor a webhook's
//! secret, since the payload goes to whatever URL the webhook names.

use chrono::{DateTime, SecondsFormat, Utc};
use entity::ids::{StreamId, UserId};
use entity::{stream, user, webhook_config};
use sea_orm::DbErr;
use serde::Serialize;
use serde_json::{json, Value};

use crate::core::queue::NewEvent;

/// `server` in every payload.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub name: String,
    pub description: String,
    pub canonical_url: String,
    pub version: String,
}

/// One thing that happened on a stream.
#[derive(Clone, Debug)]
pub struct Event {
    pub stream_id: String,
    /// Who caused it.
    pub user_id: String,
    /// A trigger name from [`crate::core::triggers::TRIGGERS`].
    pub event_name: String,
    /// Human summary, e.g. "Stream metadata changed".
    pub activity_message: String,
    /// `event.data`: `{old, new}` for updates, the object for creates and deletes.
    pub data: Value,
    /// `stream` in the payload; `None` reads the stream row (which must then exist).
    pub stream: Option<Value>,
    /// `user` in the payload; `None` reads the user row.
    pub user: Option<Value>,
}

impl Event {
    /// An event whose `stream` and `user` objects are read from the tables when it is queued.
    pub fn new(
        stream: &StreamId,
        by: &UserId,
        event_name: &str,
        activity_message: String,
        data: Value,
    ) -> Self {
        Self {
            stream_id: stream.as_str().to_owned(),
            user_id: by.as_str().to_owned(),
            event_name: event_name.to_owned(),
            activity_message,
            data,
            stream: None,
            user: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    stream_id: &'a str,
    user_id: &'a str,
    activity_message: &'a str,
    event: EventPart<'a>,
    server: &'a ServerInfo,
    stream: &'a Value,
    user: &'a Value,
    webhook: Value,
}

#[derive(Serialize)]
struct EventPart<'a> {
    event_name: &'a str,
    data: &'a Value,
}

/// Timestamps as Speckle writes them: `2021-06-29T09:09:02.993Z`.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `stream` as payloads show it.
pub fn stream_json(s: &stream::Model) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "isPublic": s.is_public,
        "clonedFrom": null,
        "createdAt": timestamp(&s.created_at),
        "updatedAt": timestamp(&s.updated_at),
    })
}

/// `user` as payloads show it: never the email (nor any credential).
pub fn user_json(u: &user::Model) -> Value {
    json!({
        "id": u.id,
        "name": u.name,
        "avatar": u.avatar,
        "bio": u.bio,
        "company": u.company,
        "role": u.server_role,
    })
}

/// `webhook` as payloads show it: never the secret.
pub fn webhook_json(w: &webhook_config::Model) -> Value {
    json!({
        "id": w.id,
        "streamId": w.stream_id,
        "url": w.url,
        "description": w.description,
        "triggers": w.trigger_list(),
        "enabled": w.enabled,
        "hasSecret": w.has_secret(),
        "createdAt": timestamp(&w.created_at),
    })
}

/// One outbox row: the payload frozen now, due at once.
pub(super) fn row(
    server: &ServerInfo,
    event: &Event,
    stream: &Value,
    user: &Value,
    hook: &webhook_config::Model,
    manual: bool,
) -> Result<NewEvent, DbErr> {
    let payload = Payload {
        stream_id: &event.stream_id,
        user_id: &event.user_id,
        activity_message: &event.activity_message,
        event: EventPart {
            event_name: &event.event_name,
            data: &event.data,
        },
        server,
        stream,
        user,
        webhook: webhook_json(hook),
    };
    let payload = serde_json::to_string(&payload).map_err(|e| DbErr::Custom(e.to_string()))?;
    let info = if manual {
        "Queued; test delivery (ping)."
    } else {
        "Queued; not attempted yet."
    };
    Ok(NewEvent {
        webhook_id: hook.id.clone(),
        stream_id: event.stream_id.clone(),
        event_name: event.event_name.clone(),
        payload,
        status_info: info.to_owned(),
        manual,
    })
}
