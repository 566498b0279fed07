//! The run loop: wait for work, claim it, start deliveries within the concurrency caps, repeat.
//!
//! Two caps, both `Arc<Semaphore>`s whose owned permits move into the delivery task: a global one
//! (`concurrency`) and one per webhook (`per_webhook_concurrency`). The question a reader will ask
//! is why claimed events may wait in a per-webhook `pending` queue instead of simply awaiting a
//! permit in their task. Awaiting would either hold a global permit while waiting for the webhook
//! (one slow endpoint then eats every slot) or let tasks pile up unboundedly. Instead only this
//! loop acquires permits, always with `try_acquire`, never holding one while waiting for the
//! other; a webhook whose lane is full (a round of requests already waiting) is left out of the
//! next claim (`NOT IN`) so its backlog stays in the database, where it costs nothing, and
//! everything else keeps flowing. A lane's queue therefore holds at most one round plus one
//! claim's worth, and a queued job whose lease would run out before its request could finish is
//! released rather than sent (another worker may own it).
//!
//! Events queued by this process's own API arrive another way: the inserting statement leased
//! them to this dispatcher and the API hands them over in memory after its commit
//! ([`crate::core::handoff`]), so they go into their lanes like a claim's rows without a claim.
//!
//! Claims are sized to the free global permits, so what is claimed starts at once unless its own
//! webhook is at its cap. One claim at a time runs beside the loop, not in it: a claim commits,
//! and with PostgreSQL's default durability a commit waits for the disk, time in which finished
//! requests must go on handing their slots to waiting events. A full batch is followed by another
//! claim straight away; otherwise the
//! loop sleeps until a wake-up (in-process, PostgreSQL NOTIFY via `listen`, or the recorder after
//! scheduling a retry), the earliest due time, or the poll interval. When the database fails
//! (a restart, a failover) the loop says so once, backs off (250 ms doubling to 5 s) and says
//! so again when it is back; nothing is lost meanwhile, since unclaimed rows stay queued and
//! claimed ones are either recorded later or their leases expire.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use entity::webhook_config;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::core::guard::Guard;
use crate::core::handoff::Inbox;
use crate::core::metrics::{Metrics, Outcome};
use crate::core::notifier::Notifier;
use crate::core::secrets::cipher::Secrets;
use crate::dispatch::gate::WriteGate;
use crate::dispatch::record::{self, record_sql};
use crate::dispatch::{claim, deliver, listen, retention, retry};
use crate::error::Error;
use crate::rows::{Claimed, Update};

/// Full lanes named in one claim's `NOT IN`, to stay well within bind-parameter limits; rows of
/// further full lanes may be claimed and simply wait in their lane.
const MAX_EXCLUDED: usize = 1_000;

/// The first pause after a database error; it doubles while errors go on, up to
/// [`MAX_ERROR_BACKOFF`], and is reset by the first success.
const ERROR_BACKOFF: Duration = Duration::from_millis(250);
const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(5);

/// Runs the dispatcher until `cancel`; see the module docs. Returns only after in-flight
/// deliveries have finished (or hit the request timeout) and every result is written.
pub async fn run(
    db: DatabaseConnection,
    config: Arc<WorkerConfig>,
    secrets: Secrets,
    notifier: Notifier,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> Result<(), Error> {
    run_with(db, config, secrets, notifier, metrics, None, cancel).await
}

/// [`run`], also taking the events this process's queuing commits lease to it
/// ([`crate::core::handoff`]).
pub async fn run_with(
    db: DatabaseConnection,
    config: Arc<WorkerConfig>,
    secrets: Secrets,
    notifier: Notifier,
    metrics: Arc<Metrics>,
    inbox: Option<Inbox>,
    cancel: CancellationToken,
) -> Result<(), Error> {
    config.validate().map_err(Error::Config)?;
    let guard = Arc::new(Guard::from_config(&config));
    let client = deliver::client(&config, guard.clone())?;
    let gate = WriteGate::for_backend(db.get_database_backend());
    let hot = hot_path(&db);
    if hot.get_database_backend() == DatabaseBackend::Postgres {
        warm(hot.get_postgres_connection_pool()).await;
    }
    // Kept to close the hot path's own pool once everything using it has stopped.
    let hot_handle = hot.clone();
    let (records, recorder) = record::spawn(
        hot.clone(),
        config.disable_after_failures,
        notifier.clone(),
        gate.clone(),
    );

    // Helpers stop with the loop even if it ends for another reason than `cancel`.
    let helpers_stop = cancel.child_token();
    let mut helpers = JoinSet::new();
    if db.get_database_backend() == DatabaseBackend::Postgres {
        let pool = db.get_postgres_connection_pool().clone();
        helpers.spawn(listen::run(pool, notifier.clone(), helpers_stop.clone()));
    }
    helpers.spawn(retention::run(
        db.clone(),
        config.clone(),
        helpers_stop.clone(),
    ));

    let worker_name: Arc<str> = config.worker_label().into();
    tracing::info!(worker = %worker_name, "dispatcher started");
    let mut d = Dispatcher {
        global: Arc::new(Semaphore::new(config.concurrency)),
        worker_name,
        outage: None,
        db,
        hot,
        config,
        client,
        guard,
        secrets,
        metrics,
        records,
        gate,
        lanes: HashMap::new(),
        waiting_jobs: 0,
        tasks: JoinSet::new(),
        handed_waiting: inbox.as_ref().map(|i| i.waiting.clone()),
    };
    d.run_loop(&notifier, inbox, &cancel).await;
    d.shutdown().await;
    drop(d);
    helpers_stop.cancel();
    while helpers.join_next().await.is_some() {}
    if let Err(e) = recorder.await {
        tracing::error!(error = %e, "the result recorder stopped abnormally");
    }
    if hot_handle.get_database_backend() == DatabaseBackend::Postgres {
        // Its connections end now rather than whenever the runtime does.
        hot_handle.get_postgres_connection_pool().close().await;
    }
    Ok(())
}

/// Connections of [`hot_path`]'s pool on PostgreSQL: the claim in flight and the recorder's
/// batch (a claim and the interrupted attempts it found never run at once).
pub const HOT_PATH_CONNECTIONS: u32 = 2;

/// The connections claims and results go through. On PostgreSQL a small pool of the dispatcher's
/// own ([`crate::core::pool`]; lazily opened, so a database that is down now is met by the loop's own
/// back-off) with `plan_cache_mode = force_generic_plan`; on SQLite `db` itself
/// (there the claims and result batches take turns at [`WriteGate`] instead: a connection of
/// their own measured ~20 MB more peak RSS in `serve` under issue 9's attack).
///
/// Found with `pg_stat_statements` in issue 11's side-by-side: on the shared pool the claims and
/// result batches met a different backend almost every time (sqlx hands out the connection idle
/// the longest), each with its own cache of prepared statements, and PostgreSQL never settled on a
/// generic plan for them: every execution was planned anew, about a fifth of the server's time on
/// a 5,000-event drain. These statements state their rows by key (docs/query-plans.md shows their
/// generic plans), so a plan made once per connection is as good as one made per call; history
/// and retention keep per-call plans.
fn hot_path(db: &DatabaseConnection) -> DatabaseConnection {
    crate::core::pool::postgres_beside(
        db,
        HOT_PATH_CONNECTIONS,
        &[("plan_cache_mode", "force_generic_plan")],
    )
    .unwrap_or_else(|| db.clone())
}

/// How long [`warm`] may hold up the dispatcher's start.
const WARM_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens the hot path's PostgreSQL connections and runs its claim (with and without left-out
/// lanes) and result statements once on each with nothing to do (a claim of 0 rows, a batch of
/// none), before the first claim. A backend's first run of a statement loads its catalog caches,
/// parses and plans (4 ms for the claim alone, in `psql`), and on a fresh worker that came in the
/// middle of its first deliveries: in issue 11's side-by-side, the database's CPU per delivery was
/// ~10% higher draining 5,000 events than 50,000. Best effort and bounded: a database that is down
/// or slow now is met by the loop's own back-off instead.
async fn warm(pool: &sea_orm::sqlx::PgPool) {
    let run = async {
        let mut conns = Vec::new();
        for _ in 0..HOT_PATH_CONNECTIONS {
            conns.push(pool.acquire().await.map_err(|e| e.to_string())?);
        }
        for conn in &mut conns {
            for exclude in [Vec::new(), vec![String::new()]] {
                let stmt = claim::claim_statement(DatabaseBackend::Postgres, 0, 0, 0, 0, &exclude);
                // Bound as sea-orm binds the claim's values (bigints, then a text), so the
                // prepared statement cached here is the one the claims reuse.
                let mut q = sea_orm::sqlx::query(&stmt.sql);
                for v in stmt.values.iter().flat_map(|v| v.0.iter()) {
                    q = match v {
                        sea_orm::Value::BigInt(n) => q.bind(*n),
                        sea_orm::Value::String(t) => q.bind(t.as_deref().cloned()),
                        other => return Err(format!("unexpected claim parameter {other:?}")),
                    };
                }
                q.execute(&mut **conn).await.map_err(|e| e.to_string())?;
            }
            record_sql::FinishAll::default()
                .fetch(&mut **conn)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    };
    match tokio::time::timeout(WARM_TIMEOUT, run).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "could not warm the hot path's connections"),
        Err(_) => tracing::debug!("warming the hot path's connections timed out"),
    }
}

/// What a claim got: the leased events and their webhooks.
type ClaimResult = (Vec<Claimed>, HashMap<String, webhook_config::Model>);
type ClaimFuture = Pin<Box<dyn Future<Output = Result<ClaimResult, Error>> + Send>>;

/// A claimed event and the webhook it goes to.
struct Job {
    event: Claimed,
    webhook: Arc<deliver::Target>,
    /// Came through the in-process hand-off, so counts against its room until it leaves `pending`.
    handed: bool,
}

/// One webhook's share of this process: its permits and events waiting for one.
struct Lane {
    permits: Arc<Semaphore>,
    pending: VecDeque<Job>,
    /// `per_webhook_concurrency`: the lane is full once this many events wait.
    cap: usize,
}

impl Lane {
    /// Full lanes are left out of claims until they have room again. Full means a round of
    /// requests waiting, not one: a claim must step over every queued row of the webhooks it
    /// leaves out, so leaving out a lane as soon as anything waits in it made nearly every claim
    /// of a backlog spread over a few busy webhooks leave most of them out and dig through their
    /// rows (the claims' cost grew with the backlog). Waiting rows stay bounded: a lane stops
    /// receiving as soon as `cap` of them wait.
    fn is_full(&self) -> bool {
        self.pending.len() >= self.cap
    }
}

struct Dispatcher {
    db: DatabaseConnection,
    /// Claims go through [`hot_path`]'s connections; the rest (next due, retention) through `db`.
    hot: DatabaseConnection,
    config: Arc<WorkerConfig>,
    client: reqwest::Client,
    guard: Arc<Guard>,
    secrets: Secrets,
    metrics: Arc<Metrics>,
    records: mpsc::Sender<Update>,
    /// Claims take their turn here with the recorder's batches (SQLite's one writer).
    gate: WriteGate,
    global: Arc<Semaphore>,
    lanes: HashMap<String, Lane>,
    /// Jobs in all `pending` queues.
    waiting_jobs: usize,
    /// Delivery tasks; each returns its webhook id so the loop can refill that lane.
    tasks: JoinSet<String>,
    /// Recorded with every attempt.
    worker_name: Arc<str>,
    /// While the database fails: since when, and the pause before the next try.
    outage: Option<(Instant, Duration)>,
    /// The hand-off's weight of handed-off events waiting here ([`crate::core::handoff::weight`]).
    handed_waiting: Option<Arc<AtomicUsize>>,
}

impl Dispatcher {
    async fn run_loop(
        &mut self,
        notifier: &Notifier,
        mut inbox: Option<Inbox>,
        cancel: &CancellationToken,
    ) {
        let poll = self.config.poll_interval;
        let batch = usize::try_from(self.config.batch_size).unwrap_or(usize::MAX);
        // Claiming a handful of rows per round trip under load wastes the database; wait for a
        // useful number of free slots unless nothing is running at all.
        let min_claim = (self.config.concurrency / 8).clamp(1, batch);
        let mut want_claim = true;
        let mut last_full = false;
        let mut excluded: HashSet<String> = HashSet::new();
        let mut wake_at = Instant::now() + poll;
        // The claim in flight, with its limit and the lanes it left out. It runs beside the loop
        // rather than in it: a claim commits, and a commit waits for the WAL to reach the disk
        // (milliseconds with PostgreSQL's default durability), during which finished requests
        // must still hand their slots to waiting events.
        let mut claiming: Option<(ClaimFuture, usize, HashSet<String>)> = None;
        loop {
            let free = self.global.available_permits();
            if want_claim
                && claiming.is_none()
                && !cancel.is_cancelled()
                && (free >= min_claim || self.tasks.is_empty())
            {
                want_claim = false;
                let limit = free.min(batch);
                let skipped = self.full_lanes();
                if limit == 0 {
                    last_full = false;
                    excluded = skipped.into_iter().collect();
                    wake_at = self.next_wake(poll).await;
                } else {
                    let claim = self.begin_claim(limit, &skipped);
                    claiming = Some((claim, limit, skipped.into_iter().collect()));
                }
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    // What the claim in flight gets is given back by `shutdown`, not leaked
                    // until its lease runs out.
                    if let Some((claim, _, _)) = claiming.take() {
                        if let Ok(got) = claim.await {
                            self.take_claimed(got, false, false).await;
                        }
                    }
                    // Handed over but not yet taken: released by `shutdown` like the rest.
                    if let Some(inbox) = inbox.as_mut() {
                        inbox.rx.close();
                        while let Some(got) = inbox.rx.recv().await {
                            self.take_claimed(got, false, true).await;
                        }
                    }
                    return;
                }
                Some(got) = async {
                    match inbox.as_mut() {
                        Some(inbox) => inbox.rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    // Leased by this process's own commit: no claim, straight into the lanes.
                    self.take_claimed(got, true, true).await;
                }
                got = async {
                    match claiming.as_mut() {
                        Some((claim, _, _)) => claim.await,
                        None => std::future::pending().await,
                    }
                } => {
                    let Some((_, limit, skipped)) = claiming.take() else { continue };
                    match got {
                        Ok(got) => {
                            self.database_ok();
                            let claimed = self.take_claimed(got, true, false).await;
                            last_full = claimed == limit;
                            excluded = skipped;
                            if last_full {
                                want_claim = true;
                            } else {
                                wake_at = self.next_wake(poll).await;
                            }
                        }
                        Err(e) => wake_at = Instant::now() + self.database_failed(&e),
                    }
                }
                Some(done) = self.tasks.join_next() => {
                    let webhook_id = match done {
                        Ok(id) => id,
                        Err(e) => {
                            tracing::error!(error = %e, "a delivery task failed");
                            String::new()
                        }
                    };
                    // Drain every finished task before deciding anything, so a burst of
                    // completions leads to one claim, not one per completion.
                    let mut freed = vec![webhook_id];
                    while let Some(done) = self.tasks.try_join_next() {
                        freed.push(done.unwrap_or_default());
                    }
                    self.start_pending();
                    for id in &freed {
                        let reopened = excluded.contains(id)
                            && self.lanes.get(id).is_none_or(|l| !l.is_full());
                        if reopened {
                            excluded.remove(id);
                            want_claim = true;
                        }
                        self.drop_idle_lane(id);
                    }
                    want_claim |= last_full;
                }
                () = notifier.notified() => want_claim = true,
                () = tokio::time::sleep_until(wake_at) => {
                    want_claim = true;
                    wake_at = Instant::now() + poll;
                }
            }
        }
    }

    /// Notes a database error and returns how long to wait before trying again: the first error
    /// of an outage is logged as such, later ones quietly double the pause.
    fn database_failed(&mut self, e: &Error) -> Duration {
        let pause = match self.outage {
            None => {
                tracing::warn!(error = %e, backoff_ms = ERROR_BACKOFF.as_millis() as u64,
                    "database unavailable; backing off and retrying (deliveries pause meanwhile)");
                ERROR_BACKOFF
            }
            Some((_, last)) => {
                tracing::debug!(error = %e, "database still unavailable");
                (last * 2).min(MAX_ERROR_BACKOFF)
            }
        };
        let since = self.outage.map_or_else(Instant::now, |(t, _)| t);
        self.outage = Some((since, pause));
        pause
    }

    fn database_ok(&mut self) {
        if let Some((since, _)) = self.outage.take() {
            tracing::info!(
                down_ms = since.elapsed().as_millis() as u64,
                "database reachable again; resuming deliveries"
            );
        }
    }

    /// When to look again without a wake-up: the next retry, at most `poll` away.
    async fn next_wake(&mut self, poll: Duration) -> Instant {
        let now = Instant::now();
        let fallback = now + poll;
        let due = match claim::next_due(&self.db).await {
            Ok(Some(due)) => due,
            Ok(None) => return fallback,
            Err(e) => return now + self.database_failed(&Error::Db(e)),
        };
        let ms = due - Utc::now().timestamp_millis();
        if ms <= 0 {
            // Due already yet not claimed: it belongs to a full lane, whose completion will
            // trigger the claim. Look again soon in case a record was racing the claim.
            return now + Duration::from_millis(250).min(poll);
        }
        let ms = u64::try_from(ms).unwrap_or(u64::MAX);
        fallback.min(now + Duration::from_millis(ms))
    }

    /// The lanes to leave out of the next claim.
    fn full_lanes(&self) -> Vec<String> {
        self.lanes
            .iter()
            .filter(|(_, l)| l.is_full())
            .map(|(id, _)| id.clone())
            .take(MAX_EXCLUDED)
            .collect()
    }

    /// A claim of up to `limit` rows, leaving out `skipped`, with the webhooks of what it got;
    /// it owns what it needs, so it can run while the loop goes on.
    fn begin_claim(&self, limit: usize, skipped: &[String]) -> ClaimFuture {
        let db = self.hot.clone();
        let lease_ms = i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX / 4);
        let skipped = skipped.to_vec();
        let gate = self.gate.clone();
        Box::pin(async move {
            let rows = {
                let _turn = gate.enter().await;
                let now_ms = Utc::now().timestamp_millis();
                claim::claim(&db, now_ms, lease_ms, limit as u64, &skipped).await?
            };
            let webhooks = if rows.is_empty() {
                HashMap::new()
            } else {
                claim::webhooks_of(&db, &rows).await?
            };
            Ok((rows, webhooks))
        })
    }

    /// Puts claimed (or, with `handed`, handed-off) events in their lanes (and starts what can
    /// start, unless `start` is false, as at shutdown); finishes those whose webhook is gone or
    /// off. Returns how many were claimed.
    async fn take_claimed(&mut self, got: ClaimResult, start: bool, handed: bool) -> usize {
        let (rows, webhooks) = got;
        let claimed = rows.len();
        self.metrics.taken(handed, claimed);
        if claimed == 0 {
            return 0;
        }
        let now = Utc::now();
        let webhooks: HashMap<String, Arc<deliver::Target>> = webhooks
            .into_iter()
            .map(|(k, v)| (k, Arc::new(deliver::Target::new(v))))
            .collect();
        if rows.iter().any(|r| r.prior_lease_at.is_some()) {
            let _turn = self.gate.enter().await;
            if let Err(e) = claim::record_interrupted(&self.hot, &rows).await {
                tracing::warn!(error = %e, "could not record attempts interrupted by an expired lease");
            }
        }
        for event in rows {
            let webhook = match webhooks.get(&event.webhook_id) {
                // A ping or redelivery was asked for explicitly: it goes out even while the
                // webhook is off, since testing an endpoint before enabling it is its point.
                Some(w) if w.webhook.enabled || event.manual => w.clone(),
                found => {
                    let why = match found.and_then(|w| w.webhook.disabled_reason.as_deref()) {
                        _ if found.is_none() => "Not sent: the webhook was deleted.".to_owned(),
                        Some(reason) => format!("Not sent: the webhook was disabled ({reason})."),
                        None => "Not sent: the webhook was disabled.".to_owned(),
                    };
                    self.metrics.record(Outcome::NotSent, None);
                    self.record(Update::not_sent(&event, why, now)).await;
                    if handed {
                        self.handed_left(crate::core::handoff::weight(event.payload.len()));
                    }
                    continue;
                }
            };
            let cap = self.config.per_webhook_concurrency;
            let lane = self
                .lanes
                .entry(event.webhook_id.clone())
                .or_insert_with(|| Lane {
                    permits: Arc::new(Semaphore::new(cap)),
                    pending: VecDeque::new(),
                    cap,
                });
            lane.pending.push_back(Job {
                event,
                webhook,
                handed,
            });
            self.waiting_jobs += 1;
        }
        if start {
            self.start_pending();
        }
        claimed
    }

    /// Starts every waiting job that has both a lane permit and a global permit, oldest first
    /// within each lane. A job whose lease would run out before its request could finish is
    /// released instead: sending it could race a second worker that claimed it meanwhile.
    fn start_pending(&mut self) {
        if self.waiting_jobs == 0 {
            return;
        }
        let min_lease_ms =
            i64::try_from(self.config.request_timeout.as_millis()).unwrap_or(i64::MAX);
        let now_ms = Utc::now().timestamp_millis();
        let mut starts = Vec::new();
        let mut releases = Vec::new();
        'lanes: for lane in self.lanes.values_mut() {
            while let Some(job) = lane.pending.front() {
                if job.event.lease_until - now_ms < min_lease_ms {
                    releases.extend(lane.pending.pop_front());
                    continue;
                }
                let Ok(lane_permit) = lane.permits.clone().try_acquire_owned() else {
                    break;
                };
                let Ok(global_permit) = self.global.clone().try_acquire_owned() else {
                    break 'lanes;
                };
                if let Some(job) = lane.pending.pop_front() {
                    starts.push((job, global_permit, lane_permit));
                }
            }
        }
        self.waiting_jobs -= starts.len() + releases.len();
        let handed: usize = starts
            .iter()
            .map(|(j, _, _)| j)
            .chain(releases.iter())
            .filter(|j| j.handed)
            .map(|j| crate::core::handoff::weight(j.event.payload.len()))
            .sum();
        self.handed_left(handed);
        for (job, g, l) in starts {
            self.spawn(job, g, l);
        }
        for job in releases {
            // The recorder is never far behind; if its queue is full the lease simply expires.
            let _ = self.records.try_send(Update::release(&job.event));
        }
    }

    fn spawn(&mut self, job: Job, global: OwnedSemaphorePermit, lane: OwnedSemaphorePermit) {
        let client = self.client.clone();
        let guard = self.guard.clone();
        let secrets = self.secrets.clone();
        let config = self.config.clone();
        let metrics = self.metrics.clone();
        let records = self.records.clone();
        let worker = self.worker_name.clone();
        self.tasks.spawn(async move {
            let started_at = Utc::now();
            let attempt = {
                let _in_flight = metrics.start_request();
                deliver::attempt(&client, &guard, &config, &secrets, &job.event, &job.webhook).await
            };
            metrics.record(attempt.outcome(), attempt.elapsed());
            let update = retry::conclude(
                &config.retry_schedule,
                &job.event,
                &attempt,
                started_at,
                Utc::now(),
                Some(worker),
            );
            // Permits are held until the result is queued: a recorder that falls behind slows
            // claiming down instead of letting results pile up in memory.
            let _ = records.send(update).await;
            drop((global, lane));
            job.event.webhook_id
        });
    }

    fn handed_left(&self, n: usize) {
        if let (Some(w), true) = (&self.handed_waiting, n > 0) {
            w.fetch_sub(n, Ordering::AcqRel);
        }
    }

    async fn record(&self, update: Update) {
        let _ = self.records.send(update).await;
    }

    fn drop_idle_lane(&mut self, id: &str) {
        let cap = self.config.per_webhook_concurrency;
        if self
            .lanes
            .get(id)
            .is_some_and(|l| l.pending.is_empty() && l.permits.available_permits() == cap)
        {
            self.lanes.remove(id);
        }
    }

    /// Gives back what was claimed but not started, then waits for in-flight deliveries: they
    /// end by themselves within the request timeout; a little grace covers recording.
    async fn shutdown(&mut self) {
        let mut handed = 0;
        for lane in self.lanes.values_mut() {
            for job in lane.pending.drain(..) {
                if job.handed {
                    handed += crate::core::handoff::weight(job.event.payload.len());
                }
                let _ = self.records.send(Update::release(&job.event)).await;
            }
        }
        self.handed_left(handed);
        self.waiting_jobs = 0;
        let grace = self.config.request_timeout + Duration::from_millis(500);
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = self.tasks.len(),
                "deliveries still running at shutdown were abandoned; their leases will expire"
            );
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
    }
}
