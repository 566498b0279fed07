//! Starting deliveries: claimed events go into their webhook's lane (see [`super::lanes`] for why
//! lanes), and a job starts as soon as its lane and the global cap both have a permit; a job whose
//! lease is too short to finish is released instead, and an event whose webhook is gone or off is
//! finished without sending.
//!
//! Events queued by this process's own API arrive here another way: the inserting statement leased
//! them to this dispatcher and the API hands them over in memory after its commit
//! ([`crate::core::handoff`]), so they go into their lanes like a claim's rows without a claim.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::core::handoff::Delivery;
use crate::core::metrics::Outcome;
use crate::dispatch::dispatcher::Dispatcher;
use crate::dispatch::lanes::{Job, Lane};
use crate::dispatch::{deliver, retry};
use crate::rows::Update;

impl Dispatcher {
    /// Puts claimed (or, with `handed`, handed-off) events in their lanes (and starts what can
    /// start, unless `start` is false, as at shutdown); finishes those whose webhook is gone or
    /// off. Returns how many were claimed.
    pub(super) async fn take_claimed(&mut self, got: Delivery, start: bool, handed: bool) -> usize {
        let (rows, webhooks) = got;
        let claimed = rows.len();
        self.metrics.taken(handed, claimed);
        if claimed == 0 {
            return 0;
        }
        let now = Utc::now();
        let webhooks: HashMap<String, Arc<deliver::Target>> = webhooks
            .into_iter()
            .map(|(k, v)| (k, Arc::new(deliver::Target::new(v, self.success))))
            .collect();
        if rows.iter().any(|r| r.prior_lease_at.is_some()) {
            let _turn = self.gate.enter().await;
            if let Err(e) = self.store.record_interrupted(&rows).await {
                tracing::warn!(error = %e, "could not record attempts interrupted by an expired lease");
            }
        }
        for event in rows {
            let webhook = match webhooks.get(&event.webhook_id) {
                // A ping or redelivery was asked for explicitly: it goes out even while the
                // webhook is off, since testing an endpoint before enabling it is its point.
                Some(w) if w.webhook.enabled || event.manual => w.clone(),
                found => {
                    let why = match found.and_then(|w| w.webhook.disabled_reason.as_deref()) {
                        _ if found.is_none() => "Not sent: the webhook was deleted.".to_owned(),
                        Some(reason) => format!("Not sent: the webhook was disabled ({reason})."),
                        None => "Not sent: the webhook was disabled.".to_owned(),
                    };
                    self.metrics.record(Outcome::NotSent, None);
                    self.record(Update::not_sent(&event, why, now)).await;
                    if handed {
                        self.handed_left(crate::core::handoff::weight(event.payload.len()));
                    }
                    continue;
                }
            };
            let cap = self.config.per_webhook_concurrency;
            let lane = self
                .lanes
                .entry(event.webhook_id.clone())
                .or_insert_with(|| Lane {
                    permits: Arc::new(Semaphore::new(cap)),
                    pending: VecDeque::new(),
                    cap,
                });
            lane.pending.push_back(Job {
                event,
                webhook,
                handed,
            });
            self.waiting_jobs += 1;
        }
        if start {
            self.start_pending();
        }
        claimed
    }

    /// Starts every waiting job that has both a lane permit and a global permit, oldest first
    /// within each lane. A job whose lease would run out before its request could finish is
    /// released instead: sending it could race a second worker that claimed it meanwhile.
    pub(super) fn start_pending(&mut self) {
        if self.waiting_jobs == 0 {
            return;
        }
        let min_lease_ms =
            i64::try_from(self.config.request_timeout.as_millis()).unwrap_or(i64::MAX);
        let now_ms = Utc::now().timestamp_millis();
        let mut starts = Vec::new();
        let mut releases = Vec::new();
        'lanes: for lane in self.lanes.values_mut() {
            while let Some(job) = lane.pending.front() {
                if job.event.lease_until - now_ms < min_lease_ms {
                    releases.extend(lane.pending.pop_front());
                    continue;
                }
                let Ok(lane_permit) = lane.permits.clone().try_acquire_owned() else {
                    break;
                };
                let Ok(global_permit) = self.global.clone().try_acquire_owned() else {
                    break 'lanes;
                };
                if let Some(job) = lane.pending.pop_front() {
                    starts.push((job, global_permit, lane_permit));
                }
            }
        }
        self.waiting_jobs -= starts.len() + releases.len();
        let handed: usize = starts
            .iter()
            .map(|(j, _, _)| j)
            .chain(releases.iter())
            .filter(|j| j.handed)
            .map(|j| crate::core::handoff::weight(j.event.payload.len()))
            .sum();
        self.handed_left(handed);
        for (job, g, l) in starts {
            self.spawn(job, g, l);
        }
        for job in releases {
            // The recorder is never far behind; if its queue is full the lease simply expires.
            let _ = self.records.try_send(Update::release(&job.event));
        }
    }

    fn spawn(&mut self, job: Job, global: OwnedSemaphorePermit, lane: OwnedSemaphorePermit) {
        let client = self.client.clone();
        let guard = self.guard.clone();
        let secrets = self.secrets.clone();
        let config = self.config.clone();
        let metrics = self.metrics.clone();
        let records = self.records.clone();
        let worker = self.worker_name.clone();
        self.tasks.spawn(async move {
            let started_at = Utc::now();
            let attempt = {
                let _in_flight = metrics.start_request();
                deliver::attempt(&client, &guard, &config, &secrets, &job.event, &job.webhook).await
            };
            metrics.record(attempt.outcome(), attempt.elapsed());
            let update = retry::conclude(
                &config.retry_schedule,
                &job.event,
                &attempt,
                started_at,
                Utc::now(),
                Some(worker),
            );
            // Permits are held until the result is queued: a recorder that falls behind slows
            // claiming down instead of letting results pile up in memory.
            let _ = records.send(update).await;
            drop((global, lane));
            job.event.webhook_id
        });
    }

    pub(super) fn handed_left(&self, n: usize) {
        if let (Some(w), true) = (&self.handed_waiting, n > 0) {
            w.fetch_sub(n, Ordering::AcqRel);
        }
    }

    async fn record(&self, update: Update) {
        let _ = self.records.send(update).await;
    }

    pub(super) fn drop_idle_lane(&mut self, id: &str) {
        let cap = self.config.per_webhook_concurrency;
        if self
            .lanes
            .get(id)
            .is_some_and(|l| l.pending.is_empty() && l.permits.available_permits() == cap)
        {
            self.lanes.remove(id);
        }
    }
}
