//! Recovering from an outage: every delivery of one webhook that failed for good (status 3) since
//! a given time, queued again in one call (Svix's "recover failed messages since", Convoy's batch
//! retry), as `webhookRedeliverFailed` and `streamhooks redeliver`. Each event keeps its id and
//! delivery id, gets a fresh retry schedule, and its new attempts join its attempts list
//! (`streamhooks_worker::requeue` says how, and why a call cannot queue an event twice).
//!
//! Bounded: at most [`MAX_PER_CALL`] events a call, the oldest first, and the answer says when
//! more remain; a second call with the same `since` takes the next ones, since those already
//! queued are no longer at status 3. The decision a reader may question is that a disabled webhook
//! is refused rather than sent to, unless the caller asks to re-enable it: its events would be
//! finished at once as "not sent: the webhook was disabled", and quietly re-enabling a webhook
//! its owner (or the server) turned off would send new events to it too.

pub mod graphql;

use chrono::{DateTime, SecondsFormat, Utc};
use entity::webhook_config;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use streamhooks_worker::requeue;

use crate::context::error::{Error, Result};

/// The most events one call queues.
pub const MAX_PER_CALL: u64 = 10_000;

/// What a call queued (or, counting only, would queue).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    pub queued: u64,
    /// More failed events remain since that time than one call takes.
    pub more: bool,
}

/// How many of `hook`'s events failed for good at or after `since`, up to [`MAX_PER_CALL`]:
/// what [`redeliver_failed`] would queue now. Writes nothing.
pub async fn count_failed<C: ConnectionTrait>(
    db: &C,
    hook: &webhook_config::Model,
    since: DateTime<Utc>,
) -> Result<Recovered> {
    let found = requeue::failed_since(db, &hook.id, since, MAX_PER_CALL).await?;
    Ok(Recovered {
        queued: found.ids.len() as u64,
        more: found.more,
    })
}

/// Queues again `hook`'s events that failed for good at or after `since` (the oldest
/// [`MAX_PER_CALL`]); with `enable`, re-enables the webhook first if it is disabled. Call inside
/// a write transaction (`AppState::begin`), then commit and wake the dispatcher.
pub async fn redeliver_failed<C: ConnectionTrait>(
    txn: &C,
    hook: &webhook_config::Model,
    since: DateTime<Utc>,
    enable: bool,
) -> Result<Recovered> {
    if !hook.enabled && !enable {
        let why = hook
            .disabled_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        return Err(Error::bad_input(format!(
            "Webhook {} is disabled{why}, so its failed events would fail again without being \
             sent; ask to re-enable it as well (enable: true; it then sends new events again too).",
            hook.id
        )));
    }
    let now = Utc::now();
    if !hook.enabled {
        // As webhookUpdate(enabled: true) does: the automatic disable's reason and streak go.
        webhook_config::Entity::update_many()
            .set(webhook_config::ActiveModel {
                enabled: Set(true),
                disabled_reason: Set(None),
                consecutive_failures: Set(0),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(webhook_config::Column::Id.eq(&hook.id))
            .exec(txn)
            .await?;
    }
    let found = requeue::failed_since(txn, &hook.id, since, MAX_PER_CALL).await?;
    let info = format!(
        "Queued again at {} with the deliveries that failed since {}; not attempted since.",
        now.to_rfc3339_opts(SecondsFormat::Secs, true),
        since.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    let queued = requeue::requeue_failed(txn, &hook.id, &found.ids, &info, now).await?;
    Ok(Recovered {
        queued: queued.len() as u64,
        more: found.more,
    })
}
