//! Cross-process wake-ups on PostgreSQL: `LISTEN` on [`CHANNEL`] and turn every notification into
//! an in-process [`Notifier::wake`]. Queuing transactions `NOTIFY` inside the transaction, so the
//! wake-up arrives only once their rows are visible.
//!
//! Notifications are hints, not the queue: one sent while the connection is down is lost, which
//! is why a reconnect is followed by a wake-up (the dispatcher then claims whatever is due) and why
//! the dispatcher polls anyway. The connection comes from the application's pool; losing it is
//! retried with a capped back-off rather than ending the worker.

use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::core::notifier::{Notifier, CHANNEL};

pub async fn run(pool: PgPool, notifier: Notifier, cancel: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let listener = tokio::select! {
            () = cancel.cancelled() => return,
            l = connect(&pool) => l,
        };
        match listener {
            Ok(mut listener) => {
                backoff = Duration::from_millis(100);
                // Anything queued while we were not listening is only found by claiming.
                notifier.wake();
                loop {
                    let got = tokio::select! {
                        () = cancel.cancelled() => return,
                        got = listener.try_recv() => got,
                    };
                    match got {
                        Ok(Some(_)) => notifier.wake(),
                        // The connection dropped; sqlx reconnects on the next call, but we may have
                        // missed notifications meanwhile.
                        Ok(None) => notifier.wake(),
                        Err(e) => {
                            tracing::warn!(error = %e, "LISTEN connection failed; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for new events; relying on polling until it works")
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
