//! The slow scenario: side's drain ([`crate::side`]: a real `streamhooks worker` process, the
//! receiver in its own process, CPU per process from /proc) of `--slow-queued` events over
//! `--slow-webhooks` webhooks, behind one more webhook whose receiver accepts connections and
//! never answers, with `--slow-backlog` of its events queued an hour earlier: a receiver that
//! fell behind. Its lane stays full, so every claim leaves it out, and the question is what its
//! backlog costs the claims of everybody else. The rate is the others' (the first to the last of
//! their requests, then every one of their results recorded); the hanging webhook's events stay
//! queued. Each backlog is set beside the drain without one of the same run and binary, and with
//! `--baseline-bin` the binaries alternate drain by drain.
//!
//! The drains stay well inside the worker's 10 s request timeout, so the hanging requests neither
//! fail nor count towards auto-disabling the webhook while a rate is measured.

use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, Statement};
use tokio::net::TcpListener;

use crate::cpu::{self, PgSampler};
use crate::seed;
use crate::side::{drain, interleave, migrate, Measure, Receiver};
use crate::stats::{median, BoxError};

/// What to drain and how often.
pub struct Options {
    /// Binaries, labelled; they alternate drain by drain.
    pub bins: Vec<(String, PathBuf)>,
    /// The hanging webhook's queued events, one drain each; the first is the reference.
    pub backlogs: Vec<usize>,
    /// The other webhooks' events, drained.
    pub queued: usize,
    /// The other webhooks.
    pub webhooks: usize,
    pub runs: usize,
}

/// How long before the others' events the hanging webhook's were queued.
const BEHIND_MS: i64 = 3_600_000;

/// A listener that takes every connection and holds it open without reading or answering, as a
/// receiver that hangs does; until dropped.
struct Hang {
    addr: String,
    task: tokio::task::JoinHandle<()>,
}

impl Hang {
    async fn start() -> Result<Self, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        Ok(Self { addr, task })
    }
}

impl Drop for Hang {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One drain by `bin` of `o.queued` events behind `backlog` events of the hanging webhook.
async fn once(
    pg_url: &str,
    postmaster: u32,
    bin: &Path,
    o: &Options,
    backlog: usize,
    receiver: &Receiver,
    hang: &Hang,
) -> Result<Measure, BoxError> {
    let bench = seed::postgres_with(pg_url, false).await?;
    migrate(&bench, bin)?;
    let db = &bench.db;
    let hooks =
        seed::plain_webhooks(db, &format!("http://{}", receiver.addr), o.webhooks + 1).await?;
    let (slow, others) = hooks.split_first().ok_or("no webhooks seeded")?;
    let b = db.get_database_backend();
    db.execute(Statement::from_sql_and_values(
        b,
        "UPDATE webhooks_config SET url = $1 WHERE id = $2",
        [
            format!("http://{}/hook", hang.addr).into(),
            slow.as_str().into(),
        ],
    ))
    .await?;
    if backlog > 0 {
        seed::events(db, std::slice::from_ref(slow), backlog).await?;
        db.execute(Statement::from_sql_and_values(
            b,
            "UPDATE webhooks_queue SET due_at = due_at - $1",
            [BEHIND_MS.into()],
        ))
        .await?;
    }
    seed::events(db, others, o.queued).await?;
    db.execute_unprepared("VACUUM ANALYZE").await?;
    db.execute_unprepared("CHECKPOINT").await?;
    let sampler = PgSampler::start(postmaster);
    let drained = drain(
        bin,
        &bench.url,
        o.queued,
        receiver,
        db,
        true,
        backlog as i64,
    )
    .await?;
    let pg = sampler.finish();
    bench.cleanup().await;
    let mut m = drained.measure(o.queued);
    m.pg_backends = drained.per_k(o.queued, pg.backends_ns);
    m.pg_other = drained.per_k(o.queued, pg.other_ns);
    Ok(m)
}

/// Runs every (backlog, binary) drain `o.runs` times, printing each, then the medians.
pub async fn run(pg_url: &str, pidfile: &Path, o: &Options) -> Result<(), BoxError> {
    let postmaster = cpu::postmaster_pid(pidfile)
        .ok_or_else(|| format!("no postmaster pid in {}", pidfile.display()))?;
    let receiver = Receiver::spawn()?;
    let hang = Hang::start().await?;
    let cells = interleave(o.runs, &o.backlogs, &o.bins, async |run, backlog, label, bin| {
        let m = once(pg_url, postmaster, bin, o, backlog, &receiver, &hang).await?;
        println!(
            "  run {run}: {label}, {backlog} queued for the hanging webhook: {:.0} deliveries/s to the others; CPU ms per 1,000: worker {:.0}, PostgreSQL backends {:.0} + other {:.0}, receiver {:.0}",
            m.rate, m.worker, m.pg_backends, m.pg_other, m.receiver
        );
        Ok(m)
    })
    .await?;
    println!("| binary | hanging webhook's backlog | deliveries/s to the others (runs) | of no backlog's | CPU ms per 1,000: worker | PostgreSQL backends |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (label, backlog, runs) in &cells {
        let med = |f: fn(&Measure) -> f64| median(runs.iter().map(f).collect());
        let each: Vec<String> = runs.iter().map(|m| format!("{:.0}", m.rate)).collect();
        let reference = cells
            .iter()
            .find(|c| c.0 == *label)
            .filter(|c| c.1 != *backlog)
            .map(|c| {
                let ratios = runs
                    .iter()
                    .zip(&c.2)
                    .map(|(m, r)| m.rate / r.rate)
                    .collect();
                format!("×{:.2}", median(ratios))
            })
            .unwrap_or_else(|| "—".to_owned());
        println!(
            "| {label} | {backlog} | **{:.0}** ({}) | {reference} | {:.0} | {:.0} |",
            med(|m| m.rate),
            each.join(" / "),
            med(|m| m.worker),
            med(|m| m.pg_backends),
        );
    }
    Ok(())
}
