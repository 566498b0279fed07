//! The limits' shared state, one per process and held by the state: the places of the requests
//! in flight ([`InFlight`]) and the pool of answer bytes every GraphQL request draws from
//! ([`ResponsePool`]).

use super::budget::ResponsePool;
use super::inflight::InFlight;
use super::LimitsConfig;

/// The shared state of the limits: places in flight and the pool of answer bytes.
pub struct Guards {
    pub in_flight: InFlight,
    pub responses: ResponsePool,
}

impl Guards {
    pub fn new(cfg: &LimitsConfig) -> Self {
        Self {
            in_flight: InFlight::new(cfg),
            responses: ResponsePool::new(cfg.graphql_max_response_bytes_total),
        }
    }
}
