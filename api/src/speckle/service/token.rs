//! Personal access tokens: `<10-char id><32-char secret>`, shown once, stored as a SHA-256 digest.
//! A lifespan is capped at a thousand years: the arithmetic on a client's number must not
//! overflow (chrono panics past year 262,143), and a date far beyond year 9999 would be stored but
//! not read back by every driver, locking the owner out of their own token.

use chrono::{DateTime, Duration, Utc};
use entity::api_token;
use entity::ids::UserId;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::context::auth::{digest, ALL_SCOPES};
use crate::context::error::{Error, Result};
use crate::context::ids::{new_id, new_secret};
use crate::context::validate;

/// Creates a token for `owner` and returns it in full (the only time it is visible).
/// `lifespan_ms`: milliseconds until expiry; `None` never expires.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    owner: &UserId,
    name: &str,
    scopes: &[String],
    lifespan_ms: Option<i64>,
) -> Result<String> {
    validate::name(name, "token name")?;
    validate::list(scopes, "scopes", validate::MAX_CHOICES)?;
    if scopes.is_empty() {
        return Err(Error::bad_input(format!(
            "A token needs at least one scope; choose from: {}",
            ALL_SCOPES.join(", ")
        )));
    }
    for s in scopes {
        if !ALL_SCOPES.contains(&s.as_str()) {
            return Err(Error::bad_input(format!(
                "Unknown scope {}; valid scopes are: {}",
                validate::shown(s),
                ALL_SCOPES.join(", ")
            )));
        }
    }
    let expires_at = lifespan_ms.map(expiry).transpose()?;
    let id = new_id();
    let secret = new_secret();
    api_token::ActiveModel {
        id: Set(id.clone()),
        token_digest: Set(digest(&secret)),
        owner_id: Set(owner.to_string()),
        name: Set(name.trim().to_owned()),
        scopes: Set(scopes.join(" ")),
        expires_at: Set(expires_at),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(format!("{id}{secret}"))
}

/// Revokes one of `owner`'s tokens, named by its id or given in full (as Speckle accepts
/// both); someone else's token, or one that does not exist, is refused without saying which.
pub async fn revoke<C: ConnectionTrait>(db: &C, owner: &UserId, token: &str) -> Result<()> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let token = token.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
    let id: String = token.chars().take(10).collect();
    let gone = api_token::Entity::delete_many()
        .filter(api_token::Column::Id.eq(id))
        .filter(api_token::Column::OwnerId.eq(owner.as_str()))
        .exec(db)
        .await?;
    if gone.rows_affected == 0 {
        return Err(Error::bad_input(
            "No token of yours has that id; nothing was revoked",
        ));
    }
    Ok(())
}

/// The longest lifespan accepted: 1,000 years of 365 days, in milliseconds.
pub const MAX_LIFESPAN_MS: i64 = 1_000 * 365 * 24 * 3_600 * 1_000;

/// When a token created now with `lifespan_ms` expires; a clear refusal for any number that is
/// not a usable lifespan, never an overflow.
fn expiry(lifespan_ms: i64) -> Result<DateTime<Utc>> {
    if lifespan_ms <= 0 {
        return Err(Error::bad_input(format!(
            "lifespan must be positive, not {lifespan_ms}"
        )));
    }
    if lifespan_ms > MAX_LIFESPAN_MS {
        return Err(Error::bad_input(format!(
            "lifespan {lifespan_ms} ms is too long; the limit is {MAX_LIFESPAN_MS} ms (1,000 years), or omit it for a token that never expires"
        )));
    }
    Duration::try_milliseconds(lifespan_ms)
        .and_then(|d| Utc::now().checked_add_signed(d))
        .ok_or_else(|| Error::bad_input(format!("lifespan {lifespan_ms} ms is too long")))
}
