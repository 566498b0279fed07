//! Run the whole server in-process in a test, behind the `testkit` feature: [`TestServer::start`]
//! serves on `127.0.0.1:0` with a fresh [`TestDatabase`] (a temporary SQLite file, or a new
//! PostgreSQL database when `TEST_DATABASE_URL` names a server), its own random secrets key (so no
//! key file lands in the working directory), the dispatcher embedded and local delivery allowed;
//! [`TestReceiver`] is a real HTTP endpoint that records what it is sent. Our own end-to-end tests
//! use exactly this, and so can a project that builds on these webhooks (README, "Running
//! streamhooks inside your own Rust tests").
//!
//! The receiver and the database come from `streamhooks_worker::testkit`, re-exported here: the
//! dispatcher's own tests and the benchmark use the same two and cannot depend on this crate.
//! `TestServer` stays here because it starts this crate's server.

#![cfg(feature = "testkit")]

use std::time::Duration;

use clap::Parser;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{start, Config, Running, StartOptions};

pub mod interop;
pub mod probe;
pub mod process;

pub use streamhooks_worker::testkit::{hmac_hex, Received, Reply, TestDatabase, TestReceiver};

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
        post_graphql(&self.http, &self.url(), token, query, variables).await
    }

    /// `gql`, but panics on GraphQL errors and returns `data`.
    pub async fn gql_ok(&self, token: &str, query: &str, variables: Value) -> Value {
        data_of(self.gql(Some(token), query, variables).await)
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
        let input =
            json!({ "streamId": stream_id, "url": url, "triggers": triggers, "secret": secret });
        self.create_webhook_with(user, input).await
    }

    /// Creates a webhook from a whole `WebhookCreateInput` (e.g. with a `format` or a
    /// `description`); returns its id.
    pub async fn create_webhook_with(&self, user: &TestUser, input: Value) -> String {
        let d = self
            .gql_ok(
                &user.token,
                "mutation($w: WebhookCreateInput!) { webhookCreate(webhook: $w) }",
                json!({ "w": input }),
            )
            .await;
        d["webhookCreate"].as_str().unwrap_or_default().to_owned()
    }

    /// `webhookUpdate` of `webhook_id` on `stream_id` with `changes` (e.g. `{"enabled": false}`).
    pub async fn update_webhook(
        &self,
        user: &TestUser,
        stream_id: &str,
        webhook_id: &str,
        changes: Value,
    ) {
        let input = merged(json!({ "id": webhook_id, "streamId": stream_id }), changes);
        self.gql_ok(
            &user.token,
            "mutation($w: WebhookUpdateInput!) { webhookUpdate(webhook: $w) }",
            json!({ "w": input }),
        )
        .await;
    }

    /// `streamUpdate` of `stream_id` with `changes` (e.g. `{"description": "x"}`): the change
    /// most tests make to fire a `stream_update` event.
    pub async fn update_stream(&self, user: &TestUser, stream_id: &str, changes: Value) {
        let input = merged(json!({ "id": stream_id }), changes);
        self.gql_ok(
            &user.token,
            "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }",
            json!({ "s": input }),
        )
        .await;
    }

    /// `webhookPing` (a sample `trigger` event, `ping` unless given); returns the event's id.
    pub async fn ping(
        &self,
        user: &TestUser,
        stream_id: &str,
        webhook_id: &str,
        trigger: Option<&str>,
    ) -> String {
        let mut input = json!({ "id": webhook_id, "streamId": stream_id });
        if let (Some(i), Some(t)) = (input.as_object_mut(), trigger) {
            i.insert("trigger".into(), json!(t));
        }
        self.gql_ok(
            &user.token,
            "mutation($w: WebhookPingInput!) { webhookPing(webhook: $w) }",
            json!({ "w": input }),
        )
        .await["webhookPing"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A new API token of `user` with only `scopes` (e.g. `["streams:read"]`).
    pub async fn create_token(&self, user: &TestUser, scopes: &[&str]) -> String {
        self.gql_ok(
            &user.token,
            "mutation($t: ApiTokenCreateInput!) { apiTokenCreate(token: $t) }",
            json!({ "t": { "name": "test", "scopes": scopes } }),
        )
        .await["apiTokenCreate"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
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

/// POSTs a GraphQL request to the server at `base_url` (e.g. a `streamhooks serve` process a test
/// started) and returns the whole response (`data` and `errors`).
pub async fn graphql(base_url: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
    post_graphql(&reqwest::Client::new(), base_url, token, query, variables).await
}

/// [`graphql`], but panics on GraphQL errors and returns `data`.
pub async fn graphql_ok(base_url: &str, token: &str, query: &str, variables: Value) -> Value {
    data_of(graphql(base_url, Some(token), query, variables).await)
}

async fn post_graphql(
    http: &reqwest::Client,
    base_url: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let mut req = http
        .post(format!("{base_url}/graphql"))
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

/// `input` with the fields of `changes` added (an input object and what a test changes in it).
fn merged(mut input: Value, changes: Value) -> Value {
    if let (Some(i), Value::Object(c)) = (input.as_object_mut(), changes) {
        i.extend(c);
    }
    input
}

fn data_of(response: Value) -> Value {
    if response.get("errors").is_some_and(|e| !e.is_null()) {
        panic!("GraphQL errors: {response}");
    }
    response["data"].clone()
}
