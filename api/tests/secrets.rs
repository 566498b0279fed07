//! The secrets key as an operator meets it through the `streamhooks` binary: made private (0600)
//! on first run in the working directory and kept; a key that cannot be right stops `serve` with
//! one sentence naming the variable or file; a lost key file is not silently replaced;
//! `streamhooks secrets rekey` moves every secret to a new key, all or nothing, safe to repeat,
//! after which the old key starts nothing on that database; and `streamhooks secrets reset-key`
//! adopts another key when the old one is lost (on PostgreSQL too when `TEST_DATABASE_URL` is
//! set).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use entity::webhook_config;
use sea_orm::EntityTrait;
use streamhooks_api::context::config::WireConfig;
use streamhooks_api::context::db::connect_and_migrate;
use streamhooks_api::testkit::{process, TestDatabase};
use streamhooks_api::webhooks::service::{self, CreateInput};
use streamhooks_worker::guard::Guard;
use streamhooks_worker::secrets::store::key_file_or_create;
use streamhooks_worker::secrets::Secrets;

const BIN: &str = env!("CARGO_BIN_EXE_streamhooks");

/// A temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "streamhooks-secrets-{}",
            streamhooks_worker::secrets::generate_key()
                .unwrap_or_default()
                .replace(['/', '+', '='], "")
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn db_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.path("db.sqlite").display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary in `dir` with no key settings inherited from whoever runs the tests.
fn streamhooks(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(dir)
        .env_remove("SECRETS_KEY")
        .env_remove("SECRETS_KEY_FILE")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "off");
    c
}

/// Runs to completion, failing the test if it is still running after 30 s (a `serve` that
/// accepted a bad key would never exit).
fn finish(cmd: Command) -> Output {
    process::finish(cmd, Duration::from_secs(30))
}

/// Spawns `cmd` (stderr piped) and returns, for each of `wanted`, the first line of its stderr
/// that contains it, in any order; fails the test if they have not all come within 30 s or the
/// process exits first. The process is killed on return.
fn warnings_of(mut cmd: Command, wanted: &[&str]) -> Vec<String> {
    let mut child = process::KillOnDrop(cmd.spawn().unwrap_or_else(|e| panic!("spawn: {e}")));
    let stderr = child.0.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut found: Vec<Option<String>> = vec![None; wanted.len()];
    let mut seen = Vec::new();
    while found.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("{e} before {wanted:?} all came; saw {seen:#?}"));
        for (i, w) in wanted.iter().enumerate() {
            if found[i].is_none() && line.contains(w) {
                found[i] = Some(line.clone());
            }
        }
        seen.push(line);
    }
    found.into_iter().flatten().collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Starts `serve` in `dir` with the defaults (SQLite file and key file there), waits until it
/// listens, then stops it with SIGTERM.
fn serve_once(dir: &Path) {
    let mut child = streamhooks(dir, &["serve", "--bind", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("serve exited before listening"))
            .unwrap_or_default();
        if line.contains("listening") {
            break;
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    std::thread::spawn(move || for _ in lines.by_ref() {});
    let status = child.wait().unwrap_or_else(|e| panic!("wait: {e}"));
    assert!(status.success(), "{status:?}");
}

#[test]
fn serve_makes_a_private_key_file_on_first_run_and_keeps_it() {
    let dir = Scratch::new();
    serve_once(&dir.0);
    let key = dir.path("streamhooks.key");
    let meta = std::fs::metadata(&key).unwrap_or_else(|e| panic!("no key file: {e}"));
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let first = std::fs::read_to_string(&key).unwrap_or_default();
    assert!(Secrets::from_text(&first).is_ok(), "{first:?}");
    assert_eq!(first.trim_end().len(), 44, "base64 of 32 bytes");

    serve_once(&dir.0);
    assert_eq!(
        std::fs::read_to_string(&key).unwrap_or_default(),
        first,
        "the second run uses the key it made, it does not make another"
    );
}

#[test]
fn keys_that_cannot_be_right_stop_serve_with_one_sentence() {
    let dir = Scratch::new();
    let short = "AAAAAAAAAAAAAAAAAAAAAA=="; // 16 bytes
    let good = "c3RyZWFtaG9va3Mgc2VjcmV0cyB0ZXN0IGtleSAhISE=";
    let write = |name: &str, text: &str, mode: u32| {
        let p = dir.path(name);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("{e}"));
        p.display().to_string()
    };
    let open_file = write("open.key", good, 0o644);
    let short_file = write("short.key", short, 0o600);
    std::fs::create_dir_all(dir.path("a-dir.key")).unwrap_or_else(|e| panic!("{e}"));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "SECRETS_KEY",
            "hunter2 is not a key".into(),
            "SECRETS_KEY must be 32 bytes written as base64 (44 characters) or hex (64 characters)",
        ),
        (
            "SECRETS_KEY",
            short.into(),
            "SECRETS_KEY must be 32 bytes written as base64 or hex, but it decodes to 16 bytes",
        ),
        (
            "SECRETS_KEY_FILE",
            open_file.clone(),
            "(SECRETS_KEY_FILE) is readable or writable by other users (mode 0644); make it private with `chmod 600",
        ),
        (
            "SECRETS_KEY_FILE",
            short_file.clone(),
            "(SECRETS_KEY_FILE) must be 32 bytes written as base64 or hex, but it decodes to 16 bytes",
        ),
        (
            "SECRETS_KEY_FILE",
            dir.path("a-dir.key").display().to_string(),
            "(SECRETS_KEY_FILE) is not a regular file",
        ),
        (
            "SECRETS_KEY_FILE",
            dir.path("no-such-dir/x.key").display().to_string(),
            "(SECRETS_KEY_FILE) cannot be created",
        ),
    ];
    for (var, value, expected) in cases {
        let mut cmd = streamhooks(&dir.0, &["serve", "--bind", "127.0.0.1:0"]);
        cmd.env("DATABASE_URL", dir.db_url()).env(var, &value);
        let out = finish(cmd);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{var}={value}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(expected), "{var}={value}: {err}");
        assert!(!err.contains("hunter2") && !err.contains(short), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(
        !dir.path("streamhooks.key").exists(),
        "no key file was made instead"
    );
}

/// Webhooks with secrets `plain`, sealed under `key`, in the database at `url`.
async fn webhooks_with_secrets(url: &str, key: &Secrets, plain: &[&str]) {
    let db = connect_and_migrate(url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for (i, p) in plain.iter().enumerate() {
        let input = CreateInput {
            stream_id: "s1".into(),
            url: format!("https://example.com/hook/{i}"),
            description: None,
            triggers: vec!["stream_update".into()],
            secret: (!p.is_empty()).then(|| (*p).to_owned()),
            enabled: None,
            format: None,
        };
        service::create(&db, key, &Guard::default(), &WireConfig::default(), input)
            .await
            .unwrap_or_else(|e| panic!("create: {}", e.public_message()));
    }
    let _ = db.close().await;
}

/// Every stored secret, in URL order.
async fn stored(url: &str) -> Vec<Option<String>> {
    let db = connect_and_migrate(url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rows = webhook_config::Entity::find()
        .all(&db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    rows.sort_by(|a, b| a.url.cmp(&b.url));
    let _ = db.close().await;
    rows.into_iter().map(|w| w.secret).collect()
}

fn opened(values: &[Option<String>], key: &Secrets) -> Vec<Option<String>> {
    values
        .iter()
        .map(|v| v.as_ref().and_then(|v| key.open(v).ok()))
        .collect()
}

#[tokio::test]
async fn rekey_moves_every_secret_to_the_new_key_and_is_safe_to_repeat() {
    // On PostgreSQL too when TEST_DATABASE_URL is set: the re-key locks the table there.
    let tdb = TestDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let db_url = tdb.url.clone();
    let dir = Scratch::new();
    let old_file = dir.path("old.key");
    let (old, _) = key_file_or_create(&old_file).unwrap_or_else(|e| panic!("{e}"));
    webhooks_with_secrets(&db_url, &old, &["s3cr3t", "🔑 two", ""]).await;
    let expected = vec![Some("s3cr3t".to_owned()), Some("🔑 two".to_owned()), None];
    assert_eq!(opened(&stored(&db_url).await, &old), expected);

    let rekey = |current: (&str, String), new_file: &Path| {
        let mut cmd = streamhooks(
            &dir.0,
            &[
                "secrets",
                "rekey",
                "--new-key-file",
                &new_file.display().to_string(),
            ],
        );
        cmd.env("DATABASE_URL", &db_url).env(current.0, current.1);
        finish(cmd)
    };
    let new_file = dir.path("new.key");
    let current = ("SECRETS_KEY_FILE", old_file.display().to_string());
    let out = rekey(current.clone(), &new_file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("re-encrypted 2 webhook secret(s)"),
        "{}",
        stderr(&out)
    );
    let meta = std::fs::metadata(&new_file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let new = Secrets::from_text(&std::fs::read_to_string(&new_file).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let after = stored(&db_url).await;
    assert_eq!(opened(&after, &new), expected, "same secrets, new key");
    assert_eq!(
        opened(&after, &old),
        vec![None, None, None],
        "old key no longer opens them"
    );

    // Again: nothing left to move, nothing broken.
    let out = rekey(current.clone(), &new_file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("re-encrypted 0 webhook secret(s)")
            && stderr(&out).contains("2 were already under it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stored(&db_url).await, after, "a repeat changes nothing");

    // A current key that is not the database's: refused before anything, nothing changed, no
    // new key file made.
    let stranger = streamhooks_worker::secrets::generate_key().unwrap_or_default();
    let out = rekey(("SECRETS_KEY", stranger.clone()), &dir.path("third.key"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "The secrets key from SECRETS_KEY (fingerprint {}) is not the key this database's \
             webhook secrets are encrypted under (fingerprint {})",
            Secrets::from_text(&stranger)
                .unwrap_or_else(|e| panic!("{e}"))
                .fingerprint(),
            new.fingerprint()
        )),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path("third.key").exists());
    assert_eq!(stored(&db_url).await, after);

    // The old key no longer starts anything on this database.
    let mut cmd = streamhooks(&dir.0, &["serve", "--bind", "127.0.0.1:0"]);
    cmd.env("DATABASE_URL", &db_url)
        .env("SECRETS_KEY_FILE", &old_file);
    let out = finish(cmd);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "The secrets key from the key file {} (SECRETS_KEY_FILE)",
            old_file.display()
        )),
        "{}",
        stderr(&out)
    );

    // A missing key file while sealed secrets exist is a lost key: not silently replaced.
    let mut cmd = streamhooks(&dir.0, &["serve", "--bind", "127.0.0.1:0"]);
    cmd.env("DATABASE_URL", &db_url);
    let out = finish(cmd);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "streamhooks.key (SECRETS_KEY_FILE) does not exist, but the database holds webhook \
             secrets encrypted under a key"
        ),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path("streamhooks.key").exists());

    // The key is lost for good: `reset-key` adopts another one (here a key file it creates),
    // says which secrets it cannot open, and processes with that key start again.
    let lost = dir.path("replacement.key");
    let mut cmd = streamhooks(&dir.0, &["secrets", "reset-key"]);
    cmd.env("DATABASE_URL", &db_url)
        .env("SECRETS_KEY_FILE", &lost);
    let out = finish(cmd);
    assert!(out.status.success(), "{}", stderr(&out));
    let replacement = Secrets::from_text(&std::fs::read_to_string(&lost).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        stderr(&out).contains(&format!(
            "fingerprint {}; 2 of its 2 webhook secret(s) cannot be opened with it",
            replacement.fingerprint()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(stored(&db_url).await, after, "nothing re-encrypted");
    // A worker with the adopted key starts, and says how many secrets it cannot open (counted
    // beside its start, not before it).
    let mut worker = streamhooks(&dir.0, &["worker"]);
    worker
        .env("DATABASE_URL", &db_url)
        .env("SECRETS_KEY_FILE", &lost)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let lines = warnings_of(
        worker,
        &[
            "dispatcher started",
            "some webhook secrets cannot be decrypted with this key",
        ],
    );
    assert!(
        lines[1].contains("unreadable=2 total=2")
            && lines[1].contains(&format!("fingerprint=\"{}\"", replacement.fingerprint())),
        "{lines:?}"
    );
    let mut cmd = streamhooks(
        &dir.0,
        &[
            "secrets",
            "rekey",
            "--new-key-file",
            &dir.path("fourth.key").display().to_string(),
        ],
    );
    cmd.env("DATABASE_URL", &db_url)
        .env("SECRETS_KEY_FILE", &lost);
    let out = finish(cmd);
    assert_eq!(
        out.status.code(),
        Some(1),
        "started with the adopted key, and refused the re-key only because it cannot open the \
         old secrets: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out)
            .contains("2 webhook secret(s) open with neither the current key nor the new one"),
        "{}",
        stderr(&out)
    );
}
