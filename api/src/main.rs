//! The `streamhooks` binary: parses the command line and calls the library. Subcommand names are
//! fixed by DESIGN.md (scripts and docs rely on them).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use streamhooks_api::backend::service;
use streamhooks_api::config::{Config, DbArgs};
use streamhooks_api::{bind_and_start, db, StartOptions};
use tokio_util::sync::CancellationToken;

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
    /// A local receiver that verifies signatures and prints payloads (for testing integrations).
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
    },
    /// Print the GraphQL schema (SDL); `schema.graphql` in the repository is this output.
    Schema,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
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

/// Cancels `token` on Ctrl-C or SIGTERM. The SIGTERM listener is registered before this returns
/// (not inside the spawned task), so a SIGTERM that arrives right after the caller announces it
/// is listening shuts down gracefully instead of killing the process.
fn cancel_on_signals(token: CancellationToken) {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match term {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C still works");
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        token.cancel();
    });
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
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
        }) => receive(port, host, secret, status).await,
        Some(Command::Schema) => {
            print!("{}", streamhooks_api::graphql::sdl());
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
    let running = bind_and_start(config, StartOptions { worker: !no_worker }, cancel.clone())
        .await
        .map_err(|e| e.to_string())?;
    cancel_on_signals(cancel);
    tracing::info!(url = %running.url(), graphiql = %format!("{}/graphql", running.url()), "listening");
    running.wait().await.map_err(|e| e.to_string())
}

async fn worker(config: Config) -> Result<(), String> {
    let cancel = CancellationToken::new();
    cancel_on_signals(cancel.clone());
    tracing::info!("dispatcher running");
    streamhooks_api::run_worker(config, cancel)
        .await
        .map_err(|e| e.to_string())
}

async fn user_create(d: &DbArgs, name: &str, email: &str, admin: bool) -> Result<(), String> {
    let db = db::connect_and_migrate(&d.url())
        .await
        .map_err(|e| e.to_string())?;
    let created = service::user::create_with_token(&db, name, email, admin)
        .await
        .map_err(|e| e.public_message())?;
    println!(
        "{}",
        serde_json::json!({ "id": created.id, "token": created.token })
    );
    Ok(())
}

async fn receive(
    port: u16,
    host: std::net::IpAddr,
    secret: Option<String>,
    status: u16,
) -> Result<(), String> {
    let status =
        axum::http::StatusCode::from_u16(status).map_err(|e| format!("--status {status}: {e}"))?;
    let opts = streamhooks_api::receive::ReceiveOptions {
        addr: std::net::SocketAddr::new(host, port),
        secret,
        status,
    };
    let cancel = CancellationToken::new();
    cancel_on_signals(cancel.clone());
    streamhooks_api::receive::run(opts, cancel, |addr| {
        eprintln!(
            "receiving webhooks on http://{addr}/ (any path); answering {}",
            status.as_u16()
        );
    })
    .await
    .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))
}
