//! What goes on the wire for one attempt: the body in the webhook's format and every header that
//! identifies and signs it. [`prepare`] is the one place a request is built; `deliver` only sends
//! what it returns.
//!
//! Formats (the webhook's `format`, read at send time, so retries, pings and redeliveries use its
//! current one):
//! - `speckle-string` (the default, the seeds): `{"payload":"<P>"}`, `X-WEBHOOK-SIGNATURE` over P.
//! - `speckle-object` (Speckle 2.12 and later): `{"payload":<P>}`, `X-WEBHOOK-SIGNATURE` over the
//!   raw body.
//!
//! Both carry the Standard Webhooks headers: `webhook-id` (the delivery id, the same on every
//! retry), `webhook-timestamp` (this attempt, Unix seconds) and `webhook-signature`, one `v1,`
//! entry per key: the current secret, then, during a rotation's grace, the previous one.
//!
//! The decision a reader may question: `speckle-object`'s body is spliced, `{"payload":` + the
//! stored string + `}`, rather than parsed and serialised again. The stored payload is compact
//! JSON written by serde_json when the event was queued (never anything else), so the splice is
//! the same bytes serde_json would write for `{"payload": <that value>}` (a unit test holds it to
//! that), and a 1 MB payload is copied once, into the body, never parsed into a tree. Receivers
//! verify the raw bytes they got, whatever a re-serialisation would give.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use serde::Serialize;

use crate::core::metrics::Outcome;
use crate::core::secrets::cipher::{OpenError, Secrets};
use crate::core::secrets::store::unusable_sentence;
use crate::core::sign;
use crate::rows::Endpoint;

/// How a webhook's deliveries are encoded and signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `{"payload":"<P>"}`, signed over P: what the seeds' receivers parse.
    #[default]
    SpeckleString,
    /// `{"payload":<P>}`, signed over the raw body: what Speckle sends since 2.12.
    SpeckleObject,
}

impl Format {
    pub const ALL: [Format; 2] = [Format::SpeckleString, Format::SpeckleObject];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::SpeckleString => "speckle-string",
            Format::SpeckleObject => "speckle-object",
        }
    }

    /// `speckle-string, speckle-object`, for sentences listing the valid formats.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "Unknown webhook format {s:?}; valid formats are: {}",
                    Self::names()
                )
            })
    }
}

/// Which attempt is being sent.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The event row id: `X-WEBHOOK-DELIVERY` and `webhook-id`, the same on every retry.
    pub id: i64,
    pub event_name: &'a str,
    /// 1 for the first attempt, 2 for the first retry, …
    pub attempt: i64,
    /// The stored payload string.
    pub payload: &'a str,
}

/// The plaintext keys that sign one attempt. Opened per attempt (see `deliver`), so a plaintext
/// secret lives only as long as one request.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    /// The current secret; empty when the webhook has none (signed with the empty key).
    pub current: String,
    /// The secret replaced by the last change, while its grace lasts.
    pub previous: Option<String>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keys(previous: {})", self.previous.is_some())
    }
}

impl Keys {
    /// The keys `webhook` signs with at `now_ms` (epoch ms). A current secret that does not open
    /// is an error (never replaced by the empty key, which anyone can compute). A previous one
    /// that does not open is left out with a warning: the current secret still signs, and the
    /// receiver that already switched keeps verifying.
    pub fn open(secrets: &Secrets, webhook: &Endpoint, now_ms: i64) -> Result<Self, OpenError> {
        let Some(stored) = webhook.secret.as_deref() else {
            // No secret: clearing one ends the grace, whatever the row still says.
            return Ok(Self {
                current: String::new(),
                previous: None,
            });
        };
        let current = secrets.open(stored)?;
        let previous = match webhook.previous_secret_at(now_ms).map(|p| secrets.open(p)) {
            Some(Ok(p)) if p != current => Some(p),
            Some(Err(e)) => {
                tracing::warn!(webhook = %webhook.id, "the previous secret, still in its rotation grace, {e}; signing with the current secret only");
                None
            }
            _ => None,
        };
        Ok(Self { current, previous })
    }
}

/// Header names and values, in the order sent.
pub type Headers = Vec<(HeaderName, HeaderValue)>;

/// A request ready to send.
#[derive(Debug)]
pub struct Outgoing {
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// Why an attempt could not even be built; it is recorded without sending anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsendable {
    pub outcome: Outcome,
    pub message: String,
    pub retryable: bool,
}

#[derive(Serialize)]
struct StringBody<'a> {
    payload: &'a str,
}

/// The body of `payload` in `format`, written once into a buffer sized for it (a growing
/// buffer would copy a 1 MB body several times over).
pub fn body(format: Format, payload: &str) -> Result<Vec<u8>, serde_json::Error> {
    match format {
        // Serialised from a borrowed struct: the same bytes as `json!({"payload": p})` without
        // copying P into a `Value` first. P's own quotes gain a backslash each: room for them.
        Format::SpeckleString => {
            let mut b = Vec::with_capacity(payload.len() + payload.len() / 8 + 16);
            serde_json::to_writer(&mut b, &StringBody { payload })?;
            Ok(b)
        }
        Format::SpeckleObject => {
            let mut b = Vec::with_capacity(payload.len() + 12);
            b.extend_from_slice(b"{\"payload\":");
            b.extend_from_slice(payload.as_bytes());
            b.push(b'}');
            Ok(b)
        }
    }
}

/// Builds the request for `delivery` to `webhook` at `now`: body, signatures, identifying
/// headers. `Content-Type` is set here; the `User-Agent` is the client's.
pub fn prepare(
    secrets: &Secrets,
    webhook: &Endpoint,
    delivery: &Delivery<'_>,
    now: SystemTime,
) -> Result<Outgoing, Unsendable> {
    let format: Format = webhook.format.parse().map_err(|e| Unsendable {
        outcome: Outcome::NotSent,
        // Written by a newer version, perhaps: another process may know it, so retry.
        message: format!("Not sent: {e}. Set the webhook's format with webhookUpdate."),
        retryable: true,
    })?;
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let now_ms = i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX);
    let timestamp = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
    let keys = Keys::open(secrets, webhook, now_ms).map_err(|e| Unsendable {
        outcome: Outcome::NotSent,
        message: unusable_sentence(e),
        retryable: true,
    })?;
    let body = body(format, delivery.payload).map_err(|e| Unsendable {
        outcome: Outcome::NotSent,
        message: format!("Not sent: the payload could not be encoded: {e}."),
        retryable: false,
    })?;
    let headers = headers(format, delivery, &keys, timestamp, &body).map_err(|e| Unsendable {
        outcome: Outcome::NotSent,
        message: format!("Not sent: a header could not be encoded: {e}."),
        retryable: false,
    })?;
    Ok(Outgoing { headers, body })
}

/// Every header of the request but `User-Agent`, in the order sent. A list rather than a
/// `HeaderMap`: the request builder appends them straight into its own map.
pub fn headers(
    format: Format,
    delivery: &Delivery<'_>,
    keys: &Keys,
    timestamp: i64,
    body: &[u8],
) -> Result<Headers, reqwest::header::InvalidHeaderValue> {
    let speckle = match format {
        Format::SpeckleString => sign::signature(&keys.current, delivery.payload),
        Format::SpeckleObject => sign::signature_of_bytes(&keys.current, body),
    };
    // Signed from the very bytes the two headers carry.
    let id = HeaderValue::from(delivery.id);
    let ts = HeaderValue::from(timestamp);
    let sign = |key: &str| sign::standard(key.as_bytes(), id.as_bytes(), ts.as_bytes(), body);
    let mut standard = sign(&keys.current);
    if let Some(previous) = &keys.previous {
        standard.push(' ');
        standard.push_str(&sign(previous));
    }
    Ok(vec![
        (CONTENT_TYPE, HeaderValue::from_static("application/json")),
        (
            HeaderName::from_static("x-webhook-signature"),
            HeaderValue::try_from(speckle)?,
        ),
        (HeaderName::from_static("x-webhook-delivery"), id.clone()),
        (
            HeaderName::from_static("x-webhook-event"),
            HeaderValue::from_str(delivery.event_name)?,
        ),
        (
            HeaderName::from_static("x-webhook-attempt"),
            HeaderValue::from(delivery.attempt),
        ),
        (HeaderName::from_static("webhook-id"), id),
        (HeaderName::from_static("webhook-timestamp"), ts),
        (
            HeaderName::from_static("webhook-signature"),
            HeaderValue::try_from(standard)?,
        ),
    ])
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
