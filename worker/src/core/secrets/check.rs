//! One key per database. The first process that opens a database with a key records that key's
//! check value in `secrets_key_check` (HMAC-SHA256 of a fixed text under the key, and its
//! fingerprint; never the key), and every process after it, `serve`, `worker` and `secrets
//! rekey` alike, compares its own at start ([`super::store::prepare`]) and refuses to start with
//! another one, naming where its key came from and what to do. Without it, a worker given the
//! wrong key would start fine and then fail every delivery.
//!
//! The decision a reader may question: a database from before the check records the first key
//! that starts on it, unless that key opens none of the sealed secrets the database holds (then
//! it is surely not theirs). Checking every secret instead would refuse a key that is right but
//! finds one damaged value, which the delivery of that one webhook already reports.

use chrono::Utc;
use entity::secrets_key_check;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, Statement};

use super::cipher::{Secrets, LEGACY};
use super::key::{shown_path, KeySource, KEY_ENV};
use super::stored::{count_unreadable, stored, StoreError};

/// What adopting a key found: of the stored secrets, how many it cannot open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdoptReport {
    pub unreadable: u64,
    pub total: u64,
}

/// Makes `secrets` the database's key without re-sealing anything: for when the key the secrets
/// were sealed under is lost. Secrets it cannot open stay as they are (their deliveries fail with
/// a sentence saying so) until their owners set them again.
pub async fn adopt_key(
    db: &DatabaseConnection,
    secrets: &Secrets,
) -> Result<AdoptReport, StoreError> {
    record(db, secrets).await?;
    let (unreadable, total) = count_unreadable(db, secrets).await?;
    Ok(AdoptReport { unreadable, total })
}

/// Records `secrets` as this database's key, replacing any other.
pub(super) async fn record<C: ConnectionTrait>(db: &C, secrets: &Secrets) -> Result<(), DbErr> {
    db.execute(check_insert(db.get_database_backend(), secrets, true))
        .await?;
    Ok(())
}

/// The row for `secrets`; on an existing row, replacing it or (`replace: false`) leaving it.
fn check_insert(backend: DbBackend, secrets: &Secrets, replace: bool) -> Statement {
    let conflict = if replace {
        "DO UPDATE SET check_value = excluded.check_value, fingerprint = excluded.fingerprint, \
         recorded_at = excluded.recorded_at"
    } else {
        "DO NOTHING"
    };
    Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO secrets_key_check (id, check_value, fingerprint, recorded_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (id) {conflict}"
        ),
        [
            secrets_key_check::ID.into(),
            secrets.check_value().into(),
            secrets.fingerprint().into(),
            Utc::now().into(),
        ],
    )
}

/// The database's recorded key, if a process has recorded one.
pub(super) async fn recorded<C: ConnectionTrait>(
    db: &C,
) -> Result<Option<secrets_key_check::Model>, DbErr> {
    secrets_key_check::Entity::find_by_id(secrets_key_check::ID)
        .one(db)
        .await
}

/// Refuses a key that is not the database's (accepting `also` too, when given). A database with
/// no recorded key records this one, unless it holds sealed secrets and this key opens none of
/// them: then it is surely not their key. Two processes recording at once on a fresh database
/// meet on the one row: the second finds the first's and compares with it.
pub(super) async fn check_key(
    db: &DatabaseConnection,
    secrets: &Secrets,
    source: &KeySource,
    also: Option<&Secrets>,
) -> Result<(), StoreError> {
    let row = match recorded(db).await? {
        Some(row) => row,
        None => {
            let (unreadable, total) = count_unreadable(db, secrets).await?;
            // Plain-text secrets from before encryption open with no key (they are sealed next).
            let legacy = stored(db, Some(LEGACY)).await?.len() as u64;
            let sealed = total.saturating_sub(legacy);
            if sealed > 0 && unreadable.saturating_sub(legacy) == sealed {
                return Err(StoreError::Refused(format!(
                    "The secrets key from {} (fingerprint {}) opens none of the {sealed} webhook \
                     secret(s) this database holds, so it is not the key they were encrypted \
                     under: {FIX}",
                    describe(source),
                    secrets.fingerprint(),
                )));
            }
            db.execute(check_insert(db.get_database_backend(), secrets, false))
                .await?;
            recorded(db)
                .await?
                .ok_or_else(|| StoreError::Db(DbErr::RecordNotFound("secrets_key_check".into())))?
        }
    };
    let known = |s: &Secrets| s.check_value() == row.check_value;
    if known(secrets) || also.is_some_and(known) {
        return Ok(());
    }
    Err(StoreError::Refused(format!(
        "The secrets key from {} (fingerprint {}) is not the key this database's webhook secrets \
         are encrypted under (fingerprint {}): {FIX}",
        describe(source),
        secrets.fingerprint(),
        row.fingerprint,
    )))
}

/// How to fix a wrong key: the end of both refusals above.
const FIX: &str = "give this process the key every other process on this database uses \
     (SECRETS_KEY, or SECRETS_KEY_FILE naming the same key file), or, only if that key is lost, \
     run `streamhooks secrets reset-key` with this one (owners must then set their webhook \
     secrets again).";

/// Where a key came from, for a sentence: the variable, or the key file by its full path (two
/// processes in different working directories each find their own `streamhooks.key`).
fn describe(source: &KeySource) -> String {
    match source {
        KeySource::Env => KEY_ENV.to_owned(),
        KeySource::Given => "the embedding program".to_owned(),
        KeySource::File(p) => format!("the key file {} (SECRETS_KEY_FILE)", shown_path(p)),
        KeySource::Created(p) => format!(
            "the key file {} (SECRETS_KEY_FILE), created just now",
            shown_path(p)
        ),
    }
}
