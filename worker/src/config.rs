//! Dispatcher settings, flattened into the `streamhooks serve` / `worker` command line so each has
//! one flag and one environment variable. Durations are written like `10s`, `500ms`, `5m`, `2h`,
//! `30d`.

use std::time::Duration;

use clap::Args;
use ipnet::IpNet;

#[derive(Args, Clone, Debug)]
pub struct WorkerConfig {
    /// Requests in flight at once, across all webhooks.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 256)]
    pub concurrency: usize,

    /// Requests in flight at once to any single webhook, so one slow endpoint cannot take every
    /// slot.
    #[arg(long, env = "WORKER_PER_WEBHOOK_CONCURRENCY", default_value_t = 16)]
    pub per_webhook_concurrency: usize,

    /// Events claimed per database round trip.
    #[arg(long, env = "WORKER_BATCH_SIZE", default_value_t = 500)]
    pub batch_size: u64,

    /// Time allowed for one delivery: connect, send, and read the response.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Delays before each retry after a failed attempt, comma-separated; the number of entries is
    /// the number of retries. Each delay gets ±20% jitter.
    #[arg(long, env = "RETRY_SCHEDULE", default_value = "10s,1m,5m,30m,2h,6h,12h", value_parser = parse_schedule)]
    pub retry_schedule: RetrySchedule,

    /// How long a claimed event stays with its worker before another may take it (a crashed
    /// worker's events are redelivered after this). Must exceed the request timeout.
    #[arg(long, env = "LEASE_DURATION", default_value = "60s", value_parser = parse_duration)]
    pub lease: Duration,

    /// Fallback poll interval when no wake-up arrives (wake-ups are immediate).
    #[arg(long, env = "POLL_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub poll_interval: Duration,

    /// Allow deliveries to private, loopback and link-local addresses (as Speckle's
    /// ALLOW_LOCAL_NETWORK). Off by default: a webhook URL must not reach into your network.
    #[arg(long, env = "ALLOW_LOCAL_NETWORK", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_local_network: bool,

    /// Comma-separated CIDRs that are allowed even though they are not public,
    /// e.g. `10.1.0.0/16,fd00::/8`.
    #[arg(long, env = "ALLOWED_CIDRS", value_delimiter = ',', value_parser = parse_cidr)]
    pub allowed_cidrs: Vec<IpNet>,

    /// Bytes of a response body read (and partly kept in statusInfo); the rest is dropped.
    #[arg(long, env = "RESPONSE_BODY_LIMIT", default_value_t = 65_536)]
    pub response_body_limit: usize,

    /// Final failures in a row after which a webhook is disabled (0 = never).
    #[arg(long, env = "DISABLE_AFTER_FAILURES", default_value_t = 20)]
    pub disable_after_failures: u32,

    /// Delete finished events older than this (0s = keep forever).
    #[arg(long, env = "RETENTION_MAX_AGE", default_value = "30d", value_parser = parse_duration)]
    pub retention_max_age: Duration,

    /// Keep at most this many finished events per webhook (0 = no limit).
    #[arg(long, env = "RETENTION_KEEP_PER_WEBHOOK", default_value_t = 1_000)]
    pub retention_keep_per_webhook: u64,

    /// How often the retention pass runs.
    #[arg(long, env = "RETENTION_INTERVAL", default_value = "10m", value_parser = parse_duration)]
    pub retention_interval: Duration,

    /// This dispatcher's name in the attempt records (`worker` in GraphQL); by default
    /// `<host name>/<process id>`.
    #[arg(long, env = "WORKER_NAME")]
    pub worker_name: Option<String>,
}

impl WorkerConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.concurrency == 0 || self.per_webhook_concurrency == 0 || self.batch_size == 0 {
            return Err(
                "WORKER_CONCURRENCY, WORKER_PER_WEBHOOK_CONCURRENCY and WORKER_BATCH_SIZE must be positive".into(),
            );
        }
        if self.request_timeout.is_zero() {
            return Err("REQUEST_TIMEOUT must be positive".into());
        }
        if self.lease <= self.request_timeout {
            return Err(format!(
                "LEASE_DURATION ({:?}) must be longer than REQUEST_TIMEOUT ({:?}), or events would be sent twice while still in flight",
                self.lease, self.request_timeout
            ));
        }
        if self.poll_interval.is_zero() {
            return Err("POLL_INTERVAL must be positive".into());
        }
        if let Some(name) = &self.worker_name {
            if name.trim().is_empty() || name.chars().count() > 200 || name.contains('\0') {
                return Err("WORKER_NAME must be 1 to 200 characters".into());
            }
        }
        Ok(())
    }

    /// The name attempts are recorded under: `WORKER_NAME`, or `<host name>/<process id>`.
    pub fn worker_label(&self) -> String {
        if let Some(name) = &self.worker_name {
            return name.trim().to_owned();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        format!("{host}/{}", std::process::id())
    }
}

/// Delays before retry 1, 2, …; empty means a failed attempt is final.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

/// Parses `250ms`, `10s`, `5m`, `2h`, `30d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (examples: 500ms, 10s, 5m, 2h, 30d)"))?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        other => {
            return Err(format!(
                "{s:?}: unknown unit {other:?} (use ms, s, m, h or d)"
            ))
        }
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| format!("{s:?} is too long"))
}

pub fn parse_schedule(s: &str) -> Result<RetrySchedule, String> {
    let s = s.trim();
    if s.is_empty() || s == "none" {
        return Ok(RetrySchedule(Vec::new()));
    }
    s.split(',')
        .map(parse_duration)
        .collect::<Result<_, _>>()
        .map(RetrySchedule)
}

pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not a CIDR (examples: 10.0.0.0/8, fd00::/8, 192.168.1.5)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5 fortnights").is_err());
        assert_eq!(
            parse_schedule("1s,2m").map(|s| s.0),
            Ok(vec![Duration::from_secs(1), Duration::from_secs(120)])
        );
        assert_eq!(parse_schedule("none").map(|s| s.0.len()), Ok(0));
        assert!(parse_cidr("10.0.0.0/8").is_ok());
        assert!(parse_cidr("nope").is_err());
    }
}
