//! The two dispatchers the `speckle` scenario compares, each started as an operator starts it:
//! Speckle's webhook-service (`node tests/interop/speckle/stock/src/main.js`, its source as
//! shipped) and `streamhooks speckle-dispatch`, both configured only through the stock service's
//! environment variables, with their defaults for everything the bench does not need to set.
//!
//! The question a reader will ask: why is our dispatcher not told to ignore the stock service?
//! It refuses to start while a stock service is connected, and that guard is part of what an
//! operator runs. Here it never fires: one dispatcher runs at a time, each on a database of its
//! own, and the previous run's database is dropped `WITH (FORCE)`, which ends its sessions,
//! before the next dispatcher starts.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::stats::BoxError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stock,
    Ours,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Stock => "stock webhook-service",
            Kind::Ours => "streamhooks speckle-dispatch",
        }
    }
}

/// Where the two dispatchers are.
pub struct Programs {
    pub node: PathBuf,
    /// The stock service's `src/main.js`.
    pub stock_main: PathBuf,
    pub streamhooks: PathBuf,
}

/// Whether `bin` has the `speckle-dispatch` subcommand; the error says why not.
pub fn probe_ours(bin: &Path) -> Result<(), String> {
    let out = Command::new(bin)
        .args(["speckle-dispatch", "--help"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "`{} speckle-dispatch --help` failed: {}",
        bin.display(),
        err.lines().next().unwrap_or("no output")
    ))
}

/// A port nothing listens on now, for `PROMETHEUS_METRICS_PORT`: both dispatchers open one
/// (default 9095), and a clash would fail the run for a reason the bench does not measure.
fn free_port() -> Result<u16, BoxError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A dispatcher process; killed if dropped while running.
pub struct Running {
    child: Child,
    kind: Kind,
    log: PathBuf,
}

impl Running {
    pub fn start(kind: Kind, programs: &Programs, pg_url: &str) -> Result<Self, BoxError> {
        let log = std::env::temp_dir().join(format!(
            "streamhooks-bench-speckle-{}-{}.log",
            std::process::id(),
            rand::random::<u32>()
        ));
        let mut cmd = match kind {
            Kind::Stock => {
                let mut c = Command::new(&programs.node);
                c.arg(&programs.stock_main)
                    .env("NODE_ENV", "production")
                    .env("LOG_LEVEL", "warn");
                c
            }
            Kind::Ours => {
                let mut c = Command::new(&programs.streamhooks);
                c.arg("speckle-dispatch")
                    .env("LOG_LEVEL", "warn")
                    .env("RUST_LOG", "warn");
                c
            }
        };
        // One open file for both streams, so they share an offset and do not overwrite each
        // other.
        let out = File::create(&log)?;
        let child = cmd
            .env("PG_CONNECTION_STRING", pg_url)
            .env("ALLOW_LOCAL_NETWORK", "true")
            .env("PROMETHEUS_METRICS_PORT", free_port()?.to_string())
            .stdin(Stdio::null())
            .stderr(Stdio::from(out.try_clone()?))
            .stdout(Stdio::from(out))
            .spawn()
            .map_err(|e| format!("cannot start the {}: {e}", kind.label()))?;
        Ok(Self { child, kind, log })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An error with the end of its output if the process has exited.
    pub fn check_alive(&mut self) -> Result<(), BoxError> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(format!(
                "the {} exited ({status}): {}",
                self.kind.label(),
                self.log_tail()
            )
            .into()),
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(1500);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        text[start..].trim().to_owned()
    }

    /// SIGTERM, as Kubernetes stops a pod, and waits for the exit: both finish the delivery in
    /// hand first, so no row is left at status 1.
    pub async fn stop(mut self) -> Result<(), BoxError> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                return Err(format!("the {} ignored SIGTERM for 20 s", self.kind.label()).into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}
