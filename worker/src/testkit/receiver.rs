//! [`TestReceiver`]: a real subscriber endpoint on `127.0.0.1`, so retries, timeouts and
//! signatures are exercised over real HTTP rather than against a mock. The test suites and the
//! benchmark use this one type, started in one of two modes:
//!
//! - **recording** ([`TestReceiver::start`]): every request is handed to the test as a
//!   [`Received`] (method, path, headers, body, arrival time), and the answer is what the test set:
//!   a status (or a whole [`Reply`]), a delay, or a script of replies.
//! - **counting** ([`TestReceiver::counting`]): every request is only counted, with the first and
//!   last arrival, and, while [`TestReceiver::track_arrivals`] is on, the arrival of each delivery
//!   id; `GET /__count` answers `COUNT FIRST_US LAST_US` (Unix microseconds) and `GET /__reset`
//!   starts again, so a receiver in a process of its own can be read over HTTP.
//!
//! Why two modes of one type rather than one handler: `streamhooks-bench --only side` charges the
//! receiver's CPU per 1,000 deliveries to its own column, and the benchmark's in-process scenarios
//! share two cores with the dispatcher. Recording costs a copy of every header map, a channel send
//! and a lock per request, and keeps every body until the test reads it; a drain of 50,000 events
//! that nobody reads would measure that instead of the dispatcher. The mode picks the handler once,
//! at start, so a counting request costs a few atomic updates, a clock read and reading the body
//! (read, as a real subscriber reads it, so the connection stays reusable).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};
use tokio_util::sync::CancellationToken;

/// The header the dispatcher names each delivery with; counting mode keys arrivals by it.
const DELIVERY_HEADER: &str = "x-webhook-delivery";

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When the handler started on it.
    pub at: Instant,
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

/// Lower-case hex HMAC-SHA256 of `message` keyed with `secret`: what a subscriber computes to
/// check `X-WEBHOOK-SIGNATURE` (over the payload string, or over the raw body for
/// `speckle-object`). Written here rather than taken from the dispatcher's `sign` module, so a
/// test checks the signer against an independent computation.
pub fn hmac_hex(secret: &str, message: impl AsRef<[u8]>) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length.
        Err(e) => panic!("HMAC key: {e}"),
    };
    mac.update(message.as_ref());
    hex::encode(mac.finalize().into_bytes())
}

/// An answer: one of a script, or the one given once the script is used up (status 200, no
/// headers, no body, unless set).
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// What the handlers share with the [`TestReceiver`] that started them.
struct Shared {
    requests: mpsc::UnboundedSender<Received>,
    fallback: std::sync::Mutex<Reply>,
    delay_ms: AtomicU64,
    script: std::sync::Mutex<VecDeque<Reply>>,
    tally: Tally,
}

/// Every request since the last reset, with its first and last arrival (both modes count).
#[derive(Default)]
struct Tally {
    count: AtomicU64,
    first_us: AtomicI64,
    last_us: AtomicI64,
    track: AtomicBool,
    arrivals: std::sync::Mutex<HashMap<i64, Instant>>,
}

impl Tally {
    /// Counts a request; `at` is when it arrived if the caller read the clock already.
    fn arrived(&self, headers: &HeaderMap, at: Option<Instant>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        self.count.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .first_us
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        self.last_us.fetch_max(now, Ordering::Relaxed);
        if self.track.load(Ordering::Relaxed) {
            let id = headers
                .get(DELIVERY_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok());
            if let Some(id) = id {
                lock(&self.arrivals).insert(id, at.unwrap_or_else(Instant::now));
            }
        }
    }

    fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
        self.first_us.store(0, Ordering::Relaxed);
        self.last_us.store(0, Ordering::Relaxed);
    }
}

/// A subscriber endpoint on `127.0.0.1`, stopped when dropped. See the module documentation for
/// its two modes.
pub struct TestReceiver {
    pub addr: SocketAddr,
    requests: Mutex<mpsc::UnboundedReceiver<Received>>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
}

impl TestReceiver {
    /// A recording receiver answering 200 at once. Panics if it cannot listen: this is test
    /// set-up.
    pub async fn start() -> Self {
        Self::serve(true)
            .await
            .unwrap_or_else(|e| panic!("start the receiver: {e}"))
    }

    /// A counting receiver answering 200 at once.
    pub async fn counting() -> std::io::Result<Self> {
        Self::serve(false).await
    }

    async fn serve(recording: bool) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            requests: tx,
            fallback: std::sync::Mutex::new(Reply {
                status: 200,
                headers: Vec::new(),
                body: String::new(),
            }),
            delay_ms: AtomicU64::new(0),
            script: std::sync::Mutex::new(VecDeque::new()),
            tally: Tally::default(),
        });
        let app = if recording {
            // Deliveries of a 1 MB payload and more are normal; axum's default 2 MB cap is not
            // the subscriber's.
            Router::new()
                .fallback(record)
                .layer(DefaultBodyLimit::disable())
        } else {
            Router::new()
                .route("/__count", get(count_text))
                .route("/__reset", get(reset))
                .fallback(count)
        }
        .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        Ok(Self {
            addr,
            requests: Mutex::new(rx),
            shared,
            cancel,
        })
    }

    /// `http://127.0.0.1:PORT/hook`
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The status answered once any script is used up (200 unless set).
    pub fn set_status(&self, status: u16) {
        lock(&self.shared.fallback).status = status;
    }

    /// The whole answer (status, headers, body) once any script is used up.
    pub fn set_reply(&self, reply: Reply) {
        *lock(&self.shared.fallback) = reply;
    }

    /// How long each answer waits (none unless set), e.g. longer than the request timeout.
    pub fn set_delay(&self, delay: Duration) {
        self.shared
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Answers the next requests with `replies`, in order, before falling back to the status.
    pub fn script(&self, replies: Vec<Reply>) {
        lock(&self.shared.script).extend(replies);
    }

    /// The next request, or `None` after `timeout` (always `None` when counting).
    pub async fn next(&self, timeout: Duration) -> Option<Received> {
        tokio::time::timeout(timeout, async { self.requests.lock().await.recv().await })
            .await
            .ok()
            .flatten()
    }

    /// The next request; panics if none arrives within `within`.
    pub async fn expect_next(&self, within: Duration) -> Received {
        self.next(within)
            .await
            .unwrap_or_else(|| panic!("no request reached the receiver within {within:?}"))
    }

    /// Requests already received, without waiting.
    pub async fn drain(&self) -> Vec<Received> {
        let mut rx = self.requests.lock().await;
        let mut out = Vec::new();
        while let Ok(r) = rx.try_recv() {
            out.push(r);
        }
        out
    }

    /// Requests since the start or the last `GET /__reset`, in either mode.
    pub fn count(&self) -> u64 {
        self.shared.tally.count.load(Ordering::Relaxed)
    }

    /// Counting mode: note from now on when each delivery id arrives (see [`Self::arrivals`]).
    pub fn track_arrivals(&self, on: bool) {
        self.shared.tally.track.store(on, Ordering::Relaxed);
    }

    /// When each delivery id arrived while tracking was on.
    pub fn arrivals(&self) -> HashMap<i64, Instant> {
        lock(&self.shared.tally.arrivals).clone()
    }
}

impl Drop for TestReceiver {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The data behind `m`, also after a panic while it was held: every value stored here is whole
/// after any single write, so a poisoned lock still holds a usable value.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn record(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    s.tally.arrived(&headers, Some(at));
    let _ = s.requests.send(Received {
        method,
        uri,
        headers,
        body,
        at,
    });
    let delay = s.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let scripted = lock(&s.script).pop_front();
    let reply = scripted.unwrap_or_else(|| lock(&s.fallback).clone());
    let mut resp = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK),
        reply.body,
    )
        .into_response();
    for (k, v) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(HeaderName::from_static(k), v);
        }
    }
    resp
}

/// Counting mode's answer to every delivery: the request taken apart by hand, so the headers are
/// looked at in place rather than copied.
async fn count(State(s): State<Arc<Shared>>, request: Request<Body>) -> StatusCode {
    let (parts, body) = request.into_parts();
    let _ = axum::body::to_bytes(body, usize::MAX).await;
    s.tally.arrived(&parts.headers, None);
    StatusCode::OK
}

async fn count_text(State(s): State<Arc<Shared>>) -> String {
    let t = &s.tally;
    format!(
        "{} {} {}",
        t.count.load(Ordering::Relaxed),
        t.first_us.load(Ordering::Relaxed),
        t.last_us.load(Ordering::Relaxed)
    )
}

async fn reset(State(s): State<Arc<Shared>>) -> &'static str {
    s.tally.reset();
    "ok"
}
