//! The queuing side: [`emit`] turns one backend change into one event per enabled webhook of the
//! stream that subscribes to it (stored by [`crate::core::queue::insert`]), inside the caller's
//! transaction. So the change and its events commit or roll back together, and the payload is
//! frozen at that moment (later edits to the stream or webhook do not rewrite what was sent).
//! This is the function the API's mutations call and the one a Rust backend embeds.
//!
//! The steps have files of their own: [`targets`] reads whom an event goes to, [`payload`] shapes
//! what each webhook receives, this file builds the rows ([`prepare_with`]) and stores them
//! ([`store`]), leased for the in-process hand-off when the [`Outbox`] it is given says so;
//! [`manual`] queues pings and redeliveries.

pub(crate) mod manual;
pub(crate) mod payload;
pub(crate) mod targets;

use chrono::Utc;
use entity::webhook_config;
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;

use crate::core::handoff::{Delivery, Stash};
use crate::core::lease::Lease;
use crate::core::outbox::payload::{row, stream_json, user_json, Event, ServerInfo};
use crate::core::outbox::targets::{targets, Targets};
use crate::core::queue::{self, NewEvent};
use crate::rows::{Claimed, Endpoint};

/// Where the events of one transaction go and what they carry: the `server` object of every
/// payload, and, when this process's dispatcher takes its own events in memory, the [`Stash`]
/// that keeps them for the commit. The code that begins the transaction decides which and passes
/// this to every [`emit`] in it, so a reader of a call sees what the events it queues will do.
#[derive(Clone, Copy, Debug)]
pub struct Outbox<'a> {
    pub server: &'a ServerInfo,
    stash: Option<&'a Stash>,
}

impl<'a> Outbox<'a> {
    /// Events written unleased: the caller wakes the dispatcher after its commit (on PostgreSQL
    /// the insert's `NOTIFY` also does).
    pub fn new(server: &'a ServerInfo) -> Self {
        Self {
            server,
            stash: None,
        }
    }

    /// Events leased to this process's dispatcher and kept in `stash`, which the committing code
    /// [`take`](Stash::take)s and hands over after the commit (unleased, as [`Outbox::new`],
    /// when the dispatcher has no room).
    pub fn handing_over(server: &'a ServerInfo, stash: &'a Stash) -> Self {
        Self {
            server,
            stash: Some(stash),
        }
    }
}

/// Queues `event` for every enabled webhook of its stream that subscribes to it; returns how many
/// rows were written. Call inside the transaction that makes the change, then wake the dispatcher
/// after commit (on PostgreSQL a `NOTIFY` is also sent, delivered only if the transaction
/// commits). On SQLite, make that transaction's first statement a write (see
/// `streamhooks_api::context::db::begin_write`): a transaction that reads first cannot start
/// writing once the dispatcher has committed meanwhile. Two statements on PostgreSQL (the
/// look-ups, then every insert and the NOTIFY); `out` decides whether the rows are leased to this
/// process's dispatcher ([`Outbox::handing_over`]) or written for any dispatcher to claim.
pub async fn emit<C: ConnectionTrait>(
    db: &C,
    out: &Outbox<'_>,
    event: &Event,
) -> Result<u64, DbErr> {
    let prepared = prepare(db, out.server, event).await?;
    Ok(store_for(db, out, prepared).await?.n)
}

/// [`store`], leased and kept in `out`'s stash when it has one and the dispatcher has room; else
/// unleased, with a NOTIFY on PostgreSQL.
pub(super) async fn store_for<C: ConnectionTrait>(
    db: &C,
    out: &Outbox<'_>,
    prepared: Prepared,
) -> Result<Queued, DbErr> {
    let reservation = out.stash.and_then(|s| s.reserve(prepared.weight()));
    let mut queued = store(db, prepared, reservation.as_ref().map(|r| r.lease)).await?;
    if let (Some(stash), Some(r), Some(delivery)) = (out.stash, reservation, queued.delivery.take())
    {
        stash.keep(r, delivery);
    }
    Ok(queued)
}

/// What an event is queued as: one row per matching webhook, beside that webhook.
#[derive(Debug, Default, Clone)]
pub struct Prepared {
    pub(super) rows: Vec<(NewEvent, Endpoint)>,
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
                Endpoint::from(hook),
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
    let (rows, hooks): (Vec<NewEvent>, Vec<Endpoint>) = prepared.rows.into_iter().unzip();
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
