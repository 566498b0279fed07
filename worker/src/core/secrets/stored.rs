//! The stored secrets as the database side reads them: which columns hold one
//! ([`SEALED_COLUMNS`]), every value with its webhook and column, and how many of them a key
//! cannot open; with the error type of that side ([`StoreError`]). Both the key check and the
//! start-up pass read these, so they stand below both.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};

use super::cipher::{SealError, Secrets};
use super::key::KeyError;

/// Every `webhooks_config` column that holds a sealed secret. A second secret per webhook (the
/// previous one, during rotation) is one more entry here: the passes below cover it unchanged.
pub const SEALED_COLUMNS: &[&str] = &["secret", "previous_secret"];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("database error while handling webhook secrets: {0}")]
    Db(#[from] DbErr),
    /// Nothing was changed; the sentence says why and what to do.
    #[error("{0}")]
    Refused(String),
}

/// One stored secret: the webhook, the column, the stored text.
pub(super) struct Stored {
    pub(super) id: String,
    pub(super) column: &'static str,
    pub(super) value: String,
}

/// Stored secrets, optionally only those whose value starts with `prefix`.
pub(super) async fn stored<C: ConnectionTrait>(
    db: &C,
    prefix: Option<&str>,
) -> Result<Vec<Stored>, DbErr> {
    let mut out = Vec::new();
    for &column in SEALED_COLUMNS {
        let filter = match prefix {
            Some(p) => format!("{column} LIKE '{p}%'"),
            None => format!("{column} IS NOT NULL"),
        };
        let sql = format!("SELECT id, {column} FROM webhooks_config WHERE {filter} ORDER BY id");
        for row in db
            .query_all(Statement::from_string(db.get_database_backend(), sql))
            .await?
        {
            let value: String = row.try_get_by_index(1)?;
            // SQLite's LIKE ignores case; the prefix itself does not.
            if prefix.is_some_and(|p| !value.starts_with(p)) {
                continue;
            }
            out.push(Stored {
                id: row.try_get_by_index(0)?,
                column,
                value,
            });
        }
    }
    Ok(out)
}

/// (secrets `secrets` cannot open, all secrets).
pub(super) async fn count_unreadable(
    db: &DatabaseConnection,
    secrets: &Secrets,
) -> Result<(u64, u64), DbErr> {
    let all = stored(db, None).await?;
    let bad = all
        .iter()
        .filter(|s| secrets.open(&s.value).is_err())
        .count();
    Ok((bad as u64, all.len() as u64))
}
