//! The rows both halves of the crate pass around: a leased event ([`Claimed`]) and the webhook it
//! goes to ([`Endpoint`]), the new state the dispatcher writes back for it ([`Update`]) and one
//! attempt as stored ([`AttemptRow`]).
//!
//! They live in a file of their own because four parties share them and none owns them: a claim
//! and the in-process hand-off both make `Claimed` rows, the retry policy turns an attempt into an
//! `Update`, the recorder and its statements write `Update`s, and the hand-off gives leases back
//! with the same release `Update` a dispatcher makes. Kept in any one of those files, they would
//! tie the others to it in a circle of imports.
//!
//! Also here, because every statement that writes these rows is sized by it: how many results the
//! recorder writes at once ([`MAX_BATCH`]) and how many rows one statement carries
//! ([`rows_per_statement`]).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use entity::webhook_config;
use entity::webhook_event::{self, STATUS_FAILED};
use entity::webhook_event_attempt::OUTCOME_INTERRUPTED;
use sea_orm::{DatabaseBackend, FromQueryResult};

/// A leased event, with what sending it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub webhook_id: String,
    pub event_name: String,
    pub payload: String,
    /// Retries scheduled before this attempt (Speckle's `retryCount`).
    pub retry_count: i32,
    pub manual: bool,
    /// This attempt's number, from 1 (sent as `X-WEBHOOK-ATTEMPT`).
    pub attempt: i32,
    pub due_at: i64,
    pub lease_token: i64,
    pub lease_until: i64,
    /// When this lease, and so this attempt, began (epoch ms).
    pub leased_at: i64,
    /// When the expired lease this claim took over had begun, if it took one over.
    pub prior_lease_at: Option<i64>,
}

/// A webhook as sending to it reads it: where, whether it is on, in which format, and the
/// secrets that sign. Eight of its fourteen columns, and a claim reads no more: with a backlog
/// spread over thousands of webhooks nearly every claimed event brings a webhook of its own, and
/// returning the six no delivery reads (description, triggers, the failure streak, two
/// timestamps) cost the database ~0.6 µs of the ~2.8 µs it spent per webhook looked up
/// (`pgbench`, BENCHMARKS.md "spread"), before decoding them. The drop-in's claim makes one from
/// Speckle's `webhooks_config` without inventing the columns Speckle does not have.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    /// Sealed ([`crate::core::secrets`]); `None` or empty: the empty key signs.
    pub secret: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// [`crate::core::wire::Format`]'s name, parsed at send time.
    pub format: String,
    pub previous_secret: Option<String>,
    /// End of the rotation grace (epoch ms).
    pub previous_secret_expires_at: Option<i64>,
}

impl Endpoint {
    /// The columns of `webhooks_config` an endpoint is read from, in field order.
    pub const COLUMNS: &'static str = "id, url, secret, enabled, disabled_reason, format, \
         previous_secret, previous_secret_expires_at";

    /// The stored previous secret if its grace has not ended at `now_ms` (epoch ms).
    pub fn previous_secret_at(&self, now_ms: i64) -> Option<&str> {
        match (&self.previous_secret, self.previous_secret_expires_at) {
            (Some(p), Some(until)) if now_ms < until && !p.is_empty() => Some(p),
            _ => None,
        }
    }
}

impl From<&webhook_config::Model> for Endpoint {
    fn from(w: &webhook_config::Model) -> Self {
        Endpoint {
            id: w.id.clone(),
            url: w.url.clone(),
            secret: w.secret.clone(),
            enabled: w.enabled,
            disabled_reason: w.disabled_reason.clone(),
            format: w.format.clone(),
            previous_secret: w.previous_secret.clone(),
            previous_secret_expires_at: w.previous_secret_expires_at,
        }
    }
}

/// Results written per transaction at most.
pub const MAX_BATCH: usize = 1024;

/// Rows per statement at most: on PostgreSQL a whole batch, whose rows travel as one parameter
/// (or one array per column) however many they are; on SQLite 256, each row a row of parameters.
pub fn rows_per_statement(backend: DatabaseBackend) -> usize {
    match backend {
        DatabaseBackend::Postgres => MAX_BATCH,
        _ => 256,
    }
}

/// What a recorded result does to its webhook's failure streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    Success,
    FinalFailure,
}

/// What becomes of the queue row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The event is done (succeeded, failed for good, or not sent): the queue row goes.
    Finish,
    /// Another attempt at `due_at` (epoch ms).
    Retry { due_at: i64 },
    /// Given back untouched (shutdown, or a lease too short to start safely): the attempt it had
    /// counted is taken back and the event row is left alone.
    Release,
}

/// One attempt as stored in `webhooks_event_attempts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub event_id: i64,
    pub number: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: Option<i32>,
    pub outcome: &'static str,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// JSON array of `[name, value]` pairs.
    pub response_headers: String,
    pub response_body: Option<String>,
    pub worker: Option<Arc<str>>,
}

impl AttemptRow {
    /// The attempt a claim found abandoned by an expired lease (`Claimed::prior_lease_at`), as
    /// `interrupted` with the sentence `error`: whether its request reached the receiver is
    /// unknown. `None` when the claim took over no lease, or took one that made no attempt.
    pub fn interrupted(r: &Claimed, error: &str) -> Option<AttemptRow> {
        let at = r.prior_lease_at?;
        let number = r.attempt - 1;
        (number >= 1).then(|| AttemptRow {
            event_id: r.id,
            number,
            started_at: Utc
                .timestamp_millis_opt(at)
                .single()
                .unwrap_or_else(Utc::now),
            duration_ms: None,
            outcome: OUTCOME_INTERRUPTED,
            status_code: None,
            error: Some(error.to_owned()),
            response_headers: "[]".into(),
            response_body: None,
            worker: None,
        })
    }
}

/// The new state of one leased event.
#[derive(Debug, Clone)]
pub struct Update {
    pub id: i64,
    pub lease_token: i64,
    /// When the lease runs out (epoch ms); after that this result can no longer apply.
    pub lease_until: i64,
    pub webhook_id: String,
    pub kind: Kind,
    pub status: i16,
    pub status_info: String,
    pub retry_count: i32,
    pub last_update: DateTime<Utc>,
    pub effect: Effect,
    /// The attempt this result comes from; none for a release or an event not sent.
    pub attempt: Option<AttemptRow>,
}

impl Update {
    /// The claimed event finished with nothing changed yet, to be filled in with struct-update
    /// syntax.
    pub fn for_event(event: &Claimed, now: DateTime<Utc>) -> Self {
        Update {
            id: event.id,
            lease_token: event.lease_token,
            lease_until: event.lease_until,
            webhook_id: event.webhook_id.clone(),
            kind: Kind::Finish,
            status: webhook_event::STATUS_QUEUED,
            status_info: String::new(),
            retry_count: event.retry_count,
            last_update: now,
            effect: Effect::None,
            attempt: None,
        }
    }

    /// Gives a claimed row back untouched.
    pub fn release(event: &Claimed) -> Self {
        Update {
            kind: Kind::Release,
            ..Update::for_event(event, Utc::now())
        }
    }

    /// Finishes a row without sending it, e.g. because its webhook was disabled or deleted.
    pub fn not_sent(event: &Claimed, why: String, now: DateTime<Utc>) -> Self {
        Update {
            status: STATUS_FAILED,
            status_info: why,
            ..Update::for_event(event, now)
        }
    }
}
