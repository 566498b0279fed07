//! Stopping: what was claimed or handed over but not started goes back to the queue untouched;
//! deliveries in flight end by themselves within the request timeout, and a little grace covers
//! recording their results.

use std::time::Duration;

use crate::dispatch::dispatcher::Dispatcher;
use crate::rows::Update;

impl Dispatcher {
    /// Gives back what was claimed but not started, then waits for in-flight deliveries: they
    /// end by themselves within the request timeout; a little grace covers recording.
    pub(super) async fn shutdown(&mut self) {
        let mut handed = 0;
        for lane in self.lanes.values_mut() {
            for job in lane.pending.drain(..) {
                if job.handed {
                    handed += crate::core::handoff::weight(job.event.payload.len());
                }
                let _ = self.records.send(Update::release(&job.event)).await;
            }
        }
        self.handed_left(handed);
        self.waiting_jobs = 0;
        let grace = self.config.request_timeout + Duration::from_millis(500);
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = self.tasks.len(),
                "deliveries still running at shutdown were abandoned; their leases will expire"
            );
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
    }
}
