//! One dispatcher write at a time on SQLite, queued in process rather than in SQLite's busy
//! handler.
//!
//! SQLite lets one writer in at a time. A claim that reaches the database while the recorder's
//! transaction holds the lock gets `SQLITE_BUSY`, and the busy handler (the busy timeout) sleeps
//! 1 ms, then 2, then 5 … before it looks again, however soon the lock is free. With results
//! recorded every millisecond or two, the dispatcher's claims and the recorder's batches meet all
//! the time, and without the gate a drain leaves ~30% of the machine idle (`streamhooks-bench
//! --only throughput` on SQLite). Taking this gate first, the second writer waits on an async
//! mutex and starts the moment the first one is done. On PostgreSQL, whose writers do not exclude
//! each other, the gate is open.
//!
//! Only the dispatcher's own writers take it (claims, result batches); other writers (the API,
//! another process) meet these on SQLite's lock and wait in its busy handler.

use std::sync::Arc;

use sea_orm::DatabaseBackend;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Cloned into every writer of one dispatcher; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct WriteGate(Option<Arc<Mutex<()>>>);

impl WriteGate {
    /// Closed (one at a time) on SQLite, open on PostgreSQL.
    pub fn for_backend(backend: DatabaseBackend) -> Self {
        match backend {
            DatabaseBackend::Sqlite => Self(Some(Arc::new(Mutex::new(())))),
            _ => Self(None),
        }
    }

    /// Waits for the turn to write (first come, first served); the turn ends when the guard is
    /// dropped. At once when the gate is open.
    pub async fn enter(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.0 {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn sqlite_writers_take_turns_and_postgres_writers_do_not_wait() {
        let gate = WriteGate::for_backend(DatabaseBackend::Sqlite);
        let first = gate.enter().await;
        assert!(first.is_some());
        let waiting = tokio::time::timeout(Duration::from_millis(50), gate.enter()).await;
        assert!(
            waiting.is_err(),
            "a second SQLite writer got in while the first wrote"
        );
        drop(first);
        let second = tokio::time::timeout(Duration::from_millis(50), gate.enter()).await;
        assert!(matches!(second, Ok(Some(_))), "the turn was not handed on");

        let open = WriteGate::for_backend(DatabaseBackend::Postgres);
        let _a = open.enter().await;
        let b = tokio::time::timeout(Duration::from_millis(50), open.enter()).await;
        assert!(matches!(b, Ok(None)));
    }
}
