//! [`TestReceiver`]: a real subscriber endpoint on `127.0.0.1` that hands every request it gets
//! to the test and answers what the test sets (a status, a delay), so retries, timeouts and
//! signatures are exercised over real HTTP rather than against a mock.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};
use tokio_util::sync::CancellationToken;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `payload` string of the double-encoded body.
    pub fn payload_string(&self) -> Option<String> {
        let v: Value = serde_json::from_slice(&self.body).ok()?;
        v.get("payload")?.as_str().map(str::to_owned)
    }
}

#[derive(Clone)]
struct ReceiverState {
    tx: mpsc::UnboundedSender<Received>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
}

/// A subscriber endpoint on `127.0.0.1`: answers `status` (200 unless set) after `delay`, and
/// hands every request to the test.
pub struct TestReceiver {
    pub addr: std::net::SocketAddr,
    rx: Mutex<mpsc::UnboundedReceiver<Received>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    cancel: CancellationToken,
}

impl TestReceiver {
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(200));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let state = ReceiverState {
            tx,
            status: status.clone(),
            delay_ms: delay_ms.clone(),
        };
        // Deliveries of a 1 MB payload and more are normal; axum's default 2 MB cap is not the
        // subscriber's.
        let app = Router::new()
            .fallback(post(receive))
            .layer(DefaultBodyLimit::disable())
            .with_state(state);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind receiver: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("receiver addr: {e}"));
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { c.cancelled().await })
                .await;
        });
        Self {
            addr,
            rx: Mutex::new(rx),
            status,
            delay_ms,
            cancel,
        }
    }

    /// `http://127.0.0.1:PORT/hook`
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// The next request, or `None` after `timeout`.
    pub async fn next(&self, timeout: Duration) -> Option<Received> {
        tokio::time::timeout(timeout, async { self.rx.lock().await.recv().await })
            .await
            .ok()
            .flatten()
    }

    /// Requests already received, without waiting.
    pub async fn drain(&self) -> Vec<Received> {
        let mut rx = self.rx.lock().await;
        let mut out = Vec::new();
        while let Ok(r) = rx.try_recv() {
            out.push(r);
        }
        out
    }
}

impl Drop for TestReceiver {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn receive(State(s): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let delay = s.delay_ms.load(Ordering::SeqCst);
    let _ = s.tx.send(Received { headers, body });
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    StatusCode::from_u16(s.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK)
}
