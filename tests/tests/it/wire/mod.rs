//! Receivers of every generation verify us, with independent, real verifiers run on
//! the exact bytes and headers a real `TestReceiver` got: seed 000's Python check
//! (`speckle-string`), Speckle 2.12+'s check as its docs show it (`speckle-object`), and the
//! official `standardwebhooks` 1.1.0 and `svix` 2.9.1 packages from PyPI (pinned in
//! `.ci/requirements.txt`, found with `testkit::interop::python_with`) for the Standard Webhooks
//! headers. The verifiers are `tests/interop/wire/verify.py`; svix 2.9.1's `Webhook` delegates
//! to `standardwebhooks`, as its source on PyPI shows, so the two share one verification routine
//! but are each called as their users call them.
//!
//! Runs on SQLite, or on PostgreSQL with TEST_DATABASE_URL. Bounded: the script gets 120 s.

mod formats;
mod interop;
mod readme;
mod rotation;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{interop as clients, Received};

/// One check for `verify.py` to run on a captured request.
#[derive(Clone, Debug)]
pub struct Check {
    kind: &'static str,
    secret: String,
    form: &'static str,
    shift: i64,
}

impl Check {
    /// Seed 000's receiver: hex HMAC over the payload string.
    pub fn seed000(secret: &str) -> Self {
        Self::new("seed000", secret, "", 0)
    }
    /// Speckle 2.12+'s receiver: hex HMAC over the raw body.
    pub fn speckle(secret: &str) -> Self {
        Self::new("speckle", secret, "", 0)
    }
    /// `standardwebhooks` or `svix`, given the secret in `form` (`whsec`, `base64`, `bytes`).
    pub fn library(kind: &'static str, secret: &str, form: &'static str) -> Self {
        Self::new(kind, secret, form, 0)
    }
    /// The library receiving the same request again six minutes later.
    pub fn replay(kind: &'static str, secret: &str) -> Self {
        Self::new(kind, secret, "whsec", 360)
    }
    fn new(kind: &'static str, secret: &str, form: &'static str, shift: i64) -> Self {
        Self {
            kind,
            secret: secret.to_owned(),
            form,
            shift,
        }
    }
}

/// What a verifier said.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub ok: bool,
    pub error: String,
}

/// A Python with both libraries, or `None` after saying what to install (a failure in CI).
pub fn python() -> Option<PathBuf> {
    clients::python_with(&["standardwebhooks", "svix"])
}

/// Runs `verify.py` on each captured request with its checks; returns the verdicts in order.
pub async fn verify(
    python: &Path,
    requests: &[(&str, &Received, Vec<Check>)],
) -> Vec<Vec<Verdict>> {
    let dir = std::env::temp_dir().join(format!("streamhooks-wire-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let mut job = Vec::new();
    for (i, (name, r, checks)) in requests.iter().enumerate() {
        let body_file = dir.join(format!("{i}.body"));
        std::fs::write(&body_file, &r.body).unwrap_or_else(|e| panic!("{e}"));
        let headers: serde_json::Map<String, Value> = r
            .headers
            .iter()
            .map(|(k, v)| {
                let v = v.to_str().unwrap_or_else(|e| panic!("header {k}: {e}"));
                (k.as_str().to_owned(), json!(v))
            })
            .collect();
        let checks: Vec<Value> = checks
            .iter()
            .map(
                |c| json!({ "kind": c.kind, "secret": c.secret, "form": c.form, "shift": c.shift }),
            )
            .collect();
        job.push(
            json!({ "name": name, "body_file": body_file, "headers": headers, "checks": checks }),
        );
    }
    let job_file = dir.join("job.json");
    std::fs::write(&job_file, json!({ "requests": job }).to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let script = clients::workspace_root().join("tests/interop/wire/verify.py");
    let run = tokio::process::Command::new(python)
        .arg(&script)
        .arg(&job_file)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .unwrap_or_else(|_| panic!("verify.py did not finish within 120 s"))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify.py failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut verdicts: Vec<Vec<Verdict>> = requests.iter().map(|_| Vec::new()).collect();
    for line in stdout.lines().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let name = v["request"].as_str().unwrap_or_default();
        let i = requests
            .iter()
            .position(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("unknown request in {line}"));
        verdicts[i].push(Verdict {
            ok: v["ok"].as_bool().unwrap_or(false),
            error: v["error"].as_str().unwrap_or_default().to_owned(),
        });
    }
    for (i, (name, _, checks)) in requests.iter().enumerate() {
        assert_eq!(verdicts[i].len(), checks.len(), "{name}: {stdout}");
    }
    verdicts
}

/// Asserts each verdict against what it should be (`true` = accepted), naming the check.
pub fn assert_verdicts(name: &str, checks: &[Check], verdicts: &[Verdict], expected: &[bool]) {
    assert_eq!(
        checks.len(),
        expected.len(),
        "{name}: one expectation per check"
    );
    for ((c, v), want) in checks.iter().zip(verdicts).zip(expected) {
        assert_eq!(
            v.ok,
            *want,
            "{name}: {} with secret {:?} (form {:?}, clock +{}s) should {} the request: {}",
            c.kind,
            c.secret,
            c.form,
            c.shift,
            if *want { "accept" } else { "refuse" },
            v.error
        );
    }
}

/// The header `name` of a received request, or "".
pub fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.header(name).unwrap_or_default()
}
