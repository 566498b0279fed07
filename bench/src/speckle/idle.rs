//! Idle latency in the `speckle` scenario: with one dispatcher running and nothing queued,
//! events are inserted one at a time as Speckle's server inserts them (one statement, no
//! transaction, no trigger and no NOTIFY: Speckle's tables have none, and the bench adds none),
//! 20–100 ms apart at random, and each is timed from the moment its INSERT returned (committed)
//! to the moment its request reached the receiver, both on this process's monotonic clock.
//!
//! The question a reader will ask: why the test kit's recording receiver, in the bench's
//! process, rather than the counting one the drains use? A Speckle request carries no delivery
//! id in its headers, so arrivals are matched to inserts by the commit id inside the body's
//! payload, which only a recording receiver keeps; and in this process both ends of each latency
//! are read from the same clock. At one event every 20–100 ms its per-request cost is no load.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;
use streamhooks_worker::testkit::TestReceiver;

use super::dispatcher::{Kind, Running};
use super::drain::Setup;
use super::tables;
use crate::stats::{quantile, BoxError};

/// Arrival times by the commit id in each request's payload.
type Arrivals = HashMap<String, Vec<Instant>>;

fn commit_id(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.pointer("/payload/event/data/id")?
        .as_str()
        .map(str::to_owned)
}

/// Commit → received over one run, in ms.
#[derive(Debug, Clone, Copy)]
pub struct Idle {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

pub async fn once(setup: &Setup<'_>, kind: Kind, events: usize) -> Result<Idle, BoxError> {
    let bench = tables::fresh(setup.pg_url, &setup.programs.node, setup.harness).await?;
    let measured = measure(setup, &bench.db, &bench.url, kind, events).await;
    bench.cleanup().await;
    measured
}

async fn measure(
    setup: &Setup<'_>,
    db: &sea_orm::DatabaseConnection,
    url: &str,
    kind: Kind,
    events: usize,
) -> Result<Idle, BoxError> {
    let receiver = TestReceiver::start().await;
    let base = format!("http://{}", receiver.addr);
    let mut seen = Arrivals::new();

    let stream_id = tables::hex(10);
    let hooks = tables::webhooks(db, &base, &stream_id, setup.webhooks).await?;
    let ddl = tables::ddl(db).await?;
    let mut dispatcher = Running::start(kind, setup.programs, url)?;

    // One event delivered shows the dispatcher is up; then it is left idle for a while, so the
    // first timed insert does not meet a dispatcher that has just looked.
    let warm = tables::hex(10);
    tables::insert_one(
        db,
        &hooks[0].id,
        tables::payload(&stream_id, &hooks[0], &warm),
    )
    .await?;
    wait_for(
        &receiver,
        &mut seen,
        &mut dispatcher,
        std::slice::from_ref(&warm),
        Duration::from_secs(60),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut committed = Vec::with_capacity(events);
    for i in 0..events {
        let gap = rand::thread_rng().gen_range(20..=100);
        tokio::time::sleep(Duration::from_millis(gap)).await;
        let hook = &hooks[i % hooks.len()];
        let commit_id = tables::hex(10);
        tables::insert_one(db, &hook.id, tables::payload(&stream_id, hook, &commit_id)).await?;
        committed.push((commit_id, Instant::now()));
    }
    let ids: Vec<String> = committed.iter().map(|(id, _)| id.clone()).collect();
    wait_for(
        &receiver,
        &mut seen,
        &mut dispatcher,
        &ids,
        Duration::from_secs(30),
    )
    .await?;
    dispatcher.stop().await?;

    let [s0, s1, s2, s3, _] = tables::statuses(db).await?;
    if s2 != events as i64 + 1 {
        return Err(format!(
            "{}: {s2} of {} events at status 2 ({s0} at 0, {s1} at 1, {s3} at 3)",
            kind.label(),
            events + 1
        )
        .into());
    }
    if tables::ddl(db).await? != ddl {
        return Err(format!(
            "{} changed the definition of Speckle's tables",
            kind.label()
        )
        .into());
    }
    // Anything that came after the last awaited arrival, duplicates included.
    record(&receiver, &mut seen).await;
    let mut lat = Vec::with_capacity(events);
    for (id, at) in &committed {
        match seen.get(id).map(Vec::as_slice) {
            Some([got]) => lat.push(got.saturating_duration_since(*at).as_secs_f64() * 1e3),
            got => {
                return Err(format!(
                    "{}: event {id} received {} times",
                    kind.label(),
                    got.map_or(0, <[Instant]>::len)
                )
                .into())
            }
        }
    }
    lat.sort_by(f64::total_cmp);
    let pick = |q: f64| quantile(&lat, q);
    Ok(Idle {
        p50: pick(0.50)?,
        p99: pick(0.99)?,
        max: pick(1.0)?,
    })
}

async fn record(receiver: &TestReceiver, seen: &mut Arrivals) {
    for r in receiver.drain().await {
        let id = commit_id(&r.body).unwrap_or_else(|| "(no commit id)".to_owned());
        seen.entry(id).or_default().push(r.at);
    }
}

async fn wait_for(
    receiver: &TestReceiver,
    seen: &mut Arrivals,
    dispatcher: &mut Running,
    ids: &[String],
    within: Duration,
) -> Result<(), BoxError> {
    let deadline = Instant::now() + within;
    loop {
        record(receiver, seen).await;
        let missing = ids.iter().filter(|id| !seen.contains_key(*id)).count();
        if missing == 0 {
            return Ok(());
        }
        dispatcher.check_alive()?;
        if Instant::now() > deadline {
            return Err(format!(
                "{missing} of {} events not received in {within:?}",
                ids.len()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
