//! The `streamhooks` binary: parses the command line and calls the library. Subcommand names are
//! fixed by DESIGN.md (scripts and docs rely on them).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use streamhooks_api::admin::{parse_since, redeliver, rekey, reset_key, user_create};
use streamhooks_api::context::config::{Config, DbArgs};
use streamhooks_api::context::db;
use streamhooks_api::{bind_and_start, StartOptions};
use streamhooks_worker::secrets::SecretsConfig;
use tokio_util::sync::CancellationToken;

/// jemalloc rather than glibc's allocator. A delivery allocates and frees dozens of buffers,
/// often on another thread than the one that allocated them, and the payload-sized ones (~1 KB and
/// up) miss glibc's per-thread cache every time: `perf` put glibc's `malloc`/`free` at ~10% of the
/// dispatcher's CPU. With jemalloc the dispatcher used 12-19% less CPU per delivery and drained
/// 8-18% faster (`streamhooks-bench --only side`), and `serve` under the query attack
/// (`--only attack`) kept its latency with a lower peak. mimalloc did as well for the dispatcher
/// but not for `serve` under that attack: its worst trivial query took 2-3x as long, or its peak
/// went over 300 MB, depending on how soon it returns freed memory. BENCHMARKS.md has the figures.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "streamhooks",
    version,
    about = "Webhook server for a Speckle-style backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, with the dispatcher unless --no-worker (the default command).
    Serve {
        #[command(flatten)]
        config: Box<Config>,
        /// Serve the API only; run dispatchers elsewhere with `streamhooks worker`.
        #[arg(long)]
        no_worker: bool,
    },
    /// Run the dispatcher only.
    Worker {
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// A local receiver that verifies signatures and prints payloads (for testing integrations):
    /// either body format, X-WEBHOOK-SIGNATURE and the Standard Webhooks signature and timestamp.
    Receive {
        /// Port to listen on (0 picks a free one and prints it).
        #[arg(long)]
        port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// The webhook's secret; requests with a wrong or missing signature get 401. Without it,
        /// signatures are not checked.
        #[arg(long, env = "WEBHOOK_SECRET")]
        secret: Option<String>,
        /// Status to answer (e.g. 500 to test retries).
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u16).range(100..=599))]
        status: u16,
        /// Accept only this body format (`speckle-string` or `speckle-object`); by default the
        /// format is detected from the body and printed.
        #[arg(long, value_parser = |s: &str| s.parse::<streamhooks_worker::wire::Format>())]
        format: Option<streamhooks_worker::wire::Format>,
        /// How far `webhook-timestamp` may be from now before the request is refused as a
        /// replay (the Standard Webhooks libraries' 5 minutes by default).
        #[arg(long, default_value = "5m", value_parser = streamhooks_worker::config::parse_duration)]
        tolerance: std::time::Duration,
    },
    /// Queue again every event of a webhook that failed for good (status 3) since a time, as
    /// after an outage: each as itself (the same delivery id), with a fresh retry schedule; at
    /// most 10,000 a run, oldest first (run it again for the rest). Prints {"queued": N,
    /// "moreRemain": true|false}. Dispatchers on PostgreSQL are woken at once; on SQLite they
    /// find the events at their next poll (POLL_INTERVAL).
    Redeliver {
        /// The webhook's id.
        #[arg(long)]
        webhook: String,
        /// The earliest final failure to take: a time (RFC 3339, e.g. 2026-11-24T08:00:00Z) or
        /// how long ago (e.g. 24h, 90m).
        #[arg(long, value_parser = parse_since)]
        since: chrono::DateTime<chrono::Utc>,
        /// Re-enable the webhook if it is disabled (it then sends new events again too); a
        /// disabled webhook is refused without it.
        #[arg(long)]
        enable: bool,
        /// Only count what would be queued; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print the GraphQL schema (SDL); `schema.graphql` in the repository is this output.
    Schema,
    /// Deliver webhooks from a Speckle server's own database in place of Speckle's
    /// webhook-service, reading its environment (PG_CONNECTION_STRING, LOG_LEVEL, …); README:
    /// "Replacing Speckle's webhook-service".
    SpeckleDispatch(Box<streamhooks_api::dropin::SpeckleDispatch>),
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage the key webhook secrets are encrypted with.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Re-encrypt every webhook secret under a new key, in one transaction. Safe to run again:
    /// secrets already under the new key are left as they are. Then give every process the new
    /// key and restart it.
    Rekey {
        /// File holding the new key (32 bytes as base64 or hex, mode 0600); created with a fresh
        /// random key if it does not exist.
        #[arg(long)]
        new_key_file: std::path::PathBuf,
        #[command(flatten)]
        db: DbArgs,
        /// The current key, found as `serve` finds it.
        #[command(flatten)]
        secrets: SecretsConfig,
    },
    /// Only when the key the database's webhook secrets were encrypted with is lost: make the
    /// configured key (SECRETS_KEY, or the key file, created if missing) the database's key, so
    /// that processes with it may start. Nothing is re-encrypted: secrets sealed under the lost
    /// key stay unreadable, and their deliveries fail saying so, until their owners set them again.
    ResetKey {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        secrets: SecretsConfig,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user and print {"id": …, "token": …} (a token with every scope).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// Make the user a server admin (may use the event-ingest endpoint).
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

/// Cancels `token` on Ctrl-C or SIGTERM. The handlers are registered before this returns, so a
/// signal sent as soon as the process says it is listening is handled, not fatal.
fn cancel_on_signals(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::spawn(async move {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                    tracing::info!("shutting down");
                    token.cancel();
                });
                return;
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C still works");
            }
        }
    }
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        token.cancel();
    });
}

#[tokio::main]
async fn main() -> ExitCode {
    // Installed as /nodejs/bin/node, the binary answers the Helm chart's liveness probe.
    if let Some(code) = streamhooks_api::dropin::node::as_node(std::env::args_os()) {
        return code;
    }
    let cli = Cli::parse();
    let logging = match &cli.command {
        Some(Command::SpeckleDispatch(cmd)) => {
            let (level, pretty) = cmd.logging();
            streamhooks_api::dropin::logging::init(level, pretty)
        }
        _ => {
            init_tracing();
            Ok(())
        }
    };
    if let Err(msg) = logging {
        eprintln!("streamhooks: {msg}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        None => {
            // `streamhooks` alone is `streamhooks serve` with defaults from the environment.
            match Cli::try_parse_from(["streamhooks", "serve"]) {
                Ok(Cli {
                    command: Some(Command::Serve { config, no_worker }),
                }) => serve(*config, no_worker).await,
                Ok(_) => Err("internal: default command did not parse".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        }
        Some(Command::Serve { config, no_worker }) => serve(*config, no_worker).await,
        Some(Command::Worker { config }) => worker(*config).await,
        Some(Command::Migrate { db: d }) => db::connect_and_migrate(&d.url())
            .await
            .map(|_| eprintln!("migrations applied to {}", db::redact(&d.url())))
            .map_err(|e| e.to_string()),
        Some(Command::Receive {
            port,
            host,
            secret,
            status,
            format,
            tolerance,
        }) => {
            let opts = streamhooks_api::receive::ReceiveOptions {
                addr: std::net::SocketAddr::new(host, port),
                secret,
                status: axum::http::StatusCode::from_u16(status)
                    .unwrap_or(axum::http::StatusCode::OK),
                format,
                tolerance,
            };
            receive(opts).await
        }
        Some(Command::Redeliver {
            webhook,
            since,
            enable,
            dry_run,
            db: d,
        }) => redeliver(&d, &webhook, since, enable, dry_run).await,
        Some(Command::SpeckleDispatch(cmd)) => {
            let cancel = CancellationToken::new();
            cancel_on_signals(cancel.clone());
            streamhooks_api::dropin::run(*cmd, cancel).await
        }
        Some(Command::Schema) => {
            print!("{}", streamhooks_api::schema::sdl());
            Ok(())
        }
        Some(Command::User {
            command:
                UserCommand::Create {
                    name,
                    email,
                    admin,
                    db: d,
                },
        }) => user_create(&d, &name, &email, admin).await,
        Some(Command::Secrets {
            command:
                SecretsCommand::Rekey {
                    new_key_file,
                    db: d,
                    secrets,
                },
        }) => rekey(&d, &secrets, &new_key_file).await,
        Some(Command::Secrets {
            command: SecretsCommand::ResetKey { db: d, secrets },
        }) => reset_key(&d, &secrets).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("streamhooks: {msg}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config, no_worker: bool) -> Result<(), String> {
    let cancel = CancellationToken::new();
    cancel_on_signals(cancel.clone());
    let running = bind_and_start(config, StartOptions { worker: !no_worker }, cancel)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(url = %running.url(), graphiql = %format!("{}/graphql", running.url()), "listening");
    running.wait().await.map_err(|e| e.to_string())
}

async fn worker(config: Config) -> Result<(), String> {
    let cancel = CancellationToken::new();
    cancel_on_signals(cancel.clone());
    // "dispatcher started" comes from the dispatcher once the configuration is checked and the
    // database reached; saying so here would precede a refusal of either.
    streamhooks_api::run_worker(config, cancel)
        .await
        .map_err(|e| e.to_string())
}

async fn receive(opts: streamhooks_api::receive::ReceiveOptions) -> Result<(), String> {
    let cancel = CancellationToken::new();
    cancel_on_signals(cancel.clone());
    let (addr, status) = (opts.addr, opts.status);
    streamhooks_api::receive::run(opts, cancel, |bound| {
        eprintln!(
            "receiving webhooks on http://{bound}/ (any path); answering {}",
            status.as_u16()
        );
    })
    .await
    .map_err(|e| format!("cannot listen on {addr}: {e}"))
}
