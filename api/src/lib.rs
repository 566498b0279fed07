//! streamhooks: a webhook-management server for a Speckle-style backend.
//!
//! The library does the work and `main.rs` only parses the command line, so tests (ours and an
//! embedding project's) start the real server in-process with [`start`] on `127.0.0.1:0`.
//!
//! Floors, each importing only the ones below it:
//! - the surface: this file ([`start`], [`run_worker`]), [`http`] (the router, `POST /graphql`,
//!   health and metrics), [`admin`] (the admin subcommands) and [`receive`]
//!   (`streamhooks receive`);
//! - [`schema`]: the schema root, which merges the domains' queries and mutations;
//! - the domains, each with its GraphQL, service and HTTP parts: [`speckle`] (Speckle's resources:
//!   users, tokens, streams/projects, branches/models, commits/versions, objects), whose changes
//!   queue webhook events; [`webhooks`] (the webhook API: configuration, history, pings, recovery,
//!   event ingest); [`console`] (the web console at `GET /`, a GraphQL client served from files in
//!   the binary);
//! - [`context`]: what every domain stands on (state, configuration, auth, errors, validation,
//!   limits, the resolver helpers);
//! - the `streamhooks-worker` crate (the webhook core and the dispatcher).
//!
//! `testkit` (the `testkit` feature) starts the whole server for tests, ours and an embedding project's.

#![forbid(unsafe_code)]

pub mod admin;
pub mod console;
pub mod context;
pub mod http;
pub mod receive;
pub mod schema;
pub mod speckle;
pub mod testkit;
pub mod webhooks;

use std::net::SocketAddr;

use context::db;
use std::sync::Arc;

use streamhooks_worker::handoff::{HandOff, Inbox};
use streamhooks_worker::secrets;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use context::config::Config;
pub use context::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("dispatcher failed: {0}")]
    Worker(String),
    #[error(transparent)]
    Secrets(#[from] streamhooks_worker::secrets::store::StoreError),
}

/// What [`start`] runs besides the HTTP API.
#[derive(Clone, Copy, Debug)]
pub struct StartOptions {
    /// Run the dispatcher in this process (`serve` without `--no-worker`).
    pub worker: bool,
}

/// A running server. Dropping it does not stop it; call [`Running::shutdown`].
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    cancel: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    worker: Option<JoinHandle<Result<(), streamhooks_worker::Error>>>,
}

impl Running {
    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A token that, when cancelled, shuts the server down gracefully.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Stops accepting, lets in-flight requests finish, and returns when the server has stopped.
    pub async fn shutdown(self) -> Result<(), StartError> {
        self.cancel.cancel();
        self.wait().await
    }

    /// Waits until the server stops (after its cancel token fires): the HTTP server has finished
    /// its requests and the dispatcher has finished or released what it had claimed.
    pub async fn wait(self) -> Result<(), StartError> {
        let served = self.server.await;
        // The HTTP server can also stop on its own (an accept error); take the dispatcher down too.
        self.cancel.cancel();
        if let Some(worker) = self.worker {
            match worker.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(StartError::Worker(e.to_string())),
                Err(e) => return Err(StartError::Worker(e.to_string())),
            }
        }
        match served {
            Ok(r) => Ok(r?),
            Err(e) => Err(StartError::Io(std::io::Error::other(e))),
        }
    }
}

/// Opens (and migrates) the database, then serves the API on `listener` until `cancel` fires.
pub async fn start(
    config: Config,
    listener: TcpListener,
    opts: StartOptions,
    cancel: CancellationToken,
) -> Result<Running, StartError> {
    config.validate().map_err(StartError::Config)?;
    let addr = listener.local_addr()?;
    // The address actually listened on (`--bind 127.0.0.1:0` picks a port), so that the default
    // canonical URL is one clients can reach.
    let mut config = config;
    config.bind = addr;
    if config.canonical_url.is_none() && addr.ip().is_unspecified() {
        tracing::warn!(
            canonical_url = %config.canonical_url(),
            "CANONICAL_URL is not set and the server listens on every interface: payloads and \
             serverInfo name an address no client can use; set CANONICAL_URL to the URL clients \
             reach this server at"
        );
    }
    let config = Arc::new(config);
    let db = db::connect_and_migrate(&config.db.url()).await?;
    let secrets = secrets::store::prepare(&db, &config.secrets).await?;
    let mut state = AppState::new(db, config, secrets, streamhooks_worker::Notifier::new());
    state.ingest_db = db::ingest_pool(&state.db);
    let inbox = opts.worker.then(|| {
        // Room for as many handed-off events as the dispatcher sends at once, and a round more.
        let w = &state.config.worker;
        let (handoff, inbox) =
            HandOff::new(streamhooks_worker::handoff::MAX_WAITING_BYTES, w.lease);
        state.handoff = Some(handoff);
        inbox
    });
    let worker = inbox.map(|inbox| spawn_worker(&state, Some(inbox), cancel.clone()));
    let schema = schema::build_schema(state.clone());
    let app = http::router(state.clone(), schema);
    let shutdown = cancel.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    });
    Ok(Running {
        addr,
        state,
        cancel,
        server,
        worker,
    })
}

fn spawn_worker(
    state: &AppState,
    inbox: Option<Inbox>,
    cancel: CancellationToken,
) -> JoinHandle<Result<(), streamhooks_worker::Error>> {
    tokio::spawn(streamhooks_worker::run_with(
        state.db.clone(),
        Arc::new(state.config.worker.clone()),
        state.secrets.clone(),
        state.notifier.clone(),
        state.metrics.clone(),
        inbox,
        cancel,
    ))
}

/// `streamhooks worker`: the dispatcher alone, until `cancel` fires; with `metrics_bind`, also the
/// operator endpoints (health, readiness, this dispatcher's metrics).
pub async fn run_worker(config: Config, cancel: CancellationToken) -> Result<(), StartError> {
    config.validate().map_err(StartError::Config)?;
    let db = db::connect_and_migrate(&config.db.url()).await?;
    let secrets = secrets::store::prepare(&db, &config.secrets).await?;
    let metrics_bind = config.metrics_bind;
    let state = AppState::new(
        db,
        Arc::new(config),
        secrets,
        streamhooks_worker::Notifier::new(),
    );
    let ops = match metrics_bind {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            tracing::info!(addr = %listener.local_addr()?, "operator endpoints listening");
            let app = http::operator_router(state.clone());
            let stop = cancel.clone();
            Some(tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await
            }))
        }
        None => None,
    };
    let result = spawn_worker(&state, None, cancel.clone()).await;
    cancel.cancel();
    if let Some(ops) = ops {
        let _ = ops.await;
    }
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(StartError::Worker(e.to_string())),
        Err(e) => Err(StartError::Worker(e.to_string())),
    }
}

/// Binds `config.bind` and starts.
pub async fn bind_and_start(
    config: Config,
    opts: StartOptions,
    cancel: CancellationToken,
) -> Result<Running, StartError> {
    let addr = config.bind;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    start(config, listener, opts, cancel).await
}
