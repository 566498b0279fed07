//! Delivery counters for operators, rendered in the Prometheus text format by the API's
//! `/metrics`. Plain atomics rather than the prometheus crate: six series do not justify a
//! registry, and every delivery task updates them, so they must be lock-free. Relaxed ordering is
//! enough because each series is read on its own; a scrape may see a delivery in the counter a
//! moment before it appears in the histogram, which Prometheus tolerates.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// How a delivery attempt ended, as the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    HttpError,
    Timeout,
    Network,
    Blocked,
    NotSent,
}

impl Outcome {
    const ALL: [Outcome; 6] = [
        Outcome::Success,
        Outcome::HttpError,
        Outcome::Timeout,
        Outcome::Network,
        Outcome::Blocked,
        Outcome::NotSent,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::HttpError => "http_error",
            Outcome::Timeout => "timeout",
            Outcome::Network => "network",
            Outcome::Blocked => "blocked",
            Outcome::NotSent => "not_sent",
        }
    }
}

/// Upper bounds of the latency buckets, in seconds; `+Inf` is implied.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    outcomes: [AtomicU64; 6],
    /// Non-cumulative counts per bucket (cumulated when rendered), plus the overflow bucket.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    duration_sum_micros: AtomicU64,
    in_flight: AtomicI64,
    /// Events taken for delivery: [claimed from the database, handed over in memory].
    taken: [AtomicU64; 2],
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&self, outcome: Outcome, duration: Option<Duration>) {
        let idx = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.outcomes[idx].fetch_add(1, Relaxed);
        if let Some(d) = duration {
            let secs = d.as_secs_f64();
            let b = BUCKETS
                .iter()
                .position(|ub| secs <= *ub)
                .unwrap_or(BUCKETS.len());
            self.buckets[b].fetch_add(1, Relaxed);
            let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
            self.duration_sum_micros.fetch_add(micros, Relaxed);
        }
    }

    pub fn count(&self, outcome: Outcome) -> u64 {
        let idx = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.outcomes[idx].load(Relaxed)
    }

    /// Counts `n` events taken for delivery, by how they came (`crate::core::handoff`).
    pub(crate) fn taken(&self, handed_over: bool, n: usize) {
        self.taken[usize::from(handed_over)].fetch_add(n as u64, Relaxed);
    }

    /// Events taken so far that were handed over in memory (`true`) or claimed (`false`).
    pub fn taken_count(&self, handed_over: bool) -> u64 {
        self.taken[usize::from(handed_over)].load(Relaxed)
    }

    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Relaxed)
    }

    pub(crate) fn start_request(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(self)
    }

    /// Prometheus text exposition; `queue_depth` is omitted when the caller could not read it.
    pub fn render(&self, queue_depth: Option<i64>) -> String {
        let mut out = String::with_capacity(2048);
        out.push_str("# HELP streamhooks_deliveries_total Delivery attempts by outcome.\n");
        out.push_str("# TYPE streamhooks_deliveries_total counter\n");
        for o in Outcome::ALL {
            let _ = writeln!(
                out,
                "streamhooks_deliveries_total{{outcome=\"{}\"}} {}",
                o.label(),
                self.count(o)
            );
        }
        out.push_str("# HELP streamhooks_delivery_duration_seconds Time from sending a request to its outcome.\n");
        out.push_str("# TYPE streamhooks_delivery_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, ub) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Relaxed);
            let _ = writeln!(
                out,
                "streamhooks_delivery_duration_seconds_bucket{{le=\"{ub}\"}} {cumulative}"
            );
        }
        cumulative += self.buckets[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(
            out,
            "streamhooks_delivery_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let sum = self.duration_sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "streamhooks_delivery_duration_seconds_sum {sum}");
        let _ = writeln!(
            out,
            "streamhooks_delivery_duration_seconds_count {cumulative}"
        );
        if let Some(depth) = queue_depth {
            out.push_str(
                "# HELP streamhooks_queue_depth Events queued, waiting for a retry or in flight.\n",
            );
            out.push_str("# TYPE streamhooks_queue_depth gauge\n");
            let _ = writeln!(out, "streamhooks_queue_depth {depth}");
        }
        out.push_str("# HELP streamhooks_events_taken_total Events taken for delivery, by how they reached the dispatcher: claimed from the database, or handed over in memory by this process's own commit.\n");
        out.push_str("# TYPE streamhooks_events_taken_total counter\n");
        for (via, n) in ["claim", "handoff"].iter().zip(&self.taken) {
            let _ = writeln!(
                out,
                "streamhooks_events_taken_total{{via=\"{via}\"}} {}",
                n.load(Relaxed)
            );
        }
        out.push_str("# HELP streamhooks_in_flight Requests being sent now.\n");
        out.push_str("# TYPE streamhooks_in_flight gauge\n");
        let _ = writeln!(out, "streamhooks_in_flight {}", self.in_flight());
        out
    }
}

/// Decrements the in-flight gauge when dropped, so a cancelled task cannot leave it high.
pub(crate) struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let m = Metrics::new();
        m.record(Outcome::Success, Some(Duration::from_millis(3)));
        m.record(Outcome::Success, Some(Duration::from_millis(40)));
        m.record(Outcome::Timeout, Some(Duration::from_secs(60)));
        m.record(Outcome::NotSent, None);
        let g = m.start_request();
        let text = m.render(Some(7));
        drop(g);
        assert!(text.contains("streamhooks_deliveries_total{outcome=\"success\"} 2\n"));
        assert!(text.contains("streamhooks_deliveries_total{outcome=\"not_sent\"} 1\n"));
        assert!(text.contains("streamhooks_delivery_duration_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("streamhooks_delivery_duration_seconds_bucket{le=\"0.05\"} 2\n"));
        assert!(text.contains("streamhooks_delivery_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("streamhooks_delivery_duration_seconds_count 3\n"));
        assert!(text.contains("streamhooks_queue_depth 7\n"));
        assert!(text.contains("streamhooks_in_flight 1\n"));
        assert_eq!(m.in_flight(), 0);
    }
}
