//! The queuing side: [`emit`] turns one backend change into one event per enabled webhook of the
//! stream that subscribes to it (stored by [`crate::core::queue::insert`]), inside the caller's
//! transaction. So the
//! change and its events commit or roll back together, and the payload is frozen at that moment
//! (later edits to the stream or webhook do not rewrite what was sent). This is the function the
//! API's mutations call and the one a Rust backend embeds.

use chrono::{DateTime, SecondsFormat, Utc};
use std::sync::OnceLock;

use entity::{stream, user, webhook_config, webhook_event};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable,
    Statement,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::core::handoff::Delivery;
use crate::core::lease::Lease;
use crate::core::queue::{self, NewEvent};
use crate::core::sql;
use crate::rows::Claimed;

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
/// Two statements on PostgreSQL (the look-ups, then every insert and the NOTIFY); see
/// [`prepare`] and [`store`] to lease the rows to this process's dispatcher instead. Within
/// [`handoff::scope`](crate::core::handoff::scope) it does so itself: the rows are written leased and
/// wait for [`handoff::take`](crate::core::handoff::take) and the commit.
pub async fn emit<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    event: &Event,
) -> Result<u64, DbErr> {
    let prepared = prepare(db, server, event).await?;
    Ok(store_in_scope(db, prepared).await?.n)
}

/// [`store`], leased and stashed for the hand-off when running within its scope and the
/// dispatcher has room; else unleased, with a NOTIFY on PostgreSQL.
async fn store_in_scope<C: ConnectionTrait>(db: &C, prepared: Prepared) -> Result<Queued, DbErr> {
    let reservation = crate::core::handoff::reserve_in_scope(prepared.weight());
    let mut queued = store(db, prepared, reservation.as_ref().map(|r| r.lease)).await?;
    if let (Some(r), Some(delivery)) = (reservation, queued.delivery.take()) {
        crate::core::handoff::stash(r, delivery);
    }
    Ok(queued)
}

/// What an event is queued as: one row per matching webhook, beside that webhook.
#[derive(Debug, Default, Clone)]
pub struct Prepared {
    rows: Vec<(NewEvent, webhook_config::Model)>,
}

impl Prepared {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// What the rows weigh against the hand-off's room ([`crate::core::handoff::weight`]).
    pub fn weight(&self) -> usize {
        self.rows
            .iter()
            .map(|(r, _)| crate::core::handoff::weight(r.payload.len()))
            .sum()
    }

    /// Adds `other`'s rows (a batch queues all its events with one [`store`]).
    pub fn extend(&mut self, other: Prepared) {
        self.rows.extend(other.rows);
    }
}

/// What [`store`] wrote.
#[derive(Debug, Default)]
pub struct Queued {
    pub n: u64,
    /// The new events' ids, in the order of the prepared rows.
    pub ids: Vec<i64>,
    /// With a lease: the rows as the dispatcher takes them, to hand over after the commit.
    pub delivery: Option<Delivery>,
}

/// What an event on one stream by one user fans out to, read in one statement: the stream's
/// enabled webhooks, the stream and the user. Read at every event, never cached, so a webhook
/// changed or disabled a moment ago takes effect at the next event, in every process.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub hooks: Vec<webhook_config::Model>,
    pub stream: Option<stream::Model>,
    pub user: Option<user::Model>,
}

/// `alias.col AS alias_col, …` for every column of `E`, to read it back with
/// `E::Model::from_query_result(row, "alias_")`.
pub fn select_list<E: EntityTrait>(alias: &str) -> String {
    E::Column::iter()
        .map(|c| format!("{alias}.{0} AS {alias}_{0}", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the [`Targets`] of events on `stream_id` by `user_id`.
pub async fn targets<C: ConnectionTrait>(
    db: &C,
    stream_id: &str,
    user_id: &str,
) -> Result<Targets, DbErr> {
    let stmt = targets_statement(db.get_database_backend(), stream_id, user_id);
    targets_from(&db.query_all(stmt).await?)
}

/// The columns [`targets_from`] reads: the webhook's as `w_…`, the stream's as `s_…`, the
/// user's as `u_…`, for a statement that joins them under those aliases.
pub fn targets_columns() -> &'static str {
    static COLUMNS: OnceLock<String> = OnceLock::new();
    COLUMNS.get_or_init(|| {
        [
            select_list::<webhook_config::Entity>("w"),
            select_list::<stream::Entity>("s"),
            select_list::<user::Entity>("u"),
        ]
        .join(", ")
    })
}

/// The statement of [`targets`]; read its rows with [`targets_from`].
fn targets_statement(backend: DbBackend, stream_id: &str, user_id: &str) -> Statement {
    let m = |n| sql::mark(backend, n);
    Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT {} FROM (SELECT 1 AS one) o \
             LEFT JOIN streams s ON s.id = {} \
             LEFT JOIN users u ON u.id = {} \
             LEFT JOIN webhooks_config w ON w.stream_id = {} AND w.enabled = {}",
            targets_columns(),
            m(1),
            m(2),
            m(3),
            m(4)
        ),
        [
            stream_id.into(),
            user_id.into(),
            stream_id.into(),
            true.into(),
        ],
    )
}

/// The [`Targets`] in the rows of a statement selecting [`targets_columns`] (one row per
/// webhook, or one row with the webhook's columns null).
pub fn targets_from(rows: &[sea_orm::QueryResult]) -> Result<Targets, DbErr> {
    let mut t = Targets::default();
    for (i, row) in rows.iter().enumerate() {
        if i == 0 {
            if row.try_get::<Option<String>>("", "s_id")?.is_some() {
                t.stream = Some(stream::Model::from_query_result(row, "s_")?);
            }
            if row.try_get::<Option<String>>("", "u_id")?.is_some() {
                t.user = Some(user::Model::from_query_result(row, "u_")?);
            }
        }
        if row.try_get::<Option<String>>("", "w_id")?.is_some() {
            t.hooks
                .push(webhook_config::Model::from_query_result(row, "w_")?);
        }
    }
    Ok(t)
}

/// Builds `event`'s rows from its [`Targets`]: one per webhook subscribed to it.
pub fn prepare_with(
    server: &ServerInfo,
    event: &Event,
    targets: &Targets,
) -> Result<Prepared, DbErr> {
    let hooks: Vec<&webhook_config::Model> = targets
        .hooks
        .iter()
        .filter(|w| w.trigger_list().contains(&event.event_name))
        .collect();
    if hooks.is_empty() {
        return Ok(Prepared::default());
    }
    let stream = match (&event.stream, &targets.stream) {
        (Some(s), _) => s.clone(),
        (None, Some(s)) => stream_json(s),
        (None, None) => return Err(DbErr::RecordNotFound(format!("stream {}", event.stream_id))),
    };
    let user = match (&event.user, &targets.user) {
        (Some(u), _) => u.clone(),
        (None, Some(u)) => user_json(u),
        (None, None) => json!({ "id": event.user_id }),
    };
    let rows = hooks
        .into_iter()
        .map(|hook| {
            Ok((
                row(server, event, &stream, &user, hook, false)?,
                hook.clone(),
            ))
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    Ok(Prepared { rows })
}

/// Reads `event`'s targets and builds its rows (one statement).
pub async fn prepare<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    event: &Event,
) -> Result<Prepared, DbErr> {
    let t = targets(db, &event.stream_id, &event.user_id).await?;
    prepare_with(server, event, &t)
}

/// Stores prepared rows (see [`queue::insert_leased`]: one statement on PostgreSQL up to
/// [`queue::MAX_ONE_STATEMENT`] rows, else call it in a transaction). With `lease`, the queue rows
/// are written leased to this process's dispatcher and returned for the hand-off; without, other
/// processes are told by NOTIFY (PostgreSQL) and this one must be woken after the commit.
pub async fn store<C: ConnectionTrait>(
    db: &C,
    prepared: Prepared,
    lease: Option<Lease>,
) -> Result<Queued, DbErr> {
    if prepared.rows.is_empty() {
        return Ok(Queued::default());
    }
    let (rows, hooks): (Vec<NewEvent>, Vec<webhook_config::Model>) =
        prepared.rows.into_iter().unzip();
    let now = Utc::now();
    let ids = queue::insert_leased(db, &rows, now, lease, lease.is_none()).await?;
    let n = ids.len() as u64;
    let Some(lease) = lease else {
        return Ok(Queued {
            n,
            ids,
            delivery: None,
        });
    };
    let due_at = now.timestamp_millis();
    let claimed = rows
        .into_iter()
        .zip(ids.iter().copied())
        .map(|(r, id)| Claimed {
            id,
            webhook_id: r.webhook_id,
            event_name: r.event_name,
            payload: r.payload,
            retry_count: 0,
            manual: r.manual,
            attempt: 1,
            due_at,
            lease_token: lease.token,
            lease_until: lease.until,
            leased_at: lease.leased_at,
            prior_lease_at: None,
        })
        .collect();
    let webhooks = hooks.into_iter().map(|w| (w.id.clone(), w)).collect();
    Ok(Queued {
        n,
        ids,
        delivery: Some((claimed, webhooks)),
    })
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
    queue_one(db, row, hook).await
}

/// Queues `original`'s payload again as a fresh, manual delivery to `hook` (its webhook); returns
/// the new event id. Call inside a transaction.
pub async fn redeliver<C: ConnectionTrait>(
    db: &C,
    original: &webhook_event::Model,
    hook: &webhook_config::Model,
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
    queue_one(db, row, hook).await
}

/// Stores one manual row as [`emit`] stores its rows (leased and stashed within a hand-off
/// scope, so a ping is sent the moment its transaction commits); returns its id.
async fn queue_one<C: ConnectionTrait>(
    db: &C,
    row: NewEvent,
    hook: &webhook_config::Model,
) -> Result<i64, DbErr> {
    let prepared = Prepared {
        rows: vec![(row, hook.clone())],
    };
    one(store_in_scope(db, prepared).await?.ids)
}

fn one(ids: Vec<i64>) -> Result<i64, DbErr> {
    ids.first()
        .copied()
        .ok_or_else(|| DbErr::Custom("INSERT returned no id".into()))
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
