//! The liveness file Speckle's Helm chart probes: `/tmp/last_successful_query` holds the time of
//! the last successful poll, in milliseconds since the epoch as decimal text, as the stock service
//! writes it; the probe fails once it is 30 s old.
//!
//! Written at most once a second (the probe's window is 30 s; a poll every 25 ms need not touch
//! the disk forty times a second), by any region's successful poll, and through a temporary file
//! renamed over the old one, so the probe never reads a half-written number (which it would take
//! for 0, i.e. stale).

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::Utc;

/// The stock service's path, which the chart's probe reads.
pub const DEFAULT_PATH: &str = "/tmp/last_successful_query";

/// Least time between two writes.
const EVERY_MS: i64 = 1_000;

#[derive(Debug)]
pub struct Probe {
    path: PathBuf,
    last_write_ms: AtomicI64,
}

impl Probe {
    pub fn new(path: PathBuf) -> Self {
        Probe {
            path,
            last_write_ms: AtomicI64::new(0),
        }
    }

    /// When a successful poll was last recorded (epoch ms; 0 before the first).
    pub fn last_poll_ms(&self) -> i64 {
        self.last_write_ms.load(Ordering::Relaxed)
    }

    /// Records a successful poll now, unless one was written less than a second ago.
    pub async fn touch(&self) {
        let now = Utc::now().timestamp_millis();
        let last = self.last_write_ms.load(Ordering::Relaxed);
        if now - last < EVERY_MS
            || self
                .last_write_ms
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if let Err(e) = self.write(now).await {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the liveness file");
        }
    }

    async fn write(&self, now_ms: i64) -> std::io::Result<()> {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        tokio::fs::write(&tmp, now_ms.to_string()).await?;
        tokio::fs::rename(&tmp, &self.path).await
    }
}
