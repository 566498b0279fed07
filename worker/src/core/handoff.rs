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
//! GraphQL mutation) takes the same path when the [`Outbox`](crate::core::outbox::Outbox) it is
//! given carries a [`Stash`]: it leases its rows and keeps them in that stash, one per
//! transaction; the code that commits [`take`](Stash::take)s them with the transaction and hands
//! them over ([`Pending::hand_over`]) right after its commit. A stash dropped without being taken
//! (the transaction failed or rolled back) gives its room back. An `Outbox` without a stash
//! writes unleased rows and the caller wakes the dispatcher. Which of the two happens is decided
//! by the value the caller passes, not by where the call runs.
//!
//! A request stopped while it commits (its deadline) must not strand its rows: committed but
//! never handed over, they would wait out the whole lease. So the committing code finishes the
//! commit whatever happens to the request, and if the request is gone by then it gives the
//! leases back ([`Pending::give_back`]), the same release a dispatcher makes of a row it will not
//! send: the rows are ordinary queued rows again, and the next claim or poll of any dispatcher
//! sends them. Not this process's memory: its request just missed its deadline, a sign it or
//! its database is struggling, and nobody is waiting for the answer any more.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use sea_orm::{ConnectionTrait, DbErr};
use tokio::sync::mpsc;

use crate::core::lease::{self, Lease};
use crate::rows::{rows_per_statement, Claimed, Endpoint, Update};

/// What the dispatcher receives: leased events and their webhooks, as a claim returns them.
pub type Delivery = (Vec<Claimed>, HashMap<String, Endpoint>);

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

/// Rows leased by `emit` inside one transaction, waiting for its commit: made by the code that
/// begins the transaction (for a process whose dispatcher takes events in memory), lent to every
/// `emit` in it through an [`Outbox`](crate::core::outbox::Outbox), and [`take`](Self::take)n by
/// the code that commits.
#[derive(Debug)]
pub struct Stash {
    handoff: HandOff,
    pending: Mutex<Vec<(Reservation, Delivery)>>,
}

impl Stash {
    pub fn new(handoff: HandOff) -> Self {
        Self {
            handoff,
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Room and a lease for rows weighing `n` ([`weight`]), when the dispatcher has room.
    pub(crate) fn reserve(&self, n: usize) -> Option<Reservation> {
        self.handoff.reserve(n)
    }

    /// Keeps committed-to-be rows until [`take`](Self::take).
    pub(crate) fn keep(&self, reservation: Reservation, delivery: Delivery) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.push((reservation, delivery));
        }
    }

    /// Takes what `emit` leased in the transaction about to commit.
    pub fn take(&self) -> Pending {
        Pending(
            self.pending
                .lock()
                .map(|mut p| std::mem::take(&mut *p))
                .unwrap_or_default(),
        )
    }
}

/// What `emit` leased in one transaction, out of its stash and on its way with the commit.
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
