//! The spread scenario: the side-by-side drain ([`crate::side`]: real `streamhooks worker`
//! processes, the receiver in its own process, CPU per process from /proc) with the same backlog
//! spread over more webhooks — 10, 100, 1,000 and 10,000 on PostgreSQL, 10 and 1,000 on SQLite —
//! queued round-robin, so that a claim of 500 due events meets up to 500 webhooks. Each figure is
//! set beside the 10-webhook figure of the same run and binary, so a slow stretch of the machine
//! moves both. Every webhook count of a run drains every backlog before the next run starts, and
//! with `--baseline-bin` the binaries alternate drain by drain.
//!
//! Each drain over more webhooks also gets a 10-webhook drain of its own, of the same backlog and
//! binary, run right before it on odd runs and right after it on even ones (its pair). The same
//! cell can move by a factor of two between runs minutes apart (BENCHMARKS.md, spread), and the
//! first count's own cell is drained up to four drains (minutes, with 50,000 queued) away; the
//! pair is seconds away, and swapping the order run by run keeps a steady drift from favouring
//! either side of the median.

use std::path::{Path, PathBuf};

use crate::cpu;
use crate::seed;
use crate::side::{drain, seeded, Measure, Receiver};
use crate::stats::{median, BoxError};

/// What to drain, where and how often.
pub struct Options {
    /// Binaries, labelled; they alternate drain by drain.
    pub bins: Vec<(String, PathBuf)>,
    /// Webhook counts on PostgreSQL; the first is what the others are set beside.
    pub webhooks: Vec<usize>,
    /// Webhook counts on SQLite; the first is what the others are set beside.
    pub sqlite_webhooks: Vec<usize>,
    /// Backlogs drained.
    pub queued: Vec<usize>,
    pub runs: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "PostgreSQL",
            Backend::Sqlite => "SQLite",
        }
    }
}

/// One (binary, backend, webhooks, backlog) cell and its runs.
struct Cell {
    bin: String,
    backend: Backend,
    webhooks: usize,
    queued: usize,
    runs: Vec<Measure>,
    /// The paired drains of the first webhook count, one per run; empty for the first count.
    pairs: Vec<Measure>,
}

/// A drain of `n` events over `webhooks` webhooks on a fresh SQLite file, migrated by `bin`.
async fn once_sqlite(
    bin: &Path,
    n: usize,
    webhooks: usize,
    receiver: &Receiver,
) -> Result<Measure, BoxError> {
    let bench = seed::sqlite_unmigrated().await?;
    let new_schema = seeded(&bench, bin, n, webhooks, receiver).await?;
    let drained = drain(bin, &bench.url, n, receiver, &bench.db, new_schema, 0).await?;
    bench.cleanup().await;
    Ok(drained.measure(n))
}

/// Runs every cell `runs` times and prints each drain, then the medians beside the first webhook
/// count's. `pg` is the server TEST_DATABASE_URL names and its `postmaster.pid`; without it the
/// PostgreSQL cells are skipped, saying so.
pub async fn run(pg: Option<(&str, &Path)>, o: &Options) -> Result<(), BoxError> {
    let postmaster = match pg {
        Some((_, pidfile)) => Some(
            cpu::postmaster_pid(pidfile)
                .ok_or_else(|| format!("no postmaster pid in {}", pidfile.display()))?,
        ),
        None => {
            println!("  PostgreSQL skipped: needs TEST_DATABASE_URL and --pg-pidfile");
            None
        }
    };
    let receiver = Receiver::spawn()?;
    let mut plan: Vec<(Backend, usize)> = Vec::new();
    if pg.is_some() {
        plan.extend(
            o.webhooks
                .iter()
                .filter(|&&w| w > 0)
                .map(|&w| (Backend::Postgres, w)),
        );
    }
    plan.extend(
        o.sqlite_webhooks
            .iter()
            .filter(|&&w| w > 0)
            .map(|&w| (Backend::Sqlite, w)),
    );
    let mut cells: Vec<Cell> = Vec::new();
    for &(backend, webhooks) in &plan {
        for &queued in &o.queued {
            for (bin, _) in &o.bins {
                cells.push(Cell {
                    bin: bin.clone(),
                    backend,
                    webhooks,
                    queued,
                    runs: Vec::new(),
                    pairs: Vec::new(),
                });
            }
        }
    }
    for run in 1..=o.runs {
        for cell in cells.iter_mut() {
            let Some((_, path)) = o.bins.iter().find(|(l, _)| *l == cell.bin) else {
                continue;
            };
            let first = plan
                .iter()
                .find(|(b, _)| *b == cell.backend)
                .map_or(cell.webhooks, |&(_, w)| w);
            let (backend, queued, own) = (cell.backend, cell.queued, cell.webhooks);
            let mut order = vec![own];
            if own != first {
                order.insert(if run % 2 == 1 { 0 } else { 1 }, first);
            }
            for webhooks in order {
                let m = match (backend, pg, postmaster) {
                    (Backend::Postgres, Some((url, _)), Some(pm)) => {
                        crate::side::once(url, pm, path, queued, webhooks, &receiver).await?
                    }
                    _ => once_sqlite(path, queued, webhooks, &receiver).await?,
                };
                let which = if webhooks == own {
                    format!("{own} webhooks")
                } else {
                    format!("{webhooks} webhooks (the pair of {own})")
                };
                println!(
                    "  run {run}: {}, {}, {which}, {queued} queued: {:.0} deliveries/s; first delivery {:.1} ms after start, the last result recorded {:.1} ms after the last request; CPU ms per 1,000: worker {:.0}, PostgreSQL backends {:.0} + other {:.0}, receiver {:.0}; worker peak RSS {:.1} MB",
                    cell.bin, backend.name(), m.rate, m.first_ms, m.tail_ms,
                    m.worker, m.pg_backends, m.pg_other, m.receiver, m.worker_peak_mb
                );
                if webhooks == own {
                    cell.runs.push(m);
                } else {
                    cell.pairs.push(m);
                }
            }
        }
    }
    report(&cells);
    Ok(())
}

/// The table of medians. "Of the first count's" sets a cell beside the first webhook count's cell
/// of the same binary, backend and backlog, "of its pairs" beside its own paired drains; both are
/// the median of the per-run ratios.
fn report(cells: &[Cell]) {
    println!("| binary | backend | webhooks | queued | deliveries/s (runs) | rate, of the first count's | rate, of its pairs | first delivery, ms (worst) | CPU ms per 1,000: worker | PostgreSQL backends | backends, of the first count's | backends, of its pairs | worker peak RSS |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for c in cells {
        let base = cells
            .iter()
            .find(|b| b.bin == c.bin && b.backend == c.backend && b.queued == c.queued)
            .filter(|b| !std::ptr::eq(*b, c));
        let med = |f: fn(&Measure) -> f64| median(c.runs.iter().map(f).collect());
        let of = |against: &[Measure], f: fn(&Measure) -> f64| -> String {
            if against.is_empty() {
                return "—".to_owned();
            }
            let ratios: Vec<f64> = c
                .runs
                .iter()
                .zip(against)
                .map(|(m, o)| f(m) / f(o))
                .collect();
            format!("×{:.2}", median(ratios))
        };
        let base_runs = base.map_or(&[][..], |b| b.runs.as_slice());
        let pairs = c.pairs.as_slice();
        let each: Vec<String> = c.runs.iter().map(|m| format!("{:.0}", m.rate)).collect();
        let worst_first = c.runs.iter().map(|m| m.first_ms).fold(0.0, f64::max);
        let (backends, backends_of, backends_of_pairs) = match c.backend {
            Backend::Postgres => (
                format!("{:.0}", med(|m| m.pg_backends)),
                of(base_runs, |m| m.pg_backends),
                of(pairs, |m| m.pg_backends),
            ),
            Backend::Sqlite => ("—".to_owned(), "—".to_owned(), "—".to_owned()),
        };
        println!(
            "| {} | {} | {} | {} | **{:.0}** ({}) | {} | {} | {:.1} ({:.1}) | {:.0} | {} | {} | {} | {:.1} MB |",
            c.bin,
            c.backend.name(),
            c.webhooks,
            c.queued,
            med(|m| m.rate),
            each.join(" / "),
            of(base_runs, |m| m.rate),
            of(pairs, |m| m.rate),
            med(|m| m.first_ms),
            worst_first,
            med(|m| m.worker),
            backends,
            backends_of,
            backends_of_pairs,
            med(|m| m.worker_peak_mb),
        );
    }
}
