//! The spread scenario: the side-by-side drain ([`crate::side`]: real `streamhooks worker`
//! processes, the receiver in its own process, CPU per process from /proc) with the same backlog
//! spread over more webhooks — 10, 100, 1,000 and 10,000 on PostgreSQL, 10 and 1,000 on SQLite —
//! queued round-robin, so that a claim of 500 due events meets up to 500 webhooks. Each figure is
//! set beside the 10-webhook figure of the same run and binary, so a slow stretch of the machine
//! moves both. Every webhook count of a run drains every backlog before the next run starts, and
//! with `--baseline-bin` the binaries alternate drain by drain.

use std::path::{Path, PathBuf};

use crate::cpu;
use crate::side::{drain, seeded, Measure, Receiver};
use crate::{median, seed, BoxError};

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
    let drained = drain(bin, &bench.url, n, receiver, &bench.db, new_schema).await?;
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
                });
            }
        }
    }
    for run in 1..=o.runs {
        for cell in cells.iter_mut() {
            let Some((_, path)) = o.bins.iter().find(|(l, _)| *l == cell.bin) else {
                continue;
            };
            let m = match (cell.backend, pg, postmaster) {
                (Backend::Postgres, Some((url, _)), Some(pm)) => {
                    crate::side::once(url, pm, path, cell.queued, cell.webhooks, &receiver).await?
                }
                _ => once_sqlite(path, cell.queued, cell.webhooks, &receiver).await?,
            };
            println!(
                "  run {run}: {}, {}, {} webhooks, {} queued: {:.0} deliveries/s; first delivery {:.1} ms after start; CPU ms per 1,000: worker {:.0}, PostgreSQL backends {:.0} + other {:.0}, receiver {:.0}; worker peak RSS {:.1} MB",
                cell.bin, cell.backend.name(), cell.webhooks, cell.queued, m.rate, m.first_ms,
                m.worker, m.pg_backends, m.pg_other, m.receiver, m.worker_peak_mb
            );
            cell.runs.push(m);
        }
    }
    report(&cells);
    Ok(())
}

/// The table of medians; "of first" sets a cell beside the first webhook count's cell of the same
/// binary, backend and backlog, as the median of the per-run ratios.
fn report(cells: &[Cell]) {
    println!("| binary | backend | webhooks | queued | deliveries/s (runs) | rate, of the first count's | first delivery, ms (worst) | CPU ms per 1,000: worker | PostgreSQL backends | backends, of the first count's | worker peak RSS |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for c in cells {
        let base = cells
            .iter()
            .find(|b| b.bin == c.bin && b.backend == c.backend && b.queued == c.queued);
        let med = |f: fn(&Measure) -> f64| median(c.runs.iter().map(f).collect());
        let of_base = |f: fn(&Measure) -> f64| -> String {
            match base {
                Some(b) if !std::ptr::eq(b, c) => {
                    let ratios: Vec<f64> = c
                        .runs
                        .iter()
                        .zip(&b.runs)
                        .map(|(m, bm)| f(m) / f(bm))
                        .collect();
                    format!("×{:.2}", median(ratios))
                }
                _ => "—".to_owned(),
            }
        };
        let each: Vec<String> = c.runs.iter().map(|m| format!("{:.0}", m.rate)).collect();
        let worst_first = c.runs.iter().map(|m| m.first_ms).fold(0.0, f64::max);
        let backends = match c.backend {
            Backend::Postgres => format!("{:.0}", med(|m| m.pg_backends)),
            Backend::Sqlite => "—".to_owned(),
        };
        let backends_of = match c.backend {
            Backend::Postgres => of_base(|m| m.pg_backends),
            Backend::Sqlite => "—".to_owned(),
        };
        println!(
            "| {} | {} | {} | {} | **{:.0}** ({}) | {} | {:.1} ({:.1}) | {:.0} | {} | {} | {:.1} MB |",
            c.bin,
            c.backend.name(),
            c.webhooks,
            c.queued,
            med(|m| m.rate),
            each.join(" / "),
            of_base(|m| m.rate),
            med(|m| m.first_ms),
            worst_first,
            med(|m| m.worker),
            backends,
            backends_of,
            med(|m| m.worker_peak_mb),
        );
    }
}
