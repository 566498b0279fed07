//! What one request may cost the server, and its settings: the body size ([`body`]), requests
//! executing at once ([`inflight`]), a deadline, and for GraphQL the nodes, size, depth and answer
//! size (measured in [`cost`], enforced in `http::graphql` and [`budget`]). What every request
//! shares (places in flight, the answer pool) is held by the state as [`guards::Guards`]; this
//! file holds the settings and the units the sentences use, below the files that enforce them.
//!
//! The decision a reader may question: the limits are per router and per request rather than one
//! global tower layer, because routes differ (object uploads need a larger body than a GraphQL
//! query; a GraphQL request's cost is only known once its document is parsed), and because every
//! refusal must be a sentence the client can act on, not a middleware's default body.

use std::time::Duration;

use clap::Args;
use streamhooks_worker::config::parse_duration;

pub mod body;
pub mod budget;
pub mod cost;
pub mod guards;
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

    /// Most nodes a GraphQL answer may hold: every field's value counts one (an object, a
    /// scalar), and a list of objects as many as its page (`limit`/`first`, `history(limit)`;
    /// a stream's `webhooks` at most 100), so pages nested in pages multiply. Counted on the
    /// document before it runs; a refusal names the page to shrink.
    #[arg(long, env = "GRAPHQL_MAX_NODES", default_value_t = 50_000)]
    pub graphql_max_nodes: usize,

    /// Largest GraphQL document: fields, fragment spreads and inline fragments of all its
    /// operations and fragments, counted after fragments are expanded (each spread counts the
    /// whole fragment again).
    #[arg(long, env = "GRAPHQL_MAX_DOCUMENT_FIELDS", default_value_t = 5_000)]
    pub graphql_max_document_fields: usize,

    /// Not read: a query is priced by GRAPHQL_MAX_NODES and GRAPHQL_MAX_DOCUMENT_FIELDS. Set, it
    /// stops the start with a sentence naming them, rather than run without the limit it meant.
    #[arg(long, env = "GRAPHQL_MAX_COMPLEXITY", hide = true)]
    pub graphql_max_complexity: Option<String>,

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

    /// Of those, GraphQL requests whose answer can hold more than GRAPHQL_EXPENSIVE_COST nodes, so
    /// that a crowd of heavy requests leaves cheap ones their places and database connections.
    #[arg(long, env = "MAX_EXPENSIVE_IN_FLIGHT", default_value_t = 2)]
    pub max_expensive_in_flight: usize,

    /// The nodes above which a GraphQL request is expensive (a page of a hundred fields).
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
        if self.graphql_max_complexity.is_some() {
            return Err("GRAPHQL_MAX_COMPLEXITY (--graphql-max-complexity) is no longer read: a GraphQL query is now priced by the nodes its answer can hold, GRAPHQL_MAX_NODES (default 50000), and by its size after fragments are expanded, GRAPHQL_MAX_DOCUMENT_FIELDS (default 5000); see README, \"Hostile input\". Remove it, or set those instead.".into());
        }
        if self.max_request_bytes < 1024 {
            return Err("MAX_REQUEST_BYTES must be at least 1024".into());
        }
        for (name, v) in [
            ("GRAPHQL_MAX_DEPTH", self.graphql_max_depth),
            ("GRAPHQL_MAX_NODES", self.graphql_max_nodes),
            (
                "GRAPHQL_MAX_DOCUMENT_FIELDS",
                self.graphql_max_document_fields,
            ),
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
