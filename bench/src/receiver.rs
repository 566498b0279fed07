//! The subscriber side of the benchmark: an in-process axum server on 127.0.0.1 answering 200 at
//! once. It notes when each delivery id arrived (for commit-to-request latency) and counts
//! requests. It shares the two cores with the dispatcher, so measured rates are for the pair;
//! a remote receiver would leave the dispatcher more CPU.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;

#[derive(Default)]
pub struct Seen {
    pub count: AtomicU64,
    /// Arrival time by `X-WEBHOOK-DELIVERY`, only while `track` is on.
    pub arrivals: Mutex<HashMap<i64, Instant>>,
    pub track: std::sync::atomic::AtomicBool,
}

pub async fn start() -> std::io::Result<(SocketAddr, Arc<Seen>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let seen = Arc::new(Seen::default());
    let app = Router::new().fallback(handle).with_state(seen.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, seen))
}

async fn handle(State(seen): State<Arc<Seen>>, headers: HeaderMap, _body: Bytes) -> StatusCode {
    let at = Instant::now();
    seen.count.fetch_add(1, Ordering::Relaxed);
    if seen.track.load(Ordering::Relaxed) {
        let id = headers
            .get("x-webhook-delivery")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok());
        if let (Some(id), Ok(mut map)) = (id, seen.arrivals.lock()) {
            map.insert(id, at);
        }
    }
    StatusCode::OK
}
