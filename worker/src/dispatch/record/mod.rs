//! Writing attempt results back, in batches. Delivery tasks send an [`Update`] over a channel; one
//! recorder task drains whatever has accumulated and writes it in a single transaction, so a burst
//! of N results costs one commit (one fsync) instead of N. Per batch, a few statements of up to
//! [`rows_per_statement`] rows each: the queue rows are deleted (finished) or given back (retry,
//! release), the event rows get their new status (~150 bytes, no indexed column, so HOT on
//! PostgreSQL), the attempts are inserted, and the webhooks' failure streaks are updated
//! ([`streak`]). On PostgreSQL the common batch, in which every result finishes its event and none
//! is a final failure, is all of that in one statement instead ([`FinishAll`]). A batch of fewer
//! than [`LINGER_BELOW`] results waits [`LINGER`] for more first: nobody waits on a result being
//! recorded (the receiver has the request already), and under load the batches grow, so the
//! recorder makes fewer statements and commits, which compete with ingest for the database.
//!
//! The lease token is what makes leases safe: the queue statements match `lease_token`, and only
//! the rows they matched go on to the other statements. A worker whose lease ran out (and whose
//! event another worker claimed with a new token) changes nothing, so it can neither overwrite the
//! newer result nor count a failure against the webhook twice.
//!
//! Durability: this commit is the one that matters. Until it is flushed the receiver may have the
//! event while the database still shows it leased; a crash then means one more delivery after the
//! lease (at least once), never a lost event.
//!
//! Also here, as the one write outside the batches: the attempts a claim took over from expired
//! leases, recorded as interrupted ([`record_interrupted`]).

pub(crate) mod finish_all;
pub(crate) mod statements;
pub(crate) mod streak;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, TransactionTrait};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::core::lease;
use crate::core::notifier::Notifier;
use crate::dispatch::gate::WriteGate;
use crate::dispatch::record::finish_all::FinishAll;
use crate::dispatch::store::Store;
use crate::rows::{rows_per_statement, AttemptRow, Claimed, Effect, Kind, Update, MAX_BATCH};

/// A batch smaller than this waits [`LINGER`] for more results before it is written.
const LINGER_BELOW: usize = 32;
const LINGER: Duration = Duration::from_millis(1);

/// Starts the recorder; it stops once every sender is dropped and the last batch is written.
/// After a batch that put rows back in the queue (retries, releases) it wakes the dispatcher,
/// which then learns the new earliest due time; without this the dispatcher would only see a
/// retry scheduled after its last look at the next poll. Each batch is written by `store` (for
/// ours, [`write`]) in its turn at `gate`.
pub fn spawn(
    store: Arc<dyn Store>,
    notifier: Notifier,
    gate: WriteGate,
) -> (mpsc::Sender<Update>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Update>(MAX_BATCH * 4);
    let handle = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            if batch.len() < LINGER_BELOW {
                tokio::time::sleep(LINGER).await;
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(u) => batch.push(u),
                        Err(_) => break,
                    }
                }
            }
            write_until_done(store.as_ref(), &batch, &gate).await;
            if batch.iter().any(|u| u.kind != Kind::Finish) {
                notifier.wake();
            }
            batch.clear();
        }
    });
    (tx, handle)
}

/// Writes `batch`, retrying with a growing pause while the database is away (a restart, a
/// failover). While this waits, delivery tasks wait to hand over their results and the
/// dispatcher stops claiming, so an outage slows delivery down instead of piling up results.
/// Once every lease in the batch has run out the results could no longer be applied (their rows
/// are someone else's or will be), so the batch is dropped: those events are sent again, never
/// lost.
async fn write_until_done(store: &dyn Store, batch: &[Update], gate: &WriteGate) {
    let mut pause = Duration::from_millis(100);
    let mut tries = 0u32;
    loop {
        tries += 1;
        let written = {
            let _turn = gate.enter().await;
            store.write(batch).await
        };
        match written {
            Ok(()) => {
                if tries > 1 {
                    tracing::info!(
                        tries,
                        rows = batch.len(),
                        "results recorded after the database came back"
                    );
                }
                return;
            }
            Err(e) => {
                let last_lease = batch.iter().map(|u| u.lease_until).max().unwrap_or(0);
                if Utc::now().timestamp_millis() > last_lease {
                    tracing::error!(error = %e, rows = batch.len(), "giving up on these results: their leases have run out, so the events will be sent again");
                    return;
                }
                tracing::warn!(error = %e, try_no = tries, rows = batch.len(), pause_ms = pause.as_millis() as u64, "recording results failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Writes one batch: in one statement when [`one_statement`] can, else in one transaction.
pub async fn write(
    db: &DatabaseConnection,
    batch: &[Update],
    disable_after: u32,
) -> Result<(), DbErr> {
    let latest: Vec<&Update> = latest_per_event(batch).collect();
    if let Some(all) = one_statement(db.get_database_backend(), &latest) {
        let applied: HashSet<i64> = all
            .fetch(db.get_postgres_connection_pool())
            .await?
            .into_iter()
            .collect();
        log_dropped(&latest, &applied);
        return Ok(());
    }
    let txn = db.begin().await?;
    let rows = rows_per_statement(txn.get_database_backend());
    let (finishes, requeues): (Vec<&Update>, Vec<&Update>) =
        latest.iter().partition(|u| u.kind == Kind::Finish);
    let mut applied = HashSet::with_capacity(batch.len());
    for chunk in finishes.chunks(rows) {
        applied.extend(finish_queue_rows(&txn, chunk).await?);
    }
    for chunk in requeues.chunks(rows) {
        applied.extend(requeue_rows(&txn, chunk).await?);
    }
    log_dropped(&latest, &applied);
    let applied_updates: Vec<&Update> = latest
        .iter()
        .copied()
        .filter(|u| applied.contains(&u.id) && u.kind != Kind::Release)
        .collect();
    for chunk in applied_updates.chunks(rows) {
        update_events(&txn, chunk).await?;
    }
    let attempts: Vec<AttemptRow> = applied_updates
        .iter()
        .filter_map(|u| u.attempt.clone())
        .collect();
    insert_attempts(&txn, &attempts, false).await?;
    streak::update(&txn, &applied_updates, disable_after).await?;
    txn.commit().await
}

/// The batch (its latest update per event) as one statement ([`FinishAll`]), when
/// it can be: on PostgreSQL, when every result finishes its event (the queue row goes) and none is
/// a final failure, which may disable a webhook and so takes [`streak::update`]'s reads. That is
/// the batch of a healthy system; retries, releases and final failures take the transaction.
fn one_statement<'a>(backend: DatabaseBackend, latest: &[&'a Update]) -> Option<FinishAll<'a>> {
    if backend != DatabaseBackend::Postgres
        || latest.len() > rows_per_statement(backend)
        || latest
            .iter()
            .any(|u| u.kind != Kind::Finish || u.effect == Effect::FinalFailure)
    {
        return None;
    }
    Some(FinishAll::new(latest))
}

/// Says which results found their lease gone (another claim holds the row now).
fn log_dropped(latest: &[&Update], applied: &HashSet<i64>) {
    for u in latest.iter().filter(|u| !applied.contains(&u.id)) {
        tracing::debug!(
            event = u.id,
            "lease lost before the result was recorded; result dropped"
        );
    }
}

/// The updates of `batch`, but for an event that appears more than once only the one from its
/// latest claim. Several can only meet in one batch when this process's lease ran out and it
/// claimed the event again (during a database outage, say); only the latest claim's token can
/// still hold the row, and the statements below match rows by event id, so an earlier claim's
/// result would otherwise ride along with the latest one's.
pub(crate) fn latest_per_event(batch: &[Update]) -> impl Iterator<Item = &Update> {
    let mut latest: HashMap<i64, (i64, usize)> = HashMap::with_capacity(batch.len());
    for (i, u) in batch.iter().enumerate() {
        let e = latest.entry(u.id).or_insert((u.lease_until, i));
        if u.lease_until >= e.0 {
            *e = (u.lease_until, i);
        }
    }
    batch.iter().enumerate().filter_map(move |(i, u)| {
        let keep = latest.get(&u.id).is_some_and(|(_, j)| *j == i);
        if !keep {
            tracing::debug!(event = u.id, "result of a superseded claim dropped");
        }
        keep.then_some(u)
    })
}

/// Deletes the queue rows of finished events still leased with the given tokens.
async fn finish_queue_rows(
    txn: &impl ConnectionTrait,
    chunk: &[&Update],
) -> Result<Vec<i64>, DbErr> {
    let stmt = statements::finish(txn.get_database_backend(), chunk);
    returned_ids(txn.query_all(stmt).await?)
}

/// Ends the lease of rows to be tried again (new `due_at`) or given back (`undo` takes back the
/// attempt the claim counted).
async fn requeue_rows(txn: &impl ConnectionTrait, chunk: &[&Update]) -> Result<Vec<i64>, DbErr> {
    let stmt = lease::requeue(txn.get_database_backend(), chunk);
    returned_ids(txn.query_all(stmt).await?)
}

/// Speckle's columns of the event row; none of them is indexed.
async fn update_events(txn: &impl ConnectionTrait, chunk: &[&Update]) -> Result<(), DbErr> {
    txn.execute(statements::events(txn.get_database_backend(), chunk))
        .await?;
    Ok(())
}

/// Inserts attempt rows. `if_new` skips rows whose (event, number) exists already (interrupted
/// attempts found by two claims in a race).
pub async fn insert_attempts(
    txn: &impl ConnectionTrait,
    attempts: &[AttemptRow],
    if_new: bool,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    for chunk in attempts.chunks(rows_per_statement(backend)) {
        txn.execute(statements::attempts(backend, chunk, if_new))
            .await?;
    }
    Ok(())
}

fn returned_ids(rows: Vec<sea_orm::QueryResult>) -> Result<Vec<i64>, DbErr> {
    rows.iter()
        .map(|r| r.try_get::<i64>("", "event_id"))
        .collect()
}

/// What an interrupted attempt's `error` says in our store.
const INTERRUPTED: &str = "Interrupted: the worker making this attempt stopped or lost its lease \
     before recording a result; the request may or may not have reached the receiver.";

/// Records the attempts that claims took over from expired leases as interrupted: the worker that
/// made them stopped or stalled before recording anything, so whether the request reached the
/// receiver is unknown. Written apart from the claim; if this worker dies before it runs, those
/// attempts go unrecorded, which is the other honest answer ("not at all").
pub async fn record_interrupted(db: &impl ConnectionTrait, rows: &[Claimed]) -> Result<(), DbErr> {
    let taken_over: Vec<AttemptRow> = rows
        .iter()
        .filter_map(|r| AttemptRow::interrupted(r, INTERRUPTED))
        .collect();
    if taken_over.is_empty() {
        return Ok(());
    }
    insert_attempts(db, &taken_over, true).await
}
