//! The in-process scenarios: the dispatcher runs inside this process (`streamhooks_worker::run`,
//! as a task) with a counting receiver on 127.0.0.1, against a fresh SQLite file or, when
//! `TEST_DATABASE_URL` is set, a fresh PostgreSQL database, one per run ([`Harness`]):
//! (a) throughput on SQLite, (b) commit-to-request latency at an offered rate, (c) peak RSS while
//! draining a backlog, (d) throughput on PostgreSQL, (e) what queuing one change for every webhook
//! of a stream costs, and (f) two `streamhooks worker` processes draining one PostgreSQL queue,
//! which is here because it drains the harness's database into the harness's receiver. Each
//! `report_` function prints a line per run, then the median of the runs.
//!
//! The question a reader will ask: why does the receiver share this process, and the two cores,
//! with the dispatcher it measures? It only counts (and, for (b), notes when each event arrived),
//! so it takes little of them, and (a) to (e) then need no binary but this one. The dispatcher's
//! CPU told apart from the receiver's and the database's is what the `side` scenario measures,
//! with the receiver in a process of its own.

mod harness;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use streamhooks_worker::wire::Format;
use streamhooks_worker::WorkerConfig;

use crate::stats::{median, ms, quantile, BoxError, Latencies};
use crate::{cpu, seed};
use harness::Harness;

/// The scenarios' settings, from the command line.
pub struct Options {
    /// Webhooks the events are spread over, and their wire format.
    pub webhooks: usize,
    pub format: Format,
    /// The dispatcher's settings; the harness allows it the local network, for the receiver.
    pub worker: WorkerConfig,
    /// Events queued up front for (a), (d) and (f).
    pub events: usize,
    /// Offered rate (events/s) and length of (b).
    pub rate: u64,
    pub latency_for: Duration,
    /// Backlog drained for (c).
    pub backlog: usize,
    pub runs: usize,
    /// The `streamhooks` binary of (f)'s worker processes.
    pub streamhooks_bin: PathBuf,
}

/// (a): deliveries/s draining `events` queued events on SQLite.
pub async fn report_sqlite_throughput(o: &Options) -> Result<(), BoxError> {
    let mut rates = Vec::new();
    for _ in 0..o.runs {
        rates.push(throughput(o, None, o.events).await?);
        println!(
            "  sqlite throughput run: {:.0} deliveries/s",
            rates[rates.len() - 1]
        );
    }
    println!(
        "(a) SQLite, {} queued events: median {:.0} deliveries/s",
        o.events,
        median(rates)
    );
    Ok(())
}

/// (b): commit-to-request latency on SQLite at `rate` events/s for `latency_for`.
pub async fn report_latency(o: &Options) -> Result<(), BoxError> {
    let mut runs = Latencies::default();
    for _ in 0..o.runs {
        let (p50, p99, max) = runs.push(latency(o).await?);
        println!("  latency run: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms");
    }
    let (p50, p99, max) = runs.medians();
    println!(
        "(b) SQLite, {} events/s offered for {:?}: commit-to-request median p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms",
        o.rate, o.latency_for
    );
    Ok(())
}

/// (c): peak RSS draining a backlog of `backlog` events on SQLite.
pub async fn report_rss(o: &Options) -> Result<(), BoxError> {
    let (mut peaks, mut befores, mut rates) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..o.runs {
        let (peak, before, rate) = rss(o, o.backlog).await?;
        println!("  rss run: peak {peak:.1} MB ({before:.1} MB before the dispatcher started), draining at {rate:.0}/s");
        peaks.push(peak);
        befores.push(before);
        rates.push(rate);
    }
    println!(
        "(c) SQLite, draining {} queued events: median peak RSS {:.1} MB, {:.1} MB before the dispatcher started (at {:.0} deliveries/s)",
        o.backlog,
        median(peaks),
        median(befores),
        median(rates)
    );
    Ok(())
}

/// (d): (a) on the PostgreSQL server at `pg`, or a line saying it was skipped.
pub async fn report_postgres_throughput(o: &Options, pg: Option<&str>) -> Result<(), BoxError> {
    let Some(url) = pg else {
        println!("(d) PostgreSQL: skipped (TEST_DATABASE_URL not set)");
        return Ok(());
    };
    let mut rates = Vec::new();
    for _ in 0..o.runs {
        rates.push(throughput(o, Some(url), o.events).await?);
        println!(
            "  postgres throughput run: {:.0} deliveries/s",
            rates[rates.len() - 1]
        );
    }
    println!(
        "(d) PostgreSQL, {} queued events: median {:.0} deliveries/s",
        o.events,
        median(rates)
    );
    Ok(())
}

/// (f): two `streamhooks worker` processes draining `events` queued events on the PostgreSQL
/// server at `pg`, or a line saying it was skipped.
pub async fn report_two_processes(o: &Options, pg: Option<&str>) -> Result<(), BoxError> {
    let Some(url) = pg else {
        println!("(f) two worker processes: skipped (TEST_DATABASE_URL not set)");
        return Ok(());
    };
    let mut rates = Vec::new();
    for _ in 0..o.runs {
        rates.push(two_processes(o, url, o.events).await?);
        println!(
            "  two worker processes run: {:.0} deliveries/s",
            rates[rates.len() - 1]
        );
    }
    println!(
        "(f) PostgreSQL, two streamhooks worker processes, {} queued events: median {:.0} deliveries/s",
        o.events,
        median(rates)
    );
    Ok(())
}

/// (e): the cost of queuing one change for every webhook, on SQLite and then on the PostgreSQL
/// server at `pg` (or a line saying that part was skipped).
pub async fn report_emit(o: &Options, pg: Option<&str>) -> Result<(), BoxError> {
    for (name, url) in [("SQLite", None), ("PostgreSQL", pg)] {
        if name == "PostgreSQL" && url.is_none() {
            println!("(e) PostgreSQL emit: skipped (TEST_DATABASE_URL not set)");
            continue;
        }
        let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
        for _ in 0..o.runs {
            let (p50, p99) = emit_cost(o, url, 500).await?;
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
            o.webhooks,
            median(p50s),
            median(p99s)
        );
    }
    Ok(())
}

/// Deliveries/s with every status recorded, draining `n` queued events.
async fn throughput(o: &Options, pg: Option<&str>, n: usize) -> Result<f64, BoxError> {
    let mut h = Harness::new(pg, o.webhooks, o.format).await?;
    seed::events(&h.bench.db, &h.hooks, n).await?;
    let t = Instant::now();
    h.start(&o.worker);
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
async fn latency(o: &Options) -> Result<(Duration, Duration, Duration), BoxError> {
    let total = (o.rate as f64 * o.latency_for.as_secs_f64()) as usize;
    if total == 0 {
        return Err("--rate times --latency-for offers no event to time".into());
    }
    let mut h = Harness::new(None, o.webhooks, o.format).await?;
    h.receiver.track_arrivals(true);
    h.start(&o.worker);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let payload = seed::payload();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / o.rate as f64));
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
    let pick = |q: f64| quantile(&lat, q);
    Ok((pick(0.50)?, pick(0.99)?, pick(1.0)?))
}

/// Peak RSS (MB) while draining `n` queued events, RSS before the dispatcher started (the
/// runtime, the receiver and SQLite after seeding), and the rate achieved meanwhile.
async fn rss(o: &Options, n: usize) -> Result<(f64, f64, f64), BoxError> {
    let mut h = Harness::new(None, o.webhooks, o.format).await?;
    seed::events(&h.bench.db, &h.hooks, n).await?;
    // Linux: writing 5 resets VmHWM to the current RSS, so seeding does not count.
    std::fs::write("/proc/self/clear_refs", "5")?;
    let before = cpu::status_mb(None, "VmRSS:")?;
    let t = Instant::now();
    h.start(&o.worker);
    h.drained().await?;
    let secs = t.elapsed().as_secs_f64();
    let peak = cpu::status_mb(None, "VmHWM:")?;
    h.finish().await?;
    Ok((peak, before, n as f64 / secs))
}

/// Deliveries/s with two separate `streamhooks worker` processes draining `n` events queued in
/// PostgreSQL (claims with SKIP LOCKED, wake-ups through NOTIFY), every status recorded.
async fn two_processes(o: &Options, pg: &str, n: usize) -> Result<f64, BoxError> {
    let h = Harness::new(Some(pg), o.webhooks, o.format).await?;
    seed::events(&h.bench.db, &h.hooks, n).await?;
    let url = h.bench.url.clone();
    let spawn = || {
        std::process::Command::new(&o.streamhooks_bin)
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
            .map_err(|e| format!("cannot run {}: {e}", o.streamhooks_bin.display()))
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
    o: &Options,
    pg: Option<&str>,
    n: usize,
) -> Result<(Duration, Duration), BoxError> {
    use streamhooks_worker::outbox::{emit, Event, Outbox, ServerInfo};
    let h = Harness::new(pg, o.webhooks, o.format).await?;
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
    let pick = |q: f64| quantile(&times, q);
    Ok((pick(0.50)?, pick(0.99)?))
}
