//! The run loop: wait for work, claim it, start deliveries within the concurrency caps, repeat.
//!
//! Claims are sized to the free global permits, so what is claimed starts at once unless its own
//! webhook is at its cap. One claim at a time runs beside the loop, not in it: a claim commits,
//! and with PostgreSQL's default durability a commit waits for the disk, time in which finished
//! requests must go on handing their slots to waiting events. A full batch is followed by another
//! claim straight away; otherwise the loop sleeps until a wake-up (in-process, PostgreSQL NOTIFY
//! via `listen`, or the recorder after scheduling a retry), the earliest due time, or the poll
//! interval. When the database fails (a restart, a failover) the loop says so once, backs off
//! (250 ms doubling to 5 s) and says so again when it is back; nothing is lost meanwhile, since
//! unclaimed rows stay queued and claimed ones are either recorded later or their leases expire.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::core::handoff::Inbox;
use crate::core::notifier::Notifier;
use crate::dispatch::dispatcher::{ClaimFuture, Dispatcher};
use crate::dispatch::floor::Ticket;
use crate::error::Error;

/// Full lanes named in one claim's `NOT IN`, to stay well within bind-parameter limits; rows of
/// further full lanes may be claimed and simply wait in their lane.
const MAX_EXCLUDED: usize = 1_000;

/// The first pause after a database error; it doubles while errors go on, up to
/// [`MAX_ERROR_BACKOFF`], and is reset by the first success.
const ERROR_BACKOFF: Duration = Duration::from_millis(250);
const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(5);

impl Dispatcher {
    pub(super) async fn run_loop(
        &mut self,
        notifier: &Notifier,
        mut inbox: Option<Inbox>,
        cancel: &CancellationToken,
    ) {
        let poll = self.config.poll_interval;
        let batch = usize::try_from(self.config.batch_size).unwrap_or(usize::MAX);
        // Claiming a handful of rows per round trip under load wastes the database; wait for a
        // useful number of free slots unless nothing is running at all.
        let min_claim = (self.config.concurrency / 8).clamp(1, batch);
        let mut want_claim = true;
        let mut last_full = false;
        let mut excluded: HashSet<String> = HashSet::new();
        let mut wake_at = Instant::now() + poll;
        // The claim in flight, with its limit, the lanes it left out and where it started. It
        // runs beside the loop rather than in it: a claim commits, and a commit waits for the WAL
        // to reach the disk (milliseconds with PostgreSQL's default durability), during which
        // finished requests must still hand their slots to waiting events.
        let mut claiming: Option<(ClaimFuture, usize, HashSet<String>, Ticket)> = None;
        loop {
            let free = self.global.available_permits();
            if want_claim
                && claiming.is_none()
                && !cancel.is_cancelled()
                && (free >= min_claim || self.tasks.is_empty())
            {
                want_claim = false;
                let limit = free.min(batch);
                let skipped = self.full_lanes();
                if limit == 0 {
                    last_full = false;
                    excluded = skipped.into_iter().collect();
                    wake_at = self.next_wake(poll).await;
                } else {
                    let skipped_set: HashSet<String> = skipped.iter().cloned().collect();
                    let ticket = self.floor.ticket(&skipped_set, Instant::now());
                    let claim = self.begin_claim(limit, skipped, ticket.start_due());
                    claiming = Some((claim, limit, skipped_set, ticket));
                }
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    // What the claim in flight gets is given back by `shutdown`, not leaked
                    // until its lease runs out.
                    if let Some((claim, _, _, _)) = claiming.take() {
                        if let Ok(got) = claim.await {
                            self.take_claimed(got, false, false).await;
                        }
                    }
                    // Handed over but not yet taken: released by `shutdown` like the rest.
                    if let Some(inbox) = inbox.as_mut() {
                        inbox.rx.close();
                        while let Some(got) = inbox.rx.recv().await {
                            self.take_claimed(got, false, true).await;
                        }
                    }
                    return;
                }
                Some(got) = async {
                    match inbox.as_mut() {
                        Some(inbox) => inbox.rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    // Leased by this process's own commit: no claim, straight into the lanes.
                    self.take_claimed(got, true, true).await;
                }
                got = async {
                    match claiming.as_mut() {
                        Some((claim, _, _, _)) => claim.await,
                        None => std::future::pending().await,
                    }
                } => {
                    let Some((_, limit, skipped, ticket)) = claiming.take() else { continue };
                    match got {
                        Ok(got) => {
                            self.database_ok();
                            let newest = got.0.iter().map(|r| r.due_at).max();
                            self.floor.claimed(ticket, skipped.clone(), newest);
                            let claimed = self.take_claimed(got, true, false).await;
                            last_full = claimed == limit;
                            excluded = skipped;
                            if last_full {
                                want_claim = true;
                            } else {
                                wake_at = self.next_wake(poll).await;
                            }
                        }
                        Err(e) => wake_at = Instant::now() + self.database_failed(&e),
                    }
                }
                Some(done) = self.tasks.join_next() => {
                    let webhook_id = match done {
                        Ok(id) => id,
                        Err(e) => {
                            tracing::error!(error = %e, "a delivery task failed");
                            String::new()
                        }
                    };
                    // Drain every finished task before deciding anything, so a burst of
                    // completions leads to one claim, not one per completion.
                    let mut freed = vec![webhook_id];
                    while let Some(done) = self.tasks.try_join_next() {
                        freed.push(done.unwrap_or_default());
                    }
                    self.start_pending();
                    for id in &freed {
                        let reopened = excluded.contains(id)
                            && self.lanes.get(id).is_none_or(|l| !l.is_full());
                        if reopened {
                            excluded.remove(id);
                            want_claim = true;
                        }
                        self.drop_idle_lane(id);
                    }
                    want_claim |= last_full;
                }
                () = notifier.notified() => want_claim = true,
                () = tokio::time::sleep_until(wake_at) => {
                    want_claim = true;
                    wake_at = Instant::now() + poll;
                }
            }
        }
    }

    /// Notes a database error and returns how long to wait before trying again: the first error
    /// of an outage is logged as such, later ones quietly double the pause.
    fn database_failed(&mut self, e: &Error) -> Duration {
        let pause = match self.outage {
            None => {
                tracing::warn!(error = %e, backoff_ms = ERROR_BACKOFF.as_millis() as u64,
                    "database unavailable; backing off and retrying (deliveries pause meanwhile)");
                ERROR_BACKOFF
            }
            Some((_, last)) => {
                tracing::debug!(error = %e, "database still unavailable");
                (last * 2).min(MAX_ERROR_BACKOFF)
            }
        };
        let since = self.outage.map_or_else(Instant::now, |(t, _)| t);
        self.outage = Some((since, pause));
        pause
    }

    fn database_ok(&mut self) {
        if let Some((since, _)) = self.outage.take() {
            tracing::info!(
                down_ms = since.elapsed().as_millis() as u64,
                "database reachable again; resuming deliveries"
            );
        }
    }

    /// When to look again without a wake-up: the next retry, at most `poll` away.
    async fn next_wake(&mut self, poll: Duration) -> Instant {
        let now = Instant::now();
        let fallback = now + poll;
        let due = match self.store.next_due().await {
            Ok(Some(due)) => due,
            Ok(None) => return fallback,
            Err(e) => return now + self.database_failed(&Error::Db(e)),
        };
        let ms = due - Utc::now().timestamp_millis();
        if ms <= 0 {
            // Due already yet not claimed: it belongs to a full lane, whose completion will
            // trigger the claim. Look again soon in case a record was racing the claim.
            return now + Duration::from_millis(250).min(poll);
        }
        let ms = u64::try_from(ms).unwrap_or(u64::MAX);
        fallback.min(now + Duration::from_millis(ms))
    }

    /// The lanes to leave out of the next claim.
    fn full_lanes(&self) -> Vec<String> {
        self.lanes
            .iter()
            .filter(|(_, l)| l.is_full())
            .map(|(id, _)| id.clone())
            .take(MAX_EXCLUDED)
            .collect()
    }

    /// A claim of up to `limit` rows due from `from_due` on, leaving out `skipped`, with the
    /// webhooks of what it got; it owns what it needs, so it can run while the loop goes on.
    fn begin_claim(&self, limit: usize, skipped: Vec<String>, from_due: i64) -> ClaimFuture {
        let store = self.store.clone();
        let lease_ms = i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX / 4);
        let gate = self.gate.clone();
        Box::pin(async move {
            let _turn = gate.enter().await;
            let now_ms = Utc::now().timestamp_millis();
            Ok(store
                .claim(now_ms, lease_ms, limit as u64, &skipped, from_due)
                .await?)
        })
    }
}
