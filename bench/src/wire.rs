//! `--only wire`: the CPU cost of building one request, measured alone, so the price of the
//! Standard Webhooks headers can be told apart from the ±20% that whole-dispatcher runs vary by
//! on a shared machine. "Speckle headers only" is the work the dispatcher did per request before
//! the Standard Webhooks headers existed (open the secret, encode the body, one hex HMAC);
//! [`streamhooks_worker::wire::prepare`] is what it does now.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use streamhooks_worker::secrets::Secrets;
use streamhooks_worker::sign;
use streamhooks_worker::wire::{self, Delivery, Endpoint, Format};

/// Nanoseconds per call of `f`, the median of five rounds of `n` calls.
fn per_call(n: u32, mut f: impl FnMut()) -> f64 {
    let mut rounds: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(n)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[2]
}

fn webhook(secrets: &Secrets, format: Format, previous: bool) -> Endpoint {
    let seal = |s: &str| secrets.seal(s).ok();
    Endpoint {
        id: "wh00000".into(),
        url: "http://127.0.0.1:1/hook".into(),
        secret: seal("bench-secret"),
        enabled: true,
        disabled_reason: None,
        format: format.as_str().into(),
        previous_secret: if previous { seal("old-secret") } else { None },
        previous_secret_expires_at: previous
            .then(|| Utc::now().timestamp_millis() + Duration::from_secs(3600).as_millis() as i64),
    }
}

/// Prints the cost of each way of building a request for `payload`.
pub fn run(secrets: &Secrets, payload: &str, n: u32) {
    let delivery = Delivery {
        id: 123_456,
        event_name: "commit_create",
        attempt: 1,
        payload,
    };
    let hook = webhook(secrets, Format::SpeckleString, false);
    let before = per_call(n, || {
        let stored = hook.secret.as_deref().unwrap_or_default();
        let secret = secrets.open(stored).unwrap_or_default();
        let body = wire::body(Format::SpeckleString, payload).unwrap_or_default();
        black_box((body, sign::signature(&secret, payload)));
    });
    println!(
        "(w) building one request, {} B payload: Speckle headers only (before) {:.2} µs",
        payload.len(),
        before / 1e3
    );
    for (what, format, previous) in [
        ("speckle-string", Format::SpeckleString, false),
        ("speckle-object", Format::SpeckleObject, false),
        (
            "speckle-string during a rotation (2 entries)",
            Format::SpeckleString,
            true,
        ),
    ] {
        let hook = webhook(secrets, format, previous);
        let now = per_call(n, || {
            black_box(wire::prepare(secrets, &hook, &delivery, SystemTime::now()).ok());
        });
        println!(
            "    {what} with Standard Webhooks headers (now): {:.2} µs (+{:.2} µs)",
            now / 1e3,
            (now - before) / 1e3
        );
    }
}
