//! The command line: every scenario's settings, as clap reads them. Only `main.rs` reads it;
//! each scenario takes what it needs as parameters or as its own `Options`, so a scenario's module
//! can be read, and run, without the whole command line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use streamhooks_worker::WorkerConfig;

#[derive(Parser, Debug)]
#[command(about = "Benchmarks the streamhooks dispatcher")]
pub struct Args {
    /// Events queued up front for the throughput run.
    #[arg(long, default_value_t = 200_000)]
    pub events: usize,
    /// Runs per scenario; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Offered rate for the latency run (events/s).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: u64,
    /// Length of the latency run.
    #[arg(long, default_value = "10s", value_parser = streamhooks_worker::config::parse_duration)]
    pub latency_for: Duration,
    /// Backlog drained for the memory measurement (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub backlog: usize,
    /// Webhooks the events are spread over.
    #[arg(long, default_value_t = 100)]
    pub webhooks: usize,
    /// Wire format of those webhooks (`speckle-string`, the default, or `speckle-object`).
    #[arg(long, default_value = "speckle-string", value_parser = |s: &str| s.parse::<streamhooks_worker::wire::Format>())]
    pub format: streamhooks_worker::wire::Format,
    /// Only these scenarios (comma-separated: throughput, latency, rss, postgres, processes,
    /// emit, attack, wire, and, not run by default, side, spread, slow, history, explain, ingest,
    /// speckle). `processes` drains
    /// PostgreSQL with two `streamhooks worker` processes; `attack` sends hostile
    /// requests to a `streamhooks serve` process; `wire` is the CPU cost of building one request;
    /// `side` compares binaries on PostgreSQL with a separate receiver process and CPU per
    /// process; `spread` is side's drain over 10 to 10,000 webhooks; `slow` is side's drain
    /// behind the backlog of a webhook whose receiver hangs; `history` times `history(limit: 25)` on a webhook with `--history-events` events;
    /// `explain` prints the query plans of docs/query-plans.md; `ingest` sends events through
    /// `POST /api/events` (and `/batch`) of `streamhooks serve` processes, alternating binaries;
    /// `speckle` compares `streamhooks speckle-dispatch` with Speckle's webhook-service on
    /// Speckle's tables.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "throughput,latency,rss,postgres,processes,emit,attack,wire"
    )]
    pub only: Vec<String>,
    /// The `streamhooks` binary the `processes`, `attack` and `side` scenarios run (build it with
    /// `cargo build --release -p streamhooks-api`).
    #[arg(long, default_value = "target/release/streamhooks")]
    pub streamhooks_bin: PathBuf,
    /// `side`: another `streamhooks` binary to run alternately with `--streamhooks-bin`, e.g.
    /// today's main built in its own worktree.
    #[arg(long)]
    pub baseline_bin: Option<PathBuf>,
    /// `side`: the PostgreSQL server's `postmaster.pid` (in its data directory), to find its
    /// processes and read their CPU time. The server must be the one TEST_DATABASE_URL names.
    #[arg(long)]
    pub pg_pidfile: Option<PathBuf>,
    /// `side`: backlogs drained, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "5000,50000")]
    pub side_queued: Vec<usize>,
    /// `side`: webhooks the backlog is spread over.
    #[arg(long, default_value_t = 10)]
    pub side_webhooks: usize,
    /// `spread`: webhook counts on PostgreSQL, comma-separated; the first is the reference, and
    /// every other count's drain is paired with a drain of the first.
    #[arg(long, value_delimiter = ',', default_value = "10,100,1000,10000")]
    pub spread_webhooks: Vec<usize>,
    /// `spread`: webhook counts on SQLite, comma-separated (`0`: none); the first is the
    /// reference.
    #[arg(long, value_delimiter = ',', default_value = "10,1000")]
    pub spread_sqlite_webhooks: Vec<usize>,
    /// `spread`: backlogs drained, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "5000,50000")]
    pub spread_queued: Vec<usize>,
    /// `slow`: events queued for the hanging webhook, comma-separated, an hour before the
    /// others'; the first is the reference.
    #[arg(long, value_delimiter = ',', default_value = "0,20000,100000")]
    pub slow_backlog: Vec<usize>,
    /// `slow`: the other webhooks' events, drained.
    #[arg(long, default_value_t = 20_000)]
    pub slow_queued: usize,
    /// `slow`: the other webhooks.
    #[arg(long, default_value_t = 1_000)]
    pub slow_webhooks: usize,
    /// `history` and `explain`: events stored for the one webhook whose history is read.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub history_events: usize,
    /// `history`: requests timed (after 20 to warm up).
    #[arg(long, default_value_t = 500, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub history_requests: usize,
    /// `ingest`: events sent one per request (after 200 to warm up).
    #[arg(long, default_value_t = 3000)]
    pub ingest_events: usize,
    /// `ingest`: concurrent clients sending them.
    #[arg(long, default_value_t = 16)]
    pub ingest_clients: usize,
    /// `ingest`: events sent in batches of 100 (0 skips it).
    #[arg(long, default_value_t = 20_000)]
    pub ingest_batch_events: usize,
    /// `speckle`: backlogs drained, comma-separated; the later ones are compared with the first.
    #[arg(long, value_delimiter = ',', default_value = "5000,50000")]
    pub speckle_queued: Vec<usize>,
    /// `speckle`: webhooks the backlog is spread over.
    #[arg(long, default_value_t = 10)]
    pub speckle_webhooks: usize,
    /// `speckle`: the stock webhook-service's runs stop after this many deliveries (at tens per
    /// second, 50,000 would take a quarter of an hour per run); its rate is over those.
    #[arg(long, default_value_t = 5000)]
    pub speckle_stock_cap: usize,
    /// `speckle`: events inserted one at a time, 20–100 ms apart, for the idle latency (0
    /// leaves the idle part out).
    #[arg(long, default_value_t = 200)]
    pub speckle_idle_events: usize,
    /// `speckle`: whether the stock webhook-service runs too (`false` measures ours alone, e.g.
    /// under a profiler).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub speckle_stock: bool,
    /// `speckle`: Speckle's migrations and their runner, with the stock service in `stock/`
    /// (`npm ci` in both first).
    #[arg(long, default_value = "tests/interop/speckle")]
    pub speckle_harness: PathBuf,
    /// `speckle`: the Node.js that runs Speckle's migrations and its webhook-service.
    #[arg(long, default_value = "node")]
    pub node: PathBuf,
    /// Internal: serve as the `side` scenario's receiver process.
    #[arg(long, hide = true)]
    pub serve_receiver: bool,
    #[command(flatten)]
    pub worker: WorkerConfig,
}

impl Args {
    /// The binaries that the `side`, `spread` and `ingest` scenarios run alternately, with their
    /// labels: `--baseline-bin` (when given) first, then `--streamhooks-bin`.
    pub fn bins(&self) -> Vec<(String, PathBuf)> {
        let mut bins = Vec::new();
        if let Some(b) = &self.baseline_bin {
            bins.push(("baseline".to_owned(), b.clone()));
        }
        bins.push(("this build".to_owned(), self.streamhooks_bin.clone()));
        bins
    }

    /// The PostgreSQL server a scenario that reads its backends' CPU runs on: `pg`
    /// (TEST_DATABASE_URL) and `--pg-pidfile`, or `None` unless both are given.
    pub fn pg_server<'a>(&'a self, pg: Option<&'a str>) -> Option<(&'a str, &'a Path)> {
        Some((pg?, self.pg_pidfile.as_deref()?))
    }

    /// [`Self::pg_server`] for a scenario that runs only there: without it, says that
    /// `scenario` was skipped and why.
    pub fn pg_server_for<'a>(
        &'a self,
        scenario: &str,
        pg: Option<&'a str>,
    ) -> Option<(&'a str, &'a Path)> {
        let server = self.pg_server(pg);
        if server.is_none() {
            println!("({scenario}) skipped: needs TEST_DATABASE_URL and --pg-pidfile");
        }
        server
    }
}
