//! Group commit for `POST /api/events`: events that arrive while a queuing statement is running
//! are stored together by the next one, in one statement and one commit (one WAL flush on
//! PostgreSQL), and each request is answered 202 once that commit returns. Every request still
//! reads its token and its webhooks itself, concurrently; only the write is shared.
//!
//! The question a reader will ask is whether this adds latency. It never waits to fill a group:
//! an event that finds no statement running is written at once, alone, so an idle server answers
//! as soon as before; under load, events wait only for the statement in flight, which they would
//! have queued behind on the database's WAL anyway. At most [`IN_FLIGHT`] statements run at once,
//! each with at most [`queue::MAX_ONE_STATEMENT`] rows. If a shared statement fails, each event of
//! the group is retried alone, so one event cannot fail another's request.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr};
use streamhooks_worker::handoff::HandOff;
use streamhooks_worker::outbox::Prepared;
use streamhooks_worker::{queue, Notifier};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Queuing statements running at once.
const IN_FLIGHT: usize = 2;

type Reply = oneshot::Sender<Result<u64, DbErr>>;

/// The sending end; dropping every clone ends the task.
#[derive(Clone, Debug)]
pub struct Combiner {
    tx: mpsc::UnboundedSender<(Prepared, Reply)>,
}

/// Where the events go: the database, this process's dispatcher if it has one, its wake-up.
#[derive(Clone)]
pub struct Sink {
    pub db: DatabaseConnection,
    pub handoff: Option<HandOff>,
    pub notifier: Notifier,
}

impl Combiner {
    pub fn spawn(sink: Sink) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(sink, rx));
        Self { tx }
    }

    /// Stores `prepared` (with whatever else is waiting) and returns how many rows it queued,
    /// once committed.
    pub async fn store(&self, prepared: Prepared) -> Result<u64, DbErr> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((prepared, reply))
            .map_err(|_| DbErr::Custom("the ingest writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| DbErr::Custom("the ingest writer has stopped".into()))?
    }
}

async fn run(sink: Sink, mut rx: mpsc::UnboundedReceiver<(Prepared, Reply)>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut rows = first.0.len();
        let mut group = vec![first];
        while rows < queue::MAX_ONE_STATEMENT {
            match rx.try_recv() {
                Ok(next) if rows + next.0.len() <= queue::MAX_ONE_STATEMENT => {
                    rows += next.0.len();
                    group.push(next);
                }
                Ok(next) => {
                    // Too big to join this group: it goes alone, right after.
                    let sink = sink.clone();
                    tokio::spawn(async move {
                        let (prepared, reply) = next;
                        let _ = reply.send(super::ingest::queue(&sink, prepared).await);
                    });
                    break;
                }
                Err(_) => break,
            }
        }
        let sink = sink.clone();
        tokio::spawn(async move {
            write_group(&sink, group).await;
            drop(slot);
        });
    }
}

async fn write_group(sink: &Sink, group: Vec<(Prepared, Reply)>) {
    if group.len() == 1 {
        for (prepared, reply) in group {
            let _ = reply.send(super::ingest::queue(sink, prepared).await);
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
    match super::ingest::queue(sink, all).await {
        Ok(_) => {
            for (reply, n) in replies.into_iter().zip(counts) {
                let _ = reply.send(Ok(n));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, events = replies.len(), "a shared queuing statement failed; queuing its events one by one");
            for (reply, p) in replies.into_iter().zip(parts) {
                let _ = reply.send(super::ingest::queue(sink, p).await);
            }
        }
    }
}
