//! `streamhooks receive`: a local webhook receiver for testing integrations, the Rust counterpart
//! of seed 000's Python receiver. With a secret it verifies everything a delivery carries
//! ([`verify`]: either body format, `X-WEBHOOK-SIGNATURE`, the Standard Webhooks signature and
//! timestamp), prints which checks passed and the payload, pretty, on stdout, and answers the
//! chosen status. Bad requests get a 4xx and a line on stderr; the receiver keeps serving,
//! because a tester wants to see the next attempt too.

pub mod verify;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;
use axum::Router;
use streamhooks_worker::wire::Format;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use verify::{check, Expect, Refusal, Verified};

/// The Standard Webhooks libraries' tolerance, and so this receiver's default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

#[derive(Clone, Debug)]
pub struct ReceiveOptions {
    pub addr: SocketAddr,
    /// Verify signatures with this secret; `None` prints without checking them.
    pub secret: Option<String>,
    /// The status answered to well-formed, correctly signed requests.
    pub status: StatusCode,
    /// Accept only this body format; `None` detects it.
    pub format: Option<Format>,
    /// How far `webhook-timestamp` may be from now.
    pub tolerance: Duration,
}

#[derive(Clone)]
struct ReceiverState {
    opts: ReceiveOptions,
}

/// What is printed for an accepted request: a summary line, one line per check, the payload.
pub fn report(v: &Verified, event: &str, delivery: &str, status: StatusCode) -> String {
    let summary = if v.signed {
        "signature ok"
    } else {
        "signatures not checked: no --secret"
    };
    let mut out = format!(
        "--- {event} (delivery {delivery}, {}, {summary}) -> {}\n",
        v.format,
        status.as_u16()
    );
    for (what, result) in &v.checks {
        out.push_str(&format!("    {what:<20} {result}\n"));
    }
    out.push_str(&serde_json::to_string_pretty(&v.payload).unwrap_or_default());
    out
}

async fn handle(
    State(s): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let delivery = headers
        .get("x-webhook-delivery")
        .or_else(|| headers.get("webhook-id"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let expect = Expect {
        secret: s.opts.secret.as_deref(),
        format: s.opts.format,
        tolerance: s.opts.tolerance,
    };
    match check(&body, &headers, &expect, SystemTime::now()) {
        Ok(v) => {
            let event = v.payload["event"]["event_name"].as_str().unwrap_or("?");
            println!("{}", report(&v, event, &delivery, s.opts.status));
            (s.opts.status, "received")
        }
        Err(r) => {
            eprintln!(
                "refused delivery {delivery}: {} -> {}",
                r.sentence(),
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
    // Deliveries of 1 MB and more are normal; this is a local testing tool.
    let app = Router::new()
        .fallback(any(handle))
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(ReceiverState { opts });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}
