//! Configuration: one struct built once at start-up from flags and environment variables (clap
//! `env`), validated once and shared as `Arc<Config>`. The doc comments are the `--help` text and
//! the README's configuration table, so defaults are written where a user reads them.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use streamhooks_worker::config::parse_duration;
use streamhooks_worker::secrets::SecretsConfig;
use streamhooks_worker::wire::Format;
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

    /// Public URL of this server, sent as `server.canonicalUrl` in every payload and by
    /// `serverInfo`. Unset: `http://` and the address the server listens on (`--bind`), e.g.
    /// `http://127.0.0.1:3000`. Behind a reverse proxy, load balancer or TLS terminator, set it to
    /// the URL clients use, e.g. `https://hooks.example.com`: the server cannot see that address.
    #[arg(long, env = "CANONICAL_URL")]
    pub canonical_url: Option<String>,

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
    pub limits: crate::context::limits::LimitsConfig,

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

    #[command(flatten)]
    pub wire: WireConfig,
}

/// How new webhooks are sent and how secret changes roll over; read where webhooks are created
/// and updated (the API), not by dispatchers, which follow what each webhook row says.
#[derive(Args, Clone, Debug)]
pub struct WireConfig {
    /// Wire format of webhooks created without one: `speckle-string` (`{"payload":"<json
    /// string>"}`, what the seeds' receivers parse) or `speckle-object` (`{"payload":{…}}`, what
    /// Speckle sends since 2.12). Existing webhooks keep theirs.
    #[arg(long, env = "WEBHOOK_FORMAT", default_value = "speckle-string", value_parser = parse_format)]
    pub webhook_format: Format,

    /// After a webhook's secret changes, the previous secret also signs (a second
    /// `webhook-signature` entry) for this long, so receivers can switch without refusing
    /// deliveries. `0s` ends it at once.
    #[arg(long, env = "SECRET_ROTATION_GRACE", default_value = "24h", value_parser = parse_duration)]
    pub secret_rotation_grace: Duration,
}

impl Default for WireConfig {
    /// The flags' defaults (a test holds them equal), for code that creates webhooks without a
    /// command line.
    fn default() -> Self {
        Self {
            webhook_format: Format::SpeckleString,
            secret_rotation_grace: Duration::from_secs(24 * 3600),
        }
    }
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.trim().parse()
}

impl Config {
    /// `server.canonicalUrl`: `CANONICAL_URL`, or else `http://<bind address>`.
    pub fn canonical_url(&self) -> String {
        match &self.canonical_url {
            Some(url) => url.clone(),
            None => format!("http://{}", self.bind),
        }
    }

    /// Checks what clap cannot: a usable canonical URL, usable limits, the worker settings.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(given) = &self.canonical_url {
            let u = url::Url::parse(given)
                .map_err(|e| format!("CANONICAL_URL {given:?} is not a URL: {e}"))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(format!("CANONICAL_URL {given:?} must be http(s)"));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_defaults_are_the_flags_defaults_and_bad_values_are_refused() {
        #[derive(clap::Parser)]
        struct P {
            #[command(flatten)]
            wire: WireConfig,
        }
        let parse = |args: &[&str]| {
            <P as clap::Parser>::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
                .map(|p| p.wire)
        };
        let d = parse(&[]).unwrap_or_else(|e| panic!("{e}"));
        let expected = WireConfig::default();
        assert_eq!(d.webhook_format, expected.webhook_format);
        assert_eq!(d.secret_rotation_grace, expected.secret_rotation_grace);
        let o = parse(&[
            "--webhook-format",
            "speckle-object",
            "--secret-rotation-grace",
            "0s",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.webhook_format, Format::SpeckleObject);
        assert!(o.secret_rotation_grace.is_zero());
        let err = parse(&["--webhook-format", "json"])
            .map(|_| ())
            .expect_err("unknown");
        assert!(
            err.to_string()
                .contains("valid formats are: speckle-string, speckle-object"),
            "{err}"
        );
        assert!(parse(&["--secret-rotation-grace", "soon"]).is_err());
    }
}
