//! The settings of `streamhooks speckle-dispatch`: the stock webhook-service's own environment
//! variables, read as it reads them, so Speckle's Helm chart and docker-compose files work
//! unchanged; then our engine's settings, each a flag with an environment variable and a default
//! suited to production (the benchmark drives the same flags with short durations).
//!
//! The decision a reader may question: an empty variable means its default. The chart writes
//! `value: {{ .Values.db.connectionCreateTimeoutMillis | quote }}` and the like, which is `""` when
//! the value is unset, and the stock service reads `process.env.X || default`, for which `""` is
//! unset too. Anything else that does not parse is refused with a sentence naming the variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ipnet::IpNet;
use streamhooks_worker::config::{parse_cidr, parse_duration, parse_schedule, RetrySchedule};
use streamhooks_worker::WorkerConfig;

/// Where Speckle's databases are, as the stock service finds them.
#[derive(Args, Clone, Debug)]
pub struct Connection {
    /// Speckle's database (the stock service's default when unset).
    #[arg(
        long = "pg-connection-string",
        env = "PG_CONNECTION_STRING",
        default_value = DEFAULT_PG,
        value_parser = |s: &str| Ok::<String, String>(if s.trim().is_empty() { DEFAULT_PG.to_owned() } else { s.to_owned() }),
    )]
    pub pg_connection_string: String,

    /// Connections per database; raised to what the dispatcher needs (3) when lower. The stock
    /// service's default is 1.
    #[arg(
        long = "postgres-max-connections",
        env = "POSTGRES_MAX_CONNECTIONS_WEBHOOK_SERVICE",
        default_value_t = 1,
        value_parser = |s: &str| positive_or(s, 1, "POSTGRES_MAX_CONNECTIONS_WEBHOOK_SERVICE"),
    )]
    pub max_connections: u32,

    /// How long to wait for a connection, in milliseconds.
    #[arg(
        long = "postgres-connection-acquire-timeout-millis",
        env = "POSTGRES_CONNECTION_ACQUIRE_TIMEOUT_MILLIS",
        default_value_t = 16_000,
        value_parser = |s: &str| positive_or(s, 16_000, "POSTGRES_CONNECTION_ACQUIRE_TIMEOUT_MILLIS"),
    )]
    pub acquire_timeout_ms: u32,

    /// How long the first connection to each database may take at start, in milliseconds.
    #[arg(
        long = "postgres-connection-create-timeout-millis",
        env = "POSTGRES_CONNECTION_CREATE_TIMEOUT_MILLIS",
        default_value_t = 5_000,
        value_parser = |s: &str| positive_or(s, 5_000, "POSTGRES_CONNECTION_CREATE_TIMEOUT_MILLIS"),
    )]
    pub create_timeout_ms: u32,

    /// Deliver from every region's database listed in MULTI_REGION_CONFIG_PATH (one dispatcher
    /// per database, in this process) instead of PG_CONNECTION_STRING's.
    #[arg(
        long = "multi-region",
        env = "FF_WORKSPACES_MULTI_REGION_ENABLED",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_parser = |s: &str| boolean(s, "FF_WORKSPACES_MULTI_REGION_ENABLED"),
    )]
    pub multi_region: bool,

    /// Speckle's multi-region file: {"main": {"postgres": {"connectionUri": …,
    /// "publicTlsCertificate"?: …}}, "regions": {"<key>": {"postgres": {…}}}}.
    #[arg(
        long = "multi-region-config-path",
        env = "MULTI_REGION_CONFIG_PATH",
        default_value = "multiregion.json",
        value_parser = |s: &str| Ok::<PathBuf, String>(PathBuf::from(if s.trim().is_empty() { "multiregion.json" } else { s })),
    )]
    pub multi_region_config_path: PathBuf,

    /// A PEM file of certificate authorities for PostgreSQL's TLS (Node's NODE_EXTRA_CA_CERTS,
    /// which the chart sets when db.useCertificate is on).
    #[arg(long = "ca-file", env = "NODE_EXTRA_CA_CERTS")]
    pub ca_file: Option<PathBuf>,
}

const DEFAULT_PG: &str = "postgres://speckle:speckle@127.0.0.1/speckle";

impl Connection {
    /// The CA file, if one is named (an empty variable names none).
    pub fn ca_file(&self) -> Option<&PathBuf> {
        self.ca_file.as_ref().filter(|p| !p.as_os_str().is_empty())
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.acquire_timeout_ms))
    }

    pub fn create_timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.create_timeout_ms))
    }
}

/// How the dispatchers run: the stock service's logging, metrics and network settings, then
/// ours.
#[derive(Args, Clone, Debug)]
pub struct Run {
    /// trace, debug, info, warn, error, fatal or silent (pino's levels, as the stock service).
    #[arg(long = "log-level", env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// true: one readable line per log event; otherwise one JSON object per line.
    #[arg(long = "log-pretty", env = "LOG_PRETTY", default_value = "false")]
    pub log_pretty: String,

    /// Port of `/metrics` (Prometheus) and `/healthz` (0 picks a free one, printed when ready).
    #[arg(
        long = "metrics-port",
        env = "PROMETHEUS_METRICS_PORT",
        default_value_t = 9095,
        value_parser = |s: &str| port_or(s, 9095),
    )]
    pub metrics_port: u16,

    /// Address `/metrics` listens on (the stock service listens on every interface).
    #[arg(long = "metrics-host", env = "METRICS_HOST", default_value = "0.0.0.0")]
    pub metrics_host: std::net::IpAddr,

    /// Allow deliveries to private, loopback and link-local addresses: `true` as in Speckle.
    #[arg(
        long = "allow-local-network",
        env = "ALLOW_LOCAL_NETWORK",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_parser = |s: &str| boolean(s, "ALLOW_LOCAL_NETWORK"),
    )]
    pub allow_local_network: bool,

    /// Comma-separated CIDRs allowed although they are not public, e.g. `10.1.0.0/16`.
    #[arg(long, env = "ALLOWED_CIDRS", value_delimiter = ',', value_parser = parse_cidr)]
    pub allowed_cidrs: Vec<IpNet>,

    /// Start even though Speckle's own webhook-service is connected to the database (it claims
    /// without a row lock: events may then be sent twice).
    #[arg(
        long,
        env = "STREAMHOOKS_ALLOW_STOCK_SERVICE",
        default_value_t = false,
        action = clap::ArgAction::Set,
        default_missing_value = "true",
        num_args = 0..=1,
        value_parser = |s: &str| boolean(s, "STREAMHOOKS_ALLOW_STOCK_SERVICE"),
    )]
    pub allow_stock_service: bool,

    /// The liveness file the Helm chart probes: milliseconds since the epoch of the last
    /// successful poll.
    #[arg(long, env = "STREAMHOOKS_PROBE_FILE", default_value = streamhooks_worker::speckle::probe::DEFAULT_PATH)]
    pub probe_file: PathBuf,

    /// How often to look for new events and due retries when there is nothing to do (Speckle's
    /// server sends no wake-up): one statement per database each time, an index probe when idle.
    #[arg(long, env = "POLL_INTERVAL", default_value = "25ms", value_parser = parse_duration)]
    pub poll_interval: Duration,

    /// Requests in flight at once, per database.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 256)]
    pub concurrency: usize,

    /// Requests in flight at once to any single webhook.
    #[arg(long, env = "WORKER_PER_WEBHOOK_CONCURRENCY", default_value_t = 16)]
    pub per_webhook_concurrency: usize,

    /// Events claimed per database round trip at most.
    #[arg(long, env = "WORKER_BATCH_SIZE", default_value_t = 500)]
    pub batch_size: u64,

    /// Time allowed for one delivery (the stock service's 10 s).
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Delays before each retry, comma-separated (`none`: a failure is final, as in the stock
    /// service); each gets ±20% jitter, and a receiver's Retry-After on 429/503 replaces it.
    #[arg(long, env = "RETRY_SCHEDULE", default_value = "10s,1m,5m,30m,2h,6h,12h", value_parser = parse_schedule)]
    pub retry_schedule: RetrySchedule,

    /// How long a claimed event stays with this process before another may take it (a crashed
    /// replica's events are sent again after this). Must exceed the request timeout.
    #[arg(long = "lease", env = "LEASE_DURATION", default_value = "60s", value_parser = parse_duration)]
    pub lease: Duration,

    /// Bytes of a response body read; the start of it is kept with the attempt.
    #[arg(long, env = "RESPONSE_BODY_LIMIT", default_value_t = 65_536)]
    pub response_body_limit: usize,

    /// How often abandoned rows are adopted, orphans swept and old attempts pruned.
    #[arg(long, env = "SWEEP_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub sweep_interval: Duration,

    /// A row at status 1 that nobody of ours holds is adopted once unchanged this long (the stock
    /// service's 10 s request timeout plus a margin).
    #[arg(long, env = "ADOPT_AFTER", default_value = "40s", value_parser = parse_duration)]
    pub adopt_after: Duration,

    /// Attempts older than this are deleted (0s keeps them).
    #[arg(long, env = "ATTEMPTS_MAX_AGE", default_value = "30d", value_parser = parse_duration)]
    pub attempts_max_age: Duration,

    /// This process's name in the attempt records; by default `<host name>/<process id>`.
    #[arg(long, env = "WORKER_NAME")]
    pub worker_name: Option<String>,
}

impl Run {
    /// The engine's settings. No auto-disable (it would write `webhooks_config`) and none of our
    /// store's retention (Speckle's rows are Speckle's to prune).
    pub fn worker(&self) -> WorkerConfig {
        WorkerConfig {
            concurrency: self.concurrency,
            per_webhook_concurrency: self.per_webhook_concurrency,
            batch_size: self.batch_size,
            request_timeout: self.request_timeout,
            retry_schedule: self.retry_schedule.clone(),
            lease: self.lease,
            poll_interval: self.poll_interval,
            allow_local_network: self.allow_local_network,
            allowed_cidrs: self.allowed_cidrs.clone(),
            response_body_limit: self.response_body_limit,
            disable_after_failures: 0,
            retention_max_age: Duration::ZERO,
            retention_keep_per_webhook: 0,
            retention_interval: Duration::from_secs(3600),
            worker_name: self.worker_name.clone(),
        }
    }

    /// Checks what clap cannot: the engine's rules, and the sweep's.
    pub fn validate(&self) -> Result<(), String> {
        self.worker().validate()?;
        if self.sweep_interval.is_zero() {
            return Err("SWEEP_INTERVAL must be positive".into());
        }
        if self.adopt_after < Duration::from_secs(10) {
            return Err(format!(
                "ADOPT_AFTER ({:?}) must be at least the stock service's 10s request timeout, or a \
                 row it is still sending could be sent again",
                self.adopt_after
            ));
        }
        Ok(())
    }
}

/// A whole number of at least 1, or `default` when empty.
fn positive_or(s: &str, default: u32, var: &str) -> Result<u32, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(default);
    }
    match s.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{var} must be a whole number of at least 1, not {s:?}"
        )),
    }
}

fn port_or(s: &str, default: u16) -> Result<u16, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(default);
    }
    s.parse::<u16>().map_err(|_| {
        format!("PROMETHEUS_METRICS_PORT must be a port number (0 to 65535), not {s:?}")
    })
}

/// `true` or `false` (empty: false). Speckle reads anything but `true` as false; a typo such as
/// `1` or `yes` is refused here rather than silently meaning no.
fn boolean(s: &str, var: &str) -> Result<bool, String> {
    match s.trim() {
        "true" => Ok(true),
        "false" | "" => Ok(false),
        other => Err(format!("{var} must be true or false, not {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_means_default_and_nonsense_names_the_variable() {
        assert_eq!(positive_or("", 16_000, "X"), Ok(16_000));
        assert_eq!(positive_or(" 7 ", 1, "X"), Ok(7));
        assert!(positive_or("0", 1, "POSTGRES_MAX").is_err_and(|e| e.contains("POSTGRES_MAX")));
        assert!(positive_or("many", 1, "X").is_err());
        assert_eq!(port_or("", 9095), Ok(9095));
        assert!(port_or("99999", 9095).is_err());
        assert_eq!(boolean("", "X"), Ok(false));
        assert_eq!(boolean("true", "X"), Ok(true));
        assert!(boolean("yes", "ALLOW_LOCAL_NETWORK").is_err_and(|e| e.contains("ALLOW_LOCAL")));
    }
}
