//! Small PostgreSQL pools of their own beside a process's main pool, for paths that run the same
//! few statements all the time: the dispatcher's claims and results (`dispatch::hot_path`) and
//! the API's event ingest. sqlx hands out the connection idle the longest, so on a shared pool
//! that has grown to ten or so connections each of those statements meets a different backend,
//! whose caches (prepared statements, plans, catalog) have gone cold; a few connections of their
//! own keep the same backends warm. Built from the main pool's own connect options, so they reach
//! the same server as the same user with the same settings, without parsing the URL or probing
//! the server again; opened lazily (the main pool has just reached the server) and kept at their
//! size from then on.

use std::time::Duration;

use sea_orm::sqlx::postgres::PgPoolOptions;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, SqlxPostgresConnector};

/// On PostgreSQL, `connections` connections opened like `db`'s, with the server `settings` added
/// (`SET` for the session, e.g. `("plan_cache_mode", "force_generic_plan")`); `None` on SQLite.
pub fn postgres_beside(
    db: &DatabaseConnection,
    connections: u32,
    settings: &[(&str, &str)],
) -> Option<DatabaseConnection> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return None;
    }
    let mut options = db
        .get_postgres_connection_pool()
        .connect_options()
        .as_ref()
        .clone();
    if !settings.is_empty() {
        // Even an empty list would send an empty `options` to the server.
        options = options.options(settings.iter().copied());
    }
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .min_connections(connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(options);
    Some(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}
