//! `streamhooks receive`: a local webhook receiver for testing integrations, the Rust counterpart
//! of seed 000's Python receiver. It checks `X-WEBHOOK-SIGNATURE` (hex HMAC-SHA256 of the
//! `payload` string) when given a secret, decodes the double-encoded body, pretty-prints each
//! payload on stdout and answers the chosen status. Bad requests get a 4xx and a line on stderr;
//! the receiver keeps serving, because a tester wants to see the next attempt too.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;
use axum::Router;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
pub struct ReceiveOptions {
    pub addr: SocketAddr,
    /// Verify signatures with this secret; `None` prints without checking.
    pub secret: Option<String>,
    /// The status answered to well-formed, correctly signed requests.
    pub status: StatusCode,
}

/// Why a request was refused; the status it gets and the sentence printed.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Malformed(String),
    BadSignature,
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::BadSignature => StatusCode::UNAUTHORIZED,
        }
    }
}

/// Decodes `{"payload": "<json string>"}`, checks the signature over the payload string, and
/// returns the payload object.
pub fn check(
    body: &[u8],
    signature: Option<&str>,
    secret: Option<&str>,
) -> Result<serde_json::Value, Refusal> {
    let outer: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Refusal::Malformed(format!("body is not JSON: {e}")))?;
    let payload = outer
        .get("payload")
        .and_then(|p| p.as_str())
        .ok_or_else(|| Refusal::Malformed("body has no \"payload\" string".into()))?;
    if let Some(secret) = secret {
        let given = signature.ok_or(Refusal::BadSignature)?;
        let given = hex::decode(given.trim()).map_err(|_| Refusal::BadSignature)?;
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| Refusal::BadSignature)?;
        mac.update(payload.as_bytes());
        // verify_slice compares in constant time.
        mac.verify_slice(&given)
            .map_err(|_| Refusal::BadSignature)?;
    }
    serde_json::from_str(payload)
        .map_err(|e| Refusal::Malformed(format!("payload is not JSON: {e}")))
}

#[derive(Clone)]
struct ReceiverState {
    opts: ReceiveOptions,
}

async fn handle(
    State(s): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let sig = headers
        .get("x-webhook-signature")
        .and_then(|v| v.to_str().ok());
    let delivery = headers
        .get("x-webhook-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    match check(&body, sig, s.opts.secret.as_deref()) {
        Ok(payload) => {
            let event = payload["event"]["event_name"].as_str().unwrap_or("?");
            let checked = if s.opts.secret.is_some() {
                "signature ok"
            } else {
                "signature not checked (no --secret)"
            };
            let pretty = serde_json::to_string_pretty(&payload).unwrap_or_default();
            println!(
                "--- {event} (delivery {delivery}, {checked}) -> {}\n{pretty}",
                s.opts.status.as_u16()
            );
            (s.opts.status, "received")
        }
        Err(r) => {
            let why = match &r {
                Refusal::Malformed(m) => m.clone(),
                Refusal::BadSignature => {
                    "signature missing or wrong for the configured secret".to_owned()
                }
            };
            eprintln!(
                "refused delivery {delivery}: {why} -> {}",
                r.status().as_u16()
            );
            (r.status(), "refused")
        }
    }
}

/// Serves until `cancel` fires; reports the bound address through `on_bound` (port 0 picks one).
pub async fn run(
    opts: ReceiveOptions,
    cancel: CancellationToken,
    on_bound: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = TcpListener::bind(opts.addr).await?;
    on_bound(listener.local_addr()?);
    let app = Router::new()
        .fallback(any(handle))
        .with_state(ReceiverState { opts });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, msg: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
        mac.update(msg.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn checks_signature_both_ways_and_refuses_malformed_bodies() {
        let p = r#"{"event":{"event_name":"stream_update"},"n":"🌻"}"#;
        let body = serde_json::json!({ "payload": p }).to_string();
        let good = sign("s", p);
        assert!(check(body.as_bytes(), Some(&good), Some("s")).is_ok());
        assert_eq!(
            check(body.as_bytes(), Some(&good), Some("other")),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            check(body.as_bytes(), None, Some("s")),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            check(body.as_bytes(), Some("zz"), Some("s")),
            Err(Refusal::BadSignature)
        );
        assert!(check(body.as_bytes(), None, None).is_ok());
        assert!(matches!(
            check(b"nope", None, None),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            check(br#"{"payload": 3}"#, None, None),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            check(br#"{"payload": "{nope"}"#, None, None),
            Err(Refusal::Malformed(_))
        ));
    }
}
