//! `streamhooks-bench`: how fast the dispatcher drains a queue, how soon a committed event reaches
//! its receiver, and how much memory a large backlog costs, against a fresh SQLite file and, when
//! `TEST_DATABASE_URL` is set, a fresh PostgreSQL database. Scenarios (a) to (e) run the
//! dispatcher in this process (`streamhooks_worker::run`, the receiver on 127.0.0.1); (f), side,
//! spread, slow, ingest, speckle and attack run real `streamhooks` processes (`--streamhooks-bin`), with
//! the receiver in a process of its own where CPU is read per process.
//!
//! `emit` measures the queuing side instead: what one change costs when its stream has 100
//! webhooks (one transaction, opened as the API opens it, fanning out 100 payload rows).
//!
//! Each figure is the median of `--runs` runs on a fresh database, because single runs on a shared
//! two-core machine vary by tens of percent. Peak RSS is `VmHWM`, reset (via `clear_refs`) after
//! seeding, so it measures the draining, not the bulk insert.
//!
//! `main` runs the scenarios that `--only` names, always in the same order; the in-process ones
//! ((a) to (f)) are [`inproc`]'s, and each other scenario's module takes its part of the command
//! line ([`args::Args`]) from a small `run_` function here.

mod args;
mod attack;
mod big;
mod cpu;
mod explain;
mod ingest;
mod inproc;
mod seed;
mod serve;
mod side;
mod slow;
mod speckle;
mod spread;
mod stats;
mod wire;

use std::path::Path;

use clap::Parser;
use streamhooks_worker::secrets::Secrets;

use args::Args;
use stats::{median, BoxError, Latencies};

/// The allocator of the `streamhooks` binary, so that what runs in this process (the API of
/// `history`, the dispatcher of (a), (b) and (c)) runs as it does there. It is also the
/// allocator of the side-by-side's receiver process (this binary), the same receiver for both
/// binaries compared.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    let pg_url = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let pg = pg_url.as_deref();
    let inproc = inproc_options(&args, runs);
    if want("throughput") {
        inproc::report_sqlite_throughput(&inproc).await?;
    }
    if want("latency") {
        inproc::report_latency(&inproc).await?;
    }
    if want("rss") && args.backlog > 0 {
        inproc::report_rss(&inproc).await?;
    }
    if want("postgres") {
        inproc::report_postgres_throughput(&inproc, pg).await?;
    }
    if want("processes") {
        inproc::report_two_processes(&inproc, pg).await?;
    }
    if want("wire") {
        run_wire()?;
    }
    if want("emit") {
        inproc::report_emit(&inproc, pg).await?;
    }
    if want("side") {
        run_side(&args, pg, runs).await?;
    }
    if want("spread") {
        run_spread(&args, pg, runs).await?;
    }
    if want("slow") {
        run_slow(&args, pg, runs).await?;
    }
    if want("speckle") {
        run_speckle(&args, pg, runs).await?;
    }
    if want("ingest") {
        run_ingest(&args, pg, runs).await?;
    }
    for scenario in ["history", "explain"] {
        if want(scenario) {
            run_big(&args, scenario, pg, runs).await?;
        }
    }
    if want("attack") {
        run_attack(&args.streamhooks_bin, runs).await?;
    }
    Ok(())
}

/// The in-process scenarios' part of the command line.
fn inproc_options(args: &Args, runs: usize) -> inproc::Options {
    inproc::Options {
        webhooks: args.webhooks,
        format: args.format,
        worker: args.worker.clone(),
        events: args.events,
        rate: args.rate,
        latency_for: args.latency_for,
        backlog: args.backlog,
        runs,
        streamhooks_bin: args.streamhooks_bin.clone(),
    }
}

/// (w): the CPU cost of building one request, with a key of its own.
fn run_wire() -> Result<(), BoxError> {
    let secrets = Secrets::from_text(&streamhooks_worker::secrets::generate_key()?)?;
    wire::run(&secrets, &seed::payload(), 50_000);
    Ok(())
}

/// `side`: needs PostgreSQL (`pg`) and its `--pg-pidfile`, or says it was skipped.
async fn run_side(args: &Args, pg: Option<&str>, runs: usize) -> Result<(), BoxError> {
    let Some((url, pidfile)) = args.pg_server_for("side", pg) else {
        return Ok(());
    };
    println!(
        "(side) PostgreSQL, {} webhooks, receiver in its own process, {} runs of each, interleaved",
        args.side_webhooks, runs
    );
    side::run(
        url,
        pidfile,
        &args.bins(),
        &args.side_queued,
        args.side_webhooks,
        runs,
    )
    .await
}

/// `spread`: on SQLite always, on PostgreSQL when `pg` and `--pg-pidfile` are both given.
async fn run_spread(args: &Args, pg: Option<&str>, runs: usize) -> Result<(), BoxError> {
    println!(
        "(spread) the side drain over {:?} webhooks on PostgreSQL and {:?} on SQLite, {} runs, interleaved",
        args.spread_webhooks, args.spread_sqlite_webhooks, runs
    );
    let options = spread::Options {
        bins: args.bins(),
        webhooks: args.spread_webhooks.clone(),
        sqlite_webhooks: args.spread_sqlite_webhooks.clone(),
        queued: args.spread_queued.clone(),
        runs,
    };
    spread::run(args.pg_server(pg), &options).await
}

/// `slow`: needs PostgreSQL (`pg`) and its `--pg-pidfile`, or says it was skipped.
async fn run_slow(args: &Args, pg: Option<&str>, runs: usize) -> Result<(), BoxError> {
    let Some((url, pidfile)) = args.pg_server_for("slow", pg) else {
        return Ok(());
    };
    println!(
        "(slow) PostgreSQL, {} events over {} webhooks behind {:?} of one whose receiver hangs, {} runs, interleaved",
        args.slow_queued, args.slow_webhooks, args.slow_backlog, runs
    );
    let options = slow::Options {
        bins: args.bins(),
        backlogs: args.slow_backlog.clone(),
        queued: args.slow_queued,
        webhooks: args.slow_webhooks,
        runs,
    };
    slow::run(url, pidfile, &options).await
}

/// `speckle`: needs PostgreSQL (`pg`) and its `--pg-pidfile`, or says it was skipped.
async fn run_speckle(args: &Args, pg: Option<&str>, runs: usize) -> Result<(), BoxError> {
    let Some((url, pidfile)) = args.pg_server_for("speckle", pg) else {
        return Ok(());
    };
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
    speckle::run(url, pidfile, &options).await
}

/// `ingest`: on PostgreSQL when `pg` is given, then on SQLite.
async fn run_ingest(args: &Args, pg: Option<&str>, runs: usize) -> Result<(), BoxError> {
    let bins = args.bins();
    println!(
        "(ingest) HTTP ingest into streamhooks serve, {} runs of each, interleaved",
        runs
    );
    let postmaster = args.pg_pidfile.as_deref().and_then(cpu::postmaster_pid);
    for url in pg.map(Some).into_iter().chain([None]) {
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
    Ok(())
}

/// `history` or `explain` (`scenario`) on the big database, built on SQLite and then on
/// PostgreSQL (`pg`, or a line saying that part was skipped).
async fn run_big(
    args: &Args,
    scenario: &str,
    pg: Option<&str>,
    runs: usize,
) -> Result<(), BoxError> {
    for (name, url) in [("SQLite", None), ("PostgreSQL", pg)] {
        if name == "PostgreSQL" && url.is_none() {
            println!("({scenario}) PostgreSQL: skipped (TEST_DATABASE_URL not set)");
            continue;
        }
        let b = big::build(url, args.history_events).await?;
        if scenario == "history" {
            let mut each = Latencies::default();
            for _ in 0..runs {
                let (p50, p99, max) =
                    each.push(big::history_latency(&b, args.history_requests).await?);
                println!("  {name} history run: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms");
            }
            let (p50, p99, max) = each.medians();
            println!(
                "(history) {name}, history(limit: 25) with attempts on a webhook with {} events, {} requests: median p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms",
                args.history_events, args.history_requests
            );
        } else {
            println!("## {name}\n\n{}", explain::explain(&b).await?);
        }
        b.finish().await;
    }
    Ok(())
}

/// (g): `runs` attacks on the `streamhooks serve` binary `bin`.
async fn run_attack(bin: &Path, runs: usize) -> Result<(), BoxError> {
    let (mut worst, mut p99, mut peak) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let f = attack::run(bin).await?;
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
    Ok(())
}
