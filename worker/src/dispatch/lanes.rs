//! A webhook's share of this process ([`Lane`]) and a claimed event waiting in it ([`Job`]).
//!
//! Two caps, both `Arc<Semaphore>`s whose owned permits move into the delivery task: a global one
//! (`concurrency`) and one per webhook (`per_webhook_concurrency`). The question a reader will ask
//! is why claimed events may wait in a per-webhook `pending` queue instead of simply awaiting a
//! permit in their task. Awaiting would either hold a global permit while waiting for the webhook
//! (one slow endpoint then eats every slot) or let tasks pile up unboundedly. Instead only the run
//! loop acquires permits, always with `try_acquire`, never holding one while waiting for the
//! other; a webhook whose lane is full (a round of requests already waiting) is left out of the
//! next claim (`NOT IN`) so its backlog stays in the database, where it costs nothing, and
//! everything else keeps flowing. A lane's queue therefore holds at most one round plus one
//! claim's worth, and a queued job whose lease would run out before its request could finish is
//! released rather than sent (another worker may own it).

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::dispatch::deliver;
use crate::rows::Claimed;

/// A claimed event and the webhook it goes to.
pub(super) struct Job {
    pub(super) event: Claimed,
    pub(super) webhook: Arc<deliver::Target>,
    /// Came through the in-process hand-off, so counts against its room until it leaves `pending`.
    pub(super) handed: bool,
}

/// One webhook's share of this process: its permits and events waiting for one.
pub(super) struct Lane {
    pub(super) permits: Arc<Semaphore>,
    pub(super) pending: VecDeque<Job>,
    /// `per_webhook_concurrency`: the lane is full once this many events wait.
    pub(super) cap: usize,
}

impl Lane {
    /// Full lanes are left out of claims until they have room again. Full means a round of
    /// requests waiting, not one: a claim must step over every queued row of the webhooks it
    /// leaves out, so leaving out a lane as soon as anything waits in it would make nearly every
    /// claim of a backlog spread over a few busy webhooks leave most of them out and dig through
    /// their rows (the claims' cost would grow with the backlog). Waiting rows stay bounded: a
    /// lane stops receiving as soon as `cap` of them wait.
    pub(super) fn is_full(&self) -> bool {
        self.pending.len() >= self.cap
    }
}
