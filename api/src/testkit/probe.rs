//! Reading the operator endpoints (`/healthz`, `/readyz`, `/metrics`) of a server or a
//! `streamhooks worker` in a test. A metric moves only once the dispatcher has recorded the
//! outcome, a moment after the receiver answered, so [`metrics_showing`] polls briefly instead of
//! assuming that moment has passed.

use std::time::Duration;

/// GETs `url`; returns the status and the body as text. Panics if nothing answers.
pub async fn get(url: impl AsRef<str>) -> (u16, String) {
    let url = url.as_ref();
    let r = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// The value of one series in `base_url/metrics` (e.g. `streamhooks_http_in_flight`, or a name
/// with its labels), or `None` if the server does not report it.
pub async fn metric(base_url: &str, series: &str) -> Option<String> {
    let text = get(format!("{base_url}/metrics")).await.1;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().to_owned())
}

/// `base_url/metrics` once it contains `line`, polled every 20 ms for up to 2 s; the last text
/// read otherwise, for the test's assertion to show.
pub async fn metrics_showing(base_url: &str, line: &str) -> String {
    let url = format!("{base_url}/metrics");
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = get(&url).await.1;
        if metrics.contains(line) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    metrics
}
