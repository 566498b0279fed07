//! The in-process hand-off from a queuing commit to this process's dispatcher. When the process
//! that queues events also dispatches, the inserting statement writes the queue rows already
//! leased to it ([`Lease`]), and after the commit the rows go to the dispatcher in memory
//! ([`Reservation::hand_over`]): no claim, no NOTIFY, no poll between the 202 and the request.
//! Other processes see the rows leased like any claimed row and leave them alone; if this process
//! dies, the lease runs out and another worker's claim recovers them (and records the first
//! attempt as interrupted, since it may have been sent).
//!
//! The question a reader will ask is what bounds this. Each lease is first reserved here: at most
//! `cap` bytes of handed-off events (each weighs its payload plus [`EVENT_OVERHEAD`]) may wait in
//! memory, not yet started, at once; bytes, not events, since one event may carry a 1 MB payload.
//! A queuing transaction that finds no room writes its rows unleased and wakes the dispatcher,
//! which then claims them; so a burst of ingest cannot pile events up in memory, and the database
//! stays the queue. A reservation dropped without being handed over (the transaction failed or
//! rolled back) gives its room back; its rows, if they were committed after all, are recovered
//! when the lease runs out.
//!
//! [`outbox::emit`](crate::core::outbox::emit) inside an application's own transaction (every
//! GraphQL mutation) takes the same path when it runs within [`scope`]: it leases its rows and
//! stashes them here; the code that commits [`take`]s them with the transaction and hands them
//! over ([`Pending::hand_over`]) right after its commit, and [`discard`] at the start of the next
//! transaction drops what a rolled-back one left behind. Outside a scope `emit` writes unleased
//! rows and the caller wakes the dispatcher.
//!
//! A request stopped while it commits (its deadline) must not strand its rows: committed but
//! never handed over, they would wait out the whole lease. So the committing code finishes the
//! commit whatever happens to the request, and if the request is gone by then it gives the
//! leases back ([`Pending::give_back`]), the same release a dispatcher makes of a row it will not
//! send: the rows are ordinary queued rows again, and the next claim or poll of any dispatcher
//! sends them. Not this process's memory: its request just missed its deadline, a sign it or
//! its database is struggling, and nobody is waiting for the answer any more.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use entity::webhook_config;
use rand::Rng;
use sea_orm::{ConnectionTrait, DbErr};
use tokio::sync::mpsc;

use crate::core::lease::{self, Lease};
use crate::rows::{rows_per_statement, Claimed, Update};

/// What the dispatcher receives: leased events and their webhooks, as a claim returns them.
pub type Delivery = (Vec<Claimed>, HashMap<String, webhook_config::Model>);

/// What an event handed over weighs against the room: its payload and its bookkeeping.
pub const EVENT_OVERHEAD: usize = 1024;
/// The room a dispatcher gives handed-off events that have not started yet.
pub const MAX_WAITING_BYTES: usize = 8 << 20;

/// The weight of an event whose payload is `payload_len` bytes.
pub fn weight(payload_len: usize) -> usize {
    payload_len.saturating_add(EVENT_OVERHEAD)
}

fn delivery_weight(delivery: &Delivery) -> usize {
    delivery.0.iter().map(|c| weight(c.payload.len())).sum()
}

/// The queuing side's handle; cheap to clone. Only a process that runs a dispatcher has one.
#[derive(Clone, Debug)]
pub struct HandOff {
    tx: mpsc::UnboundedSender<Delivery>,
    waiting: Arc<AtomicUsize>,
    cap: usize,
    lease: Duration,
}

/// The dispatcher's end.
#[derive(Debug)]
pub struct Inbox {
    pub(crate) rx: mpsc::UnboundedReceiver<Delivery>,
    /// Decremented (by [`weight`]) by the dispatcher as handed-off events leave its waiting queues.
    pub(crate) waiting: Arc<AtomicUsize>,
}

impl HandOff {
    /// A hand-off for a dispatcher leasing for `lease`, with at most `cap` bytes of handed-off
    /// events waiting in memory (see [`weight`]).
    pub fn new(cap: usize, lease: Duration) -> (Self, Inbox) {
        let (tx, rx) = mpsc::unbounded_channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        let inbox = Inbox {
            rx,
            waiting: waiting.clone(),
        };
        (
            Self {
                tx,
                waiting,
                cap: cap.max(1),
                lease,
            },
            inbox,
        )
    }

    /// Reserves room for events weighing `n` in all ([`weight`]) and returns the lease to write
    /// with them, or `None` when the dispatcher already has enough waiting (then queue them
    /// unleased and wake it).
    pub fn reserve(&self, n: usize) -> Option<Reservation> {
        let got = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                (w + n <= self.cap).then_some(w + n)
            });
        if n == 0 || got.is_err() {
            return None;
        }
        let now = Utc::now().timestamp_millis();
        let lease_ms = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX / 4);
        Some(Reservation {
            lease: Lease {
                token: rand::thread_rng().gen(),
                leased_at: now,
                until: now + lease_ms,
            },
            n,
            handoff: self.clone(),
        })
    }
}

/// Room for events weighing `n` in the dispatcher's memory and the lease their rows carry.
#[derive(Debug)]
pub struct Reservation {
    pub lease: Lease,
    n: usize,
    handoff: HandOff,
}

impl Reservation {
    /// Gives the committed, leased events to the dispatcher. Call only after the commit: an event
    /// handed over before it would be sent even if the transaction then rolled back. Events beyond
    /// the reservation are still handed over (the bound is a soft one per transaction).
    pub fn hand_over(mut self, delivery: Delivery) {
        let total = delivery_weight(&delivery);
        let extra = total.saturating_sub(self.n);
        self.handoff.waiting.fetch_add(extra, Ordering::AcqRel);
        let unused = self.n.saturating_sub(total);
        self.handoff.waiting.fetch_sub(unused, Ordering::AcqRel);
        self.n = 0;
        if self.handoff.tx.send(delivery).is_err() {
            // The dispatcher has stopped: the leases run out and another worker (or this one,
            // restarted) claims the rows.
            self.handoff.waiting.fetch_sub(total, Ordering::AcqRel);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.n > 0 {
            self.handoff.waiting.fetch_sub(self.n, Ordering::AcqRel);
        }
    }
}

/// Rows leased by `emit` inside the current transaction, waiting for its commit.
struct Stash {
    handoff: HandOff,
    pending: Mutex<Vec<(Reservation, Delivery)>>,
}

tokio::task_local! {
    static STASH: Stash;
}

/// Runs `work` (a request that may commit changes queuing events) with `emit` handing its events
/// to `handoff`'s dispatcher; without a hand-off it just runs `work`. Whatever is still stashed
/// when `work` ends was never [`take`]n for a commit: its transaction did not commit.
pub async fn scope<F: Future>(handoff: Option<HandOff>, work: F) -> F::Output {
    match handoff {
        Some(handoff) => {
            let stash = Stash {
                handoff,
                pending: Mutex::new(Vec::new()),
            };
            STASH.scope(stash, work).await
        }
        None => work.await,
    }
}

/// Room and a lease for rows weighing `n` ([`weight`]), when running within [`scope`] and the
/// dispatcher has room.
pub(crate) fn reserve_in_scope(n: usize) -> Option<Reservation> {
    STASH.try_with(|s| s.handoff.reserve(n)).ok().flatten()
}

/// Keeps committed-to-be rows until [`take`].
pub(crate) fn stash(reservation: Reservation, delivery: Delivery) {
    let _ = STASH.try_with(|s| {
        if let Ok(mut pending) = s.pending.lock() {
            pending.push((reservation, delivery));
        }
    });
}

/// What `emit` leased in one transaction, out of the scope and on its way with the commit.
/// Dropped unused, it gives its room back and its rows (if committed after all) wait for their
/// leases to run out.
#[derive(Debug, Default)]
pub struct Pending(Vec<(Reservation, Delivery)>);

impl Pending {
    /// Events leased.
    pub fn events(&self) -> usize {
        self.0.iter().map(|(_, d)| d.0.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Hands the events to the dispatcher; call only once their transaction has committed.
    /// Returns how many went.
    pub fn hand_over(self) -> usize {
        let n = self.events();
        for (reservation, delivery) in self.0 {
            reservation.hand_over(delivery);
        }
        n
    }

    /// Ends the leases in the database (rows a rolled-back transaction never wrote match
    /// nothing), so any dispatcher's next claim takes the rows; returns how many were given back.
    pub async fn give_back(self, db: &impl ConnectionTrait) -> Result<u64, DbErr> {
        let releases: Vec<Update> = self
            .0
            .iter()
            .flat_map(|(_, (events, _))| events.iter().map(Update::release))
            .collect();
        let backend = db.get_database_backend();
        let mut n = 0;
        for chunk in releases.chunks(rows_per_statement(backend)) {
            let chunk: Vec<&Update> = chunk.iter().collect();
            n += db.query_all(lease::requeue(backend, &chunk)).await?.len() as u64;
        }
        Ok(n)
    }
}

/// Call right after a commit: hands what `emit` leased in that transaction to the dispatcher and
/// returns how many events went, so the caller wakes the dispatcher only for the rest. A caller
/// that may be stopped while it commits [`take`]s them before, instead (see the module docs).
pub fn committed() -> usize {
    take().hand_over()
}

/// Takes what `emit` leased in the transaction about to commit (empty outside a [`scope`]).
pub fn take() -> Pending {
    Pending(
        STASH
            .try_with(|s| {
                s.pending
                    .lock()
                    .map(|mut p| std::mem::take(&mut *p))
                    .unwrap_or_default()
            })
            .unwrap_or_default(),
    )
}

/// Call when a transaction begins: drops what an earlier one in this scope stashed and never
/// committed (it failed or rolled back), giving its room back.
pub fn discard() {
    let _ = STASH.try_with(|s| {
        if let Ok(mut pending) = s.pending.lock() {
            pending.clear();
        }
    });
}
