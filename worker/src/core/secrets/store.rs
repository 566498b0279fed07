//! The database side of sealed secrets: the start-up pass that finds or creates the key, checks it
//! is the database's own ([`super::check`]) and seals secrets left from before encryption, the
//! re-key, and the SQLite scrub that makes replaced and deleted values unreadable on disk.
//!
//! The decision a reader will question is that [`prepare`] refuses to *create* a key file when the
//! database already holds sealed secrets or a recorded key. A fresh key cannot open them, so a
//! missing key file then means a lost one (a container without a persistent volume, a new working
//! directory), and making a new key silently would turn every secret into noise while the server
//! looked healthy.
//!
//! [`scrub`] is a `wal_checkpoint(TRUNCATE)`: `secure_delete` zeroes a replaced or deleted value in
//! the page SQLite writes, but in WAL mode older copies of that page stay in the `-wal` file (and
//! the old page in the main file) until a checkpoint copies the new page over and the log is
//! emptied. It is cheap and only follows writes that remove a secret.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait,
};

use super::check;
use super::cipher::{legacy_plaintext, OpenError, Secrets, LEGACY, SEALED};
use super::key::{
    create_key_file, read_key_file, shown_path, KeyError, KeySource, Loaded, SecretsConfig,
};
use super::stored::{count_unreadable, stored, StoreError, Stored, SEALED_COLUMNS};

/// Loads the key (creating the key file only when that is safe, see the module docs), checks that
/// it is the database's key (recording it if the database has none yet), seals any secret still in
/// plain text, and warns about secrets the key cannot open. Run by every process that reads or
/// writes secrets, right after migrating and before anything else; idempotent.
///
/// The warning comes from a task beside the start rather than before it returns: to count the
/// secrets the key cannot open it opens every one, ~130 ms of each start at 100,000 webhooks
/// (BENCHMARKS.md, "Starting with sealed secrets"), and nothing waits on the count. A key that
/// is not the database's is still refused before anything starts; a database error while
/// counting is logged.
pub async fn prepare(db: &DatabaseConnection, cfg: &SecretsConfig) -> Result<Secrets, StoreError> {
    let (secrets, source) = prepare_accepting(db, cfg, None).await?;
    let (db, key) = (db.clone(), secrets.clone());
    tokio::spawn(async move {
        if let Err(e) = warn_unreadable(&db, &key, &source).await {
            tracing::warn!(error = %e, "could not count the webhook secrets this key cannot open");
        }
    });
    Ok(secrets)
}

/// [`prepare`] for `secrets rekey` to `new`: a database whose recorded key is already `new` (the
/// re-key ran before) is accepted too, so that running it again is safe. It counts the secrets
/// it cannot open before it returns: the re-key that follows reads them all anyway.
pub async fn prepare_for_rekey(
    db: &DatabaseConnection,
    cfg: &SecretsConfig,
    new: Option<&Secrets>,
) -> Result<Secrets, StoreError> {
    let (secrets, source) = prepare_accepting(db, cfg, new).await?;
    warn_unreadable(db, &secrets, &source).await?;
    Ok(secrets)
}

/// Warns about the stored secrets `secrets` cannot open, if there are any.
async fn warn_unreadable(
    db: &DatabaseConnection,
    secrets: &Secrets,
    source: &KeySource,
) -> Result<(), StoreError> {
    let (unreadable, total) = count_unreadable(db, secrets).await?;
    if unreadable > 0 {
        tracing::warn!(
            unreadable,
            total,
            key = %source,
            fingerprint = secrets.fingerprint(),
            "some webhook secrets cannot be decrypted with this key; their deliveries fail until \
             the right key is configured or their owners set them again"
        );
    }
    Ok(())
}

async fn prepare_accepting(
    db: &DatabaseConnection,
    cfg: &SecretsConfig,
    also: Option<&Secrets>,
) -> Result<(Secrets, KeySource), StoreError> {
    let (secrets, source) = match cfg.load()? {
        Loaded::Key(s, source) => (s, source),
        Loaded::MissingFile(path) => {
            if any_sealed(db).await? || check::recorded(db).await?.is_some() {
                return Err(StoreError::Refused(format!(
                    "The secrets key file {} (SECRETS_KEY_FILE) does not exist, but the database \
                     holds webhook secrets encrypted under a key: restore that file, or set \
                     SECRETS_KEY to the key. (If the key is lost, run `streamhooks secrets \
                     reset-key` with a new one; owners must then set their webhook secrets again.)",
                    shown_path(&path)
                )));
            }
            create_key_file(&path)?
        }
    };
    check::check_key(db, &secrets, &source, also).await?;
    let sealed = seal_legacy(db, &secrets).await?;
    if sealed > 0 {
        tracing::info!(
            sealed,
            "encrypted webhook secrets stored in plain text by an earlier version"
        );
        scrub(db).await;
    }
    if matches!(source, KeySource::Created(_)) {
        tracing::warn!(key = %source, "created a new secrets key: back it up, and give every process that shares this database the same key");
    }
    tracing::info!(key = %source, fingerprint = secrets.fingerprint(), "webhook secrets key loaded");
    Ok((secrets, source))
}

/// A key file's key, creating the file (0600, a fresh random key) if it does not exist: the
/// `--new-key-file` of a re-key.
pub fn key_file_or_create(path: &std::path::Path) -> Result<(Secrets, KeySource), KeyError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(path),
        _ => Ok((read_key_file(path)?, KeySource::File(path.to_owned()))),
    }
}

/// What a re-key did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RekeyReport {
    /// Values opened with the current key and sealed again under the new one.
    pub resealed: u64,
    /// Values already under the new key (a second run, or written by a process already using it).
    pub already_new: u64,
    /// Values still in plain text, sealed directly under the new key.
    pub legacy: u64,
}

/// Seals every stored secret under `new`, in one transaction: all or nothing. Safe to run again:
/// values already under `new` are left alone. Refuses, changing nothing, if any value opens with
/// neither key.
pub async fn rekey(
    db: &DatabaseConnection,
    current: &Secrets,
    new: &Secrets,
) -> Result<RekeyReport, StoreError> {
    if current.same_key(new) {
        return Err(StoreError::Refused(
            "The new key is the key already in use; nothing to do.".into(),
        ));
    }
    let txn = begin_exclusive(db).await?;
    let mut report = RekeyReport::default();
    let mut unreadable = Vec::new();
    let mut writes = Vec::new();
    for s in stored(&txn, None).await? {
        let plain = if let Some(p) = legacy_plaintext(&s.value) {
            report.legacy += 1;
            p.to_owned()
        } else if let Ok(p) = current.open(&s.value) {
            report.resealed += 1;
            p
        } else if new.open(&s.value).is_ok() {
            report.already_new += 1;
            continue;
        } else {
            unreadable.push(s.id);
            continue;
        };
        writes.push((new.seal(&plain)?, s));
    }
    if !unreadable.is_empty() {
        let n = unreadable.len();
        unreadable.truncate(10);
        return Err(StoreError::Refused(format!(
            "{n} webhook secret(s) open with neither the current key nor the new one (webhooks \
             {}); nothing was changed. Configure the key they were encrypted with, or have their \
             owners set them again (webhookUpdate), then run this again.",
            unreadable.join(", ")
        )));
    }
    for (sealed, s) in &writes {
        replace(&txn, s, sealed).await?;
    }
    check::record(&txn, new).await?;
    txn.commit().await?;
    scrub(db).await;
    Ok(report)
}

/// On SQLite, copies every page into the main file and empties the WAL, so the older page images
/// that still hold a replaced or deleted secret are gone from disk (see the module docs). Best
/// effort: a failure is logged, since the write it follows has already succeeded.
pub async fn scrub<C: ConnectionTrait>(db: &C) {
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    let stmt = Statement::from_string(DbBackend::Sqlite, "PRAGMA wal_checkpoint(TRUNCATE)");
    match db.query_one(stmt).await {
        Ok(Some(row)) if row.try_get_by_index::<i32>(0).unwrap_or(0) != 0 => {
            tracing::warn!("the SQLite checkpoint after removing a webhook secret was blocked by a reader; old copies stay in the WAL until the next one");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "the SQLite checkpoint after removing a webhook secret failed")
        }
    }
}

/// Erases the previous secrets whose rotation grace ended before `now_ms` (the dispatcher
/// already ignores them); returns how many. The caller scrubs.
pub async fn forget_expired_previous<C: ConnectionTrait>(
    db: &C,
    now_ms: i64,
) -> Result<u64, DbErr> {
    let stmt = Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE webhooks_config SET previous_secret = NULL, previous_secret_expires_at = NULL \
         WHERE previous_secret_expires_at <= $1",
        [now_ms.into()],
    );
    Ok(db.execute(stmt).await?.rows_affected())
}

/// Why a stored secret is unusable, as a sentence for `statusInfo`.
pub fn unusable_sentence(e: OpenError) -> String {
    format!(
        "Not sent: this webhook's secret cannot be decrypted with the server's key \
         (SECRETS_KEY or SECRETS_KEY_FILE): it {e}. The request was not signed with anything \
         else. The server's operator can configure the key it was encrypted with, or the owner \
         can set the secret again with webhookUpdate."
    )
}

/// A write transaction that keeps secret writers out until it commits: SQLite's write lock taken
/// up front, PostgreSQL's table lock that still lets deliveries read.
async fn begin_exclusive(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    let sql = match txn.get_database_backend() {
        DbBackend::Postgres => "LOCK TABLE webhooks_config IN SHARE ROW EXCLUSIVE MODE",
        _ => "UPDATE webhooks_config SET id = id WHERE 0 = 1",
    };
    txn.execute_unprepared(sql).await?;
    Ok(txn)
}

async fn any_sealed(db: &DatabaseConnection) -> Result<bool, DbErr> {
    for column in SEALED_COLUMNS {
        let sql = format!("SELECT 1 FROM webhooks_config WHERE {column} LIKE '{SEALED}%' LIMIT 1");
        let stmt = Statement::from_string(db.get_database_backend(), sql);
        if db.query_one(stmt).await?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Replaces one stored value, only if it is still the one read (another process may have sealed
/// it, or its owner changed it, in between).
async fn replace<C: ConnectionTrait>(db: &C, s: &Stored, sealed: &str) -> Result<u64, DbErr> {
    let sql = format!(
        "UPDATE webhooks_config SET {c} = $1 WHERE id = $2 AND {c} = $3",
        c = s.column
    );
    let stmt = Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [sealed.into(), s.id.as_str().into(), s.value.as_str().into()],
    );
    Ok(db.execute(stmt).await?.rows_affected())
}

/// Seals the `plain:` values the migration marked; returns how many.
async fn seal_legacy(db: &DatabaseConnection, secrets: &Secrets) -> Result<u64, StoreError> {
    let legacy = stored(db, Some(LEGACY)).await?;
    if legacy.is_empty() {
        return Ok(0);
    }
    let txn = begin_exclusive(db).await?;
    let mut n = 0;
    for s in &legacy {
        if let Some(plain) = legacy_plaintext(&s.value) {
            n += replace(&txn, s, &secrets.seal(plain)?).await?;
        }
    }
    txn.commit().await?;
    Ok(n)
}
