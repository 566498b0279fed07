//! Waking the dispatcher. In-process, a `tokio::sync::Notify` whose stored permit means a wake-up
//! sent while the dispatcher is busy is not lost; across processes, PostgreSQL `NOTIFY` on
//! [`CHANNEL`] (sent inside the queuing transaction, so it is delivered only on commit). Either
//! may be missed by a process that is starting, so the dispatcher also polls, slowly.

use std::sync::Arc;

use tokio::sync::Notify;

/// The PostgreSQL channel that queuing transactions `NOTIFY` and workers `LISTEN` on.
pub const CHANNEL: &str = "streamhooks_events";

#[derive(Clone, Debug, Default)]
pub struct Notifier {
    inner: Arc<Notify>,
}

impl Notifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells the dispatcher that new events may be due. Cheap; call it after every commit that
    /// queued events.
    pub fn wake(&self) {
        self.inner.notify_one();
    }

    /// Resolves on the next wake-up, or at once if one arrived since the last call.
    pub async fn notified(&self) {
        self.inner.notified().await;
    }
}
