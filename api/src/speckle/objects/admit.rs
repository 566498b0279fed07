//! How many object requests that carry a body run at once, and how long their body may take.
//! Each may hold up to MAX_OBJECT_UPLOAD_BYTES while it is read (an upload more once it is
//! decompressed and parsed, an id list once parsed), and `/api/getobjects` on a public project
//! needs no token: without a cap, a crowd of such requests could take all the memory. With it,
//! what they hold together is bounded by MAX_OBJECT_REQUESTS_IN_FLIGHT times that, and the rest of
//! the server (GraphQL, delivery) is untouched by a flood here.
//!
//! The place is taken after authorisation, so a caller without access costs nothing, and the body
//! must arrive within OBJECT_BODY_DEADLINE, so a client trickling its body cannot keep a place
//! for ever. A request that finds no place within IN_FLIGHT_QUEUE_TIMEOUT gets 503, as GraphQL
//! requests do.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::refusal::Refusal;
use crate::context::config::Config;

pub struct Slots {
    places: Arc<Semaphore>,
    wait: Duration,
    body_deadline: Duration,
}

impl Slots {
    pub fn new(config: &Config) -> Self {
        Self {
            places: Arc::new(Semaphore::new(config.max_object_requests_in_flight)),
            wait: config.limits.in_flight_queue_timeout,
            body_deadline: config.object_body_deadline,
        }
    }

    /// A place among the object requests running now; dropping it frees the place.
    pub async fn admit(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        match tokio::time::timeout(self.wait, self.places.clone().acquire_owned()).await {
            Ok(Ok(place)) => Ok(place),
            // The semaphore is never closed: only the timeout is real.
            _ => Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "The server is handling as many object requests as it allows at once \
                     (MAX_OBJECT_REQUESTS_IN_FLIGHT) and none finished within {:?}; try again in a moment",
                    self.wait
                ),
            )),
        }
    }

    /// Reads a request body with `read`, within the body deadline.
    pub async fn read_body<T>(
        &self,
        read: impl Future<Output = Result<T, Refusal>>,
    ) -> Result<T, Refusal> {
        tokio::time::timeout(self.body_deadline, read)
            .await
            .unwrap_or_else(|_| {
                Err(Refusal::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "The request body did not arrive within {:?} (OBJECT_BODY_DEADLINE); nothing was stored",
                        self.body_deadline
                    ),
                ))
            })
    }
}
