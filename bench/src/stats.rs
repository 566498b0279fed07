//! What every scenario shares, on the ground floor so that any of them can use it: the error
//! they all return ([`BoxError`]: a benchmark only reports a failure, it never recovers from one)
//! and the arithmetic of their reports, the median of a scenario's runs and a duration in
//! milliseconds.

use std::time::Duration;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The middle value (the upper one of an even count), or NaN when there are none.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The value at quantile `q` (0.5 the median, 1.0 the largest) of `sorted`, by the nearest rank;
/// an error rather than a panic when there are no samples, which a setting such as
/// `--history-requests 0` asks for.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Result<T, BoxError> {
    let last = sorted
        .len()
        .checked_sub(1)
        .ok_or("no samples to take a quantile of")?;
    Ok(sorted[((sorted.len() as f64 * q) as usize).min(last)])
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The p50, p99 and max of each run of a latency scenario, in ms, kept for the medians its report
/// ends with.
#[derive(Default)]
pub struct Latencies {
    p50: Vec<f64>,
    p99: Vec<f64>,
    max: Vec<f64>,
}

impl Latencies {
    /// Keeps one run's (p50, p99, max) and returns them in ms, for that run's own line.
    pub fn push(&mut self, (p50, p99, max): (Duration, Duration, Duration)) -> (f64, f64, f64) {
        let run = (ms(p50), ms(p99), ms(max));
        self.p50.push(run.0);
        self.p99.push(run.1);
        self.max.push(run.2);
        run
    }

    /// The medians of the runs' p50, p99 and max.
    pub fn medians(self) -> (f64, f64, f64) {
        (median(self.p50), median(self.p99), median(self.max))
    }
}
