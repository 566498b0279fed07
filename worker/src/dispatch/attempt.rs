//! What one delivery attempt came to ([`Attempt`]) and what the receiver sent back with it
//! ([`Response`]). `deliver` makes an `Attempt`; the retry policy turns it into the event's new
//! state and its attempt record. The type stands apart from both so that neither imports the
//! other for it.

use std::time::Duration;

use reqwest::StatusCode;

use crate::core::metrics::Outcome;

/// What the receiver sent back, capped and made safe to store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// At most `deliver::HEADERS_KEPT`, in the order received; names lower-case.
    pub headers: Vec<(String, String)>,
    /// The first `deliver::BODY_KEPT_BYTES` of the body as text (invalid UTF-8 replaced).
    pub body: String,
}

impl Response {
    /// The headers as the JSON array of `[name, value]` pairs the attempt record stores.
    pub fn headers_json(&self) -> String {
        serde_json::to_string(&self.headers).unwrap_or_else(|_| "[]".into())
    }
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// HTTP 200..=204.
    Delivered {
        status: StatusCode,
        elapsed: Duration,
        response: Response,
    },
    Failed {
        outcome: Outcome,
        /// A complete sentence (or two) without the "attempt n of m" part.
        message: String,
        /// The receiver's `Retry-After` on 429/503.
        retry_after: Option<Duration>,
        /// False when sending again cannot help without a configuration change.
        retryable: bool,
        elapsed: Option<Duration>,
        /// The HTTP status and what came with it, when a response arrived.
        response: Option<(StatusCode, Response)>,
    },
}

impl Attempt {
    pub fn outcome(&self) -> Outcome {
        match self {
            Attempt::Delivered { .. } => Outcome::Success,
            Attempt::Failed { outcome, .. } => *outcome,
        }
    }

    pub fn elapsed(&self) -> Option<Duration> {
        match self {
            Attempt::Delivered { elapsed, .. } => Some(*elapsed),
            Attempt::Failed { elapsed, .. } => *elapsed,
        }
    }

    /// A failure found before sending: recorded, never retried.
    pub fn fatal(outcome: Outcome, message: String) -> Self {
        Attempt::Failed {
            outcome,
            message,
            retry_after: None,
            retryable: false,
            elapsed: None,
            response: None,
        }
    }
}

/// `10s`, `1.5s`, `250ms`: how long things took or will take, for sentences.
pub fn human(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
