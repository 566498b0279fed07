//! The `speckle` scenario: `streamhooks speckle-dispatch` against Speckle's own webhook-service
//! on Speckle's own tables. Each run makes a fresh database with Speckle's migrations (run by
//! knex), queues a backlog the way Speckle's server does, starts one dispatcher and times it
//! (`drain`), then times single events on an idle dispatcher (`idle`). The two dispatchers
//! alternate run by run, so a burst of load from elsewhere hits both, and each figure is the
//! median of the runs.
//!
//! The question a reader will ask: why does the scenario run without our dispatcher? The stock
//! service's figures stand on their own (they are what the goals are multiples of), so when the
//! `streamhooks` binary given has no `speckle-dispatch` subcommand the scenario says so and
//! measures the stock service alone, rather than failing or measuring something else.

mod dispatcher;
mod drain;
mod idle;
mod tables;

use std::path::{Path, PathBuf};

use dispatcher::{Kind, Programs};
use drain::{Drain, Setup};
use idle::Idle;

use crate::cpu;
use crate::side::Receiver;
use crate::stats::{median, BoxError};

/// The scenario's settings, from the command line.
pub struct Options {
    /// Backlogs drained, the first being the one the others are compared with.
    pub queued: Vec<usize>,
    pub webhooks: usize,
    /// The stock service's runs stop after this many deliveries.
    pub stock_cap: usize,
    pub idle_events: usize,
    /// Whether the stock service runs too.
    pub stock: bool,
    pub runs: usize,
    /// `tests/interop/speckle`, with `npm ci` run in it and in its `stock/`.
    pub harness: PathBuf,
    pub node: PathBuf,
    pub streamhooks: PathBuf,
}

fn installed(dir: &Path) -> Result<(), BoxError> {
    if dir.join("node_modules").is_dir() {
        return Ok(());
    }
    Err(format!(
        "{} has no node_modules: run `npm ci --prefix {}` first",
        dir.display(),
        dir.display()
    )
    .into())
}

pub async fn run(pg_url: &str, pidfile: &Path, o: &Options) -> Result<(), BoxError> {
    let postmaster = cpu::postmaster_pid(pidfile)
        .ok_or_else(|| format!("no postmaster pid in {}", pidfile.display()))?;
    installed(&o.harness)?;
    if o.stock {
        installed(&o.harness.join("stock"))?;
    }
    let programs = Programs {
        node: o.node.clone(),
        stock_main: o.harness.join("stock/src/main.js"),
        streamhooks: o.streamhooks.clone(),
    };
    let mut kinds = Vec::new();
    if o.stock {
        kinds.push(Kind::Stock);
    }
    match dispatcher::probe_ours(&o.streamhooks) {
        Ok(()) => kinds.push(Kind::Ours),
        Err(why) if o.stock => println!("  {why}: measuring the stock webhook-service alone"),
        Err(why) => return Err(why.into()),
    }
    println!(
        "  {}-byte commit_create payloads; the stock service's runs stop after {} deliveries",
        tables::sample_len(),
        o.stock_cap
    );
    let receiver = Receiver::spawn()?;
    let setup = Setup {
        pg_url,
        postmaster,
        programs: &programs,
        harness: &o.harness,
        webhooks: o.webhooks,
        receiver: &receiver,
    };

    let mut drains: Vec<(Kind, usize, Vec<Drain>)> = Vec::new();
    let mut idles: Vec<(Kind, Vec<Idle>)> = kinds
        .iter()
        .filter(|_| o.idle_events > 0)
        .map(|k| (*k, Vec::new()))
        .collect();
    for run in 1..=o.runs {
        for &n in &o.queued {
            for &kind in &kinds {
                let cap = (kind == Kind::Stock).then_some(o.stock_cap);
                let d = drain::once(&setup, kind, n, cap).await?;
                println!(
                    "  run {run}: {}, {n} queued: {:.0} deliveries/s{}; CPU ms per 1,000: dispatcher {:.0}, PostgreSQL backends {:.0} + other {:.0}, receiver {:.0}; peak RSS {:.1} MB; tail {:.1} ms",
                    kind.label(),
                    d.rate,
                    over(&d, n),
                    d.dispatcher,
                    d.pg_backends,
                    d.pg_other,
                    d.receiver,
                    d.peak_mb,
                    d.tail_ms
                );
                match drains.iter_mut().find(|r| r.0 == kind && r.1 == n) {
                    Some(r) => r.2.push(d),
                    None => drains.push((kind, n, vec![d])),
                }
            }
        }
        for (kind, results) in idles.iter_mut() {
            let i = idle::once(&setup, *kind, o.idle_events).await?;
            println!(
                "  run {run}: {}, idle, {} events: commit → received p50 {:.1} ms, p99 {:.1} ms, worst {:.1} ms",
                kind.label(),
                o.idle_events,
                i.p50,
                i.p99,
                i.max
            );
            results.push(i);
        }
    }
    report(&drains, &idles, o);
    Ok(())
}

/// How much of the backlog a run's rate is over, when not all of it.
fn over(d: &Drain, n: usize) -> String {
    if d.capped {
        format!(" (over the first {} of {n})", d.delivered)
    } else {
        String::new()
    }
}

fn med<T>(v: &[T], f: impl Fn(&T) -> f64) -> f64 {
    median(v.iter().map(f).collect())
}

fn report(drains: &[(Kind, usize, Vec<Drain>)], idles: &[(Kind, Vec<Idle>)], o: &Options) {
    println!("| dispatcher | queued | deliveries/s (runs) | CPU ms per 1,000: dispatcher | PostgreSQL backends | PostgreSQL other | receiver | peak RSS |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (kind, n, ds) in drains {
        let each: Vec<String> = ds.iter().map(|d| format!("{:.0}", d.rate)).collect();
        let capped = ds.iter().any(|d| d.capped);
        println!(
            "| {} | {n}{} | **{:.0}** ({}) | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} MB |",
            kind.label(),
            if capped {
                format!(", first {}", o.stock_cap)
            } else {
                String::new()
            },
            med(ds, |d| d.rate),
            each.join(" / "),
            med(ds, |d| d.dispatcher),
            med(ds, |d| d.pg_backends),
            med(ds, |d| d.pg_other),
            med(ds, |d| d.receiver),
            med(ds, |d| d.peak_mb)
        );
    }
    println!("| dispatcher | idle commit → received: p50 (runs) | p99 | worst |");
    println!("| --- | --- | --- | --- |");
    for (kind, is) in idles {
        let each: Vec<String> = is.iter().map(|i| format!("{:.1}", i.p50)).collect();
        println!(
            "| {} | **{:.1} ms** ({}) | {:.1} ms | {:.1} ms |",
            kind.label(),
            med(is, |i| i.p50),
            each.join(" / "),
            med(is, |i| i.p99),
            med(is, |i| i.max)
        );
    }
    let rate = |kind: Kind, n: usize| {
        drains
            .iter()
            .find(|r| r.0 == kind && r.1 == n)
            .map(|r| med(&r.2, |d| d.rate))
    };
    let Some(&first) = o.queued.first() else {
        return;
    };
    for &n in &o.queued {
        if let (Some(stock), Some(ours)) = (rate(Kind::Stock, n), rate(Kind::Ours, n)) {
            let goal = if n == first {
                " (goal at the first backlog: ≥ ×50)"
            } else {
                ""
            };
            println!("ours / stock at {n} queued: ×{:.1}{goal}", ours / stock);
        }
        if n != first {
            if let (Some(base), Some(this)) = (rate(Kind::Ours, first), rate(Kind::Ours, n)) {
                println!(
                    "ours: the {n} rate is {:+.1}% of the {first} rate (goal: within 10%)",
                    (this / base - 1.0) * 100.0
                );
            }
        }
    }
    let idle = |kind: Kind| idles.iter().find(|(k, _)| *k == kind).map(|(_, is)| is);
    if let (Some(stock), Some(ours)) = (idle(Kind::Stock), idle(Kind::Ours)) {
        println!(
            "ours / stock idle: p50 ×{:.3}, p99 ×{:.3}",
            med(ours, |i| i.p50) / med(stock, |i| i.p50),
            med(ours, |i| i.p99) / med(stock, |i| i.p99)
        );
    }
    if let Some(is) = idle(Kind::Ours) {
        let (p50, p99) = (med(is, |i| i.p50), med(is, |i| i.p99));
        println!(
            "ours idle: p50 {p50:.1} ms (goal ≤ 50: {}), p99 {p99:.1} ms (goal ≤ 100: {})",
            if p50 <= 50.0 { "met" } else { "missed" },
            if p99 <= 100.0 { "met" } else { "missed" }
        );
    }
}
