//! `ingest`: events ingested through the HTTP API of a real `streamhooks serve` process
//! (this build's and, with `--baseline-bin`, another's, run alternately) and delivered by that
//! process's own dispatcher to a receiver in a third process. Ten streams with one webhook each
//! (ten endpoints), events spread over them in turn, ~1.2 KB each, so one event is one delivery.
//!
//! Per run, on a fresh database migrated by the binary under test (PostgreSQL from
//! TEST_DATABASE_URL, or a SQLite file): (1) single: `--ingest-events` events, one per
//! `POST /api/events`, from `--ingest-clients` concurrent clients, timed from the first request to
//! the last delivery reaching the receiver; (2) idle latency: 200 events one at a time, 20 ms
//! apart, each from its 202 being read here to the receiver's handler starting (both clocks are
//! this machine's wall clock; a negative value means the request reached the receiver before the
//! 202 reached us); (3) batched: `--ingest-batch-events` events in `POST /api/events/batch`
//! requests of 100 from 4 clients, timed the same way (skipped for a binary without the batch
//! endpoint). Set-up, warm-up (200 events) and start-up are outside every figure.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::cpu::{self, PgSampler};
use crate::seed;
use crate::serve::{run_bin, user_token, Serve};
use crate::side::Receiver;
use crate::stats::{median, quantile, BoxError};

const STREAMS: usize = 10;

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub single_rate: f64,
    /// CPU ms per 1,000 single events: the serve process, and PostgreSQL's backends (when its
    /// postmaster is known).
    pub serve_cpu: f64,
    pub pg_cpu: Option<f64>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub batch_rate: Option<f64>,
}

fn unix_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn event(i: usize) -> Value {
    json!({
        "streamId": format!("bs{}", i % STREAMS),
        "userId": "benchuser",
        "event": "commit_create",
        "data": { "id": format!("c{i:09}"), "commit": {
            "message": "x".repeat(900), "branchName": "main", "sourceApplication": "bench" } },
    })
}

async fn seed_streams(db: &sea_orm::DatabaseConnection, receiver: &str) -> Result<(), BoxError> {
    let b = db.get_database_backend();
    let now = Utc::now();
    for i in 0..STREAMS {
        db.execute(Statement::from_sql_and_values(
            b,
            "INSERT INTO streams (id, name, description, is_public, created_at, updated_at) \
             VALUES ($1, $2, NULL, $3, $4, $4)",
            [
                format!("bs{i}").into(),
                format!("Bench {i}").into(),
                false.into(),
                now.into(),
            ],
        ))
        .await?;
        db.execute(Statement::from_sql_and_values(
            b,
            "INSERT INTO webhooks_config (id, stream_id, url, description, secret, triggers, enabled, \
             disabled_reason, consecutive_failures, created_at, updated_at) \
             VALUES ($1, $2, $3, NULL, NULL, '[\"commit_create\"]', $4, NULL, 0, $5, $5)",
            [
                format!("wh{i:05}").into(),
                format!("bs{i}").into(),
                format!("http://{receiver}/hook/{i}").into(),
                true.into(),
                now.into(),
            ],
        ))
        .await?;
    }
    Ok(())
}

/// Waits until the receiver has counted `n` requests since its reset; returns the last arrival.
async fn delivered(receiver: &Receiver, n: u64) -> Result<i64, BoxError> {
    let start = Instant::now();
    loop {
        let (got, _, last) = receiver.count().await?;
        if got >= n {
            return Ok(last);
        }
        if start.elapsed() > Duration::from_secs(300) {
            return Err(format!("only {got} of {n} deliveries arrived").into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// `n` events from `clients` concurrent clients, `per` events per request; returns events/s from
/// the first request to the last delivery.
async fn drive(
    url: &str,
    token: &str,
    receiver: &Receiver,
    n: usize,
    clients: usize,
    per: usize,
) -> Result<f64, BoxError> {
    receiver.get("/__reset").await?;
    let http = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let start_us = unix_us();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (http, next, token) = (http.clone(), next.clone(), token.to_owned());
        let (endpoint, body_of): (String, fn(usize, usize) -> Value) = if per == 1 {
            (format!("{url}/api/events"), |i, _| event(i))
        } else {
            (
                format!("{url}/api/events/batch"),
                |i, per| json!({ "events": (i..i + per).map(event).collect::<Vec<_>>() }),
            )
        };
        tasks.spawn(async move {
            let mut took = Vec::new();
            loop {
                let i = next.fetch_add(per, Ordering::Relaxed);
                if i >= n {
                    return Ok::<Vec<f64>, String>(took);
                }
                let sent = Instant::now();
                let body = body_of(i, per.min(n - i)).to_string();
                let r = http
                    .post(&endpoint)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if r.status().as_u16() != 202 {
                    return Err(format!("ingest answered {}", r.status()));
                }
                took.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
        });
    }
    let mut took = Vec::with_capacity(n / per);
    while let Some(r) = tasks.join_next().await {
        took.extend(r??);
    }
    took.sort_by(f64::total_cmp);
    let at = |q: f64| quantile(&took, q);
    if let (Ok(p50), Ok(p90), Ok(p99)) = (at(0.5), at(0.9), at(0.99)) {
        eprintln!("    request latency p50 {p50:.2} ms, p90 {p90:.2} ms, p99 {p99:.2} ms");
    }
    let last = delivered(receiver, n as u64).await?;
    Ok(n as f64 / ((last - start_us).max(1) as f64 / 1e6))
}

/// Idle latency: `n` events one at a time; (p50, p99) in ms.
async fn idle_latency(
    url: &str,
    token: &str,
    receiver: &Receiver,
    n: usize,
) -> Result<(f64, f64), BoxError> {
    receiver.get("/__reset").await?;
    let http = reqwest::Client::new();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let r = http
            .post(format!("{url}/api/events"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(event(i).to_string())
            .send()
            .await?;
        let returned = unix_us();
        if r.status().as_u16() != 202 {
            return Err(format!("ingest answered {}", r.status()).into());
        }
        let arrived = delivered(receiver, (i + 1) as u64).await?;
        samples.push((arrived - returned) as f64 / 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| quantile(&samples, q);
    Ok((at(0.50)?, at(0.99)?))
}

/// One run of every part against `bin` on a fresh database.
pub async fn once(
    pg_url: Option<&str>,
    postmaster: Option<u32>,
    bin: &Path,
    single: usize,
    clients: usize,
    batched: usize,
) -> Result<Figures, BoxError> {
    let bench = match pg_url {
        Some(url) => seed::postgres_with(url, false).await?,
        None => seed::sqlite_unmigrated().await?,
    };
    let receiver = Receiver::spawn()?;
    let result = async {
        run_bin(bin, &["migrate", "--database-url", &bench.url])?;
        let token = user_token(
            bin,
            &[
                "--admin",
                "--name",
                "Bench",
                "--email",
                "bench@example.com",
                "--database-url",
                &bench.url,
            ],
        )?;
        seed_streams(&bench.db, &receiver.addr).await?;
        let serve = Serve::start(
            bin,
            &[
                "--database-url",
                &bench.url,
                "--allow-local-network",
                "true",
            ],
            &[("SECRETS_KEY", streamhooks_worker::secrets::generate_key()?)],
            Duration::from_secs(10),
        )
        .await?;
        drive(&serve.url, &token, &receiver, 200, clients, 1).await?;
        let serve_before = cpu::process_ns(serve.child.id()).unwrap_or(0);
        let sampler = postmaster.map(PgSampler::start);
        let single_rate = drive(&serve.url, &token, &receiver, single, clients, 1).await?;
        // Results are recorded just after the last request arrives; their cost is the ingest's.
        while seed::depth(&bench.db, true).await? > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let per_k = |ns: u64| ns as f64 / 1e6 / (single as f64 / 1000.0);
        let serve_cpu = per_k(
            cpu::process_ns(serve.child.id())
                .unwrap_or(0)
                .saturating_sub(serve_before),
        );
        let pg_cpu = sampler.map(|s| per_k(s.finish().backends_ns));
        let (p50_ms, p99_ms) = idle_latency(&serve.url, &token, &receiver, 200).await?;
        let has_batch = reqwest::Client::new()
            .post(format!("{}/api/events/batch", serve.url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(r#"{"events":[]}"#)
            .send()
            .await?
            .status()
            .as_u16()
            != 404;
        let batch_rate = if has_batch && batched > 0 {
            Some(drive(&serve.url, &token, &receiver, batched, 4, 100).await?)
        } else {
            None
        };
        drop(serve);
        Ok::<_, BoxError>(Figures {
            single_rate,
            serve_cpu,
            pg_cpu,
            p50_ms,
            p99_ms,
            batch_rate,
        })
    }
    .await;
    drop(receiver);
    bench.cleanup().await;
    result
}

/// `runs` runs of each binary, alternating, and the medians.
pub async fn run(
    pg_url: Option<&str>,
    postmaster: Option<u32>,
    bins: &[(String, PathBuf)],
    runs: usize,
    single: usize,
    clients: usize,
    batched: usize,
) -> Result<(), BoxError> {
    let backend = if pg_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let mut all: Vec<Vec<Figures>> = vec![Vec::new(); bins.len()];
    for _ in 0..runs {
        for (i, (name, bin)) in bins.iter().enumerate() {
            let f = once(pg_url, postmaster, bin, single, clients, batched).await?;
            println!(
                "  {backend} {name}: single {:.0} events/s (CPU per 1,000: serve {:.0} ms, PostgreSQL {}), idle p50 {:.2} ms, p99 {:.2} ms, batched {}",
                f.single_rate,
                f.serve_cpu,
                f.pg_cpu.map_or("-".into(), |c| format!("{c:.0} ms")),
                f.p50_ms,
                f.p99_ms,
                f.batch_rate.map_or("n/a".into(), |r| format!("{r:.0} events/s"))
            );
            all[i].push(f);
        }
    }
    for ((name, _), figs) in bins.iter().zip(all) {
        let batch: Vec<f64> = figs.iter().filter_map(|f| f.batch_rate).collect();
        println!(
            "(ingest) {backend}, {name}: median single {:.0} events/s ({clients} clients, {single} events; CPU per 1,000: serve {:.0} ms, PostgreSQL backends {}), idle latency p50 {:.2} ms, p99 {:.2} ms, batched {}",
            median(figs.iter().map(|f| f.single_rate).collect()),
            median(figs.iter().map(|f| f.serve_cpu).collect()),
            {
                let pg: Vec<f64> = figs.iter().filter_map(|f| f.pg_cpu).collect();
                if pg.is_empty() { "-".to_owned() } else { format!("{:.0} ms", median(pg)) }
            },
            median(figs.iter().map(|f| f.p50_ms).collect()),
            median(figs.iter().map(|f| f.p99_ms).collect()),
            if batch.is_empty() {
                "n/a (no batch endpoint)".to_owned()
            } else {
                format!("{:.0} events/s (batches of 100, {batched} events)", median(batch))
            }
        );
    }
    Ok(())
}
