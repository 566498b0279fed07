//! Personal access tokens: `<10-char id><32-char secret>`, shown once, stored as a SHA-256 digest.

use chrono::{Duration, Utc};
use entity::api_token;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::auth::{digest, ALL_SCOPES};
use crate::error::{Error, Result};
use crate::ids::{new_id, new_secret};

/// Creates a token for `owner_id` and returns it in full (the only time it is visible).
/// `lifespan_ms`: milliseconds until expiry; `None` never expires.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    owner_id: &str,
    name: &str,
    scopes: &[String],
    lifespan_ms: Option<i64>,
) -> Result<String> {
    if name.trim().is_empty() || name.chars().count() > 512 || name.contains('\0') {
        return Err(Error::bad_input("A token name must be 1 to 512 characters"));
    }
    if scopes.is_empty() {
        return Err(Error::bad_input(format!(
            "A token needs at least one scope; choose from: {}",
            ALL_SCOPES.join(", ")
        )));
    }
    for s in scopes {
        if !ALL_SCOPES.contains(&s.as_str()) {
            return Err(Error::bad_input(format!(
                "Unknown scope {s:?}; valid scopes are: {}",
                ALL_SCOPES.join(", ")
            )));
        }
    }
    let expires_at = match lifespan_ms {
        None => None,
        Some(ms) if ms > 0 => Some(Utc::now() + Duration::milliseconds(ms)),
        Some(ms) => {
            return Err(Error::bad_input(format!(
                "lifespan must be positive, not {ms}"
            )))
        }
    };
    let id = new_id();
    let secret = new_secret();
    api_token::ActiveModel {
        id: Set(id.clone()),
        token_digest: Set(digest(&secret)),
        owner_id: Set(owner_id.to_owned()),
        name: Set(name.trim().to_owned()),
        scopes: Set(scopes.join(" ")),
        expires_at: Set(expires_at),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(format!("{id}{secret}"))
}

/// Revokes one of `owner_id`'s tokens, named by its id or given in full (as Speckle accepts
/// both); someone else's token, or one that does not exist, is refused without saying which.
pub async fn revoke<C: ConnectionTrait>(db: &C, owner_id: &str, token: &str) -> Result<()> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let token = token.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
    let id: String = token.chars().take(10).collect();
    let gone = api_token::Entity::delete_many()
        .filter(api_token::Column::Id.eq(id))
        .filter(api_token::Column::OwnerId.eq(owner_id))
        .exec(db)
        .await?;
    if gone.rows_affected == 0 {
        return Err(Error::bad_input(
            "No token of yours has that id; nothing was revoked",
        ));
    }
    Ok(())
}
