//! Opening the database: a SQLite file by default (WAL, so readers never wait for the dispatcher's
//! writes) or PostgreSQL. Connection failures become one readable sentence, never a panic, because
//! a wrong `DATABASE_URL` is the most common first-run mistake.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    TransactionTrait,
};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL {0:?} is not supported: use sqlite://FILE?mode=rwc or postgres://USER:PASS@HOST/DB")]
    Scheme(String),
    #[error("cannot open database {url}: {source}")]
    Connect { url: String, source: sea_orm::DbErr },
    #[error("cannot reach database {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("cannot migrate database {url}: {source}")]
    Migrate { url: String, source: sea_orm::DbErr },
}

/// The URL with any password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => url.to_owned(),
        // Unparseable: hide whatever sits between "user:" and "@" by hand.
        Err(_) => match (url.find("://"), url.rfind('@')) {
            (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
                Some(c) => format!("{}:***{}", &url[..s + 3 + c], &url[at..]),
                None => url.to_owned(),
            },
            _ => url.to_owned(),
        },
    }
}

/// Connections of the pool that `POST /api/events` reads and writes through on PostgreSQL: one
/// for its shared read and two for its group commit (`webhooks::lookup`, `webhooks::combine`).
pub const INGEST_CONNECTIONS: u32 = 3;

/// On PostgreSQL, a pool of its own for the single-event ingest path, beside `db` and like it
/// ([`streamhooks_worker::pool`]), kept at [`INGEST_CONNECTIONS`]; on SQLite `None` (its
/// connections are in this process, and one writer at a time anyway). Always the same three
/// backends cost PostgreSQL ~17% less CPU per event than the shared pool (measured with
/// `streamhooks-bench --only ingest`).
pub fn ingest_pool(db: &DatabaseConnection) -> Option<DatabaseConnection> {
    streamhooks_worker::pool::postgres_beside(db, INGEST_CONNECTIONS, &[])
}

pub async fn connect(url: &str) -> Result<DatabaseConnection, DbError> {
    let shown = redact(url);
    let is_sqlite = url.starts_with("sqlite:");
    if !is_sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(DbError::Scheme(shown));
    }
    if !is_sqlite {
        probe_postgres(url, &shown).await?;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if is_sqlite {
        // One writer at a time is SQLite's rule; a small pool avoids piling up writers that would
        // only wait on the busy timeout.
        opts.max_connections(8).min_connections(1);
    } else {
        opts.max_connections(32).min_connections(1);
        // No JIT compilation: every statement here is a short index walk, and PostgreSQL's cost
        // estimate for a stream's webhook histories on one page (100 webhooks, `history(limit:
        // 50)`, as Speckle's first web app asks) passes `jit_above_cost`, upon which LLVM spent
        // 1.3 s compiling a 40 ms query, and over 10 s on two busy cores.
        opts.map_sqlx_postgres_opts(|o| o.options([("jit", "off")]));
    }
    if is_sqlite {
        // Per-connection settings, so they go on the connect options, not one PRAGMA on one
        // connection. WAL lets GraphQL reads run while the dispatcher writes; NORMAL keeps every
        // committed status across a process crash, which is what the outbox promises; the busy
        // timeout turns writer contention into waiting rather than errors. `secure_delete`
        // overwrites deleted and replaced values with zeros (a changed or deleted webhook secret,
        // a revoked token's digest), so free pages keep nothing readable; the WAL's older page
        // copies are emptied after such writes (`secrets::store::scrub`). Checkpoints every
        // 10,000 WAL pages (~40 MB) instead of SQLite's 1,000: a checkpoint runs in the commit
        // that crosses the mark, with the write lock held and an fsync, and a page the recorder
        // rewrites batch after batch is copied to the database once per checkpoint, not each time.
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("secure_delete", "ON")
                .pragma("wal_autocheckpoint", "10000")
        });
    }
    let db = Database::connect(opts)
        .await
        .map_err(|source| DbError::Connect {
            url: shown.clone(),
            source,
        })?;
    Ok(db)
}

pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, DbError> {
    let db = connect(url).await?;
    Migrator::up(&db, None)
        .await
        .map_err(|source| DbError::Migrate {
            url: redact(url),
            source,
        })?;
    Ok(db)
}

/// One direct connection first: a pool that cannot connect only says "timed out", while the
/// driver's own error says why (refused, unknown host, bad password, no such database).
async fn probe_postgres(url: &str, shown: &str) -> Result<(), DbError> {
    use sea_orm::sqlx::{Connection, PgConnection};
    let unreachable = |reason: String| DbError::Unreachable {
        url: shown.to_owned(),
        reason,
    };
    match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(url)).await {
        Err(_) => Err(unreachable("no answer within 5 s".into())),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
    }
}

/// Begins a transaction that will write. On SQLite its first statement takes the write lock
/// (what `BEGIN IMMEDIATE` does; sea-orm only issues a deferred `BEGIN`): a deferred transaction
/// that reads and then writes fails at once with SQLITE_BUSY_SNAPSHOT if another connection — the
/// dispatcher, typically — committed in between, and the busy timeout cannot help that case.
/// Taking the lock first makes concurrent writers wait their turn instead. PostgreSQL needs
/// nothing: its row locks and MVCC handle it.
pub async fn begin_write<C: TransactionTrait>(
    db: &C,
) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE streams SET updated_at = updated_at WHERE 0")
            .await?;
    }
    Ok(txn)
}
