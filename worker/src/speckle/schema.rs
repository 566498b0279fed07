//! What a Speckle database must hold before we deliver from it, and the side schema we add.
//!
//! Speckle's tables are only looked at: [`check_speckle_tables`] refuses a database without the
//! columns Speckle's migrations made (a wrong `PG_CONNECTION_STRING` is the likely cause), and
//! [`newer_webhook_migrations`] names any webhooks migration newer than the last one this code
//! was written against, so an operator hears of a schema change before it bites.
//!
//! Ours, [`SCHEMA`], is created at start with `IF NOT EXISTS`, under a transaction-scoped
//! advisory lock: replicas starting at once would otherwise race on the catalog (two `CREATE
//! TABLE IF NOT EXISTS` can both pass the check and one then fails on a unique index). There is
//! no foreign key into Speckle's tables: Speckle deletes a webhook's events by cascade, and a key
//! from our rows would make that delete fail, or cascade into rows we are writing. Orphans are
//! swept instead (`super::sweep`).
//!
//! - `deliveries`: one row per Speckle event this dispatcher holds or will try again, keyed by a
//!   bigint surrogate (the engine's `Claimed.id`, the `webhook-id` header) and unique on Speckle's
//!   text id. It goes when the event is finished, so it stays as small as what is in flight plus
//!   what waits for a retry; `due_at` is the index the claim walks for due retries.
//! - `attempts`: every attempt, kept after the event is finished, for the `attempts` view; keyed
//!   by the surrogate and the attempt number, found by Speckle's event id or by webhook. Rows come
//!   in the order they started, so the age the pruning walks is a BRIN index: a few pages for
//!   millions of rows, and next to nothing per insert on the hot path.

use sea_orm::sqlx::{self, PgPool};

/// Our schema's name in Speckle's database.
pub const SCHEMA: &str = "streamhooks";

/// The last webhooks migration of Speckle's (`packages/server/modules/webhooks/migrations`)
/// whose tables this store was written against.
pub const LAST_KNOWN_MIGRATION: &str = "20230919080704";

/// Why we cannot start on a database; each `Display` is the sentence an operator reads.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the database has no Speckle webhook tables ({0}); point PG_CONNECTION_STRING at \
         Speckle's database, after its server has run its migrations"
    )]
    NotSpeckle(String),
    #[error(
        "the database user {user} may not create the schema {SCHEMA} in {database} (it needs the \
         CREATE privilege on the database: GRANT CREATE ON DATABASE \"{database}\" TO \"{user}\"; \
         or create the schema for it: CREATE SCHEMA {SCHEMA} AUTHORIZATION \"{user}\")"
    )]
    NoCreate { user: String, database: String },
    #[error("cannot prepare the {SCHEMA} schema: {0}")]
    Db(#[from] sqlx::Error),
}

/// Columns of Speckle's tables we read or write, by table.
const NEEDED: [(&str, &[&str]); 2] = [
    (
        "webhooks_events",
        &[
            "id",
            "webhookId",
            "status",
            "statusInfo",
            "lastUpdate",
            "payload",
        ],
    ),
    ("webhooks_config", &["id", "url", "secret", "enabled"]),
];

/// Refuses a database whose `public` schema lacks what we read and write of Speckle's tables.
pub async fn check_speckle_tables(pool: &PgPool) -> Result<(), SchemaError> {
    let found: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() \
           AND table_name IN ('webhooks_events', 'webhooks_config')",
    )
    .fetch_all(pool)
    .await?;
    let missing: Vec<String> = NEEDED
        .iter()
        .flat_map(|(table, cols)| cols.iter().map(move |c| (*table, *c)))
        .filter(|(t, c)| !found.iter().any(|(ft, fc)| ft == t && fc == c))
        .map(|(t, c)| format!("{t}.\"{c}\""))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(SchemaError::NotSpeckle(format!(
            "missing {}",
            missing.join(", ")
        )))
    }
}

/// Speckle's webhooks migrations newer than [`LAST_KNOWN_MIGRATION`], by `knex_migrations`;
/// empty when there are none or Speckle's migrations table is not there.
pub async fn newer_webhook_migrations(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('knex_migrations')::text")
        .fetch_one(pool)
        .await?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM knex_migrations WHERE name ILIKE '%webhook%'")
            .fetch_all(pool)
            .await?;
    Ok(names.into_iter().filter(|n| newer_than_known(n)).collect())
}

/// Whether a knex migration file name (`20230919080704_add_…`) is dated after the last one
/// known: the names start with a 14-digit timestamp, so the digits compare as text.
fn newer_than_known(name: &str) -> bool {
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    digits.len() == LAST_KNOWN_MIGRATION.len() && digits.as_str() > LAST_KNOWN_MIGRATION
}

/// The statements that make our schema, in order; each may run again.
const DDL: &[&str] = &[
    "CREATE SCHEMA IF NOT EXISTS streamhooks",
    "CREATE TABLE IF NOT EXISTS streamhooks.deliveries (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        event_id VARCHAR(255) NOT NULL UNIQUE,
        webhook_id VARCHAR(255) NOT NULL,
        attempt INT NOT NULL DEFAULT 0,
        retry_count INT NOT NULL DEFAULT 0,
        due_at BIGINT NOT NULL,
        lease_token BIGINT,
        lease_until BIGINT,
        leased_at BIGINT,
        prior_lease_at BIGINT
    )",
    "CREATE INDEX IF NOT EXISTS deliveries_due ON streamhooks.deliveries (due_at)",
    "CREATE TABLE IF NOT EXISTS streamhooks.attempts (
        delivery_id BIGINT NOT NULL,
        number INT NOT NULL,
        event_id VARCHAR(255) NOT NULL,
        webhook_id VARCHAR(255) NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        duration_ms INT,
        outcome TEXT NOT NULL,
        status_code INT,
        error TEXT,
        response_headers TEXT NOT NULL DEFAULT '[]',
        response_body TEXT,
        worker TEXT,
        PRIMARY KEY (delivery_id, number)
    )",
    "CREATE INDEX IF NOT EXISTS attempts_event ON streamhooks.attempts (event_id)",
    "CREATE INDEX IF NOT EXISTS attempts_webhook ON streamhooks.attempts (webhook_id, started_at)",
    "CREATE INDEX IF NOT EXISTS attempts_started ON streamhooks.attempts USING brin (started_at)",
];

/// Creates our schema and tables if they are missing (see the module docs for the lock).
pub async fn create_side_schema(pool: &PgPool) -> Result<(), SchemaError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('streamhooks.schema'))")
        .execute(&mut *tx)
        .await?;
    for ddl in DDL {
        if let Err(e) = sqlx::query(ddl).execute(&mut *tx).await {
            if is_insufficient_privilege(&e) {
                drop(tx);
                return Err(no_create(pool).await);
            }
            return Err(e.into());
        }
    }
    tx.commit().await?;
    Ok(())
}

fn is_insufficient_privilege(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("42501"))
}

/// The refusal, naming the user and database (read on a connection of their own: the failed
/// transaction cannot run anything more).
async fn no_create(pool: &PgPool) -> SchemaError {
    let who: Result<(String, String), _> =
        sqlx::query_as("SELECT current_user::text, current_database()::text")
            .fetch_one(pool)
            .await;
    match who {
        Ok((user, database)) => SchemaError::NoCreate { user, database },
        Err(e) => SchemaError::Db(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_later_webhook_migrations_count_as_newer() {
        assert!(!newer_than_known(
            "20230919080704_add_webhook_config_timestamps.ts"
        ));
        assert!(!newer_than_known("20210701180000-webhooks.js"));
        assert!(newer_than_known("20250101000000_webhooks_retry.ts"));
        assert!(!newer_than_known("webhooks.ts"));
    }
}
