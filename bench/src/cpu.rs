//! CPU time and memory of processes, read from Linux's `/proc`: a process's memory figures
//! (`/proc/PID/status`), its threads' CPU (`/proc/PID/task/*/schedstat`, nanoseconds;
//! `/proc/PID/stat` ticks as a fallback) and a
//! PostgreSQL server's processes (the postmaster and its children, split into the backends that
//! serve connections and the rest: WAL writer, checkpointer, autovacuum …).
//! On a server that other work shares, [`PgSampler::start_for`] counts only the backends of one
//! database; the helpers serve every database and cannot be split.
//!
//! PostgreSQL processes come and go (autovacuum workers, backends of closed connections), and a
//! process's time is lost once it exits, so [`PgSampler`] reads them every few milliseconds and
//! keeps the last value seen of each.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A memory figure of `/proc/PID/status` (`field` with its colon, e.g. `VmHWM:`) in MB, of `pid`
/// or, with `None`, of this process.
pub fn status_mb(pid: Option<u32>, field: &str) -> Result<f64, crate::stats::BoxError> {
    let who = pid.map_or_else(|| "self".to_owned(), |p| p.to_string());
    let status = std::fs::read_to_string(format!("/proc/{who}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .ok_or_else(|| format!("no {field} in /proc/{who}/status").into())
}

/// Nanoseconds of CPU used so far by every thread of `pid`, or `None` if it is gone.
pub fn process_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0u64;
    let mut any = false;
    for t in tasks.flatten() {
        if let Some(ns) = std::fs::read_to_string(t.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        {
            total += ns;
            any = true;
        }
    }
    if any {
        return Some(total);
    }
    // No schedstat: utime + stime in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10_000_000)
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// The postmaster's pid from the first line of `postmaster.pid` in its data directory.
pub fn postmaster_pid(pidfile: &Path) -> Option<u32> {
    std::fs::read_to_string(pidfile)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// CPU of a PostgreSQL server, split.
#[derive(Debug, Default, Clone, Copy)]
pub struct PgCpu {
    /// Processes serving client connections (`postgres: user db host(port) …`).
    pub backends_ns: u64,
    /// The postmaster and its helpers (WAL writer, checkpointer, background writer, autovacuum).
    pub other_ns: u64,
}

#[derive(Default)]
struct Seen {
    /// Only backends whose title names this database count as backends; others are left out.
    database: Option<String>,
    /// pid → (what it is, CPU at the first sighting, CPU at the last).
    procs: HashMap<u32, (Kind, u64, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The postmaster, a helper, or a backend that has no title yet.
    Other,
    Backend,
    /// A backend of another database than the one asked for.
    Foreign,
}

/// Samples a PostgreSQL server's processes in the background until [`PgSampler::finish`].
pub struct PgSampler {
    postmaster: u32,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PgSampler {
    /// Starts sampling. Processes that exist now count from their current CPU time; processes
    /// that start later count from zero.
    pub fn start(postmaster: u32) -> Self {
        Self::start_for(postmaster, None)
    }

    /// As [`PgSampler::start`], with only the backends of `database` (when given) counted.
    pub fn start_for(postmaster: u32, database: Option<&str>) -> Self {
        let seen = Arc::new(Mutex::new(Seen {
            database: database.map(str::to_owned),
            procs: HashMap::new(),
        }));
        sample(postmaster, &seen, true);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
                sample(postmaster, &s, false);
            }
        });
        Self {
            postmaster,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// CPU used since [`PgSampler::start`], as of now.
    pub fn now(&self) -> PgCpu {
        sample(self.postmaster, &self.seen, false);
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = PgCpu::default();
        for (kind, first, last) in seen.procs.values() {
            let used = last.saturating_sub(*first);
            match kind {
                Kind::Backend => out.backends_ns += used,
                Kind::Other => out.other_ns += used,
                Kind::Foreign => {}
            }
        }
        out
    }

    pub fn finish(mut self) -> PgCpu {
        let cpu = self.now();
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        cpu
    }
}

/// The postmaster and its children. From the kernel's list of the postmaster's children when it
/// has one: reading every process's `stat` each 5 ms, as this did first, took ~10% of a core of
/// the two the measured processes share.
fn server_pids(postmaster: u32) -> Vec<u32> {
    let listed = std::fs::read_to_string(format!("/proc/{postmaster}/task/{postmaster}/children"));
    if let Ok(children) = listed {
        return std::iter::once(postmaster)
            .chain(children.split_whitespace().filter_map(|p| p.parse().ok()))
            .collect();
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|pid| *pid == postmaster || parent_of(*pid) == Some(postmaster))
        .collect()
}

fn sample(postmaster: u32, seen: &Mutex<Seen>, initial: bool) {
    let pids = server_pids(postmaster);
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let database = seen.database.clone();
    for pid in pids {
        let Some(ns) = process_ns(pid) else { continue };
        // A backend's title says who it serves: "postgres: USER DB HOST(PORT) STATE". A process
        // just forked may not have its title yet, so this is looked at again until it does.
        let kind = |known: Kind| {
            if known != Kind::Other || pid == postmaster {
                return known;
            }
            let title = cmdline(pid);
            if !title.contains('(') {
                return Kind::Other;
            }
            match &database {
                Some(db) if title.split_whitespace().nth(2) != Some(db.as_str()) => Kind::Foreign,
                _ => Kind::Backend,
            }
        };
        match seen.procs.get_mut(&pid) {
            Some(p) => {
                p.0 = kind(p.0);
                p.2 = p.2.max(ns);
            }
            None => {
                let first = if initial { ns } else { 0 };
                seen.procs.insert(pid, (kind(Kind::Other), first, ns));
            }
        }
    }
}
