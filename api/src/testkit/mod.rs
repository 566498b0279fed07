//! Run the whole server in-process in a test: [`TestServer::start`] serves on `127.0.0.1:0` with
//! a fresh database (a temporary SQLite file, or a new PostgreSQL database when
//! `TEST_DATABASE_URL` names a server), its own random secrets key (so no key file lands in the
//! working directory), the dispatcher embedded and local delivery allowed;
//! [`TestReceiver`] is a real HTTP endpoint that records what it is sent. Our own end-to-end tests
//! use exactly this, and so can a project that builds on these webhooks.
//!
//! A [`TestDatabase`] removes what it made when it is dropped, also when its test panics: the
//! SQLite directory, or the PostgreSQL database (`DROP DATABASE … WITH (FORCE)`, which ends the
//! connections a failed test's server still holds). Only a process killed outright leaves one
//! behind; the README says how to clear those.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{start, Config, Running, StartOptions};

pub mod interop;
pub mod process;
mod receiver;

pub use receiver::{Received, TestReceiver};

/// Parses a [`Config`] from command-line style arguments, e.g. `["--retry-schedule", "50ms"]`.
pub fn config_from_args<I, S>(args: I) -> Result<Config, clap::Error>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    #[derive(Parser)]
    struct P {
        #[command(flatten)]
        config: Config,
    }
    let argv = std::iter::once(std::ffi::OsString::from("streamhooks"))
        .chain(args.into_iter().map(Into::into));
    P::try_parse_from(argv).map(|p| p.config)
}

fn random_suffix() -> String {
    crate::context::ids::new_secret()[..16].to_owned()
}

/// A database made for one test, removed again when dropped.
pub struct TestDatabase {
    pub url: String,
    dir: Option<PathBuf>,
    /// On PostgreSQL: the server's admin URL and the database's name, to drop it with.
    made_on: Option<(String, String)>,
}

impl TestDatabase {
    /// A new PostgreSQL database if `TEST_DATABASE_URL` is set, else a SQLite file in a temp dir.
    pub async fn create() -> Result<Self, String> {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin) if !admin.trim().is_empty() => Self::postgres(admin.trim()).await,
            _ => Ok(Self::sqlite()),
        }
    }

    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("streamhooks-test-{}", random_suffix()));
        let url = format!("sqlite://{}?mode=rwc", dir.join("test.sqlite").display());
        let _ = std::fs::create_dir_all(&dir);
        Self {
            url,
            dir: Some(dir),
            made_on: None,
        }
    }

    /// Creates `sh_<random>` on the server `admin_url` points at.
    pub async fn postgres(admin_url: &str) -> Result<Self, String> {
        let name = format!("sh_{}", random_suffix());
        let admin = Database::connect(admin_url)
            .await
            .map_err(|e| format!("TEST_DATABASE_URL {admin_url}: {e}"))?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
        let _ = admin.close().await;
        let mut url = url::Url::parse(admin_url).map_err(|e| e.to_string())?;
        url.set_path(&name);
        Ok(Self {
            url: url.to_string(),
            dir: None,
            made_on: Some((admin_url.to_owned(), name)),
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((admin, name)) = self.made_on.take() {
            drop_postgres(admin, name);
        }
    }
}

/// Drops database `name` on the server `admin` points at, ending its connections first (`WITH
/// (FORCE)`, PostgreSQL 13 and later). `Drop` cannot await, and it usually runs on a runtime's
/// thread, where blocking on that runtime would panic; so a thread of its own with a runtime of
/// its own does it, and this waits for it. A failure is printed, not raised: a second panic
/// while a failed test unwinds would abort the whole test binary.
fn drop_postgres(admin: String, name: String) {
    let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let work = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            use sea_orm::sqlx::{Connection, Executor, PgConnection};
            let mut conn = PgConnection::connect(&admin)
                .await
                .map_err(|e| e.to_string())?;
            conn.execute(statement.as_str())
                .await
                .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            Ok::<(), String>(())
        })
    });
    let outcome = work
        .join()
        .unwrap_or_else(|_| Err("the dropping thread panicked".into()));
    if let Err(e) = outcome {
        eprintln!("could not drop the test database {name}: {e} (see the README on cleaning up)");
    }
}

/// A user made through the real CLI path, with a token that has every scope.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: String,
    pub token: String,
}

pub struct TestServer {
    pub running: Running,
    pub db: TestDatabase,
    http: reqwest::Client,
}

/// Settings for tests: local delivery allowed, fast retries and leases.
pub const TEST_ARGS: [&str; 8] = [
    "--allow-local-network",
    "true",
    "--retry-schedule",
    "100ms,200ms",
    "--request-timeout",
    "2s",
    "--lease",
    "5s",
];

impl TestServer {
    /// Starts with [`TEST_ARGS`] and the dispatcher embedded.
    pub async fn start() -> Self {
        Self::start_with(&TEST_ARGS, true).await
    }

    /// Starts with the given arguments (plus `--database-url`, `--bind`). Panics with the reason
    /// if it cannot start: this is test set-up.
    pub async fn start_with(args: &[&str], worker: bool) -> Self {
        let db = TestDatabase::create()
            .await
            .unwrap_or_else(|e| panic!("test database: {e}"));
        Self::start_on(db, args, worker).await
    }

    pub async fn start_on(db: TestDatabase, args: &[&str], worker: bool) -> Self {
        Self::start_keyed(db, args, worker, None).await
    }

    /// [`TestServer::start_on`] with the secrets key given (base64 or hex), e.g. to restart on
    /// the same database with the same key, or with another. Without one, and unless `args` name
    /// a `--secrets-key-file`, the server gets a random key of its own.
    pub async fn start_keyed(
        db: TestDatabase,
        args: &[&str],
        worker: bool,
        key: Option<&str>,
    ) -> Self {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        all.extend(["--database-url".to_owned(), db.url.clone()]);
        let mut config = config_from_args(all).unwrap_or_else(|e| panic!("test config: {e}"));
        let key_file_given = args.iter().any(|a| a.starts_with("--secrets-key-file"));
        config.secrets.key = match key {
            Some(k) => Some(k.to_owned()),
            None if key_file_given => None,
            None => Some(
                streamhooks_worker::secrets::generate_key()
                    .unwrap_or_else(|e| panic!("test secrets key: {e}")),
            ),
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind 127.0.0.1:0: {e}"));
        let running = start(
            config,
            listener,
            StartOptions { worker },
            CancellationToken::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("start: {e}"));
        Self {
            running,
            db,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self) -> String {
        self.running.url()
    }

    /// The key this server seals webhook secrets with, as base64 (for `SECRETS_KEY` of worker
    /// processes sharing its database); `None` if it read a key file.
    pub fn secrets_key(&self) -> Option<String> {
        self.running.state.config.secrets.key.clone()
    }

    /// Shuts down and hands back the database, to start another server on it.
    pub async fn stop(self) -> TestDatabase {
        let _ = self.running.shutdown().await;
        self.db
    }

    pub async fn create_user(&self, name: &str, email: &str) -> TestUser {
        let c = crate::speckle::service::user::create_with_token(
            &self.running.state.db,
            name,
            email,
            false,
        )
        .await
        .unwrap_or_else(|e| panic!("create user: {}", e.public_message()));
        TestUser {
            id: c.id,
            token: c.token,
        }
    }

    pub async fn create_admin(&self, name: &str, email: &str) -> TestUser {
        let c = crate::speckle::service::user::create_with_token(
            &self.running.state.db,
            name,
            email,
            true,
        )
        .await
        .unwrap_or_else(|e| panic!("create admin: {}", e.public_message()));
        TestUser {
            id: c.id,
            token: c.token,
        }
    }

    /// POSTs a GraphQL request and returns the whole response (`data` and `errors`).
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.url()))
            .header("content-type", "application/json")
            .body(json!({ "query": query, "variables": variables }).to_string());
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /graphql: {e}"));
        let text = resp.text().await.unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    }

    /// `gql`, but panics on GraphQL errors and returns `data`.
    pub async fn gql_ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let r = self.gql(Some(token), query, variables).await;
        if r.get("errors").is_some_and(|e| !e.is_null()) {
            panic!("GraphQL errors: {r}");
        }
        r["data"].clone()
    }

    pub async fn create_stream(&self, user: &TestUser, name: &str) -> String {
        let d = self
            .gql_ok(
                &user.token,
                "mutation($s: StreamCreateInput!) { streamCreate(stream: $s) }",
                json!({ "s": { "name": name } }),
            )
            .await;
        d["streamCreate"].as_str().unwrap_or_default().to_owned()
    }

    /// Creates a webhook for `triggers` pointing at `url`; returns its id.
    pub async fn create_webhook(
        &self,
        user: &TestUser,
        stream_id: &str,
        url: &str,
        triggers: &[&str],
        secret: Option<&str>,
    ) -> String {
        let d = self
            .gql_ok(
                &user.token,
                "mutation($w: WebhookCreateInput!) { webhookCreate(webhook: $w) }",
                json!({ "w": { "streamId": stream_id, "url": url, "triggers": triggers, "secret": secret } }),
            )
            .await;
        d["webhookCreate"].as_str().unwrap_or_default().to_owned()
    }

    /// The webhook's history, newest first: `[{id, status, statusInfo, retryCount, payload}]`.
    pub async fn history(
        &self,
        user: &TestUser,
        stream_id: &str,
        webhook_id: &str,
        limit: i32,
    ) -> Vec<Value> {
        let d = self
            .gql_ok(
                &user.token,
                "query($s: String!, $w: String!, $l: Int!) { stream(id: $s) { webhooks(id: $w) { items { history(limit: $l) { totalCount items { id status statusInfo retryCount lastUpdate payload } } } } } }",
                json!({ "s": stream_id, "w": webhook_id, "l": limit }),
            )
            .await;
        d["stream"]["webhooks"]["items"][0]["history"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Polls the history until `done` holds for it or `timeout` passes; returns the last read.
    pub async fn wait_for_history(
        &self,
        user: &TestUser,
        stream_id: &str,
        webhook_id: &str,
        timeout: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let h = self.history(user, stream_id, webhook_id, 100).await;
            if done(&h) || tokio::time::Instant::now() >= deadline {
                return h;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn shutdown(self) {
        let _ = self.running.shutdown().await;
    }
}
