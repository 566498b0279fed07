//! One drain of the `speckle` scenario: a backlog queued in Speckle's tables, then one
//! dispatcher started, timed from the first request reaching the receiver (a process of its own,
//! shared with `side`) to the moment no event is at status 0 or 1, with the CPU of the
//! dispatcher, of the database's backends and of the receiver read from /proc.
//!
//! The question a reader will ask: how can a run stop early and still give a rate? The stock
//! service drains 50,000 queued at tens per second, so its runs may be capped: the clock then
//! stops when the receiver has seen `cap` requests, and the rate is the events at status 2 at
//! that moment over the time since the first request. Its claim reads the whole table for each
//! event (at 50,000 rows, a sequential scan and a top-N sort, ~40 ms), so what sets its rate is
//! the table's size, which a cap does not change; a capped rate is still only the rate over the
//! first `cap` deliveries, and is reported as such. Uncapped, the same formula counts every
//! event.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sea_orm::ConnectionTrait;

use super::dispatcher::{Kind, Programs, Running};
use super::tables;
use crate::cpu::{self, PgSampler};
use crate::side::Receiver;
use crate::stats::BoxError;

/// What the bench needs for every run.
pub struct Setup<'a> {
    pub pg_url: &'a str,
    pub postmaster: u32,
    pub programs: &'a Programs,
    /// `tests/interop/speckle`: the migrations and their runner.
    pub harness: &'a Path,
    pub webhooks: usize,
    pub receiver: &'a Receiver,
}

/// What one drain measured.
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    /// Events at status 2 when the clock stopped: every event queued, unless capped.
    pub delivered: u64,
    pub capped: bool,
    pub rate: f64,
    /// Milliseconds of CPU per 1,000 deliveries, start-up included.
    pub dispatcher: f64,
    /// The backends serving this run's database.
    pub pg_backends: f64,
    /// The server's other processes (WAL writer, checkpointer, autovacuum), whoever they served.
    pub pg_other: f64,
    pub receiver: f64,
    /// The dispatcher's peak RSS (VmHWM), in MB.
    pub peak_mb: f64,
    /// From the last request's arrival to the clock's stop, in ms.
    pub tail_ms: f64,
}

fn unix_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Queues `n` events on a fresh database and has `kind` deliver them, or only the first `cap`.
pub async fn once(
    setup: &Setup<'_>,
    kind: Kind,
    n: usize,
    cap: Option<usize>,
) -> Result<Drain, BoxError> {
    let bench = tables::fresh(setup.pg_url, &setup.programs.node, setup.harness).await?;
    let measured = measure(setup, &bench.db, &bench.url, kind, n, cap).await;
    bench.cleanup().await;
    measured
}

async fn measure(
    setup: &Setup<'_>,
    db: &sea_orm::DatabaseConnection,
    url: &str,
    kind: Kind,
    n: usize,
    cap: Option<usize>,
) -> Result<Drain, BoxError> {
    let receiver = setup.receiver;
    let stream_id = tables::hex(10);
    let base = format!("http://{}", receiver.addr);
    let hooks = tables::webhooks(db, &base, &stream_id, setup.webhooks).await?;
    tables::queue(db, &stream_id, &hooks, n).await?;
    db.execute_unprepared("VACUUM ANALYZE").await?;
    db.execute_unprepared("CHECKPOINT").await?;
    let ddl = tables::ddl(db).await?;
    let rows = tables::rows(db).await?;
    let database = url::Url::parse(url)?
        .path()
        .trim_start_matches('/')
        .to_owned();

    receiver.get("/__reset").await?;
    let receiver_before = cpu::process_ns(receiver.pid()).unwrap_or(0);
    let sampler = PgSampler::start_for(setup.postmaster, Some(&database));
    let mut dispatcher = Running::start(kind, setup.programs, url)?;
    let target = cap.map_or(n, |c| c.min(n));
    let capped = target < n;
    let deadline = Instant::now() + Duration::from_secs(3600);
    let (mut got, mut first_us, mut last_us) = (0, 0, 0);
    while got < target as u64 {
        dispatcher.check_alive()?;
        if Instant::now() > deadline {
            return Err(format!(
                "{}: only {got} of {target} requests in an hour",
                kind.label()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        (got, first_us, last_us) = receiver.count().await?;
    }
    let delivered = if capped {
        tables::scalar(
            db,
            r#"SELECT COUNT(*) AS n FROM webhooks_events WHERE "status" = 2"#,
        )
        .await?
    } else {
        let pending = r#"SELECT COUNT(*) AS n FROM webhooks_events WHERE "status" IN (0, 1)"#;
        while tables::scalar(db, pending).await? > 0 {
            dispatcher.check_alive()?;
            if Instant::now() > deadline {
                return Err(format!("{}: results not recorded in an hour", kind.label()).into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        n as i64
    };
    let end_us = unix_us();
    let dispatcher_ns = cpu::process_ns(dispatcher.pid()).unwrap_or(0);
    let peak_mb = cpu::status_mb(Some(dispatcher.pid()), "VmHWM:").unwrap_or(0.0);
    let pg = sampler.finish();
    let receiver_ns = cpu::process_ns(receiver.pid())
        .unwrap_or(0)
        .saturating_sub(receiver_before);
    dispatcher.stop().await?;

    check(db, receiver, kind, n, capped).await?;
    if tables::ddl(db).await? != ddl {
        return Err(format!(
            "{} changed the definition of Speckle's tables",
            kind.label()
        )
        .into());
    }
    if tables::rows(db).await? != rows {
        return Err(format!(
            "{} wrote columns of Speckle's tables other than status, statusInfo and lastUpdate",
            kind.label()
        )
        .into());
    }

    let per_k = |ns: u64| ns as f64 / 1e6 / (delivered as f64 / 1000.0);
    Ok(Drain {
        delivered: delivered as u64,
        capped,
        rate: delivered as f64 / ((end_us - first_us) as f64 / 1e6),
        dispatcher: per_k(dispatcher_ns),
        pg_backends: per_k(pg.backends_ns),
        pg_other: per_k(pg.other_ns),
        receiver: per_k(receiver_ns),
        peak_mb,
        tail_ms: (end_us - last_us) as f64 / 1e3,
    })
}

/// After the dispatcher has stopped: nothing left at 1, nothing failed, every event at 2 says
/// `Webhook called`, all `n` at 2 unless the run was capped, and the receiver saw as many
/// requests as there are events at 2. A dispatcher sets 2 only after its request was answered,
/// so every event at 2 was received at least once, and equal counts mean exactly once.
async fn check(
    db: &sea_orm::DatabaseConnection,
    receiver: &Receiver,
    kind: Kind,
    n: usize,
    capped: bool,
) -> Result<(), BoxError> {
    let [s0, s1, s2, s3, odd] = tables::statuses(db).await?;
    let who = kind.label();
    if s1 > 0 || s3 > 0 || odd > 0 {
        return Err(format!(
            "{who}: {s1} events left at 1, {s3} at 3, {odd} at 2 without `Webhook called`"
        )
        .into());
    }
    if !capped && s2 != n as i64 {
        return Err(format!("{who}: {s2} of {n} events at status 2, {s0} at 0").into());
    }
    // The dispatcher has exited, so every request it sent has been counted.
    let (received, _, _) = receiver.count().await?;
    if received != s2 as u64 {
        return Err(
            format!("{who}: the receiver saw {received} requests for {s2} events at 2").into(),
        );
    }
    Ok(())
}
