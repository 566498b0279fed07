//! `streamhooks-bench`: how fast the dispatcher drains a queue, how soon a committed event reaches
//! its receiver, and how much memory a large backlog costs. Everything runs in this process (the
//! dispatcher through `streamhooks_worker::run`, the receiver on 127.0.0.1), against a fresh SQLite
//! file and, when `TEST_DATABASE_URL` is set, a fresh PostgreSQL database.
//!
//! `emit` measures the queuing side instead: what one change costs when its stream has 100
//! webhooks (one transaction, opened as the API opens it, fanning out 100 payload rows).
//!
//! Each figure is the median of `--runs` runs on a fresh database, because single runs on a shared
//! two-core machine vary by tens of percent. Peak RSS is `VmHWM`, reset (via `clear_refs`) after
//! seeding, so it measures the draining, not the bulk insert.

mod attack;
mod big;
mod cpu;
mod ingest;
mod seed;
mod side;
mod speckle;
mod spread;
mod wire;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use streamhooks_worker::secrets::Secrets;
use streamhooks_worker::testkit::TestReceiver;
use streamhooks_worker::{queue_depth, Metrics, Notifier, WorkerConfig};
use tokio_util::sync::CancellationToken;

/// The allocator of the `streamhooks` binary, so that what runs in this process (the API of
/// `history`, the dispatcher of (a), (b) and (c)) runs as it does there. It is also the
/// allocator of the side-by-side's receiver process (this binary), the same receiver for both
/// binaries compared.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser, Debug)]
#[command(about = "Benchmarks the streamhooks dispatcher")]
struct Args {
    /// Events queued up front for the throughput run.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Runs per scenario; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Offered rate for the latency run (events/s).
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Length of the latency run.
    #[arg(long, default_value = "10s", value_parser = streamhooks_worker::config::parse_duration)]
    latency_for: Duration,
    /// Backlog drained for the memory measurement (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    backlog: usize,
    /// Webhooks the events are spread over.
    #[arg(long, default_value_t = 100)]
    webhooks: usize,
    /// Wire format of those webhooks (`speckle-string`, the default, or `speckle-object`).
    #[arg(long, default_value = "speckle-string", value_parser = |s: &str| s.parse::<streamhooks_worker::wire::Format>())]
    format: streamhooks_worker::wire::Format,
    /// Only these scenarios (comma-separated: throughput, latency, rss, postgres, processes,
    /// emit, attack, wire, and, not run by default, side, spread, history, explain, ingest,
    /// speckle). `processes` drains
    /// PostgreSQL with two `streamhooks worker` processes; `attack` sends hostile
    /// requests to a `streamhooks serve` process; `wire` is the CPU cost of building one request;
    /// `side` compares binaries on PostgreSQL with a separate receiver process and CPU per
    /// process; `spread` is side's drain over 10 to 10,000 webhooks; `history` times `history(limit: 25)` on a webhook with `--history-events` events;
    /// `explain` prints the query plans of docs/query-plans.md; `ingest` sends events through
    /// `POST /api/events` (and `/batch`) of `streamhooks serve` processes, alternating binaries;
    /// `speckle` compares `streamhooks speckle-dispatch` with Speckle's webhook-service on
    /// Speckle's tables.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "throughput,latency,rss,postgres,processes,emit,attack,wire"
    )]
    only: Vec<String>,
    /// The `streamhooks` binary the `processes`, `attack` and `side` scenarios run (build it with
    /// `cargo build --release -p streamhooks-api`).
    #[arg(long, default_value = "target/release/streamhooks")]
    streamhooks_bin: std::path::PathBuf,
    /// `side`: another `streamhooks` binary to run alternately with `--streamhooks-bin`, e.g.
    /// today's main built in its own worktree.
    #[arg(long)]
    baseline_bin: Option<std::path::PathBuf>,
    /// `side`: the PostgreSQL server's `postmaster.pid` (in its data directory), to find its
    /// processes and read their CPU time. The server must be the one TEST_DATABASE_URL names.
    #[arg(long)]
    pg_pidfile: Option<std::path::PathBuf>,
    /// `side`: backlogs drained, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "5000,50000")]
    side_queued: Vec<usize>,
    /// `side`: webhooks the backlog is spread over.
    #[arg(long, default_value_t = 10)]
    side_webhooks: usize,
    /// `spread`: webhook counts on PostgreSQL, comma-separated; the first is the reference, and
    /// every other count's drain is paired with a drain of the first.
    #[arg(long, value_delimiter = ',', default_value = "10,100,1000,10000")]
    spread_webhooks: Vec<usize>,
    /// `spread`: webhook counts on SQLite, comma-separated (`0`: none); the first is the
    /// reference.
    #[arg(long, value_delimiter = ',', default_value = "10,1000")]
    spread_sqlite_webhooks: Vec<usize>,
    /// `spread`: backlogs drained, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "5000,50000")]
    spread_queued: Vec<usize>,
    /// `history` and `explain`: events stored for the one webhook whose history is read.
    #[arg(long, default_value_t = 1_000_000)]
    history_events: usize,
    /// `history`: requests timed (after 20 to warm up).
    #[arg(long, default_value_t = 500)]
    history_requests: usize,
    /// `ingest`: events sent one per request (after 200 to warm up).
    #[arg(long, default_value_t = 3000)]
    ingest_events: usize,
    /// `ingest`: concurrent clients sending them.
    #[arg(long, default_value_t = 16)]
    ingest_clients: usize,
    /// `ingest`: events sent in batches of 100 (0 skips it).
    #[arg(long, default_value_t = 20_000)]
    ingest_batch_events: usize,
    /// `speckle`: backlogs drained, comma-separated; the later ones are compared with the first.
    #[arg(long, value_delimiter = ',', default_value = "5000,50000")]
    speckle_queued: Vec<usize>,
    /// `speckle`: webhooks the backlog is spread over.
    #[arg(long, default_value_t = 10)]
    speckle_webhooks: usize,
    /// `speckle`: the stock webhook-service's runs stop after this many deliveries (at tens per
    /// second, 50,000 would take a quarter of an hour per run); its rate is over those.
    #[arg(long, default_value_t = 5000)]
    speckle_stock_cap: usize,
    /// `speckle`: events inserted one at a time, 20–100 ms apart, for the idle latency (0
    /// leaves the idle part out).
    #[arg(long, default_value_t = 200)]
    speckle_idle_events: usize,
    /// `speckle`: whether the stock webhook-service runs too (`false` measures ours alone, e.g.
    /// under a profiler).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    speckle_stock: bool,
    /// `speckle`: Speckle's migrations and their runner, with the stock service in `stock/`
    /// (`npm ci` in both first).
    #[arg(long, default_value = "tests/interop/speckle")]
    speckle_harness: std::path::PathBuf,
    /// `speckle`: the Node.js that runs Speckle's migrations and its webhook-service.
    #[arg(long, default_value = "node")]
    node: std::path::PathBuf,
    /// Internal: serve as the `side` scenario's receiver process.
    #[arg(long, hide = true)]
    serve_receiver: bool,
    #[command(flatten)]
    worker: WorkerConfig,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Harness {
    bench: seed::BenchDb,
    /// The key the webhooks' secrets are sealed with, as a server would seal them, and its text
    /// for worker processes (`SECRETS_KEY`).
    secrets: Secrets,
    key: String,
    hooks: Vec<String>,
    /// Counting only: it shares the two cores with the dispatcher under test.
    receiver: TestReceiver,
    notifier: Notifier,
    cancel: CancellationToken,
    worker: Option<tokio::task::JoinHandle<Result<(), streamhooks_worker::Error>>>,
}

impl Harness {
    async fn new(args: &Args, pg: Option<&str>) -> Result<Harness, BoxError> {
        let bench = match pg {
            Some(url) => seed::postgres(url).await?,
            None => seed::sqlite().await?,
        };
        let receiver = TestReceiver::counting().await?;
        let key = streamhooks_worker::secrets::generate_key()?;
        let secrets = Secrets::from_text(&key)?;
        let sealed = secrets.seal("bench-secret")?;
        let hooks = seed::webhooks(
            &bench.db,
            &format!("http://{}", receiver.addr),
            args.webhooks,
            &sealed,
            args.format.as_str(),
        )
        .await?;
        Ok(Harness {
            bench,
            secrets,
            key,
            hooks,
            receiver,
            notifier: Notifier::new(),
            cancel: CancellationToken::new(),
            worker: None,
        })
    }

    fn start(&mut self, args: &Args) {
        let mut config = args.worker.clone();
        config.allow_local_network = true;
        self.worker = Some(tokio::spawn(streamhooks_worker::run(
            self.bench.db.clone(),
            Arc::new(config),
            self.secrets.clone(),
            self.notifier.clone(),
            Arc::new(Metrics::new()),
            self.cancel.clone(),
        )));
    }

    /// Waits until nothing is queued or in flight: every result recorded.
    async fn drained(&self) -> Result<(), BoxError> {
        loop {
            if queue_depth(&self.bench.db).await? == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn finish(mut self) -> Result<(), BoxError> {
        self.cancel.cancel();
        if let Some(w) = self.worker.take() {
            w.await??;
        }
        self.bench.cleanup().await;
        Ok(())
    }
}

/// Deliveries/s with every status recorded, draining `n` queued events.
async fn throughput(args: &Args, pg: Option<&str>, n: usize) -> Result<f64, BoxError> {
    let mut h = Harness::new(args, pg).await?;
    seed::events(&h.bench.db, &h.hooks, n).await?;
    let t = Instant::now();
    h.start(args);
    h.drained().await?;
    let secs = t.elapsed().as_secs_f64();
    let received = h.receiver.count();
    let recorded = count(
        &h.bench.db,
        "SELECT COUNT(*) AS n FROM webhooks_event_attempts",
    )
    .await?;
    h.finish().await?;
    if received < n as u64 {
        return Err(format!("only {received} of {n} deliveries arrived").into());
    }
    if recorded < n as i64 {
        return Err(format!("only {recorded} of {n} attempts recorded").into());
    }
    Ok(n as f64 / secs)
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> Result<i64, BoxError> {
    use sea_orm::ConnectionTrait;
    let row = db
        .query_one(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await?
        .ok_or("no row")?;
    Ok(row.try_get::<i64>("", "n")?)
}

/// Commit-to-request latencies (p50, p99, max) at `rate` events/s offered.
async fn latency(args: &Args) -> Result<(Duration, Duration, Duration), BoxError> {
    let mut h = Harness::new(args, None).await?;
    h.receiver.track_arrivals(true);
    h.start(args);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let payload = seed::payload();
    let total = (args.rate as f64 * args.latency_for.as_secs_f64()) as usize;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut committed = Vec::with_capacity(total);
    for i in 0..total {
        tick.tick().await;
        let id = seed::one_event(&h.bench.db, &h.hooks[i % h.hooks.len()], &payload).await?;
        committed.push((id, Instant::now()));
        h.notifier.wake();
    }
    h.drained().await?;
    let arrivals = h.receiver.arrivals();
    let mut lat: Vec<Duration> = committed
        .iter()
        .filter_map(|(id, at)| {
            arrivals
                .get(id)
                .map(|got| got.saturating_duration_since(*at))
        })
        .collect();
    h.finish().await?;
    if lat.len() < total {
        return Err(format!("only {} of {total} deliveries arrived", lat.len()).into());
    }
    lat.sort();
    let pick = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    Ok((pick(0.50), pick(0.99), pick(1.0)))
}

/// Peak RSS (MB) while draining `n` queued events, RSS before the dispatcher started (the
/// runtime, the receiver and SQLite after seeding), and the rate achieved meanwhile.
async fn rss(args: &Args, n: usize) -> Result<(f64, f64, f64), BoxError> {
    let mut h = Harness::new(args, None).await?;
    seed::events(&h.bench.db, &h.hooks, n).await?;
    // Linux: writing 5 resets VmHWM to the current RSS, so seeding does not count.
    std::fs::write("/proc/self/clear_refs", "5")?;
    let before = cpu::status_mb(None, "VmRSS:")?;
    let t = Instant::now();
    h.start(args);
    h.drained().await?;
    let secs = t.elapsed().as_secs_f64();
    let peak = cpu::status_mb(None, "VmHWM:")?;
    h.finish().await?;
    Ok((peak, before, n as f64 / secs))
}

/// Deliveries/s with two separate `streamhooks worker` processes draining `n` events queued in
/// PostgreSQL (claims with SKIP LOCKED, wake-ups through NOTIFY), every status recorded.
async fn two_processes(args: &Args, pg: &str, n: usize) -> Result<f64, BoxError> {
    let h = Harness::new(args, Some(pg)).await?;
    seed::events(&h.bench.db, &h.hooks, n).await?;
    let url = h.bench.url.clone();
    let spawn = || {
        std::process::Command::new(&args.streamhooks_bin)
            .args([
                "worker",
                "--database-url",
                &url,
                "--allow-local-network",
                "true",
            ])
            .env("RUST_LOG", "warn")
            .env("SECRETS_KEY", &h.key)
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", args.streamhooks_bin.display()))
    };
    let t = Instant::now();
    let children = [spawn()?, spawn()?];
    let drained = h.drained().await;
    let secs = t.elapsed().as_secs_f64();
    for mut c in children {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let _ = c.wait();
    }
    drained?;
    let received = h.receiver.count();
    h.finish().await?;
    if received < n as u64 {
        return Err(format!("only {received} of {n} deliveries arrived").into());
    }
    Ok(n as f64 / secs)
}

/// Per-transaction time (p50, p99) of queuing one `commit_create` for every webhook of a stream:
/// `begin_write`, `emit`, commit, as the API's `commitCreate` does around its own insert.
async fn emit_cost(
    args: &Args,
    pg: Option<&str>,
    n: usize,
) -> Result<(Duration, Duration), BoxError> {
    use streamhooks_worker::outbox::{emit, Event, Outbox, ServerInfo};
    let h = Harness::new(args, pg).await?;
    let server = ServerInfo {
        name: "bench".into(),
        description: "bench".into(),
        canonical_url: "http://127.0.0.1:3000".into(),
        version: "0".into(),
    };
    let message = "x".repeat(700);
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let event = Event::new(
            &"benchstream".into(),
            &"benchuser".into(),
            "commit_create",
            format!("Commit created on branch main: c{i}"),
            serde_json::json!({ "id": format!("c{i}"), "commit": { "id": format!("c{i}"), "message": message, "branchName": "main" } }),
        );
        let t = Instant::now();
        let txn = streamhooks_api::context::db::begin_write(&h.bench.db).await?;
        let queued = emit(&txn, &Outbox::new(&server), &event).await?;
        txn.commit().await?;
        times.push(t.elapsed());
        if queued != h.hooks.len() as u64 {
            return Err(format!("queued {queued}, expected {}", h.hooks.len()).into());
        }
    }
    h.finish().await?;
    times.sort();
    let pick = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    Ok((pick(0.50), pick(0.99)))
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    if args.serve_receiver {
        return side::serve_receiver().await;
    }
    let want = |s: &str| args.only.iter().any(|o| o == s);
    let runs = args.runs.max(1);
    println!(
        "streamhooks-bench: {} webhooks ({}), ~{} B payloads, concurrency {}, per webhook {}, batch {}, {} runs each",
        args.webhooks,
        args.format,
        seed::payload().len(),
        args.worker.concurrency,
        args.worker.per_webhook_concurrency,
        args.worker.batch_size,
        runs
    );
    if want("throughput") {
        let mut rates = Vec::new();
        for _ in 0..runs {
            rates.push(throughput(&args, None, args.events).await?);
            println!(
                "  sqlite throughput run: {:.0} deliveries/s",
                rates[rates.len() - 1]
            );
        }
        println!(
            "(a) SQLite, {} queued events: median {:.0} deliveries/s",
            args.events,
            median(rates)
        );
    }
    if want("latency") {
        let (mut p50s, mut p99s, mut maxes) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let (p50, p99, max) = latency(&args).await?;
            println!(
                "  latency run: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                ms(p50),
                ms(p99),
                ms(max)
            );
            p50s.push(ms(p50));
            p99s.push(ms(p99));
            maxes.push(ms(max));
        }
        println!(
            "(b) SQLite, {} events/s offered for {:?}: commit-to-request median p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            args.rate,
            args.latency_for,
            median(p50s),
            median(p99s),
            median(maxes)
        );
    }
    if want("rss") && args.backlog > 0 {
        let (mut peaks, mut befores, mut rates) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let (peak, before, rate) = rss(&args, args.backlog).await?;
            println!("  rss run: peak {peak:.1} MB ({before:.1} MB before the dispatcher started), draining at {rate:.0}/s");
            peaks.push(peak);
            befores.push(before);
            rates.push(rate);
        }
        println!(
            "(c) SQLite, draining {} queued events: median peak RSS {:.1} MB, {:.1} MB before the dispatcher started (at {:.0} deliveries/s)",
            args.backlog,
            median(peaks),
            median(befores),
            median(rates)
        );
    }
    if want("postgres") {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let mut rates = Vec::new();
                for _ in 0..runs {
                    rates.push(throughput(&args, Some(&url), args.events).await?);
                    println!(
                        "  postgres throughput run: {:.0} deliveries/s",
                        rates[rates.len() - 1]
                    );
                }
                println!(
                    "(d) PostgreSQL, {} queued events: median {:.0} deliveries/s",
                    args.events,
                    median(rates)
                );
            }
            _ => println!("(d) PostgreSQL: skipped (TEST_DATABASE_URL not set)"),
        }
    }
    if want("processes") {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let mut rates = Vec::new();
                for _ in 0..runs {
                    rates.push(two_processes(&args, &url, args.events).await?);
                    println!(
                        "  two worker processes run: {:.0} deliveries/s",
                        rates[rates.len() - 1]
                    );
                }
                println!(
                    "(f) PostgreSQL, two streamhooks worker processes, {} queued events: median {:.0} deliveries/s",
                    args.events,
                    median(rates)
                );
            }
            _ => println!("(f) two worker processes: skipped (TEST_DATABASE_URL not set)"),
        }
    }
    if want("wire") {
        let secrets = Secrets::from_text(&streamhooks_worker::secrets::generate_key()?)?;
        wire::run(&secrets, &seed::payload(), 50_000);
    }
    if want("emit") {
        let pg = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty());
        for (name, url) in [("SQLite", None), ("PostgreSQL", pg.as_deref())] {
            if name == "PostgreSQL" && url.is_none() {
                println!("(e) PostgreSQL emit: skipped (TEST_DATABASE_URL not set)");
                continue;
            }
            let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                let (p50, p99) = emit_cost(&args, url, 500).await?;
                println!(
                    "  {name} emit run: p50 {:.2} ms, p99 {:.2} ms",
                    ms(p50),
                    ms(p99)
                );
                p50s.push(ms(p50));
                p99s.push(ms(p99));
            }
            println!(
                "(e) {name}, one commit_create queued for {} webhooks (one transaction, 500 in a row): median p50 {:.2} ms, p99 {:.2} ms per transaction",
                args.webhooks,
                median(p50s),
                median(p99s)
            );
        }
    }
    let pg_url = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if want("side") {
        match (&pg_url, &args.pg_pidfile) {
            (Some(url), Some(pidfile)) => {
                let mut bins = Vec::new();
                if let Some(b) = &args.baseline_bin {
                    bins.push(("baseline".to_owned(), b.clone()));
                }
                bins.push(("this build".to_owned(), args.streamhooks_bin.clone()));
                println!(
                    "(side) PostgreSQL, {} webhooks, receiver in its own process, {} runs of each, interleaved",
                    args.side_webhooks, runs
                );
                side::run(
                    url,
                    pidfile,
                    &bins,
                    &args.side_queued,
                    args.side_webhooks,
                    runs,
                )
                .await?;
            }
            _ => println!("(side) skipped: needs TEST_DATABASE_URL and --pg-pidfile"),
        }
    }
    if want("spread") {
        let mut bins = Vec::new();
        if let Some(b) = &args.baseline_bin {
            bins.push(("baseline".to_owned(), b.clone()));
        }
        bins.push(("this build".to_owned(), args.streamhooks_bin.clone()));
        println!(
            "(spread) the side drain over {:?} webhooks on PostgreSQL and {:?} on SQLite, {} runs, interleaved",
            args.spread_webhooks, args.spread_sqlite_webhooks, runs
        );
        let pg = match (&pg_url, &args.pg_pidfile) {
            (Some(url), Some(pidfile)) => Some((url.as_str(), pidfile.as_path())),
            _ => None,
        };
        let options = spread::Options {
            bins,
            webhooks: args.spread_webhooks.clone(),
            sqlite_webhooks: args.spread_sqlite_webhooks.clone(),
            queued: args.spread_queued.clone(),
            runs,
        };
        spread::run(pg, &options).await?;
    }
    if want("speckle") {
        match (&pg_url, &args.pg_pidfile) {
            (Some(url), Some(pidfile)) => {
                println!(
                    "(speckle) PostgreSQL, Speckle's tables, {} webhooks, {} runs of each dispatcher, interleaved",
                    args.speckle_webhooks, runs
                );
                let options = speckle::Options {
                    queued: args.speckle_queued.clone(),
                    webhooks: args.speckle_webhooks,
                    stock_cap: args.speckle_stock_cap,
                    idle_events: args.speckle_idle_events,
                    stock: args.speckle_stock,
                    runs,
                    harness: args.speckle_harness.clone(),
                    node: args.node.clone(),
                    streamhooks: args.streamhooks_bin.clone(),
                };
                speckle::run(url, pidfile, &options).await?;
            }
            _ => println!("(speckle) skipped: needs TEST_DATABASE_URL and --pg-pidfile"),
        }
    }
    if want("ingest") {
        let mut bins = Vec::new();
        if let Some(b) = &args.baseline_bin {
            bins.push(("baseline".to_owned(), b.clone()));
        }
        bins.push(("this build".to_owned(), args.streamhooks_bin.clone()));
        println!(
            "(ingest) HTTP ingest into streamhooks serve, {} runs of each, interleaved",
            runs
        );
        let postmaster = args.pg_pidfile.as_deref().and_then(cpu::postmaster_pid);
        // PostgreSQL when TEST_DATABASE_URL is set, then SQLite.
        let urls = pg_url.as_deref().map(Some).into_iter().chain([None]);
        for url in urls {
            ingest::run(
                url,
                url.and(postmaster),
                &bins,
                runs,
                args.ingest_events,
                args.ingest_clients,
                args.ingest_batch_events,
            )
            .await?;
        }
    }
    for scenario in ["history", "explain"] {
        if !want(scenario) {
            continue;
        }
        for (name, url) in [("SQLite", None), ("PostgreSQL", pg_url.as_deref())] {
            if name == "PostgreSQL" && url.is_none() {
                println!("({scenario}) PostgreSQL: skipped (TEST_DATABASE_URL not set)");
                continue;
            }
            let b = big::build(url, args.history_events).await?;
            if scenario == "history" {
                let (mut p50s, mut p99s, mut maxes) = (Vec::new(), Vec::new(), Vec::new());
                for _ in 0..runs {
                    let (p50, p99, max) = big::history_latency(&b, args.history_requests).await?;
                    println!(
                        "  {name} history run: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                        ms(p50),
                        ms(p99),
                        ms(max)
                    );
                    p50s.push(ms(p50));
                    p99s.push(ms(p99));
                    maxes.push(ms(max));
                }
                println!(
                    "(history) {name}, history(limit: 25) with attempts on a webhook with {} events, {} requests: median p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    args.history_events,
                    args.history_requests,
                    median(p50s),
                    median(p99s),
                    median(maxes)
                );
            } else {
                println!("## {name}\n\n{}", big::explain(&b).await?);
            }
            b.finish().await;
        }
    }
    if want("attack") {
        let (mut worst, mut p99, mut peak) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let f = attack::run(&args.streamhooks_bin).await?;
            println!(
                "  attack run: trivial query worst {:.1} ms (serverInfo {:.1} ms, stream(id) {:.1} ms; {:.1} ms before the attack), p99 {:.1} ms ({} probes over {:.1} s); peak RSS {:.1} MB ({:.1} MB after seeding); fan-out refused in {:.1} ms at worst, history flood in {:.1} ms; the 600: {:?}",
                f.worst_trivial_ms,
                f.worst_no_db_ms,
                f.worst_db_ms,
                f.quiet_worst_ms,
                f.p99_trivial_ms,
                f.probes,
                f.attack_secs,
                f.peak_rss_mb,
                f.seeded_rss_mb,
                f.fan_out_worst_ms,
                f.flood_worst_ms,
                f.outcomes
            );
            worst.push(f.worst_trivial_ms);
            p99.push(f.p99_trivial_ms);
            peak.push(f.peak_rss_mb);
        }
        println!(
            "(g) attack on streamhooks serve (defaults): median worst trivial-query latency {:.1} ms, median p99 {:.1} ms, median peak RSS {:.1} MB",
            median(worst),
            median(p99),
            median(peak)
        );
    }
    Ok(())
}
