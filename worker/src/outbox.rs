//! The queuing side: [`emit`] turns one backend change into one event per enabled webhook of the
//! stream that subscribes to it (stored by [`crate::queue::insert`]), inside the caller's
//! transaction. So the
//! change and its events commit or roll back together, and the payload is frozen at that moment
//! (later edits to the stream or webhook do not rewrite what was sent). This is the function the
//! API's mutations call and the one a Rust backend embeds.

use chrono::{DateTime, SecondsFormat, Utc};
use entity::{stream, user, webhook_config, webhook_event};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Statement,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::notifier::CHANNEL;
use crate::queue::{self, NewEvent};

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
    /// A trigger name from [`crate::triggers::TRIGGERS`].
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
        stream_id: &str,
        user_id: &str,
        event_name: &str,
        activity_message: String,
        data: Value,
    ) -> Self {
        Self {
            stream_id: stream_id.to_owned(),
            user_id: user_id.to_owned(),
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

/// Queues `event` for every enabled webhook of its stream that subscribes to it; returns how many
/// rows were written. Call inside the transaction that makes the change, then wake the dispatcher
/// after commit (on PostgreSQL a `NOTIFY` is also sent, delivered only if the transaction commits).
/// On SQLite, make that transaction's first statement a write (see `streamhooks_api::db::begin_write`):
/// a transaction that reads first cannot start writing once the dispatcher has committed meanwhile.
pub async fn emit<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    event: &Event,
) -> Result<u64, DbErr> {
    let hooks: Vec<webhook_config::Model> = webhook_config::Entity::find()
        .filter(webhook_config::Column::StreamId.eq(&event.stream_id))
        .filter(webhook_config::Column::Enabled.eq(true))
        .all(db)
        .await?
        .into_iter()
        .filter(|w| w.trigger_list().contains(&event.event_name))
        .collect();
    if hooks.is_empty() {
        return Ok(0);
    }
    let stream = match &event.stream {
        Some(s) => s.clone(),
        None => stream::Entity::find_by_id(event.stream_id.clone())
            .one(db)
            .await?
            .map(|s| stream_json(&s))
            .ok_or_else(|| DbErr::RecordNotFound(format!("stream {}", event.stream_id)))?,
    };
    let user = match &event.user {
        Some(u) => u.clone(),
        None => user::Entity::find_by_id(event.user_id.clone())
            .one(db)
            .await?
            .map(|u| user_json(&u))
            .unwrap_or_else(|| json!({ "id": event.user_id })),
    };
    let rows = hooks
        .iter()
        .map(|hook| row(server, event, &stream, &user, hook, false))
        .collect::<Result<Vec<_>, _>>()?;
    let n = rows.len() as u64;
    queue::insert(db, &rows, Utc::now()).await?;
    notify(db).await?;
    Ok(n)
}

/// Queues one explicitly requested delivery to `hook` (a ping), whatever its triggers and even if
/// it is disabled; returns the new event id. `stream` and `user` must be given. Call inside a
/// transaction.
pub async fn queue_manual<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    event: &Event,
    hook: &webhook_config::Model,
) -> Result<i64, DbErr> {
    let stream = event.stream.clone().unwrap_or(Value::Null);
    let user = event
        .user
        .clone()
        .unwrap_or_else(|| json!({ "id": event.user_id }));
    let row = row(server, event, &stream, &user, hook, true)?;
    let id = one(queue::insert(db, &[row], Utc::now()).await?)?;
    notify(db).await?;
    Ok(id)
}

/// Queues `original`'s payload again as a fresh, manual delivery; returns the new event id. Call
/// inside a transaction.
pub async fn redeliver<C: ConnectionTrait>(
    db: &C,
    original: &webhook_event::Model,
    payload: String,
) -> Result<i64, DbErr> {
    let row = NewEvent {
        webhook_id: original.webhook_id.clone(),
        stream_id: original.stream_id.clone(),
        event_name: original.event_name.clone(),
        payload,
        status_info: format!("Queued; redelivery of event {}.", original.id),
        manual: true,
    };
    let id = one(queue::insert(db, &[row], Utc::now()).await?)?;
    notify(db).await?;
    Ok(id)
}

fn one(ids: Vec<i64>) -> Result<i64, DbErr> {
    ids.first()
        .copied()
        .ok_or_else(|| DbErr::Custom("INSERT returned no id".into()))
}

/// On PostgreSQL, tells other processes' dispatchers; delivered only when the transaction commits.
async fn notify<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_notify('{CHANNEL}', '')"),
        ))
        .await?;
    }
    Ok(())
}

/// One outbox row: the payload frozen now, due at once.
fn row(
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
