//! `attack`: hostile requests against the real `streamhooks serve` release binary,
//! run as a separate process with default settings (its own SQLite file and port), while a probe
//! sends a trivial query every 10 ms and records how long each answer takes.
//!
//! Set-up, not measured: a user (`streamhooks user create`), a stream, a webhook to a host that
//! does not resolve (each event waits for a retry and stays in the history), and 1,000
//! `streamUpdate`s with 32 KB descriptions, i.e. ~65 KB payloads. The server's peak RSS is then
//! reset (`/proc/PID/clear_refs`), so the figure is the attack's, not the seeding's.
//!
//! The attack, all at once: the fan-out document (with an alias per level) sent 20 times, the
//! aliased-history flood (8 aliases of `history(limit: 1000) { items { payload } }` under every
//! webhook) 20 times, and 600 concurrent requests: 250 of a history page over the answer budget
//! (`webhooks(id:)`, `history(limit: 1000)` with payloads: 65 MB), 250 of a page that fits
//! (`history(limit: 100)`, 6.5 MB), 50 of the most the node price admits within the budget
//! ([`at_the_node_limit`], answered) and 50 of a page whose aliased payload copies exceed the budget
//! ([`payload_copies`]). Reported: the probe's worst and 99th-percentile latency, the server's
//! peak RSS (VmHWM) and what the attackers were answered.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::serve::{user_token, Serve};
use crate::stats::BoxError;

pub struct Figures {
    /// Worst latency of the same probe before the attack, with nothing else sent.
    pub quiet_worst_ms: f64,
    pub worst_trivial_ms: f64,
    /// Worst of the probes that need no database (`serverInfo`) and of those that read a row.
    pub worst_no_db_ms: f64,
    pub worst_db_ms: f64,
    pub p99_trivial_ms: f64,
    pub probes: usize,
    pub peak_rss_mb: f64,
    pub seeded_rss_mb: f64,
    pub fan_out_worst_ms: f64,
    pub flood_worst_ms: f64,
    /// Answers to the 600 concurrent requests: (kind, count).
    pub outcomes: Vec<(String, usize)>,
    pub attack_secs: f64,
}

/// A `serve` process on its own SQLite file, with the token of the user it was seeded with.
async fn start(bin: &Path) -> Result<(Serve, String), BoxError> {
    let dir = std::env::temp_dir().join(format!("streamhooks-attack-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = format!("sqlite://{}?mode=rwc", dir.join("attack.sqlite").display());
    let started = async {
        let token = user_token(
            bin,
            &[
                "--name",
                "Ada",
                "--email",
                "ada@example.com",
                "--database-url",
                &db,
            ],
        )?;
        let serve =
            Serve::start(bin, &["--database-url", &db], &[], Duration::from_secs(5)).await?;
        Ok::<_, BoxError>((serve, token))
    }
    .await;
    match started {
        Ok((serve, token)) => Ok((serve.owning(dir), token)),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// One GraphQL request: (HTTP status, answer).
async fn gql(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> (u16, Value) {
    let mut req = http
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": query, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.bytes().await.unwrap_or_default();
            // A large answer is data (an error is small); parsing megabytes here would take
            // CPU from the server being measured.
            if body.len() > 64 * 1024 {
                return (status, json!({ "data": "large" }));
            }
            (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
        }
        Err(e) => (0, json!({ "transport": e.to_string() })),
    }
}

fn outcome(status: u16, v: &Value) -> String {
    match v["errors"][0]["extensions"]["code"].as_str() {
        Some(code) => format!("{status} {code}"),
        None if status == 200 => "200 ok".to_owned(),
        None => format!("{status} {}", v["transport"].as_str().unwrap_or("?")),
    }
}

fn fan_out() -> String {
    let mut q = String::from("query { ...F0 } ");
    for i in 0..24 {
        q.push_str(&format!(
            "fragment F{i} on Query {{ a{i}: __typename ...F{n} ...F{n} }} ",
            n = i + 1
        ));
    }
    q + "fragment F24 on Query { __typename }"
}

fn history(stream: &str, which: &str, aliases: usize, limit: u32) -> String {
    let mut q = String::from("{ ");
    for i in 0..aliases {
        q.push_str(&format!(
            "a{i}: stream(id: \"{stream}\") {{ webhooks{which} {{ items {{ history(limit: {limit}) {{ items {{ payload }} }} }} }} }} "
        ));
    }
    q + "}"
}

/// The most the node price admits that also fits the answer budget: 150 events of one webhook
/// (14.4 MB of payloads) with 330 aliases of `status` each, 49,654 nodes, every one resolved.
fn at_the_node_limit(stream: &str, hook: &str) -> String {
    let fields: Vec<String> = (0..330).map(|i| format!("s{i}: status")).collect();
    format!(
        "{{ stream(id: \"{stream}\") {{ webhooks(id: \"{hook}\") {{ items {{ history(limit: 150) {{ items {{ {} }} }} }} }} }} }}",
        fields.join(" ")
    )
}

/// A page that fits the budget once but not in a hundred aliased copies of every payload
/// (10,104 nodes, 980 MB of text if it ran).
fn payload_copies(stream: &str, hook: &str) -> String {
    let fields: Vec<String> = (0..100).map(|i| format!("p{i}: payload")).collect();
    format!(
        "{{ stream(id: \"{stream}\") {{ webhooks(id: \"{hook}\") {{ items {{ history(limit: 100) {{ items {{ {} }} }} }} }} }} }}",
        fields.join(" ")
    )
}

/// Runs `work` on its own thread and single-threaded runtime with its own HTTP client, so that
/// the bench's 500 concurrent tasks (and their connections) do not delay what it measures.
fn own_thread<T, F>(
    work: impl FnOnce(reqwest::Client) -> F + Send + 'static,
) -> std::thread::JoinHandle<Result<T, String>>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, String>>,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(work(reqwest::Client::new()))
    })
}

/// Sends a trivial query every 10 ms, alternately `serverInfo` (no database) and `stream(id)`
/// (one indexed read), until `stop` or `count` probes, and returns each one's latency and status.
/// It runs on its own thread and runtime, so what it measures is the server, not the bench's own
/// 500 tasks queuing ahead of it on the same scheduler.
fn spawn_probe(
    url: String,
    stream: String,
    stop: Arc<AtomicBool>,
    count: usize,
) -> std::thread::JoinHandle<Result<Vec<(Duration, u16)>, String>> {
    own_thread(move |http| async move {
        let mut lat = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        while !stop.load(Ordering::Relaxed) && lat.len() < count {
            tick.tick().await;
            let t = Instant::now();
            let (q, v) = if lat.len() % 2 == 0 {
                ("{ serverInfo { name } }", json!({}))
            } else {
                (
                    "query($s: String!) { stream(id: $s) { name } }",
                    json!({ "s": stream }),
                )
            };
            let (status, _) = gql(&http, &url, None, q, v).await;
            lat.push((t.elapsed(), status));
        }
        Ok(lat)
    })
}

/// Sends `query` 20 times in a row, each after the previous answer; fails unless every answer
/// is a refusal without data. Returns each one's time.
fn spawn_refusals(
    url: String,
    token: Option<String>,
    query: String,
    what: &'static str,
) -> std::thread::JoinHandle<Result<Vec<Duration>, String>> {
    own_thread(move |http| async move {
        // One answer first, so the connection exists before the crowd arrives.
        gql(&http, &url, None, "{ serverInfo { name } }", json!({})).await;
        let mut times = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let (s, v) = gql(&http, &url, token.as_deref(), &query, json!({})).await;
            times.push(t.elapsed());
            if v["data"] != Value::Null {
                return Err(format!("the {what} was answered with data: {s}"));
            }
        }
        Ok(times)
    })
}

pub async fn run(bin: &Path) -> Result<Figures, BoxError> {
    let (server, token) = start(bin).await?;
    let url = server.url.clone();
    let http = reqwest::Client::new();
    let tok = Some(token.as_str());
    let (_, d) = gql(
        &http,
        &url,
        tok,
        "mutation { streamCreate(stream: {name: \"attacked\"}) }",
        json!({}),
    )
    .await;
    let stream = d["data"]["streamCreate"]
        .as_str()
        .ok_or("streamCreate failed")?
        .to_owned();
    let (_, d) = gql(
        &http,
        &url,
        tok,
        "mutation($w: WebhookCreateInput!) { webhookCreate(webhook: $w) }",
        json!({ "w": { "streamId": stream, "url": "https://attacker.invalid/hook", "triggers": ["stream_update"] } }),
    )
    .await;
    let hook = d["data"]["webhookCreate"]
        .as_str()
        .ok_or("webhookCreate failed")?
        .to_owned();
    for i in 0..1000 {
        let description = format!("{i:04}{}", "d".repeat(32 * 1024));
        let (status, d) = gql(
            &http,
            &url,
            tok,
            "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }",
            json!({ "s": { "id": stream, "description": description } }),
        )
        .await;
        if d["data"]["streamUpdate"] != json!(true) {
            return Err(format!("streamUpdate {i}: {status} {d}").into());
        }
    }
    let pid = server.child.id();
    let seeded_rss_mb = crate::cpu::status_mb(Some(pid), "VmRSS:")?;
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")?;

    // A quiet baseline first (the same probe, nothing else sent): on a shared machine it tells
    // how much of the latency under attack is the machine's own noise.
    let quiet = spawn_probe(
        url.clone(),
        stream.clone(),
        Arc::new(AtomicBool::new(false)),
        200,
    );
    let quiet = quiet.join().map_err(|_| "the probe thread panicked")??;
    let stop = Arc::new(AtomicBool::new(false));
    let probe = spawn_probe(url.clone(), stream.clone(), stop.clone(), usize::MAX);
    let started = Instant::now();
    let worst = |v: &[Duration]| v.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1e3);
    let fan = spawn_refusals(url.clone(), None, fan_out(), "fan-out");
    let flood = spawn_refusals(
        url.clone(),
        Some(token.clone()),
        history(&stream, "", 8, 1000),
        "history flood",
    );
    let outcomes = Arc::new(Mutex::new(
        std::collections::BTreeMap::<String, usize>::new(),
    ));
    let by_id = format!("(id: \"{hook}\")");
    let kinds = [
        ("limit 1000", history(&stream, &by_id, 1, 1000)),
        ("limit 100", history(&stream, &by_id, 1, 100)),
        ("at the node limit", at_the_node_limit(&stream, &hook)),
        ("payload copies", payload_copies(&stream, &hook)),
    ];
    // 250 + 250 of the first two (the crowd as first measured), 50 + 50 of the others.
    let crowd: Vec<_> = (0..600)
        .map(|i| {
            let (kind, q) = &kinds[if i < 500 { i % 2 } else { 2 + i % 2 }];
            let (kind, q) = (*kind, q.clone());
            let (http, url, token, outcomes) =
                (http.clone(), url.clone(), token.clone(), outcomes.clone());
            tokio::spawn(async move {
                let (s, v) = gql(&http, &url, Some(&token), &q, json!({})).await;
                let kind = format!("{kind}: {}", outcome(s, &v));
                *outcomes.lock().await.entry(kind).or_default() += 1;
            })
        })
        .collect();
    for c in crowd {
        c.await?;
    }
    let fan = fan.join().map_err(|_| "the fan-out thread panicked")??;
    let flood = flood.join().map_err(|_| "the flood thread panicked")??;
    let attack_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let probes = probe.join().map_err(|_| "the probe thread panicked")??;
    let peak_rss_mb = crate::cpu::status_mb(Some(pid), "VmHWM:")?;
    if let Some((_, s)) = probes.iter().find(|(_, s)| *s != 200) {
        return Err(format!("a trivial query was answered {s} during the attack").into());
    }
    let worst_of = |parity: usize| {
        probes
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == parity)
            .map(|(_, (d, _))| d.as_secs_f64() * 1e3)
            .fold(0.0, f64::max)
    };
    let (worst_no_db_ms, worst_db_ms) = (worst_of(0), worst_of(1));
    let mut lat: Vec<Duration> = probes.iter().map(|(d, _)| *d).collect();
    lat.sort();
    let p99 = lat.get(lat.len() * 99 / 100).copied().unwrap_or_default();
    let outcomes = outcomes.lock().await.clone().into_iter().collect();
    drop(server);
    Ok(Figures {
        quiet_worst_ms: quiet
            .iter()
            .map(|(d, _)| d.as_secs_f64() * 1e3)
            .fold(0.0, f64::max),
        worst_trivial_ms: worst(&lat),
        worst_no_db_ms,
        worst_db_ms,
        p99_trivial_ms: p99.as_secs_f64() * 1e3,
        probes: lat.len(),
        peak_rss_mb,
        seeded_rss_mb,
        fan_out_worst_ms: worst(&fan),
        flood_worst_ms: worst(&flood),
        outcomes,
        attack_secs,
    })
}
