//! Where a claim may start its walk of the due index: past what a recent claim has stepped over.
//!
//! A claim walks `idx_webhooks_queue_due` from its start and steps over every due row it may not
//! take: leased rows (at most what is in flight) and the rows of the webhooks it leaves out
//! because their lanes are full. Those can be a whole backlog. A receiver that answers more
//! slowly than its events come keeps its lane full while its events pile up, due, at the front of
//! the index, and every claim, for every other webhook, walks them again: on PostgreSQL ~0.12 µs
//! a row, 25 ms per claim behind 200,000 of them against ~5 ms for a claim itself (BENCHMARKS.md,
//! "A slow webhook's backlog"), so one slow receiver would slow every other one down.
//!
//! After a claim, every due row before the newest one it took was taken by it, held by a lease,
//! or of a webhook it left out. So the next claim that leaves out the same webhooks (or more) can
//! start there: it misses nothing it could take. Rows can still become claimable behind that
//! point by other ways, none of which the walk can see: a lease runs out (its worker died), a
//! process gives rows back, a claim of another process rolls back, or a row commits after the
//! claim with an earlier due time (the transaction that queued it was slower than the claim, or
//! its clock is behind). For the last, claims start [`MARGIN_MS`] before the newest due time
//! taken, not at it; for all of them, a claim walks from the start again at least every
//! [`REWALK`], so such a row waits that much longer at most. Once a webhook that was left out has
//! room again, its rows behind the floor are claimable, so the floor is not used until a claim
//! that leaves out no more than the next one has set it again.

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;

/// How far before the newest due time a claim took the next claim starts.
const MARGIN_MS: i64 = 1_000;

/// How often a claim walks the due index from its start, whatever the floor.
const REWALK: Duration = Duration::from_secs(1);

/// The point claims may start from, and what it holds for.
#[derive(Default)]
pub(super) struct Floor {
    mark: Option<Mark>,
}

struct Mark {
    due_ms: i64,
    /// The webhooks left out by the claims that set it: it holds while they all still are.
    skipped: HashSet<String>,
    /// When the last claim that walked from the start began.
    since: Instant,
}

/// What a claim was started with, for [`Floor::claimed`].
pub(super) struct Ticket {
    from: Option<(i64, Instant)>,
    began: Instant,
}

impl Ticket {
    /// The earliest due time the claim looks at (`i64::MIN`: every due row).
    pub(super) fn start_due(&self) -> i64 {
        self.from.map_or(i64::MIN, |(due, _)| due)
    }
}

impl Floor {
    /// Where a claim that leaves out `skipped`, beginning `now`, may start.
    pub(super) fn ticket(&self, skipped: &HashSet<String>, now: Instant) -> Ticket {
        let from = self
            .mark
            .as_ref()
            .filter(|m| now.duration_since(m.since) < REWALK && m.skipped.is_subset(skipped))
            .map(|m| (m.due_ms, m.since));
        Ticket { from, began: now }
    }

    /// After a claim started with `ticket` that left out `skipped` and took rows whose newest
    /// due time is `newest` (none if it took nothing: then whatever held before still holds).
    pub(super) fn claimed(
        &mut self,
        ticket: Ticket,
        skipped: HashSet<String>,
        newest: Option<i64>,
    ) {
        let Some(newest) = newest else { return };
        let start = newest.saturating_sub(MARGIN_MS);
        let (due_ms, since) = match ticket.from {
            Some((from, since)) => (from.max(start), since),
            None => (start, ticket.began),
        };
        self.mark = Some(Mark {
            due_ms,
            skipped,
            since,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_claim_starts_before_the_newest_due_time_taken_while_the_same_webhooks_are_left_out() {
        let t0 = Instant::now();
        let mut floor = Floor::default();
        let first = floor.ticket(&set(&["slow"]), t0);
        assert_eq!(first.start_due(), i64::MIN, "nothing walked yet");
        floor.claimed(first, set(&["slow"]), Some(50_000));
        assert_eq!(floor.ticket(&set(&["slow"]), t0).start_due(), 49_000);
        assert_eq!(
            floor.ticket(&set(&["slow", "other"]), t0).start_due(),
            49_000,
            "leaving out more misses nothing"
        );
        assert_eq!(
            floor.ticket(&set(&[]), t0).start_due(),
            i64::MIN,
            "the slow webhook has room again: its rows behind the floor are claimable"
        );
    }

    #[test]
    fn the_floor_only_rises_and_a_claim_walks_from_the_start_once_a_second() {
        let t0 = Instant::now();
        let mut floor = Floor::default();
        let skipped = set(&["slow"]);
        floor.claimed(floor.ticket(&skipped, t0), skipped.clone(), Some(50_000));
        let later = t0 + Duration::from_millis(400);
        let second = floor.ticket(&skipped, later);
        // A claim that took an older row (one due again after a lease ran out, say) keeps it.
        floor.claimed(second, skipped.clone(), Some(10_000));
        assert_eq!(floor.ticket(&skipped, later).start_due(), 49_000);
        let second = floor.ticket(&skipped, later);
        floor.claimed(second, skipped.clone(), None);
        assert_eq!(floor.ticket(&skipped, later).start_due(), 49_000);
        // Counted from the last walk from the start, not from the claims that used the floor.
        let rewalk = floor.ticket(&skipped, t0 + REWALK);
        assert_eq!(rewalk.start_due(), i64::MIN);
        floor.claimed(rewalk, skipped.clone(), Some(60_000));
        assert_eq!(
            floor.ticket(&skipped, t0 + REWALK).start_due(),
            59_000,
            "set again by the walk from the start"
        );
    }
}
