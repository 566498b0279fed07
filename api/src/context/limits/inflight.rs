//! Requests executing at once: a flood queues for a short while and is then answered 503,
//! instead of every request starting and the process running out of memory or database
//! connections. Expensive requests (a cost above GRAPHQL_EXPENSIVE_COST) also need one of a few
//! expensive places, fewer than the database pool's connections, so a crowd of them can neither
//! take every place from the cheap ones nor every connection: a trivial query does not wait
//! behind a queue of heavy ones.
//!
//! The slot is taken after the body has been read and the GraphQL document measured (the cost
//! decides the lane), so a client trickling its body holds memory bounded by MAX_REQUEST_BYTES
//! and the body deadline, but never a slot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::context::limits::LimitsConfig;

pub struct InFlight {
    all: Arc<Semaphore>,
    expensive: Arc<Semaphore>,
    max: usize,
    max_expensive: usize,
    expensive_cost: u64,
    wait: Duration,
    refused: AtomicU64,
}

/// A request's place among those executing; dropping it frees the place.
pub struct Slot {
    _all: OwnedSemaphorePermit,
    _expensive: Option<OwnedSemaphorePermit>,
}

/// No place freed up in time.
#[derive(Debug)]
pub struct Busy {
    pub waited: Duration,
}

impl Busy {
    pub fn sentence(&self) -> String {
        format!(
            "The server is handling as many requests as it allows at once and none finished within {:?}; try again in a moment.",
            self.waited
        )
    }
}

impl InFlight {
    pub fn new(cfg: &LimitsConfig) -> Self {
        let max_expensive = cfg.max_expensive_in_flight;
        Self {
            all: Arc::new(Semaphore::new(cfg.max_in_flight)),
            expensive: Arc::new(Semaphore::new(max_expensive)),
            max: cfg.max_in_flight,
            max_expensive,
            expensive_cost: cfg.graphql_expensive_cost as u64,
            wait: cfg.in_flight_queue_timeout,
            refused: AtomicU64::new(0),
        }
    }

    /// Waits (at most the queue timeout) for a place for a request of `cost`.
    pub async fn admit(&self, cost: u64) -> Result<Slot, Busy> {
        let deadline = tokio::time::Instant::now() + self.wait;
        let expensive = if cost > self.expensive_cost {
            Some(self.take(&self.expensive, deadline).await?)
        } else {
            None
        };
        let all = self.take(&self.all, deadline).await?;
        Ok(Slot {
            _all: all,
            _expensive: expensive,
        })
    }

    async fn take(
        &self,
        sem: &Arc<Semaphore>,
        deadline: tokio::time::Instant,
    ) -> Result<OwnedSemaphorePermit, Busy> {
        match tokio::time::timeout_at(deadline, sem.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            // Err(_) inside: the semaphore is never closed, so only the timeout is real.
            _ => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(Busy { waited: self.wait })
            }
        }
    }

    /// Requests executing now.
    pub fn in_flight(&self) -> usize {
        self.max.saturating_sub(self.all.available_permits())
    }

    /// Prometheus lines for `/metrics`.
    pub fn render(&self) -> String {
        format!(
            "# HELP streamhooks_http_in_flight Requests executing now (GraphQL and event ingest).\n\
             # TYPE streamhooks_http_in_flight gauge\n\
             streamhooks_http_in_flight {}\n\
             # HELP streamhooks_http_expensive_in_flight Expensive GraphQL requests executing now.\n\
             # TYPE streamhooks_http_expensive_in_flight gauge\n\
             streamhooks_http_expensive_in_flight {}\n\
             # HELP streamhooks_http_refused_busy_total Requests answered 503 because no place freed up in time.\n\
             # TYPE streamhooks_http_refused_busy_total counter\n\
             streamhooks_http_refused_busy_total {}\n",
            self.in_flight(),
            self.max_expensive
                .saturating_sub(self.expensive.available_permits()),
            self.refused.load(Ordering::Relaxed),
        )
    }
}
