//! Looking up other users, as Speckle's clients do: `otherUser(id)` (specklepy's
//! `other_user.get`, the first web app's profile pages), `userSearch` (specklepy, the first web
//! app's collaborator picker) and `users(input)` (the web app's mention and invite pickers).
//! Each needs a token with `users:read` (`users` also `profile:read`), as in Speckle, and
//! answers `LimitedUser`: a search matches emails but never returns one.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use entity::ids::StreamId;

use crate::context::auth::{SCOPE_PROFILE_READ, SCOPE_USERS_READ};
use crate::context::error::Result;
use crate::context::resolver::{auth, state};
use crate::context::validate;
use crate::speckle::graphql::permissions::readable_stream;
use crate::speckle::graphql::user::{limited_user, LimitedUser};
use crate::speckle::service::{page, user as svc};

#[derive(SimpleObject)]
pub struct UserSearchResultCollection {
    cursor: Option<String>,
    items: Vec<LimitedUser>,
}

/// Speckle's `UsersRetrievalInput`.
#[derive(InputObject)]
pub struct UsersRetrievalInput {
    /// Matched against user names and emails (case-insensitive), at least 3 characters.
    query: String,
    cursor: Option<String>,
    /// At most 100; 10 if not given.
    limit: Option<i32>,
    /// Only the user whose email is exactly the query.
    email_only: Option<bool>,
    /// Only collaborators of this project (which the caller must be able to read).
    project_id: Option<String>,
}

async fn search(
    ctx: &Context<'_>,
    s: svc::Search<'_>,
    limit: i32,
    cursor: Option<String>,
) -> Result<UserSearchResultCollection> {
    let limit = page::check_limit(limit)?;
    let p = svc::search(&state(ctx).db, &s, limit, cursor.as_deref()).await?;
    Ok(UserSearchResultCollection {
        cursor: p.cursor,
        items: p.items.into_iter().map(LimitedUser::from).collect(),
    })
}

#[derive(Default)]
pub struct UserSearchQuery;

#[Object]
impl UserSearchQuery {
    /// Another user's public profile, or null if there is no such user.
    async fn other_user(&self, ctx: &Context<'_>, id: String) -> Result<Option<LimitedUser>> {
        auth(ctx).require_scope(SCOPE_USERS_READ)?;
        validate::id(&id, "user id")?;
        limited_user(ctx, Some(&id)).await
    }

    /// Users whose name or email contains `query`, newest account first.
    async fn user_search(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default = 25)] limit: i32,
        cursor: Option<String>,
        #[graphql(
            name = "archived",
            desc = "Accepted for compatibility: this server archives no users."
        )]
        _archived: Option<bool>,
        email_only: Option<bool>,
    ) -> Result<UserSearchResultCollection> {
        auth(ctx).require_scope(SCOPE_USERS_READ)?;
        let s = svc::Search {
            query: &query,
            email_only: email_only.unwrap_or(false),
            project_id: None,
        };
        search(ctx, s, limit, cursor).await
    }

    /// Looks up users by name or email.
    async fn users(
        &self,
        ctx: &Context<'_>,
        input: UsersRetrievalInput,
    ) -> Result<UserSearchResultCollection> {
        auth(ctx).require_scope(SCOPE_USERS_READ)?;
        auth(ctx).require_scope(SCOPE_PROFILE_READ)?;
        if let Some(p) = &input.project_id {
            readable_stream(ctx, &StreamId::from(p.as_str())).await?;
        }
        let s = svc::Search {
            query: &input.query,
            email_only: input.email_only.unwrap_or(false),
            project_id: input.project_id.as_deref(),
        };
        search(ctx, s, input.limit.unwrap_or(10), input.cursor).await
    }
}
