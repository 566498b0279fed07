//! Manual events: a ping and a redelivery, asked for explicitly by a user. They go to one
//! webhook whatever its triggers, even while it is disabled (testing an endpoint before enabling
//! it is the point of a ping), and are stored as [`super::emit`] stores its rows, so with an
//! [`Outbox`] that hands over they are sent the moment their transaction commits.

use entity::{webhook_config, webhook_event};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::{json, Value};

use crate::core::outbox::payload::{row, Event};
use crate::core::outbox::{store_for, Outbox, Prepared};
use crate::core::queue::NewEvent;
use crate::rows::Endpoint;

/// Queues one explicitly requested delivery to `hook` (a ping), whatever its triggers and even if
/// it is disabled; returns the new event id. `stream` and `user` must be given. Call inside a
/// transaction.
pub async fn queue_manual<C: ConnectionTrait>(
    db: &C,
    out: &Outbox<'_>,
    event: &Event,
    hook: &webhook_config::Model,
) -> Result<i64, DbErr> {
    let stream = event.stream.clone().unwrap_or(Value::Null);
    let user = event
        .user
        .clone()
        .unwrap_or_else(|| json!({ "id": event.user_id }));
    let row = row(out.server, event, &stream, &user, hook, true)?;
    queue_one(db, out, row, hook).await
}

/// Queues `original`'s payload again as a fresh, manual delivery to `hook` (its webhook); returns
/// the new event id. Call inside a transaction.
pub async fn redeliver<C: ConnectionTrait>(
    db: &C,
    out: &Outbox<'_>,
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
    queue_one(db, out, row, hook).await
}

/// Stores one manual row as [`emit`](super::emit) stores its rows (leased and kept for the
/// hand-off when `out` says so, so a ping is sent the moment its transaction commits); returns
/// its id.
async fn queue_one<C: ConnectionTrait>(
    db: &C,
    out: &Outbox<'_>,
    row: NewEvent,
    hook: &webhook_config::Model,
) -> Result<i64, DbErr> {
    let prepared = Prepared {
        rows: vec![(row, Endpoint::from(hook))],
    };
    one(store_for(db, out, prepared).await?.ids)
}

fn one(ids: Vec<i64>) -> Result<i64, DbErr> {
    ids.first()
        .copied()
        .ok_or_else(|| DbErr::Custom("INSERT returned no id".into()))
}
