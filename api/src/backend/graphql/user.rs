//! `activeUser`: the caller, as their token identifies them (null without a token).

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::SCOPE_PROFILE_READ;
use crate::graphql::auth;

#[derive(SimpleObject)]
pub struct User {
    id: String,
    name: String,
    /// Only the caller's own email, and only with `profile:read`.
    email: Option<String>,
    avatar: Option<String>,
    bio: Option<String>,
    company: Option<String>,
    role: String,
    created_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    async fn active_user(&self, ctx: &Context<'_>) -> Option<User> {
        let a = auth(ctx);
        let u = a.user.as_ref()?;
        Some(User {
            id: u.id.clone(),
            name: u.name.clone(),
            email: a.has_scope(SCOPE_PROFILE_READ).then(|| u.email.clone()),
            avatar: u.avatar.clone(),
            bio: u.bio.clone(),
            company: u.company.clone(),
            role: u.server_role.clone(),
            created_at: u.created_at,
        })
    }
}
