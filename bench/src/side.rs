//! The side-by-side scenario: real `streamhooks worker` processes (this build's and,
//! with `--baseline-bin`, another's, e.g. today's main) draining the same backlog on PostgreSQL
//! with its default durability, 10 webhooks, the receiver in a separate process, and the CPU per
//! 1,000 deliveries of each process read from /proc.
//!
//! Each run gets a fresh database migrated by the binary under test (so each runs on its own
//! schema), seeded, vacuumed, analysed and checkpointed, so that neither starts with another's WAL
//! or dead rows. The rate runs from the first request reaching the receiver to the moment no
//! event is pending (every result recorded); process start-up is outside it, its CPU is not.
//! Binaries alternate run by run, so a burst of load from elsewhere on the machine hits both.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sea_orm::ConnectionTrait;
use streamhooks_worker::testkit::TestReceiver;

use crate::cpu::{self, PgSampler};
use crate::seed;
use crate::stats::{median, BoxError};

/// What one drain cost.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    pub rate: f64,
    /// Milliseconds of CPU per 1,000 deliveries.
    pub worker: f64,
    pub pg_backends: f64,
    pub pg_other: f64,
    pub receiver: f64,
    /// WAL written per delivery, in bytes (the whole server's, which only the bench uses).
    pub wal: f64,
    /// The worker's peak RSS (VmHWM), in MB.
    pub worker_peak_mb: f64,
    /// From the last request's arrival to the moment every result was recorded (and the bench
    /// saw it, polling every 5 ms), in ms: inside the rate's clock.
    pub tail_ms: f64,
    /// From the worker process's spawn to the first request reaching the receiver, in ms.
    pub first_ms: f64,
}

/// Serves as the receiver process (`streamhooks-bench --serve-receiver`, which
/// [`Receiver::spawn`] runs): a counting `TestReceiver`, so its CPU is not the dispatcher's. Prints
/// `listening on ADDR`, then serves until killed.
pub async fn serve_receiver() -> Result<(), BoxError> {
    let receiver = TestReceiver::counting().await?;
    println!("listening on {}", receiver.addr);
    std::future::pending::<()>().await;
    Ok(())
}

/// The receiver process, read over HTTP: `GET /__reset`, and `GET /__count` for
/// `COUNT FIRST_US LAST_US`.
pub struct Receiver {
    child: Child,
    pub addr: String,
    http: reqwest::Client,
}

impl Receiver {
    pub fn spawn() -> Result<Self, BoxError> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg("--serve-receiver")
            .stdout(Stdio::piped())
            .spawn()?;
        let out = child.stdout.take().ok_or("receiver has no stdout")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("receiver said {line:?}"))?
            .to_owned();
        Ok(Self {
            child,
            addr,
            http: reqwest::Client::new(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub async fn get(&self, path: &str) -> Result<String, BoxError> {
        let url = format!("http://{}{path}", self.addr);
        Ok(self.http.get(url).send().await?.text().await?)
    }

    /// (requests since the last reset, first and last arrival in Unix µs).
    pub async fn count(&self) -> Result<(u64, i64, i64), BoxError> {
        let s = self.get("/__count").await?;
        let mut f = s.split_whitespace();
        let n = f.next().and_then(|v| v.parse().ok()).ok_or("bad count")?;
        let first = f.next().and_then(|v| v.parse().ok()).ok_or("bad count")?;
        let last = f.next().and_then(|v| v.parse().ok()).ok_or("bad count")?;
        Ok((n, first, last))
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unix_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// One drain of `n` events by `bin`'s worker.
pub async fn once(
    pg_url: &str,
    postmaster: u32,
    bin: &Path,
    n: usize,
    webhooks: usize,
    receiver: &Receiver,
) -> Result<Measure, BoxError> {
    let bench = seed::postgres_with(pg_url, false).await?;
    let new_schema = seeded(&bench, bin, n, webhooks, receiver).await?;
    bench.db.execute_unprepared("VACUUM ANALYZE").await?;
    bench.db.execute_unprepared("CHECKPOINT").await?;
    let wal_before = wal_lsn(&bench.db).await?;
    let sampler = PgSampler::start(postmaster);
    let drained = drain(bin, &bench.url, n, receiver, &bench.db, new_schema, 0).await?;
    let wal_bytes = wal_since(&bench.db, &wal_before).await?;
    let pg = sampler.finish();
    bench.cleanup().await;
    let mut m = drained.measure(n);
    m.pg_backends = drained.per_k(n, pg.backends_ns);
    m.pg_other = drained.per_k(n, pg.other_ns);
    m.wal = wal_bytes as f64 / n as f64;
    Ok(m)
}

/// Migrates `bench` with `bin` (so it gets that binary's schema) and queues `n` events over
/// `webhooks` webhooks pointing at `receiver`; returns whether the schema has `webhooks_queue`.
pub async fn seeded(
    bench: &seed::BenchDb,
    bin: &Path,
    n: usize,
    webhooks: usize,
    receiver: &Receiver,
) -> Result<bool, BoxError> {
    migrate(bench, bin)?;
    let hooks =
        seed::plain_webhooks(&bench.db, &format!("http://{}", receiver.addr), webhooks).await?;
    seed::events(&bench.db, &hooks, n).await?;
    Ok(seed::has_queue_table(&bench.db).await?)
}

/// Migrates `bench` with `bin`, so that it gets that binary's schema.
pub fn migrate(bench: &seed::BenchDb, bin: &Path) -> Result<(), BoxError> {
    let migrated = Command::new(bin)
        .args(["migrate", "--database-url", &bench.url])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !migrated.success() {
        return Err(format!("{} migrate failed", bin.display()).into());
    }
    Ok(())
}

/// What [`drain`] saw of one worker process draining a backlog.
pub struct Drained {
    spawned_us: i64,
    first_us: i64,
    last_us: i64,
    end_us: i64,
    worker_ns: u64,
    worker_peak_mb: f64,
    receiver_ns: u64,
}

impl Drained {
    /// Milliseconds of CPU per 1,000 of `n` deliveries.
    pub fn per_k(&self, n: usize, ns: u64) -> f64 {
        ns as f64 / 1e6 / (n as f64 / 1000.0)
    }

    /// The figures of a drain of `n` that this process saw (the database's are left at 0).
    pub fn measure(&self, n: usize) -> Measure {
        Measure {
            rate: n as f64 / ((self.end_us - self.first_us) as f64 / 1e6),
            worker: self.per_k(n, self.worker_ns),
            pg_backends: 0.0,
            pg_other: 0.0,
            receiver: self.per_k(n, self.receiver_ns),
            wal: 0.0,
            worker_peak_mb: self.worker_peak_mb,
            tail_ms: (self.end_us - self.last_us) as f64 / 1e3,
            first_ms: (self.first_us - self.spawned_us) as f64 / 1e3,
        }
    }
}

/// Starts `bin`'s worker on `url`, waits until the receiver has counted `n` requests and `db`
/// has at most `leave` events pending (those of webhooks that are not `receiver`'s), and stops
/// it (SIGTERM).
pub async fn drain(
    bin: &Path,
    url: &str,
    n: usize,
    receiver: &Receiver,
    db: &sea_orm::DatabaseConnection,
    new_schema: bool,
    leave: i64,
) -> Result<Drained, BoxError> {
    receiver.get("/__reset").await?;
    let receiver_before = cpu::process_ns(receiver.pid()).unwrap_or(0);
    let spawned_us = unix_us();
    let mut worker = Command::new(bin)
        .args(["worker", "--database-url", url])
        .args(["--allow-local-network", "true"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let (mut got, mut first_us, mut last_us) = (0, 0, 0);
    while got < n as u64 {
        if Instant::now() > deadline {
            let _ = worker.kill();
            let _ = worker.wait();
            return Err(format!("only {got} of {n} deliveries arrived").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        (got, first_us, last_us) = receiver.count().await?;
    }
    while seed::depth(db, new_schema).await? > leave {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let end_us = unix_us();
    let worker_ns = cpu::process_ns(worker.id()).unwrap_or(0);
    let worker_peak_mb = cpu::status_mb(Some(worker.id()), "VmHWM:").unwrap_or(0.0);
    let receiver_ns = cpu::process_ns(receiver.pid())
        .unwrap_or(0)
        .saturating_sub(receiver_before);
    let _ = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status();
    let _ = worker.wait();
    Ok(Drained {
        spawned_us,
        first_us,
        last_us,
        end_us,
        worker_ns,
        worker_peak_mb,
        receiver_ns,
    })
}

async fn wal_lsn(db: &sea_orm::DatabaseConnection) -> Result<String, BoxError> {
    let row = db
        .query_one(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT CAST(pg_current_wal_lsn() AS TEXT) AS lsn",
        ))
        .await?
        .ok_or("no WAL position")?;
    Ok(row.try_get("", "lsn")?)
}

async fn wal_since(db: &sea_orm::DatabaseConnection, from: &str) -> Result<i64, BoxError> {
    let row = db
        .query_one(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT CAST(pg_wal_lsn_diff(pg_current_wal_lsn(), CAST($1 AS pg_lsn)) AS BIGINT) AS n",
            [from.into()],
        ))
        .await?
        .ok_or("no WAL position")?;
    Ok(row.try_get("", "n")?)
}

/// Every (size, binary) drain `runs` times: run by run, size by size, the binaries alternating
/// within each size. `once` measures (and prints) one drain, given the run's number, the size,
/// the binary's label and its path. Returns each (label, size) with its measures in run order,
/// sizes outer and binaries inner.
pub async fn interleave(
    runs: usize,
    sizes: &[usize],
    bins: &[(String, PathBuf)],
    mut once: impl AsyncFnMut(usize, usize, &str, &Path) -> Result<Measure, BoxError>,
) -> Result<Vec<(String, usize, Vec<Measure>)>, BoxError> {
    let mut cells: Vec<(String, usize, Vec<Measure>)> = sizes
        .iter()
        .flat_map(|&n| bins.iter().map(move |(l, _)| (l.clone(), n, Vec::new())))
        .collect();
    for run in 1..=runs {
        for (i, &n) in sizes.iter().enumerate() {
            for (j, (label, bin)) in bins.iter().enumerate() {
                let m = once(run, n, label, bin).await?;
                cells[i * bins.len() + j].2.push(m);
            }
        }
    }
    Ok(cells)
}

/// Runs every (binary, backlog) pair `runs` times, interleaved, and prints each run and the
/// medians.
pub async fn run(
    pg_url: &str,
    pidfile: &Path,
    bins: &[(String, PathBuf)],
    sizes: &[usize],
    webhooks: usize,
    runs: usize,
) -> Result<(), BoxError> {
    let postmaster = cpu::postmaster_pid(pidfile)
        .ok_or_else(|| format!("no postmaster pid in {}", pidfile.display()))?;
    let receiver = Receiver::spawn()?;
    let cells = interleave(runs, sizes, bins, async |run, n, label, bin| {
        let m = once(pg_url, postmaster, bin, n, webhooks, &receiver).await?;
        println!(
            "  run {run}: {label}, {n} queued: {:.0} deliveries/s; CPU ms per 1,000: worker {:.0}, PostgreSQL backends {:.0} + other {:.0}, receiver {:.0}; WAL {:.0} B per delivery; worker peak RSS {:.1} MB; tail {:.1} ms",
            m.rate, m.worker, m.pg_backends, m.pg_other, m.receiver, m.wal, m.worker_peak_mb, m.tail_ms
        );
        Ok(m)
    })
    .await?;
    println!("| binary | queued | deliveries/s (runs) | CPU ms per 1,000: worker | PostgreSQL backends | PostgreSQL other | receiver | WAL per delivery | worker peak RSS |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let by_binary = bins
        .iter()
        .flat_map(|(l, _)| cells.iter().filter(move |c| c.0 == *l));
    for (label, n, ms) in by_binary {
        let med = |f: fn(&Measure) -> f64| median(ms.iter().map(f).collect());
        let each: Vec<String> = ms.iter().map(|m| format!("{:.0}", m.rate)).collect();
        println!(
            "| {label} | {n} | **{:.0}** ({}) | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} B | {:.1} MB |",
            med(|m| m.rate),
            each.join(" / "),
            med(|m| m.worker),
            med(|m| m.pg_backends),
            med(|m| m.pg_other),
            med(|m| m.receiver),
            med(|m| m.wal),
            med(|m| m.worker_peak_mb)
        );
    }
    Ok(())
}
