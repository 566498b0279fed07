//! PostgreSQL restarted in the middle of a drain: a `streamhooks worker` process says in its log
//! that the database went away, backs off, resumes by itself once it is back, and in the end every
//! event is delivered and recorded, with nothing lost and nothing left leased.
//!
//! The server is a private one this test starts (`initdb` into a temporary directory, `pg_ctl` on a
//! free port, as the `postgres` user when run as root, as `.ci/run` does), never the shared
//! `TEST_DATABASE_URL` server, since it is stopped and started under load. Without PostgreSQL's
//! binaries the test says what to install, and fails under `STREAMHOOKS_REQUIRE_INTEROP=1` (CI).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use streamhooks_api::testkit::interop;
use streamhooks_worker::outbox::{emit, Event, ServerInfo};
use tokio::sync::watch;

const BIN: &str = env!("CARGO_BIN_EXE_streamhooks");
const HOOKS: usize = 10;
const CHANGES: usize = 200;
/// Requests let through before the receiver starts holding its answers until the restart is over.
const BEFORE_RESTART: usize = 100;

/// A throw-away PostgreSQL cluster; stopped and removed on drop.
struct PrivatePg {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

fn pg_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("pg_ctl").is_file() && b.join("initdb").is_file())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PrivatePg {
    fn start(bin: PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("free port: {e}"));
        let dir = std::env::temp_dir().join(format!("streamhooks-pg-restart-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let pg = Self { bin, dir, port };
        if is_root() {
            pg.run(
                "chown",
                &["-R", "postgres", &pg.dir.display().to_string()],
                false,
            );
        }
        let data = pg.data();
        pg.pg(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        );
        pg.ctl_start();
        pg
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn ctl_start(&self) {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={}",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").display().to_string();
        self.pg(
            "pg_ctl",
            &["-D", &self.data(), "-l", &log, "-w", "-o", &opts, "start"],
        );
    }

    fn ctl_stop(&self) {
        self.pg("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// Runs one of PostgreSQL's programs, as `postgres` when we are root (initdb refuses root).
    fn pg(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program).display().to_string();
        self.run(&exe, args, is_root());
    }

    fn run(&self, exe: &str, args: &[&str], as_postgres: bool) {
        let out = if as_postgres {
            let quoted: Vec<String> = std::iter::once(exe)
                .chain(args.iter().copied())
                .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
                .collect();
            Command::new("su")
                .args(["postgres", "-s", "/bin/sh", "-c", &quoted.join(" ")])
                .output()
        } else {
            Command::new(exe).args(args).output()
        }
        .unwrap_or_else(|e| panic!("{exe}: {e}"));
        assert!(
            out.status.success(),
            "{exe} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl").display().to_string();
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if is_root() {
            Command::new("su")
                .args([
                    "postgres",
                    "-s",
                    "/bin/sh",
                    "-c",
                    &format!("'{exe}' {}", args.join(" ")),
                ])
                .output()
        } else {
            Command::new(&exe).args(args).output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A receiver that counts deliveries per id and, once `BEFORE_RESTART` have arrived, holds its
/// answers while `hold` is true.
async fn gated_receiver(hold: watch::Receiver<bool>) -> (String, Arc<Mutex<HashMap<String, u32>>>) {
    let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let s = seen.clone();
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let seen = s.clone();
        let mut hold = hold.clone();
        async move {
            let id = headers
                .get("x-webhook-delivery")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let total = {
                let mut m = seen.lock().unwrap_or_else(|e| e.into_inner());
                *m.entry(id).or_default() += 1;
                m.values().sum::<u32>() as usize
            };
            if total > BEFORE_RESTART {
                let _ = hold.wait_for(|h| !*h).await;
            }
            StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let url = format!(
        "http://{}/hook",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

/// Queues `CHANGES` commit events for each of `HOOKS` webhooks; returns the event count.
async fn queue_events(url: &str, receiver: &str) -> u64 {
    let db = streamhooks_api::context::db::connect_and_migrate(url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let b = db.get_database_backend();
    let now = chrono::Utc::now();
    db.execute(Statement::from_sql_and_values(
        b,
        "INSERT INTO streams (id, name, description, is_public, created_at, updated_at) \
         VALUES ('restart', 'Restart', NULL, $1, $2, $2)",
        [false.into(), now.into()],
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    for i in 0..HOOKS {
        db.execute(Statement::from_sql_and_values(
            b,
            "INSERT INTO webhooks_config (id, stream_id, url, description, secret, triggers, \
             enabled, disabled_reason, consecutive_failures, created_at, updated_at) \
             VALUES ($1, 'restart', $2, NULL, NULL, '[\"commit_create\"]', $3, NULL, 0, $4, $4)",
            [
                format!("hook{i}").into(),
                receiver.into(),
                true.into(),
                now.into(),
            ],
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let server = ServerInfo {
        name: "restart".into(),
        description: String::new(),
        canonical_url: "http://127.0.0.1".into(),
        version: "0".into(),
    };
    let txn = streamhooks_api::context::db::begin_write(&db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut n = 0;
    for c in 0..CHANGES {
        let ev = Event {
            stream: Some(json!({ "id": "restart" })),
            user: Some(json!({ "id": "u" })),
            ..Event::new(
                "restart",
                "u",
                "commit_create",
                format!("c{c}"),
                json!({ "id": c }),
            )
        };
        n += emit(&txn, &server, &ev)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
    db.close().await.ok();
    n
}

/// Reads one number with a fresh connection (the server may just have restarted).
async fn number(url: &str, sql: &str) -> Option<i64> {
    let db = sea_orm::Database::connect(url).await.ok()?;
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .ok()??;
    let n = row.try_get::<i64>("", "n").ok();
    db.close().await.ok();
    n
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn_worker(url: &str, log: Arc<Mutex<Vec<String>>>) -> Child {
    let mut child = Command::new(BIN)
        .arg("worker")
        .args(["--database-url", url, "--allow-local-network", "true"])
        .args(["--per-webhook-concurrency", "2", "--poll-interval", "200ms"])
        .args(["--request-timeout", "5s", "--lease", "8s"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn worker: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            log.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    });
    child
}

fn logged(log: &Mutex<Vec<String>>, needle: &str) -> bool {
    log.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|l| l.contains(needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_drain_is_waited_out_and_nothing_is_lost() {
    let Some(bin) = pg_bin() else {
        interop::missing(
            "PostgreSQL's initdb and pg_ctl (/usr/lib/postgresql/*/bin)",
            "apt-get install postgresql",
        );
        return;
    };
    let pg = PrivatePg::start(bin);
    let url = pg.url();
    let (hold_tx, hold_rx) = watch::channel(true);
    let (receiver, seen) = gated_receiver(hold_rx).await;
    let total = queue_events(&url, &receiver).await;
    let count = |seen: &Mutex<HashMap<String, u32>>| {
        seen.lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum::<u32>() as usize
    };

    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut worker = spawn_worker(&url, log.clone());
    wait_until(
        "deliveries before the restart",
        Duration::from_secs(30),
        || count(&seen) > BEFORE_RESTART,
    );

    // Requests are now in flight (held by the receiver) and most events are still queued.
    pg.ctl_stop();
    wait_until("the worker to notice", Duration::from_secs(15), || {
        logged(&log, "database unavailable; backing off")
    });
    pg.ctl_start();
    let _ = hold_tx.send(false);

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let pending = number(&url, "SELECT COUNT(*) AS n FROM webhooks_queue").await;
        let succeeded = number(
            &url,
            "SELECT COUNT(*) AS n FROM webhooks_events WHERE status = 2",
        )
        .await;
        if pending == Some(0) && succeeded == Some(total as i64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not drained: {pending:?} in the queue, {succeeded:?} of {total} succeeded; log: {:?}",
            log.lock().unwrap_or_else(|e| e.into_inner())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status();
    let _ = worker.wait();

    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(seen.len() as u64, total, "every event reached the receiver");
    assert!(
        logged(&log, "database reachable again; resuming deliveries"),
        "{:?}",
        log.lock().unwrap_or_else(|e| e.into_inner())
    );
    // Each event has exactly one successful attempt on record, whatever was retried.
    for sql in [
        "SELECT COUNT(*) AS n FROM webhooks_event_attempts WHERE outcome = 'success'",
        "SELECT COUNT(DISTINCT event_id) AS n FROM webhooks_event_attempts WHERE outcome = 'success'",
    ] {
        assert_eq!(number(&url, sql).await, Some(total as i64), "{sql}");
    }
    drop(pg);
}
