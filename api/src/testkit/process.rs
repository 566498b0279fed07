//! Helpers for tests that run the real `streamhooks` binary as a child process.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc;

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
