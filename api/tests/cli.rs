//! The `streamhooks` binary as a user runs it: `user create` prints one JSON object, a bad
//! `DATABASE_URL` gives one clear line and a non-zero exit, and SIGTERM shuts `serve` down
//! gracefully. These need the real executable, which Cargo builds only for this crate's tests.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use streamhooks_api::testkit::process::{self, KillOnDrop};
use streamhooks_api::testkit::{graphql, hmac_hex, TestDatabase};

const BIN: &str = env!("CARGO_BIN_EXE_streamhooks");

/// A secrets key for the commands below, so none of them writes `streamhooks.key` into the
/// working directory (the repository).
const KEY: &str = "c3RyZWFtaG9va3MgY2xpIHRlc3RzIHNlY3JldHMgayE=";

/// Runs the binary to completion with `DATABASE_URL` set and logging off.
fn run<const N: usize>(args: [&str; N], database_url: &str) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("SECRETS_KEY", KEY)
        .env("RUST_LOG", "off")
        .output()
        .unwrap_or_else(|e| panic!("run {args:?}: {e}"))
}

#[test]
fn user_create_prints_id_and_token_as_json() {
    let db = TestDatabase::sqlite();
    let url = db.url.clone();
    let out = run(
        [
            "user",
            "create",
            "--name",
            "Ada Lovelace",
            "--email",
            "ada@example.com",
        ],
        &url,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one line on stdout: {stdout}");
    let v: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["id"].as_str().map(str::len), Some(10));
    assert_eq!(v["token"].as_str().map(str::len), Some(42));

    // The same email again is refused, clearly.
    let out = run(
        [
            "user",
            "create",
            "--name",
            "Ada",
            "--email",
            "ADA@example.com",
        ],
        &url,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

#[test]
fn bad_database_urls_give_one_clear_line_and_fail() {
    for (url, expect) in [
        ("mysql://localhost/x", "is not supported"),
        (
            "postgres://u:hunter2@127.0.0.1:1/x",
            "cannot reach database",
        ),
        (
            "postgres://u:hunter2@127.0.0.1:notaport/x",
            "cannot reach database",
        ),
        (
            "sqlite:///nonexistent-dir-for-streamhooks/x.sqlite",
            "cannot open database",
        ),
    ] {
        let out = run(["migrate"], url);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{url}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{url}: {stderr}");
        assert!(stderr.contains(expect), "{url}: {stderr}");
        assert!(!stderr.contains("panicked"), "{url}: {stderr}");
        assert!(!stderr.contains("hunter2"), "password shown: {stderr}");
    }
}

#[test]
fn bad_configuration_is_refused_before_serving() {
    let db = TestDatabase::sqlite();
    let url = db.url.clone();
    let out = run(
        [
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--request-timeout",
            "ten seconds",
        ],
        &url,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a duration"));
    let out = run(
        [
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--request-timeout",
            "30s",
            "--lease",
            "10s",
        ],
        &url,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LEASE_DURATION"));
    // The old single GraphQL price is no longer read; a deployment that still sets it is told
    // what replaced it rather than silently running with other limits.
    let out = run(
        [
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--graphql-max-complexity",
            "100000000",
        ],
        &url,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("GRAPHQL_MAX_COMPLEXITY")
            && stderr.contains("GRAPHQL_MAX_NODES")
            && stderr.contains("GRAPHQL_MAX_DOCUMENT_FIELDS"),
        "{stderr}"
    );
}

#[test]
fn sigterm_shuts_serve_down_gracefully() {
    let db = TestDatabase::sqlite();
    let url = db.url.clone();
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &url)
        .env("SECRETS_KEY", KEY)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let (addr, rest) = process::listening_address(&mut child);
    // It serves…
    let mut s =
        std::net::TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    use std::io::{Read, Write};
    let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    // …and stops on SIGTERM, exiting 0.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(killed.is_ok_and(|s| s.success()));
    let start = Instant::now();
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "did not stop within 15 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status:?}");
    let rest: Vec<String> = rest.iter().collect();
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
}

/// Without CANONICAL_URL, `serverInfo.canonicalUrl` is the address `serve` listens on (`--bind`,
/// with the port it picked for `:0`), and `--help` says what to set behind a proxy.
#[tokio::test]
async fn the_default_canonical_url_is_the_bind_address() {
    let db = TestDatabase::sqlite();
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--no-worker"])
        .env("DATABASE_URL", &db.url)
        .env("SECRETS_KEY", KEY)
        .env_remove("CANONICAL_URL")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map(KillOnDrop)
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let (addr, _rest) = process::listening_address(&mut child.0);
    assert!(!addr.ends_with(":0") && !addr.ends_with(":3000"), "{addr}");
    let answer = graphql(
        &format!("http://{addr}"),
        None,
        "{ serverInfo { canonicalUrl } }",
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        answer["data"]["serverInfo"]["canonicalUrl"],
        serde_json::json!(format!("http://{addr}"))
    );
    let help = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap_or_else(|e| panic!("serve --help: {e}"));
    let help = String::from_utf8_lossy(&help.stdout).replace(char::is_whitespace, " ");
    assert!(
        help.contains("Behind a reverse proxy") && help.contains("CANONICAL_URL"),
        "{help}"
    );
}

/// Spawns `streamhooks receive` on a free port; returns the child, its base URL and its stdout.
fn spawn_receiver(
    args: &[&str],
) -> (
    std::process::Child,
    String,
    std::sync::mpsc::Receiver<String>,
) {
    let mut child = Command::new(BIN)
        .args(["receive", "--port", "0"])
        .args(args)
        .env_remove("WEBHOOK_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("receive exited before listening"))
            .unwrap_or_default();
        if let Some(i) = line.find("http://") {
            break line[i..].split_whitespace().next().unwrap_or("").to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines.by_ref() {});
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, url, rx)
}

/// Everything printed until a quiet spell.
fn printed(rx: &std::sync::mpsc::Receiver<String>) -> String {
    let mut out = String::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(300)) {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn receive_verifies_signatures_prints_payloads_and_keeps_serving() {
    let (mut child, url, out) = spawn_receiver(&["--secret", "s3cr3t", "--status", "202"]);
    let client = reqwest::Client::new();
    let payload = r#"{"streamId":"s1","event":{"event_name":"commit_create","data":{"id":"c1"}},"stream":{"name":"Golden Nugget 🌻"}}"#;
    let body = serde_json::json!({ "payload": payload }).to_string();
    let send = |sig: Option<String>, body: String| {
        let mut req = client
            .post(format!("{url}webhook"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = sig {
            req = req.header("x-webhook-signature", s);
        }
        async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };

    assert_eq!(
        send(Some(hmac_hex("s3cr3t", payload)), body.clone()).await,
        202
    );
    let shown = printed(&out);
    assert!(
        shown.contains("commit_create") && shown.contains("signature ok"),
        "{shown}"
    );
    assert!(
        shown.contains("\"name\": \"Golden Nugget 🌻\""),
        "pretty-printed payload: {shown}"
    );

    assert_eq!(
        send(Some(hmac_hex("wrong", payload)), body.clone()).await,
        401
    );
    assert_eq!(send(None, body.clone()).await, 401);
    assert_eq!(
        send(Some(hmac_hex("s3cr3t", "x")), "not json".into()).await,
        400
    );
    assert_eq!(send(None, r#"{"payload": 42}"#.into()).await, 400);
    assert!(
        printed(&out).is_empty(),
        "refused requests print nothing on stdout"
    );

    // Still serving.
    assert_eq!(send(Some(hmac_hex("s3cr3t", payload)), body).await, 202);
    assert!(printed(&out).contains("commit_create"));
    let _ = child.kill();
    let _ = child.wait();
}
