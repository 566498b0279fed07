//! The admin subcommands of `streamhooks`: `user create`, `secrets rekey`, `secrets reset-key`
//! and `redeliver`. Each opens (and migrates) the database, does one thing, and answers a sentence
//! or one JSON object for scripts; errors are sentences too, since the command line is where they
//! are read. `main.rs` parses the command line and calls these.

use crate::context::config::DbArgs;
use crate::context::db;
use crate::speckle::service;
use streamhooks_worker::secrets::{check, create_key_file, store, Loaded, SecretsConfig};

pub async fn user_create(d: &DbArgs, name: &str, email: &str, admin: bool) -> Result<(), String> {
    let db = db::connect_and_migrate(&d.url())
        .await
        .map_err(|e| e.to_string())?;
    let created = service::user::create_with_token(&db, name, email, admin)
        .await
        .map_err(|e| e.public_message())?;
    println!(
        "{}",
        serde_json::json!({ "id": created.id, "token": created.token })
    );
    Ok(())
}

pub async fn rekey(
    d: &DbArgs,
    current: &SecretsConfig,
    new_key_file: &std::path::Path,
) -> Result<(), String> {
    let db = db::connect_and_migrate(&d.url())
        .await
        .map_err(|e| e.to_string())?;
    // A new key file that exists already may be the key this database was moved to by an earlier
    // run: the current key is then accepted although the database no longer records it.
    let earlier = match new_key_file.try_exists() {
        Ok(true) => Some(
            store::key_file_or_create(new_key_file)
                .map_err(|e| e.to_string())?
                .0,
        ),
        _ => None,
    };
    let current = store::prepare_for_rekey(&db, current, earlier.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    let (new, source) = store::key_file_or_create(new_key_file).map_err(|e| e.to_string())?;
    let done = store::rekey(&db, &current, &new)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "re-encrypted {} webhook secret(s) under the key from {source}, fingerprint {}; {} were \
         already under it. Now give every process that shares this database the new key \
         (SECRETS_KEY_FILE={}, or SECRETS_KEY set to its contents) and restart them; if one wrote \
         a secret with the old key meanwhile, run this again.",
        done.resealed + done.legacy,
        new.fingerprint(),
        done.already_new,
        new_key_file.display(),
    );
    Ok(())
}

/// `--since`: an RFC 3339 time, or a duration meaning that long before now.
pub fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let ago = streamhooks_worker::config::parse_duration(text).map_err(|_| {
        format!("{text:?} is neither a time (2026-11-24T08:00:00Z) nor a duration ago (24h)")
    })?;
    chrono::Duration::from_std(ago)
        .ok()
        .and_then(|ago| chrono::Utc::now().checked_sub_signed(ago))
        .ok_or_else(|| format!("{text:?} is too long ago"))
}

pub async fn redeliver(
    d: &DbArgs,
    webhook: &str,
    since: chrono::DateTime<chrono::Utc>,
    enable: bool,
    dry_run: bool,
) -> Result<(), String> {
    use crate::webhooks::recover;
    use sea_orm::EntityTrait;
    let db = db::connect_and_migrate(&d.url())
        .await
        .map_err(|e| e.to_string())?;
    crate::context::validate::id(webhook, "webhook id").map_err(|e| e.public_message())?;
    let hook = entity::webhook_config::Entity::find_by_id(webhook.to_owned())
        .one(&db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("there is no webhook {webhook} in {}", db::redact(&d.url())))?;
    let done = if dry_run {
        recover::count_failed(&db, &hook, since).await
    } else {
        let txn = db::begin_write(&db).await.map_err(|e| e.to_string())?;
        let done = recover::redeliver_failed(&txn, &hook, since, enable).await;
        if done.is_ok() {
            txn.commit().await.map_err(|e| e.to_string())?;
        }
        done
    }
    .map_err(|e| match e {
        // No server log to point to here: the cause itself.
        crate::context::error::Error::Db(e) => e.to_string(),
        other => other.public_message(),
    })?;
    println!(
        "{}",
        serde_json::json!({ "queued": done.queued, "moreRemain": done.more })
    );
    if done.more {
        eprintln!(
            "more than {} events of webhook {webhook} failed since then; run this again for the \
             next ones",
            recover::MAX_PER_CALL
        );
    }
    Ok(())
}

pub async fn reset_key(d: &DbArgs, cfg: &SecretsConfig) -> Result<(), String> {
    let db = db::connect_and_migrate(&d.url())
        .await
        .map_err(|e| e.to_string())?;
    let (key, source) = match cfg.load().map_err(|e| e.to_string())? {
        Loaded::Key(key, source) => (key, source),
        Loaded::MissingFile(path) => create_key_file(&path).map_err(|e| e.to_string())?,
    };
    let report = check::adopt_key(&db, &key)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "this database's webhook secrets key is now the key from {source}, fingerprint {}; {} of \
         its {} webhook secret(s) cannot be opened with it, and their deliveries fail until their \
         owners set them again (webhookUpdate). Give every process that shares this database this \
         key and restart them.",
        key.fingerprint(),
        report.unreadable,
        report.total,
    );
    Ok(())
}
