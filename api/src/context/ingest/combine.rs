//! Group commit for `POST /api/events`: events that arrive while a queuing statement is running
//! are stored together by the next one, in one statement and one commit (one WAL flush on
//! PostgreSQL), and each request is answered 202 once that commit returns. The reads before it
//! are shared the same way (`lookup`, grouped by the same `in_groups`), and the requests read
//! together arrive here together, as one item (`lookup::Ticket`).
//!
//! The question a reader will ask is whether this adds latency. It never waits to fill a group:
//! an event that finds no statement running is written at once, alone, so an idle server answers
//! as soon as before; under load, events wait only for the statement in flight, which they would
//! have queued behind on the database's WAL anyway. At most `in_flight` statements run at once,
//! each with at most [`MAX_ONE_STATEMENT`] rows (an event with more goes alone). If a
//! shared statement fails, each event of the group is retried alone, so one event cannot fail
//! another's request.

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DbBackend, DbErr};
use streamhooks_worker::outbox::Prepared;
use streamhooks_worker::queue::MAX_ONE_STATEMENT;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::sink::{queue, Sink};

/// Queuing statements running at once: two on PostgreSQL, so that one's WAL flush overlaps the
/// other's work; one on SQLite, which lets one writer in at a time, so a second would only wait on
/// the lock (its busy handler sleeps) while the first commits. Measured with `streamhooks-bench
/// --only ingest` (20,000 events, medians of three interleaved runs): on SQLite one in flight gave
/// 4,499 and 4,576 events/s (two runs on different days) against 3,829 and 3,856 for two; on
/// PostgreSQL one gave 2,092 against 2,220.
fn in_flight(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Sqlite => 1,
        _ => 2,
    }
}

/// Where one request's answer goes: how many rows were queued for it, once committed.
pub(super) type Reply = oneshot::Sender<Result<u64, DbErr>>;
/// The events of the requests read together, each with its answer.
pub(super) type Item = Vec<(Prepared, Reply)>;

/// The sending end; dropping every clone ends the task.
#[derive(Clone, Debug)]
pub struct Combiner {
    tx: mpsc::UnboundedSender<Item>,
}

impl Combiner {
    pub fn spawn(sink: Sink) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(sink, rx));
        Self { tx }
    }

    /// A combiner whose items arrive on the returned receiver instead of being written.
    #[cfg(test)]
    pub(super) fn to_channel() -> (Self, mpsc::UnboundedReceiver<Item>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }

    /// Stores `item` (with whatever else is waiting); each of its replies gets how many rows were
    /// queued for it once committed, or, if this writer has stopped, is dropped.
    pub(super) fn send(&self, item: Item) {
        let _ = self.tx.send(item);
    }
}

async fn run(sink: Sink, rx: mpsc::UnboundedReceiver<Item>) {
    in_groups(
        rx,
        in_flight(sink.db.get_database_backend()),
        MAX_ONE_STATEMENT,
        |item| item.iter().map(|(p, _)| p.len()).sum(),
        move |group| {
            let sink = sink.clone();
            async move { write_group(&sink, group.into_iter().flatten().collect()).await }
        },
    )
    .await;
}

/// Runs `handle` on groups of what arrives on `rx`, at most `in_flight` at once, until every
/// sender is gone. A group is whatever is waiting when a slot frees, up to `max_weight` in all
/// (by `weight`); the item that would overflow it starts the next group, and an item heavier
/// than `max_weight` goes alone. Nothing waits for a group to fill.
pub(super) async fn in_groups<T, Fut>(
    mut rx: mpsc::UnboundedReceiver<T>,
    in_flight: usize,
    max_weight: usize,
    weight: impl Fn(&T) -> usize,
    handle: impl Fn(Vec<T>) -> Fut,
) where
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(in_flight));
    let mut carried: Option<T> = None;
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let first = match carried.take() {
            Some(item) => item,
            None => match rx.recv().await {
                Some(item) => item,
                None => return,
            },
        };
        let mut total = weight(&first);
        let mut group = vec![first];
        while total < max_weight {
            match rx.try_recv() {
                Ok(next) if total + weight(&next) <= max_weight => {
                    total += weight(&next);
                    group.push(next);
                }
                Ok(next) => {
                    carried = Some(next);
                    break;
                }
                Err(_) => break,
            }
        }
        let work = handle(group);
        tokio::spawn(async move {
            work.await;
            drop(slot);
        });
    }
}

async fn write_group(sink: &Sink, group: Vec<(Prepared, Reply)>) {
    if group.len() == 1 {
        for (prepared, reply) in group {
            let _ = reply.send(queue(sink, prepared).await);
        }
        return;
    }
    let counts: Vec<u64> = group.iter().map(|(p, _)| p.len() as u64).collect();
    let mut all = Prepared::default();
    let mut replies = Vec::with_capacity(group.len());
    let mut parts = Vec::with_capacity(group.len());
    for (p, reply) in group {
        // Kept for a retry one by one if the shared statement fails.
        parts.push(p.clone());
        all.extend(p);
        replies.push(reply);
    }
    match queue(sink, all).await {
        Ok(_) => {
            for (reply, n) in replies.into_iter().zip(counts) {
                let _ = reply.send(Ok(n));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, events = replies.len(), "a shared queuing statement failed; queuing its events one by one");
            for (reply, p) in replies.into_iter().zip(parts) {
                let _ = reply.send(queue(sink, p).await);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::sync::mpsc;

    use super::in_groups;

    /// Everything already waiting, one group at a time: groups fill up to the weight limit in
    /// arrival order, the item that would overflow starts the next group, one heavier than the
    /// limit goes alone, and nothing is lost or reordered.
    #[tokio::test]
    async fn groups_fill_to_the_limit_and_the_overflow_starts_the_next() {
        let (tx, rx) = mpsc::unbounded_channel();
        for w in [3usize, 3, 3, 10, 1, 1] {
            tx.send(w).unwrap_or_else(|_| panic!("receiver gone"));
        }
        drop(tx);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        in_groups(
            rx,
            1,
            6,
            |w| *w,
            move |group| {
                let s = s.clone();
                async move { s.lock().unwrap_or_else(|e| e.into_inner()).push(group) }
            },
        )
        .await;
        // The last group's task may not have run yet when `in_groups` returns.
        for _ in 0..1000 {
            if seen.lock().unwrap_or_else(|e| e.into_inner()).len() >= 4 {
                break;
            }
            tokio::task::yield_now().await;
        }
        let groups = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_eq!(groups, vec![vec![3, 3], vec![3], vec![10], vec![1, 1]]);
    }
}
