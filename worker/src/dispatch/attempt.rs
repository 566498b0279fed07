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

/// Which HTTP statuses count as delivered; a store says which its deliveries keep to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuccessCodes {
    /// 200 to 204 (DESIGN: our own tables).
    Range200To204,
    /// 200, 201, 202 and 204, not 203: what Speckle's webhook-service accepts, so a webhook
    /// behaves the same under either dispatcher on a Speckle database.
    Speckle,
}

impl SuccessCodes {
    pub fn accepts(self, status: u16) -> bool {
        match self {
            SuccessCodes::Range200To204 => (200..=204).contains(&status),
            SuccessCodes::Speckle => matches!(status, 200 | 201 | 202 | 204),
        }
    }
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// A status its store counts as success ([`SuccessCodes`]).
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
