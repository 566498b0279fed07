//! The connections claims and results go through, and their warm-up before the first claim. On
//! PostgreSQL the hot path has a small pool of its own that plans its statements once per
//! connection; on SQLite it shares the main connection and takes turns at the write gate.

use std::time::Duration;

use sea_orm::{DatabaseBackend, DatabaseConnection};

use crate::dispatch::claim;
use crate::dispatch::record::finish_all::FinishAll;

/// Connections of [`hot_path`]'s pool on PostgreSQL: the claim in flight and the recorder's
/// batch (a claim and the interrupted attempts it found never run at once).
pub const HOT_PATH_CONNECTIONS: u32 = 2;

/// The connections claims and results go through. On PostgreSQL a small pool of the dispatcher's
/// own ([`crate::core::pool`]; lazily opened, so a database that is down now is met by the loop's
/// own back-off) with `plan_cache_mode = force_generic_plan`; on SQLite `db` itself (there the
/// claims and result batches take turns at the write gate, [`super::gate`], instead: a connection
/// of their own measured ~20 MB more peak RSS in `serve` under `streamhooks-bench --only attack`).
///
/// Why a pool of its own, as `pg_stat_statements` shows during `streamhooks-bench --only side`: on
/// the shared pool the claims and result batches meet a different backend almost every time (sqlx
/// hands out the connection idle the longest), each with its own cache of prepared statements, and
/// PostgreSQL never settles on a generic plan for them: every execution is planned anew, about a
/// fifth of the server's time on a 5,000-event drain. These statements state their rows by key
/// (docs/query-plans.md shows their generic plans), so a plan made once per connection is as good
/// as one made per call; history and retention keep per-call plans.
pub(super) fn hot_path(db: &DatabaseConnection) -> DatabaseConnection {
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
/// parses and plans (4 ms for the claim alone, in `psql`), and on a fresh worker that comes in
/// the middle of its first deliveries: under `streamhooks-bench --only side`, the database's CPU
/// per delivery is ~10% higher draining 5,000 events than 50,000. Best effort and bounded: a
/// database that is down or slow now is met by the loop's own back-off instead.
pub(super) async fn warm(pool: &sea_orm::sqlx::PgPool) {
    let run = async {
        let mut conns = Vec::new();
        for _ in 0..HOT_PATH_CONNECTIONS {
            conns.push(pool.acquire().await.map_err(|e| e.to_string())?);
        }
        for conn in &mut conns {
            for exclude in [Vec::new(), vec![String::new()]] {
                let stmt =
                    claim::claim_statement(DatabaseBackend::Postgres, 0, 0, 0, 0, &exclude, 0);
                claim::pg_query(&stmt)
                    .map_err(|e| e.to_string())?
                    .execute(&mut **conn)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            FinishAll::default()
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
