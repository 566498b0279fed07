//! Helpers for tests that run the real `streamhooks` binary as a child process: a guard that
//! kills it when the test ends, running one to completion under a time limit, a `streamhooks
//! worker` on a [`TestServer`]'s database, and reading the address a `serve` listens on. The
//! binary's path is the caller's (`env!("CARGO_BIN_EXE_streamhooks")`), because Cargo sets it only
//! for the integration tests of the package that builds it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::TestServer;

/// A child process killed when the test ends, passed or failed.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` to completion with its output captured; fails the test if it still runs after
/// `within` (e.g. a `serve` that accepted a key it should have refused never exits).
pub fn finish(mut cmd: Command, within: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let start = Instant::now();
    while child.try_wait().ok().flatten().is_none() {
        if start.elapsed() > within {
            let _ = child.kill();
            panic!("still running after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"))
}

/// `bin worker` on `server`'s database with its secrets key (processes sharing a database share
/// the key), local delivery allowed, logging warnings to the test's stderr; add arguments, then
/// spawn it.
pub fn worker(bin: &str, server: &TestServer) -> Command {
    let mut c = Command::new(bin);
    c.args(["worker", "--database-url", &server.db.url])
        .args(["--allow-local-network", "true"])
        .env("SECRETS_KEY", server.secrets_key().unwrap_or_default())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    c
}

/// Reads a spawned `streamhooks serve`'s stderr (spawned with `Stdio::piped()` and `RUST_LOG` at
/// `info` or more) until it logs the address it listens on, and returns that `host:port` with
/// the lines that follow, as a thread reads them (it ends when stderr does). The thread keeps
/// reading whether or not they are received, so the process never blocks on a full pipe. Panics
/// if the process exits first or its stderr was not piped: these are test helpers.
pub fn listening_address(child: &mut Child) -> (String, mpsc::Receiver<String>) {
    let stderr = child
        .stderr
        .take()
        .unwrap_or_else(|| panic!("the child's stderr is not piped"));
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("serve exited before listening"))
            .unwrap_or_default();
        if let Some(i) = line.find("url=http://") {
            break line[i + 11..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_owned();
        }
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (addr, rx)
}
