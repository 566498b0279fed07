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

/// The receiver as a process of its own (`streamhooks-bench --serve-receiver`), so its CPU is not
/// the dispatcher's: prints `listening on ADDR`, answers 200 to every POST at once, answers
/// `GET /__count` with `COUNT FIRST_US LAST_US` (arrival times in Unix microseconds since the last
/// `GET /__reset`).
pub async fn serve_standalone() -> std::io::Result<()> {
    use std::sync::atomic::AtomicI64;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[derive(Default)]
    struct Tally {
        count: AtomicU64,
        first_us: AtomicI64,
        last_us: AtomicI64,
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    let tally = Arc::new(Tally::default());
    let (t0, t1, t2) = (tally.clone(), tally.clone(), tally);
    let app = Router::new()
        .route(
            "/__reset",
            axum::routing::get(move || {
                let t = t0.clone();
                async move {
                    t.count.store(0, Ordering::Relaxed);
                    t.first_us.store(0, Ordering::Relaxed);
                    t.last_us.store(0, Ordering::Relaxed);
                    "ok"
                }
            }),
        )
        .route(
            "/__count",
            axum::routing::get(move || {
                let t = t1.clone();
                async move {
                    format!(
                        "{} {} {}",
                        t.count.load(Ordering::Relaxed),
                        t.first_us.load(Ordering::Relaxed),
                        t.last_us.load(Ordering::Relaxed)
                    )
                }
            }),
        )
        .fallback(move |_body: Bytes| {
            let t = t2.clone();
            async move {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros() as i64);
                t.count.fetch_add(1, Ordering::Relaxed);
                let _ = t
                    .first_us
                    .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
                t.last_us.fetch_max(now, Ordering::Relaxed);
                StatusCode::OK
            }
        });
    axum::serve(listener, app).await
}
