//! A user as the API shows them: `User`, the caller's own view (or, for the legacy
//! `branch.author`, someone else's, with the caller's own fields refused), and `LimitedUser`, the
//! public face that models, versions and teams show; with how a row becomes each. This server
//! sends no verification mails, so `verified` is false for everyone rather than a claim nobody
//! checked. What a `User` leads to (projects, streams, commits, permissions) is in
//! [`super::active_user`].

use async_graphql::{Context, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::ids::UserId;

use crate::context::auth::{Auth, SCOPE_PROFILE_READ};
use crate::context::error::Result;
use crate::context::resolver::state;
use crate::context::scalars::JsonObject;

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct User {
    pub(super) id: ID,
    name: String,
    /// Only the caller's own email, and only with `profile:read`.
    pub(super) email: Option<String>,
    avatar: Option<String>,
    bio: Option<String>,
    company: Option<String>,
    /// Whether the email address was verified; this server verifies none.
    verified: Option<bool>,
    profiles: Option<JsonObject>,
    role: String,
    /// There is no onboarding here, so it is always finished.
    is_onboarding_finished: Option<bool>,
    created_at: DateTime<Utc>,
    /// Whether this is the caller.
    #[graphql(skip)]
    pub(super) is_self: bool,
    /// Whether the caller's token may read this user's email (`profile:read`, own profile).
    #[graphql(skip)]
    pub(super) email_readable: bool,
}

impl User {
    pub(super) fn user_id(&self) -> UserId {
        UserId::from(self.id.0.as_str())
    }
}

/// What anyone may see of a user.
#[derive(SimpleObject, Clone)]
pub struct LimitedUser {
    id: ID,
    name: String,
    bio: Option<String>,
    company: Option<String>,
    avatar: Option<String>,
    verified: Option<bool>,
    role: Option<String>,
}

impl From<entity::user::Model> for LimitedUser {
    fn from(u: entity::user::Model) -> Self {
        Self {
            id: ID(u.id),
            name: u.name,
            bio: u.bio,
            company: u.company,
            avatar: u.avatar,
            verified: Some(false),
            role: Some(u.server_role),
        }
    }
}

/// The user `id` as others see them, if they exist.
pub(crate) async fn limited_user(
    ctx: &Context<'_>,
    id: Option<&str>,
) -> Result<Option<LimitedUser>> {
    use sea_orm::EntityTrait;
    let Some(id) = id else {
        return Ok(None);
    };
    Ok(entity::user::Entity::find_by_id(id.to_owned())
        .one(&state(ctx).db)
        .await?
        .map(LimitedUser::from))
}

/// The user `u` as the caller `a` may see them: all of it if it is the caller (the email only
/// with `profile:read`), the public part otherwise.
pub(crate) fn user_as_seen(a: &Auth, u: &entity::user::Model) -> User {
    let is_self = a.user.as_ref().is_some_and(|me| me.id == u.id);
    let email_readable = is_self && a.has_scope(SCOPE_PROFILE_READ);
    User {
        id: ID(u.id.clone()),
        name: u.name.clone(),
        email: email_readable.then(|| u.email.clone()),
        is_self,
        email_readable,
        avatar: u.avatar.clone(),
        bio: u.bio.clone(),
        company: u.company.clone(),
        verified: Some(false),
        profiles: None,
        role: u.server_role.clone(),
        is_onboarding_finished: Some(true),
        created_at: u.created_at,
    }
}
