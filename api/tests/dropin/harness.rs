//! What every test of `speckle-dispatch` stands on: a PostgreSQL database per test whose webhook
//! tables Speckle's own migrations made (`tests/interop/speckle/migrate.mjs`, knex from npm under
//! Node), events queued by `dispatch.mjs` as Speckle's server queues them, and the real
//! `streamhooks` binary started on it.
//!
//! Webhook rows are written with the SQL of Speckle's `createWebhookConfigFactory` (an insert of
//! `id`, `streamId`, `url`, `description`, `secret`, `enabled` and the triggers as an object map):
//! equivalent, and one process fewer per test. Events always go through Speckle's code.
//!
//! Without `TEST_DATABASE_URL` a test says it is skipped (these tests need PostgreSQL, as `.ci/run`
//! provides); without Node and the installed `node_modules` it says what to install, and fails
//! under `STREAMHOOKS_REQUIRE_INTEROP=1`.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use sea_orm::sqlx::postgres::PgPoolOptions;
use sea_orm::sqlx::{self, PgPool};
use serde_json::{json, Value};
use streamhooks_api::testkit::{interop, TestDatabase};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_streamhooks");

/// `tests/interop/speckle`.
pub fn speckle_dir() -> PathBuf {
    interop::workspace_root().join("tests/interop/speckle")
}

/// Node with the installed `node_modules`, or `false` after saying what to install.
fn node_ready() -> bool {
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let modules = ["knex", "tsx", "pg", "crypto-random-string"]
        .iter()
        .all(|m| speckle_dir().join("node_modules").join(m).is_dir());
    if !(node && modules) {
        interop::missing(
            "Node.js with Speckle's migration tooling (tests/interop/speckle/node_modules)",
            "apt-get install nodejs npm && (cd tests/interop/speckle && npm ci)",
        );
        return false;
    }
    true
}

/// `TEST_DATABASE_URL`, or `None` after saying the test is skipped.
pub fn admin_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().to_owned()),
        _ => {
            eprintln!(
                "SKIPPED: speckle-dispatch delivers from PostgreSQL only; set TEST_DATABASE_URL \
                 (as .ci/run does) to run this test"
            );
            None
        }
    }
}

pub fn random_id(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
        .collect()
}

/// A webhook row of Speckle's, on a stream of its own.
#[derive(Debug, Clone)]
pub struct Hook {
    pub id: String,
    pub stream: String,
}

/// One `webhooks_events` row as Speckle's web app reads it.
#[derive(Debug, Clone)]
pub struct Event {
    pub status: i32,
    pub status_info: String,
    pub last_update: chrono::DateTime<chrono::Utc>,
}

/// A database made for one test with Speckle's webhook tables; dropped with it.
pub struct Speckle {
    pub db: TestDatabase,
    pub pool: PgPool,
}

impl Speckle {
    /// `None` (after saying why) without PostgreSQL or Node.
    pub async fn create() -> Option<Self> {
        let admin = admin_url()?;
        if !node_ready() {
            return None;
        }
        let db = TestDatabase::postgres(&admin)
            .await
            .unwrap_or_else(|e| panic!("test database: {e}"));
        let out = Command::new("node")
            .args(["--import", "tsx", "migrate.mjs", &db.url])
            .current_dir(speckle_dir())
            .output()
            .await
            .unwrap_or_else(|e| panic!("node migrate.mjs: {e}"));
        assert!(
            out.status.success(),
            "Speckle's migrations failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert_eq!(log["log"].as_array().map(Vec::len), Some(3), "{log}");
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect(&db.url)
            .await
            .unwrap_or_else(|e| panic!("connect {}: {e}", db.url));
        Some(Speckle { db, pool })
    }

    /// A webhook to `url` for `triggers` (as Speckle's `webhookCreate` stores it).
    pub async fn webhook(&self, url: &str, secret: Option<&str>, triggers: &[&str]) -> Hook {
        let hook = Hook {
            id: random_id(10),
            stream: random_id(10),
        };
        let map: serde_json::Map<String, Value> = triggers
            .iter()
            .map(|t| ((*t).to_owned(), json!(true)))
            .collect();
        sqlx::query(
            "INSERT INTO webhooks_config (id, \"streamId\", url, description, secret, enabled, \
             triggers) VALUES ($1, $2, $3, $4, $5, true, $6::jsonb)",
        )
        .bind(&hook.id)
        .bind(&hook.stream)
        .bind(url)
        .bind("a test webhook 🌻")
        .bind(secret)
        .bind(Value::Object(map).to_string())
        .execute(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("insert webhook: {e}"));
        hook
    }

    /// Queues `count` `event`s on `hook`'s stream through Speckle's `dispatchStreamEventFactory`
    /// (`dispatch.mjs`); returns the new event ids.
    pub async fn queue(&self, hook: &Hook, event: &str, data: Value, count: usize) -> Vec<String> {
        queue_on(&self.db.url, hook, event, data, count).await
    }

    pub async fn event(&self, id: &str) -> Event {
        let (status, status_info, last_update): (i32, String, chrono::DateTime<chrono::Utc>) =
            sqlx::query_as(
                "SELECT status, \"statusInfo\", \"lastUpdate\" FROM webhooks_events WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("event {id}: {e}"));
        Event {
            status,
            status_info,
            last_update,
        }
    }

    /// Waits until event `id` satisfies `done`, or panics after `within` with what it was.
    pub async fn wait_event(
        &self,
        id: &str,
        within: Duration,
        done: impl Fn(&Event) -> bool,
    ) -> Event {
        let start = Instant::now();
        loop {
            let e = self.event(id).await;
            if done(&e) {
                return e;
            }
            assert!(
                start.elapsed() < within,
                "event {id} did not get there within {within:?}: {e:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Events of the database by status.
    pub async fn statuses(&self) -> Vec<(i32, i64)> {
        sqlx::query_as(
            "SELECT status, count(*) FROM webhooks_events GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    }
}

/// [`Speckle::queue`] on any database.
pub async fn queue_on(
    url: &str,
    hook: &Hook,
    event: &str,
    data: Value,
    count: usize,
) -> Vec<String> {
    let job = json!({
        "streamId": hook.stream,
        "event": event,
        "eventPayload": {
            "streamId": hook.stream,
            "userId": "u0000000001",
            "activityMessage": "A test event",
            "event": { "event_name": event, "data": data },
            "stream": { "id": hook.stream, "name": "Golden Nugget 🌻", "isPublic": false },
            "user": { "id": "u0000000001", "name": "Ünïcødé Üser", "avatar": null },
        },
        "server": { "id": "server-id", "name": "Test Speckle", "canonicalUrl": "http://127.0.0.1",
                    "version": "2.99.0" },
        "count": count,
    });
    let out = Command::new("node")
        .args(["dispatch.mjs", url, &job.to_string()])
        .current_dir(speckle_dir())
        .output()
        .await
        .unwrap_or_else(|e| panic!("node dispatch.mjs: {e}"));
    assert!(
        out.status.success(),
        "dispatch.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Settings every test starts with: local delivery allowed, quiet logs, short durations.
pub fn base_env(url: &str, probe: &std::path::Path) -> Vec<(String, String)> {
    [
        ("PG_CONNECTION_STRING", url),
        ("ALLOW_LOCAL_NETWORK", "true"),
        ("LOG_LEVEL", "warn"),
        ("LOG_PRETTY", "false"),
        ("PROMETHEUS_METRICS_PORT", "0"),
        ("METRICS_HOST", "127.0.0.1"),
        ("REQUEST_TIMEOUT", "2s"),
        ("LEASE_DURATION", "5s"),
        ("RETRY_SCHEDULE", "100ms,200ms"),
        ("SWEEP_INTERVAL", "200ms"),
        ("FF_WORKSPACES_MULTI_REGION_ENABLED", "false"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .chain([(
        "STREAMHOOKS_PROBE_FILE".to_owned(),
        probe.display().to_string(),
    )])
    .collect()
}

/// A per-test probe file path.
pub fn probe_path() -> PathBuf {
    std::env::temp_dir().join(format!("streamhooks-probe-{}", random_id(12)))
}

/// A running `streamhooks speckle-dispatch`; killed when dropped (a test that needs a clean
/// stop calls [`Dispatcher::stop`]).
pub struct Dispatcher {
    child: Child,
    /// `host:port` of `/metrics`, from the ready line.
    pub metrics: String,
    /// Everything it wrote to stderr so far.
    pub stderr: Arc<Mutex<String>>,
}

/// The command with `env` (and nothing inherited that would change its behaviour).
fn command(env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("speckle-dispatch")
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

impl Dispatcher {
    /// Starts it and waits for its ready line.
    pub async fn start(env: &[(String, String)], args: &[&str]) -> Self {
        let mut child = command(env, args)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {BIN}: {e}"));
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let sink = stderr.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        let line = match ready {
            Ok(Ok(Some(line))) => line,
            other => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!(
                    "speckle-dispatch did not get ready ({other:?}): {}",
                    stderr.lock().map(|s| s.clone()).unwrap_or_default()
                )
            }
        };
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(ready["ready"], json!(true), "{line}");
        let metrics = ready["metrics"].as_str().unwrap_or_default().to_owned();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Dispatcher {
            child,
            metrics,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// SIGKILL: no chance to give anything back or record anything.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("speckle-dispatch did not stop after SIGTERM"))
            .unwrap_or_else(|e| panic!("{e}"));
        let log = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        assert!(status.success(), "exit {status:?} after SIGTERM: {log}");
    }
}

/// Runs the command to its end (it is expected to refuse to start): exit code and stderr.
pub async fn run_to_end(env: &[(String, String)], args: &[&str]) -> (Option<i32>, String, String) {
    let out = tokio::time::timeout(Duration::from_secs(30), command(env, args).output())
        .await
        .unwrap_or_else(|_| panic!("speckle-dispatch {args:?} did not end"))
        .unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The lines `speckle-dispatch attempts …` prints, parsed.
pub async fn attempts(env: &[(String, String)], which: &[&str]) -> Vec<Value> {
    let mut args = vec!["attempts"];
    args.extend_from_slice(which);
    let (code, out, err) = run_to_end(env, &args).await;
    assert_eq!(code, Some(0), "attempts {which:?}: {err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}
