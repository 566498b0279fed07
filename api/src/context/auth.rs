//! Who is calling: the bearer token is looked up once per request and the result travels as
//! request data. The checks every resolver needs (`require_scope`, `require_stream_role`) live
//! here so that the rules read the same everywhere: no token, a missing scope and a missing role
//! are all `FORBIDDEN`, as in Speckle.

use chrono::Utc;
use entity::ids::StreamId;
use entity::{api_token, stream_acl, user};
use sea_orm::{ConnectionTrait, EntityTrait};
use sha2::{Digest, Sha256};

use crate::context::error::{Error, Result};

pub const SCOPE_STREAMS_READ: &str = "streams:read";
pub const SCOPE_STREAMS_WRITE: &str = "streams:write";
pub const SCOPE_PROFILE_READ: &str = "profile:read";
/// Speckle's scope for changing one's own profile (`activeUserMutations.update`).
pub const SCOPE_PROFILE_WRITE: &str = "profile:write";
pub const SCOPE_TOKENS_WRITE: &str = "tokens:write";
/// Speckle's scope for looking up other users (`otherUser`, `userSearch`, `users`).
pub const SCOPE_USERS_READ: &str = "users:read";
/// Every scope a user can grant; `streamhooks user create` gives all of them.
pub const ALL_SCOPES: [&str; 6] = [
    SCOPE_STREAMS_READ,
    SCOPE_STREAMS_WRITE,
    SCOPE_PROFILE_READ,
    SCOPE_PROFILE_WRITE,
    SCOPE_TOKENS_WRITE,
    SCOPE_USERS_READ,
];

const TOKEN_ID_LEN: usize = 10;

/// The caller of one request.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    pub user: Option<user::Model>,
    pub scopes: Vec<String>,
}

impl Auth {
    pub fn anonymous() -> Self {
        Self::default()
    }

    pub fn user(&self) -> Result<&user::Model> {
        self.user.as_ref().ok_or_else(|| {
            Error::forbidden("You must provide a valid token (Authorization: Bearer <token>)")
        })
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The user, if the token carries `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<&user::Model> {
        let user = self.user()?;
        if !self.has_scope(scope) {
            return Err(Error::forbidden(format!(
                "Your token does not have the required scope: {scope}"
            )));
        }
        Ok(user)
    }

    /// The user, if the token carries `scope` and the user holds at least `min_role` on the stream.
    pub async fn require_stream_role<C: ConnectionTrait>(
        &self,
        db: &C,
        stream: &StreamId,
        min_role: &str,
        scope: &str,
    ) -> Result<&user::Model> {
        let user = self.require_scope(scope)?;
        crate::context::validate::id(stream.as_str(), "stream id")?;
        let role = stream_acl::role_of(db, stream.as_str(), &user.id).await?;
        match role {
            Some(r) if role_rank(&r) >= role_rank(min_role) => Ok(user),
            _ => Err(Error::forbidden(format!(
                "You do not have the required privileges: this requires the role {min_role} on the stream"
            ))),
        }
    }
}

/// Owner > contributor > reviewer; unknown roles rank below all.
pub fn role_rank(role: &str) -> u8 {
    match role {
        stream_acl::ROLE_OWNER => 3,
        stream_acl::ROLE_CONTRIBUTOR => 2,
        stream_acl::ROLE_REVIEWER => 1,
        _ => 0,
    }
}

pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Splits a token into (id, secret); `None` if it cannot be one of ours.
fn split_token(token: &str) -> Option<(&str, &str)> {
    if token.len() <= TOKEN_ID_LEN || !token.is_ascii() {
        return None;
    }
    Some(token.split_at(TOKEN_ID_LEN))
}

/// Resolves an `Authorization` header value. A missing header is anonymous; a header that names
/// no valid token is anonymous too (the request then fails on whatever it needed the token for,
/// with `FORBIDDEN`), so a stale token cannot break public reads.
pub async fn from_header<C: ConnectionTrait>(db: &C, header: Option<&str>) -> Result<Auth> {
    let Some((id, secret)) = bearer(header) else {
        return Ok(Auth::anonymous());
    };
    let found = api_token::Entity::find_by_id(id.to_owned())
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    Ok(resolve(secret, found))
}

/// The (id, secret) of the bearer token in an `Authorization` header, if it can be one of ours.
pub fn bearer(header: Option<&str>) -> Option<(&str, &str)> {
    let token = header
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)?;
    split_token(token)
}

/// The caller, from the token row named by the header (and its owner) as read, and the secret
/// the header carried: anonymous unless the secret matches and the token has not expired.
pub fn resolve(secret: &str, found: Option<(api_token::Model, Option<user::Model>)>) -> Auth {
    let Some((tok, owner)) = found else {
        return Auth::anonymous();
    };
    let expected = digest(secret);
    let matches = constant_time_eq(expected.as_bytes(), tok.token_digest.as_bytes());
    let expired = tok.expires_at.is_some_and(|t| t <= Utc::now());
    match owner {
        Some(owner) if matches && !expired => Auth {
            scopes: tok.scope_list().map(str::to_owned).collect(),
            user: Some(owner),
        },
        _ => Auth::anonymous(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn scope_description(scope: &str) -> &'static str {
    match scope {
        SCOPE_STREAMS_READ => "Read your streams and the streams shared with you",
        SCOPE_STREAMS_WRITE => "Create and change streams, branches, commits and webhooks",
        SCOPE_PROFILE_READ => "Read your profile, including your email",
        SCOPE_PROFILE_WRITE => "Change your profile (name, bio, company, avatar)",
        SCOPE_TOKENS_WRITE => "Create personal access tokens",
        SCOPE_USERS_READ => "Look up other users' public profiles (name, bio, company, avatar)",
        _ => "",
    }
}
