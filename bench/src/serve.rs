//! A `streamhooks` binary under test run as its own process: one-shot commands (`migrate`,
//! `user create`) and a `serve` process on a free 127.0.0.1 port, stopped with SIGTERM when
//! dropped, so a failing scenario does not leave a server behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::stats::BoxError;

/// Runs `bin args…` to completion; a non-zero exit is an error carrying its stderr.
pub fn run_bin(bin: &Path, args: &[&str]) -> Result<Output, BoxError> {
    let out = Command::new(bin)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {args:?} failed: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(out)
}

/// `user create` with `args` (name, email, database…), returning the token it printed.
pub fn user_token(bin: &Path, args: &[&str]) -> Result<String, BoxError> {
    let out = run_bin(bin, &[&["user", "create"], args].concat())?;
    let user: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("user create printed no JSON: {e}"))?;
    Ok(user["token"]
        .as_str()
        .ok_or("user create printed no token")?
        .to_owned())
}

/// A running `streamhooks serve`.
pub struct Serve {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// A directory removed once the process has stopped (its SQLite file, say).
    owned_dir: Option<PathBuf>,
}

impl Serve {
    /// Starts `bin serve` on a free port with `args` and `env` added, and waits up to `wait` for
    /// `/healthz` to answer.
    pub async fn start(
        bin: &Path,
        args: &[&str],
        env: &[(&str, String)],
        wait: Duration,
    ) -> Result<Serve, BoxError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(bin)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let mut serve = Serve {
            child,
            url: format!("http://127.0.0.1:{port}"),
            owned_dir: None,
        };
        let http = reqwest::Client::new();
        let step = Duration::from_millis(50);
        let deadline = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < deadline {
            // A refused setting ends the process at once; say so rather than wait out `wait`.
            if let Some(status) = serve.child.try_wait()? {
                return Err(format!("streamhooks serve exited ({status}) before answering").into());
            }
            if http
                .get(format!("{}/healthz", serve.url))
                .send()
                .await
                .is_ok()
            {
                return Ok(serve);
            }
            tokio::time::sleep(step).await;
        }
        Err(format!("streamhooks serve did not answer /healthz within {wait:?}").into())
    }

    /// Removes `dir` once the process has stopped.
    pub fn owning(mut self, dir: PathBuf) -> Serve {
        self.owned_dir = Some(dir);
        self
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
        }
        let _ = self.child.wait();
        if let Some(dir) = &self.owned_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
