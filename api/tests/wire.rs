//! `streamhooks receive` (the real executable) verifying what the real server sends, in both
//! formats and through a secret rotation; refusing a replay of a request signed by the official
//! `standardwebhooks` package (`tests/interop/wire/sign.py`); and the wire settings refused at
//! start-up when they are wrong.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use streamhooks_api::testkit::{hmac_hex, interop, TestDatabase, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_streamhooks");

/// A running `streamhooks receive`: its URL and everything it prints, line by line.
struct Receive {
    child: Child,
    url: String,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Receive {
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["receive", "--port", "0"])
            .args(args)
            .env_remove("WEBHOOK_SECRET")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        let lines = |r: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for l in BufReader::new(r).lines().map_while(Result::ok) {
                    let _ = tx.send(l);
                }
            });
            rx
        };
        let stdout = lines(Box::new(
            child.stdout.take().unwrap_or_else(|| panic!("stdout")),
        ));
        let stderr = lines(Box::new(
            child.stderr.take().unwrap_or_else(|| panic!("stderr")),
        ));
        let first = stderr
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("receive did not start: {e}"));
        let url = first[first.find("http://").unwrap_or_else(|| panic!("{first}"))..]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        Self {
            child,
            url,
            stdout,
            stderr,
        }
    }

    /// Lines printed on `out`, waiting up to 20 s for the first, until 300 ms pass quietly.
    fn printed(out: &mpsc::Receiver<String>) -> String {
        Self::lines(out, Duration::from_secs(20))
    }

    /// Lines already printed on `out` (the request was answered, so its lines are in the pipe).
    fn nothing_more(out: &mpsc::Receiver<String>) -> String {
        Self::lines(out, Duration::from_millis(300))
    }

    fn lines(out: &mpsc::Receiver<String>, first: Duration) -> String {
        let mut text = String::new();
        let mut wait = first;
        while let Ok(l) = out.recv_timeout(wait) {
            text.push_str(&l);
            text.push('\n');
            wait = Duration::from_millis(300);
        }
        text
    }
}

impl Drop for Receive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const UPDATE: &str = "mutation($w: WebhookUpdateInput!) { webhookUpdate(webhook: $w) }";
const PING: &str = "mutation($w: WebhookPingInput!) { webhookPing(webhook: $w) }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_verifies_both_formats_and_a_rotation_from_the_real_server() {
    let receive = Receive::spawn(&["--secret", "first 🔑"]);
    let server = TestServer::start().await;
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "Golden Nugget 🌻").await;
    let input = json!({ "streamId": stream, "url": format!("{}hook", receive.url),
                        "triggers": ["stream_update"], "secret": "first 🔑",
                        "format": "speckle-object" });
    let hook = server.create_webhook_with(&owner, input).await;
    let t = owner.token.as_str();
    let ping = || async {
        server
            .gql_ok(t, PING, json!({ "w": { "id": hook, "streamId": stream } }))
            .await["webhookPing"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let status_of = |id: String| {
        let (server, owner, stream, hook) = (&server, &owner, &stream, &hook);
        async move {
            let h = server
                .wait_for_history(owner, stream, hook, Duration::from_secs(20), |h| {
                    h.iter().any(|e| {
                        e["id"] == json!(id) && e["status"] != json!(0) && e["status"] != json!(1)
                    })
                })
                .await;
            h.into_iter()
                .find(|e| e["id"] == json!(id))
                .map(|e| e["statusInfo"].as_str().unwrap_or_default().to_owned())
                .unwrap_or_default()
        }
    };

    let id = ping().await;
    let out = Receive::printed(&receive.stdout);
    assert!(
        out.contains(&format!(
            "--- stream_update (delivery {id}, speckle-object, signature ok) -> 200"
        )),
        "{out}"
    );
    for line in [
        "format               speckle-object (detected)",
        "X-WEBHOOK-SIGNATURE  ok: hex HMAC-SHA256 of the raw body",
        "webhook-signature    ok: entry 1 of 1 matches",
        "webhook-timestamp    ok: ",
        "\"event_name\": \"stream_update\"",
    ] {
        assert!(out.contains(line), "{line:?} in {out}");
    }
    assert!(status_of(id).await.starts_with("HTTP 200"));

    // The secret changes; the receiver still holds the first one and keeps verifying through the
    // previous secret's `webhook-signature` entry.
    server
        .gql_ok(
            t,
            UPDATE,
            json!({ "w": { "id": hook, "streamId": stream, "secret": "second" } }),
        )
        .await;
    let id = ping().await;
    let out = Receive::printed(&receive.stdout);
    assert!(
        out.contains("webhook-signature    ok: entry 2 of 2 matches"),
        "{out}"
    );
    assert!(
        out.contains("X-WEBHOOK-SIGNATURE  does not match with --secret (it is always the current secret's; webhook-signature matched)"),
        "{out}"
    );
    assert!(status_of(id).await.starts_with("HTTP 200"));

    // A second change keeps only "second" as the previous secret: the first no longer verifies.
    server
        .gql_ok(
            t,
            UPDATE,
            json!({ "w": { "id": hook, "streamId": stream, "secret": "third", "format": "speckle-string" } }),
        )
        .await;
    let id = ping().await;
    let err = Receive::printed(&receive.stderr);
    assert!(
        err.contains(&format!(
            "refused delivery {id}: webhook-signature: none of its 2 v1 entries"
        )),
        "{err}"
    );
    assert!(status_of(id).await.starts_with("HTTP 401"));
    assert!(Receive::nothing_more(&receive.stdout).is_empty());
    server.shutdown().await;
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Headers for `body` signed by the official library at `ts`.
fn library_signed(python: &std::path::Path, secret: &str, id: &str, ts: u64, body: &str) -> Value {
    let file = std::env::temp_dir().join(format!("streamhooks-sign-{id}-{ts}.json"));
    std::fs::write(&file, body).unwrap_or_else(|e| panic!("{e}"));
    let script = interop::workspace_root().join("tests/interop/wire/sign.py");
    let out = Command::new(python)
        .arg(&script)
        .args([secret, id, &ts.to_string()])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("sign.py: {e}"));
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn receive_accepts_the_official_library_and_refuses_its_replay() {
    let Some(python) = interop::python_with(&["standardwebhooks"]) else {
        return;
    };
    let receive = Receive::spawn(&["--secret", "s3cr3t", "--format", "speckle-object"]);
    let body = r#"{"payload":{"event":{"event_name":"commit_create"},"streamId":"s1"}}"#;
    let speckle = hmac_hex("s3cr3t", body);
    let http = reqwest::Client::new();
    let send = |headers: Value| {
        let mut req = http
            .post(format!("{}x", receive.url))
            .header("content-type", "application/json")
            .header("x-webhook-signature", &speckle)
            .body(body);
        for (k, v) in headers.as_object().into_iter().flatten() {
            req = req.header(k.as_str(), v.as_str().unwrap_or_default());
        }
        async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };

    let now = unix_now();
    assert_eq!(
        send(library_signed(&python, "s3cr3t", "msg_1", now, body)).await,
        200
    );
    let out = Receive::printed(&receive.stdout);
    assert!(
        out.contains("format               ok: speckle-object"),
        "{out}"
    );
    assert!(
        out.contains("webhook-signature    ok: entry 1 of 1 matches (webhook-id msg_1)"),
        "{out}"
    );

    // The same request, signed ten minutes ago: a replay.
    let old = now - 600;
    assert_eq!(
        send(library_signed(&python, "s3cr3t", "msg_1", old, body)).await,
        401
    );
    let err = Receive::printed(&receive.stderr);
    // "10m old", or "10m 1s old" when a second ticked over in between.
    let refused = format!("refused delivery msg_1: webhook-timestamp {old} is 10m");
    assert!(
        err.contains(&refused) && err.contains("beyond the 5m tolerance: a replay"),
        "{err}"
    );
    // Signed with another secret.
    assert_eq!(
        send(library_signed(&python, "other", "msg_2", now, body)).await,
        401
    );
    assert!(Receive::nothing_more(&receive.stdout).is_empty());
}

#[test]
fn unknown_format_or_grace_stops_the_server_at_start_up() {
    let db = TestDatabase::sqlite();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(BIN)
            .arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .env("DATABASE_URL", &db.url)
            .env(
                "SECRETS_KEY",
                "c3RyZWFtaG9va3MgY2xpIHRlc3RzIHNlY3JldHMgayE=",
            )
            .env("RUST_LOG", "off")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.status.success(), "{args:?} {env:?} started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let valid = "valid formats are: speckle-string, speckle-object";
    let err = run(&["--webhook-format", "json"], &[]);
    assert!(
        err.contains("Unknown webhook format \"json\"") && err.contains(valid),
        "{err}"
    );
    let err = run(&[], &[("WEBHOOK_FORMAT", "speckle")]);
    assert!(
        err.contains("WEBHOOK_FORMAT") && err.contains(valid),
        "{err}"
    );
    let err = run(&[], &[("SECRET_ROTATION_GRACE", "a day")]);
    assert!(
        err.contains("SECRET_ROTATION_GRACE") && err.contains("not a duration"),
        "{err}"
    );
}
