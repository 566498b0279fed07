//! Where ingested events are written ([`Sink`]) and the one function that writes them
//! ([`queue()`]), shared by `POST /api/events` (through the group commit, `combine`) and
//! `POST /api/events/batch` (directly).

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use streamhooks_worker::handoff::HandOff;
use streamhooks_worker::outbox::{self, Prepared};
use streamhooks_worker::{queue, Notifier};

/// Where the events go: the database, this process's dispatcher if it has one, its wake-up.
#[derive(Clone)]
pub struct Sink {
    pub db: DatabaseConnection,
    pub handoff: Option<HandOff>,
    pub notifier: Notifier,
}

/// Stores prepared rows and returns how many. When this process dispatches and its dispatcher
/// has room, the rows are written leased to it and handed over in memory once committed; else
/// they are written unleased and the dispatchers are woken (NOTIFY on PostgreSQL, in memory
/// here). On PostgreSQL up to `MAX_ONE_STATEMENT` rows are one statement without BEGIN/COMMIT;
/// otherwise one transaction (on SQLite, begun with a write).
///
/// Durability: this commit is the 202's promise, so it keeps the database's default (a WAL flush
/// on PostgreSQL; SQLite's `synchronous=NORMAL` survives a process crash). The lease rides in the
/// same commit at no extra cost: if the process dies before sending, the lease runs out and
/// another worker claims the rows.
pub async fn queue(sink: &Sink, prepared: Prepared) -> Result<u64, sea_orm::DbErr> {
    if prepared.is_empty() {
        return Ok(0);
    }
    let reservation = sink
        .handoff
        .as_ref()
        .and_then(|h| h.reserve(prepared.weight()));
    let lease = reservation.as_ref().map(|r| r.lease);
    let one_statement = sink.db.get_database_backend() == DbBackend::Postgres
        && prepared.len() <= queue::MAX_ONE_STATEMENT;
    let queued = if one_statement {
        outbox::store(&sink.db, prepared, lease).await?
    } else {
        let txn = crate::context::db::begin_write(&sink.db).await?;
        let queued = outbox::store(&txn, prepared, lease).await?;
        txn.commit().await?;
        queued
    };
    match (reservation, queued.delivery) {
        (Some(r), Some(delivery)) => r.hand_over(delivery),
        _ if queued.n > 0 => sink.notifier.wake(),
        _ => {}
    }
    Ok(queued.n)
}
