//! Webhook configuration rules: owner-only access, Speckle's id/stream mismatch answer, the
//! atomic 100-per-stream cap, the write-only secret, partial updates and input validation.
//! Every refusal happens before anything is written.
//!
//! Secrets are sealed here, before they reach the database. Changing a secret keeps the one it
//! replaces (still sealed: the stored value is moved, never opened and sealed again) as the
//! previous secret until `SECRET_ROTATION_GRACE` from now; the move is one `UPDATE` setting
//! `previous_secret = secret`, so two changes racing each other cannot both keep the same old
//! value. A URL whose host is an IP literal
//! is judged by the dispatcher's own [`Guard`] when it is saved (same rule, same sentence): such a
//! URL can never be delivered, so accepting it would only defer the refusal. Host names are still
//! judged at delivery time, on the addresses actually connected to, since DNS answers change.

use chrono::Utc;
use entity::ids::{StreamId, WebhookId};
use entity::webhook_config::{self, MAX_PER_STREAM};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
    TransactionTrait,
};
use streamhooks_worker::guard::Guard;
use streamhooks_worker::secrets::{store, Secrets};
use streamhooks_worker::triggers::TRIGGERS;
use streamhooks_worker::wire::Format;

use crate::context::config::WireConfig;
use crate::context::error::{Error, Result};
use crate::context::ids::new_id;
use crate::context::validate;

pub const MAX_DESCRIPTION_LEN: usize = 1024;
pub const MAX_SECRET_LEN: usize = 256;
pub const MAX_HISTORY_LIMIT: i32 = 1000;
pub const MISMATCH: &str = "The webhook id and stream id do not match. Please check your inputs.";

pub struct CreateInput {
    pub stream_id: StreamId,
    pub url: String,
    pub description: Option<String>,
    pub triggers: Vec<String>,
    pub secret: Option<String>,
    pub enabled: Option<bool>,
    /// `None`: the server's `WEBHOOK_FORMAT`.
    pub format: Option<String>,
}

pub struct UpdateInput {
    pub id: WebhookId,
    pub stream_id: StreamId,
    pub url: Option<String>,
    pub description: Option<String>,
    pub secret: Option<String>,
    pub enabled: Option<bool>,
    pub triggers: Option<Vec<String>>,
    pub format: Option<String>,
}

/// A known format name, or `BAD_USER_INPUT` listing the valid ones.
pub fn validate_format(format: &str) -> Result<Format> {
    format.parse().map_err(|_| {
        Error::bad_input(format!(
            "Unknown webhook format {}; valid formats are: {}",
            validate::shown(format),
            Format::names()
        ))
    })
}

pub fn validate_url(url: &str) -> Result<String> {
    validate::url_text(url, "webhook URL")?;
    let url = url.trim();
    let parsed = url::Url::parse(url).map_err(|e| {
        Error::bad_input(format!(
            "The webhook URL {url:?} is not an absolute URL: {e}"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::bad_input(format!(
            "The webhook URL must use http or https, not {:?}",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::bad_input("The webhook URL has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::bad_input(
            "The webhook URL must not contain credentials; use the secret to authenticate requests",
        ));
    }
    Ok(url.to_owned())
}

/// Refuses a URL (already validated) whose host is an address literal the guard would block,
/// with the guard's sentence.
pub fn check_destination(guard: &Guard, url: &str) -> Result<()> {
    match url::Url::parse(url) {
        Ok(parsed) => guard
            .check_url(&parsed)
            .map_err(|e| Error::bad_input(e.to_string())),
        Err(_) => Ok(()),
    }
}

/// The stored form of a new secret: sealed, or `None` for none (`""` clears it, as in Speckle).
fn seal_secret(secrets: &Secrets, secret: Option<String>) -> Result<Option<String>> {
    match secret.filter(|s| !s.is_empty()) {
        Some(s) => secrets
            .seal(&s)
            .map(Some)
            .map_err(|e| Error::Internal(e.to_string())),
        None => Ok(None),
    }
}

/// Known, non-empty, de-duplicated (first occurrence kept) trigger names.
pub fn validate_triggers(triggers: &[String]) -> Result<Vec<String>> {
    validate::list(triggers, "triggers", validate::MAX_CHOICES)?;
    if triggers.is_empty() {
        return Err(Error::bad_input(format!(
            "A webhook needs at least one trigger; choose from: {}",
            TRIGGERS.join(", ")
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(triggers.len());
    for t in triggers {
        if !TRIGGERS.contains(&t.as_str()) {
            return Err(Error::bad_input(format!(
                "Unknown trigger {}; valid triggers are: {}",
                validate::shown(t),
                TRIGGERS.join(", ")
            )));
        }
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

fn validate_description(d: &str) -> Result<()> {
    validate::text(d, "webhook description", MAX_DESCRIPTION_LEN)
}

fn validate_secret(s: &str) -> Result<()> {
    validate::text(s, "webhook secret", MAX_SECRET_LEN)
}

fn triggers_json(triggers: &[String]) -> String {
    serde_json::to_string(triggers).unwrap_or_else(|_| "[]".into())
}

/// Creates a webhook; the caller has checked ownership.
pub async fn create<C: TransactionTrait>(
    db: &C,
    secrets: &Secrets,
    guard: &Guard,
    wire: &WireConfig,
    input: CreateInput,
) -> Result<WebhookId> {
    validate::id(input.stream_id.as_str(), "stream id")?;
    let url = validate_url(&input.url)?;
    check_destination(guard, &url)?;
    let triggers = validate_triggers(&input.triggers)?;
    if let Some(d) = &input.description {
        validate_description(d)?;
    }
    if let Some(s) = &input.secret {
        validate_secret(s)?;
    }
    let format = match &input.format {
        Some(f) => validate_format(f)?,
        None => wire.webhook_format,
    };
    let secret = seal_secret(secrets, input.secret)?;
    let now = Utc::now();
    let id = new_id();
    let txn = db.begin().await?;
    // Count-then-insert is made atomic by first taking a write lock on the stream row: a no-op
    // UPDATE locks that row on PostgreSQL and takes SQLite's single write lock up front (a
    // deferred transaction that only read first could not upgrade safely). Concurrent creates on
    // one stream therefore run one after another, and the 101st sees 100.
    txn.execute(sea_orm::Statement::from_sql_and_values(
        txn.get_database_backend(),
        match txn.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                "UPDATE streams SET updated_at = updated_at WHERE id = $1"
            }
            _ => "UPDATE streams SET updated_at = updated_at WHERE id = ?",
        },
        [input.stream_id.as_str().into()],
    ))
    .await?;
    let count = webhook_config::Entity::find()
        .filter(webhook_config::Column::StreamId.eq(input.stream_id.as_str()))
        .count(&txn)
        .await?;
    if count >= MAX_PER_STREAM {
        return Err(Error::bad_input(format!(
            "Maximum number of webhooks for a stream reached ({MAX_PER_STREAM})"
        )));
    }
    webhook_config::ActiveModel {
        id: Set(id.clone()),
        stream_id: Set(input.stream_id.into_string()),
        url: Set(url),
        description: Set(input.description),
        secret: Set(secret),
        triggers: Set(triggers_json(&triggers)),
        enabled: Set(input.enabled.unwrap_or(true)),
        disabled_reason: Set(None),
        consecutive_failures: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        format: Set(format.as_str().to_owned()),
        previous_secret: Set(None),
        previous_secret_expires_at: Set(None),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(WebhookId::from(id))
}

/// The webhook `id` if it belongs to `stream`; Speckle's mismatch answer otherwise (also when
/// it does not exist, so ids of other streams cannot be probed).
pub async fn find_on_stream<C: ConnectionTrait>(
    db: &C,
    id: &WebhookId,
    stream: &StreamId,
) -> Result<webhook_config::Model> {
    let (id, stream_id) = (id.as_str(), stream.as_str());
    validate::id(id, "webhook id")?;
    validate::id(stream_id, "stream id")?;
    match webhook_config::Entity::find_by_id(id).one(db).await? {
        Some(w) if w.stream_id == stream_id => Ok(w),
        _ => Err(Error::forbidden(MISMATCH)),
    }
}

/// Changes only the fields given. Re-enabling clears an automatic disable and its failure count.
/// A new secret starts a rotation (see the module docs); setting the current secret again
/// changes nothing, and clearing it (`""`) ends any grace at once.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    secrets: &Secrets,
    guard: &Guard,
    wire: &WireConfig,
    input: UpdateInput,
) -> Result<WebhookId> {
    let existing = find_on_stream(db, &input.id, &input.stream_id).await?;
    let mut am = <webhook_config::ActiveModel as Default>::default();
    if let Some(url) = &input.url {
        let url = validate_url(url)?;
        check_destination(guard, &url)?;
        am.url = Set(url);
    }
    if let Some(d) = input.description {
        validate_description(&d)?;
        am.description = Set(Some(d));
    }
    let mut keep_previous = false;
    let secret_changed = input.secret.is_some();
    if let Some(s) = input.secret {
        validate_secret(&s)?;
        let current = existing.secret.as_deref().map(|c| secrets.open(c));
        if s.is_empty() {
            am.secret = Set(None);
            am.previous_secret = Set(None);
            am.previous_secret_expires_at = Set(None);
        } else if !matches!(&current, Some(Ok(c)) if *c == s) {
            am.secret = Set(seal_secret(secrets, Some(s))?);
            // Only a secret that signs today may sign during the grace: none when there was no
            // secret (the empty key is no secret) or when it cannot be opened any more.
            keep_previous = matches!(current, Some(Ok(_))) && !wire.secret_rotation_grace.is_zero();
            if keep_previous {
                let grace =
                    i64::try_from(wire.secret_rotation_grace.as_millis()).unwrap_or(i64::MAX);
                am.previous_secret_expires_at =
                    Set(Some(Utc::now().timestamp_millis().saturating_add(grace)));
            } else {
                am.previous_secret = Set(None);
                am.previous_secret_expires_at = Set(None);
            }
        }
    }
    if let Some(f) = &input.format {
        am.format = Set(validate_format(f)?.as_str().to_owned());
    }
    if let Some(t) = &input.triggers {
        am.triggers = Set(triggers_json(&validate_triggers(t)?));
    }
    if let Some(enabled) = input.enabled {
        am.enabled = Set(enabled);
        if enabled {
            am.disabled_reason = Set(None);
            am.consecutive_failures = Set(0);
        }
    }
    am.updated_at = Set(Utc::now());
    let mut q = webhook_config::Entity::update_many().set(am);
    if keep_previous {
        // The value stored when this statement runs, not the one read above.
        q = q.col_expr(
            webhook_config::Column::PreviousSecret,
            Expr::col(webhook_config::Column::Secret).into(),
        );
    }
    let updated = q
        .filter(webhook_config::Column::Id.eq(input.id.as_str()))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        // Deleted since it was read.
        return Err(Error::forbidden(MISMATCH));
    }
    if secret_changed {
        store::scrub(db).await;
    }
    Ok(input.id)
}

/// Deletes the webhook and, by cascade, its history and queued events.
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    id: &WebhookId,
    stream: &StreamId,
) -> Result<WebhookId> {
    find_on_stream(db, id, stream).await?;
    webhook_config::Entity::delete_by_id(id.as_str())
        .exec(db)
        .await?;
    store::scrub(db).await;
    Ok(id.clone())
}

/// The deepest `history(offset:)` accepted: the events a page skips are walked in the webhook's
/// index, so the bound keeps a deep page as cheap as a shallow one (ten times the default
/// retention of 1,000 events per webhook).
pub const MAX_HISTORY_OFFSET: i32 = 10_000;

pub fn check_history_offset(offset: i32) -> Result<u64> {
    if !(0..=MAX_HISTORY_OFFSET).contains(&offset) {
        return Err(Error::bad_input(format!(
            "history offset must be between 0 and {MAX_HISTORY_OFFSET}, not {offset}"
        )));
    }
    Ok(offset as u64)
}

/// What a history cursor says before it is encoded: `h1:` and the id of the last event of the
/// page it follows. Opaque to clients (base64url), so the walk can change without breaking them.
const CURSOR_PREFIX: &str = "h1:";

/// The cursor that continues below event `id`.
pub fn history_cursor(id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{id}"))
}

/// The event id a cursor continues below, or `BAD_USER_INPUT` if this server did not make it.
pub fn check_history_cursor(cursor: &str) -> Result<i64> {
    use base64::Engine;
    let refused = || {
        Error::bad_input(format!(
            "history cursor {} is not one this server gave out; pass the `cursor` of a page \
             of this webhook's history, or leave it out for the newest events",
            validate::shown(cursor)
        ))
    };
    if cursor.len() > 64 {
        return Err(refused());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| text.strip_prefix(CURSOR_PREFIX)?.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(refused)
}

pub fn check_history_limit(limit: i32) -> Result<u64> {
    if !(0..=MAX_HISTORY_LIMIT).contains(&limit) {
        return Err(Error::bad_input(format!(
            "history limit must be between 0 and {MAX_HISTORY_LIMIT}, not {limit}"
        )));
    }
    Ok(limit as u64)
}
