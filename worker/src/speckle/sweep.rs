//! What runs beside the loop on a Speckle database, every `sweep_interval`:
//!
//! - Adoption: Speckle rows left at status 1 by a dispatcher that stopped (the stock service
//!   never looks at them again) get a `deliveries` row, due now, so the next claim sends them.
//!   A row qualifies once its `lastUpdate` is older than `adopt_after` (by default the stock
//!   service's 10 s request timeout plus a margin) and no `deliveries` row of ours holds it: we
//!   set a row to 1 only while retrying it, when its `deliveries` row exists already, and every
//!   change we make bumps `lastUpdate`.
//! - Orphans: `deliveries` rows whose event is gone (Speckle deletes a webhook's events by
//!   cascade; we keep no foreign key into its tables) or finished by someone else, once nobody
//!   holds them.
//! - Attempts older than `attempts_max_age`.
//! - The stock service's return: if it connects while we run, that is said at error level each
//!   time it is found (refusing to start is all we can do about it: stopping now would leave
//!   events half-sent).
//!
//! Each statement is capped at [`BATCH`] rows and walks an index: Speckle's `status` index for
//! rows at 1 (what is retrying, or what a stopped stock service left, never the history), our
//! `deliveries` (what is in flight or retrying) and `attempts_started`.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sqlx::{self, PgPool};
use tokio_util::sync::CancellationToken;

use crate::core::notifier::Notifier;
use crate::speckle::stock;

/// Rows per statement at most.
pub const BATCH: i64 = 5_000;

/// How the sweep runs.
#[derive(Debug, Clone)]
pub struct SweepSettings {
    pub interval: Duration,
    pub adopt_after: Duration,
    /// Zero keeps attempts forever.
    pub attempts_max_age: Duration,
    /// Whether a stock service beside us was allowed at start (then it is not reported again).
    pub stock_allowed: bool,
    /// Names the database in log lines (the region).
    pub region: String,
}

/// Adopts rows at 1 that nobody of ours holds and that have not changed for `after`; returns how
/// many.
pub async fn adopt(pool: &PgPool, after: Duration) -> Result<u64, sqlx::Error> {
    let now_ms = Utc::now().timestamp_millis();
    let done = sqlx::query(
        "INSERT INTO streamhooks.deliveries (event_id, webhook_id, due_at) \
         SELECT e.id, COALESCE(e.\"webhookId\", ''), $1 FROM webhooks_events e \
         WHERE e.status = 1 AND e.\"lastUpdate\" < now() - make_interval(secs => $2) \
           AND NOT EXISTS (SELECT 1 FROM streamhooks.deliveries d WHERE d.event_id = e.id) \
         LIMIT $3 \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(now_ms)
    .bind(after.as_secs_f64())
    .bind(BATCH)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes `deliveries` rows nobody holds whose event is gone or finished; returns how many.
pub async fn sweep_orphans(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let now_ms = Utc::now().timestamp_millis();
    let done = sqlx::query(
        "DELETE FROM streamhooks.deliveries WHERE ctid = ANY(ARRAY( \
           SELECT d.ctid FROM streamhooks.deliveries d \
           WHERE (d.lease_until IS NULL OR d.lease_until < $1) \
             AND NOT EXISTS (SELECT 1 FROM webhooks_events e \
                             WHERE e.id = d.event_id AND e.status IN (0, 1)) \
           LIMIT $2))",
    )
    .bind(now_ms)
    .bind(BATCH)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes attempts that started more than `max_age` ago, [`BATCH`] at a time; returns how many.
pub async fn prune_attempts(
    pool: &PgPool,
    max_age: Duration,
    cancel: &CancellationToken,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let done = sqlx::query(
            "DELETE FROM streamhooks.attempts WHERE ctid = ANY(ARRAY( \
               SELECT ctid FROM streamhooks.attempts \
               WHERE started_at < now() - make_interval(secs => $1) LIMIT $2))",
        )
        .bind(max_age.as_secs_f64())
        .bind(BATCH)
        .execute(pool)
        .await?
        .rows_affected();
        total += done;
        if done < BATCH as u64 || cancel.is_cancelled() {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// One pass (module docs); wakes the dispatcher when it adopted something.
pub async fn once(
    pool: &PgPool,
    settings: &SweepSettings,
    notifier: &Notifier,
    cancel: &CancellationToken,
) -> Result<(), sqlx::Error> {
    let region = settings.region.as_str();
    let adopted = adopt(pool, settings.adopt_after).await?;
    if adopted > 0 {
        tracing::info!(
            region,
            events = adopted,
            "adopted events left at status 1 by a dispatcher that stopped; sending them"
        );
        notifier.wake();
    }
    let orphans = sweep_orphans(pool).await?;
    if orphans > 0 {
        tracing::debug!(
            region,
            rows = orphans,
            "swept deliveries of deleted or finished events"
        );
    }
    if !settings.attempts_max_age.is_zero() {
        let pruned = prune_attempts(pool, settings.attempts_max_age, cancel).await?;
        if pruned > 0 {
            tracing::info!(region, attempts = pruned, "pruned old attempts");
        }
    }
    if !settings.stock_allowed {
        let stock = stock::stock_sessions(pool).await?;
        if !stock.is_empty() {
            tracing::error!(region, "{}", stock::refusal(region, &stock));
        }
    }
    Ok(())
}

/// Runs [`once`] every `settings.interval` until `cancel`.
pub async fn run(
    pool: PgPool,
    settings: SweepSettings,
    notifier: Notifier,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(settings.interval) => {}
        }
        if let Err(e) = once(&pool, &settings, &notifier, &cancel).await {
            tracing::warn!(region = %settings.region, error = %e, "sweep failed; trying again next interval");
        }
    }
}
