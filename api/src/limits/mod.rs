//! What one request may cost the server, and its settings: the body size ([`body`]), requests
//! executing at once ([`inflight`]), a deadline, and for GraphQL the cost, depth and answer size
//! (measured in `graphql::cost`, enforced in `graphql::endpoint` and `graphql::budget`).
//!
//! The decision a reader may question: the limits are per router and per request rather than one
//! global tower layer, because routes differ (object uploads need a larger body than a GraphQL
//! query; a GraphQL request's cost is only known once its document is parsed), and because every
//! refusal must be a sentence the client can act on, not a middleware's default body.

use std::time::Duration;

use clap::Args;
use streamhooks_worker::config::parse_duration;

pub mod body;
pub mod inflight;

pub const MIB: usize = 1024 * 1024;

/// The hostile-input limits; every one a flag and an environment variable (README, "Limits").
#[derive(Args, Clone, Debug)]
pub struct LimitsConfig {
    /// Largest accepted request body on /graphql and /api/events, in bytes; larger bodies get 413.
    #[arg(long, env = "MAX_REQUEST_BYTES", default_value_t = MIB)]
    pub max_request_bytes: usize,

    /// Deepest GraphQL field nesting accepted, counted after fragments are expanded.
    #[arg(long, env = "GRAPHQL_MAX_DEPTH", default_value_t = 12)]
    pub graphql_max_depth: usize,

    /// Highest GraphQL cost accepted: one per field after fragments are expanded, a page of items
    /// (`limit`/`first`, `history(limit)`) multiplying what it contains. Also bounds the expanded
    /// size of the whole document, unused fragments included.
    #[arg(long, env = "GRAPHQL_MAX_COMPLEXITY", default_value_t = 5_000)]
    pub graphql_max_complexity: usize,

    /// Most bytes of text one GraphQL request may load and return (a history page counts its
    /// events' payload and statusInfo before it is loaded, other text counts when returned);
    /// beyond it the request stops with RESPONSE_TOO_LARGE.
    #[arg(long, env = "GRAPHQL_MAX_RESPONSE_BYTES", default_value_t = 16 * MIB)]
    pub graphql_max_response_bytes: usize,

    /// The same, all requests in flight together; a request that would exceed it stops with 503.
    #[arg(long, env = "GRAPHQL_MAX_RESPONSE_BYTES_TOTAL", default_value_t = 48 * MIB)]
    pub graphql_max_response_bytes_total: usize,

    /// Time a request may take: to send its body (else 408), and again from then to its answer
    /// (else a TIMEOUT error; a change not yet committed is rolled back).
    #[arg(long, env = "REQUEST_DEADLINE", default_value = "10s", value_parser = parse_duration)]
    pub request_deadline: Duration,

    /// Requests (GraphQL and event ingest) executing at once.
    #[arg(long, env = "MAX_IN_FLIGHT", default_value_t = 64)]
    pub max_in_flight: usize,

    /// Of those, GraphQL requests costing more than GRAPHQL_EXPENSIVE_COST, so that a crowd of
    /// heavy requests leaves cheap ones their places and database connections.
    #[arg(long, env = "MAX_EXPENSIVE_IN_FLIGHT", default_value_t = 2)]
    pub max_expensive_in_flight: usize,

    /// The cost above which a GraphQL request is expensive (a page of a hundred fields).
    #[arg(long, env = "GRAPHQL_EXPENSIVE_COST", default_value_t = 100)]
    pub graphql_expensive_cost: usize,

    /// How long a request waits for a free slot before it is answered 503.
    #[arg(long, env = "IN_FLIGHT_QUEUE_TIMEOUT", default_value = "2s", value_parser = parse_duration)]
    pub in_flight_queue_timeout: Duration,

    /// Most events in one `POST /api/events/batch` (each also within MAX_REQUEST_BYTES).
    #[arg(long, env = "MAX_INGEST_BATCH", default_value_t = 1000)]
    pub max_ingest_batch: usize,
}

impl LimitsConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_request_bytes < 1024 {
            return Err("MAX_REQUEST_BYTES must be at least 1024".into());
        }
        for (name, v) in [
            ("GRAPHQL_MAX_DEPTH", self.graphql_max_depth),
            ("GRAPHQL_MAX_COMPLEXITY", self.graphql_max_complexity),
            (
                "GRAPHQL_MAX_RESPONSE_BYTES",
                self.graphql_max_response_bytes,
            ),
            ("MAX_IN_FLIGHT", self.max_in_flight),
            ("MAX_EXPENSIVE_IN_FLIGHT", self.max_expensive_in_flight),
            ("MAX_INGEST_BATCH", self.max_ingest_batch),
        ] {
            if v == 0 {
                return Err(format!("{name} must be positive"));
            }
        }
        if self.graphql_max_response_bytes_total < self.graphql_max_response_bytes {
            return Err(
                "GRAPHQL_MAX_RESPONSE_BYTES_TOTAL must be at least GRAPHQL_MAX_RESPONSE_BYTES"
                    .into(),
            );
        }
        if self.request_deadline.is_zero() {
            return Err("REQUEST_DEADLINE must be positive".into());
        }
        Ok(())
    }
}

/// The shared state of the limits: places in flight and the pool of answer bytes.
pub struct Guards {
    pub in_flight: inflight::InFlight,
    pub responses: crate::graphql::budget::ResponsePool,
}

impl Guards {
    pub fn new(cfg: &LimitsConfig) -> Self {
        Self {
            in_flight: inflight::InFlight::new(cfg),
            responses: crate::graphql::budget::ResponsePool::new(
                cfg.graphql_max_response_bytes_total,
            ),
        }
    }
}

/// A byte count for a sentence: "32 MiB", "1.5 KiB", "900 bytes".
pub fn bytes(n: usize) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else if n >= 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}
