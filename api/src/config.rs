//! Configuration: one struct built once at start-up from flags and environment variables (clap
//! `env`), validated once and shared as `Arc<Config>`. The doc comments are the `--help` text and
//! the README's configuration table, so defaults are written where a user reads them.

use std::net::SocketAddr;

use clap::Args;
use streamhooks_worker::secrets::SecretsConfig;
use streamhooks_worker::WorkerConfig;

/// Settings shared by every subcommand that opens the database.
#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://USER:PASS@HOST/DB`.
    /// Unset: `streamhooks.sqlite` in the working directory, created and migrated on first run.
    #[arg(long = "database-url", env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DbArgs {
    pub const DEFAULT_SQLITE: &'static str = "sqlite://streamhooks.sqlite?mode=rwc";

    pub fn url(&self) -> String {
        match self.database_url.as_deref().map(str::trim) {
            Some(u) if !u.is_empty() => u.to_owned(),
            _ => Self::DEFAULT_SQLITE.to_owned(),
        }
    }
}

/// Everything `streamhooks serve` and `streamhooks worker` need.
#[derive(Args, Clone, Debug)]
pub struct Config {
    #[command(flatten)]
    pub db: DbArgs,

    /// Address the HTTP server listens on.
    #[arg(long = "bind", env = "BIND_ADDRESS", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,

    /// Public URL of this server, sent as `server.canonicalUrl` in every payload.
    #[arg(long, env = "CANONICAL_URL", default_value = "http://127.0.0.1:3000")]
    pub canonical_url: String,

    /// Server name, sent as `server.name` in every payload and by `serverInfo`.
    #[arg(long, env = "SERVER_NAME", default_value = "streamhooks")]
    pub server_name: String,

    /// Server description, sent as `server.description`.
    #[arg(
        long,
        env = "SERVER_DESCRIPTION",
        default_value = "A Speckle-style server with reliable webhooks"
    )]
    pub server_description: String,

    #[command(flatten)]
    pub limits: crate::limits::LimitsConfig,

    /// Largest request body on the object routes (`POST /objects/…`, `/api/diff/…`,
    /// `/api/getobjects/…`), in bytes, and the most one upload may decompress to (its gzipped
    /// parts together). Separate from `MAX_REQUEST_BYTES`: object batches are bigger than queries.
    #[arg(long, env = "MAX_OBJECT_UPLOAD_BYTES", default_value_t = 104_857_600)]
    pub max_object_upload_bytes: usize,

    /// Object requests with a body (uploads, `/api/diff/…`, `/api/getobjects/…`) handled at once.
    /// Each may hold up to MAX_OBJECT_UPLOAD_BYTES (more once parsed), so this bounds their memory
    /// together; the next one waits up to IN_FLIGHT_QUEUE_TIMEOUT, then gets 503.
    #[arg(long, env = "MAX_OBJECT_REQUESTS_IN_FLIGHT", default_value_t = 4)]
    pub max_object_requests_in_flight: usize,

    /// Time allowed for an object request's body to arrive; a slower one gets 408 and gives its
    /// place back.
    #[arg(long, env = "OBJECT_BODY_DEADLINE", default_value = "5m", value_parser = streamhooks_worker::config::parse_duration)]
    pub object_body_deadline: std::time::Duration,

    /// For `streamhooks worker`: serve /healthz, /readyz and /metrics on this address (the worker
    /// serves no HTTP without it). `serve` has them on `--bind` already.
    #[arg(long, env = "METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    #[command(flatten)]
    pub worker: WorkerConfig,

    #[command(flatten)]
    pub secrets: SecretsConfig,
}

impl Config {
    /// Checks what clap cannot: a usable canonical URL, usable limits, the worker settings.
    pub fn validate(&self) -> Result<(), String> {
        let u = url::Url::parse(&self.canonical_url)
            .map_err(|e| format!("CANONICAL_URL {:?} is not a URL: {e}", self.canonical_url))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(format!(
                "CANONICAL_URL {:?} must be http(s)",
                self.canonical_url
            ));
        }
        if self.max_object_upload_bytes < 1024 {
            return Err("MAX_OBJECT_UPLOAD_BYTES must be at least 1024".into());
        }
        if self.max_object_requests_in_flight == 0 || self.object_body_deadline.is_zero() {
            return Err(
                "MAX_OBJECT_REQUESTS_IN_FLIGHT and OBJECT_BODY_DEADLINE must be positive".into(),
            );
        }
        self.secrets.validate().map_err(|e| e.to_string())?;
        self.limits.validate()?;
        self.worker.validate()
    }
}
