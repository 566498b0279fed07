//! `activeUser` (the caller, as their token identifies them; null without a token) with what
//! today's Speckle clients read from it: `verified`, `projects(limit, cursor, filter)`,
//! `projectInvites`, `permissions`; `activeUserMutations.update` for one's own profile; and
//! `LimitedUser`, the public face of a user that models, versions and teams show. This server
//! sends no verification mails, so `verified` is false for everyone rather than a claim nobody
//! checked.

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::auth::{Auth, SCOPE_PROFILE_READ, SCOPE_PROFILE_WRITE, SCOPE_STREAMS_READ};
use crate::backend::graphql::permissions::{Access, RootPermissionChecks};
use crate::backend::graphql::project::{projects_from, PendingStreamCollaborator, Project};
use crate::backend::service::{page, project as svc, user as user_svc};
use crate::error::Result;
use crate::graphql::scalars::JsonObject;
use crate::graphql::{auth, state};

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct User {
    id: ID,
    name: String,
    /// Only the caller's own email, and only with `profile:read`.
    email: Option<String>,
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
}

/// Speckle's `UserProjectsFilter`.
#[derive(InputObject, Default)]
pub struct UserProjectsFilter {
    /// Only projects whose name contains this (case-insensitive).
    search: Option<String>,
    /// Only projects where the user has one of these roles.
    only_with_roles: Option<Vec<String>>,
    /// Only projects in this workspace: this server has none, so none match.
    workspace_id: Option<ID>,
    /// Every project here is personal, so this changes nothing.
    #[graphql(name = "personalOnly")]
    _personal_only: Option<bool>,
    /// There is no implicit (workspace) access here, so this changes nothing.
    #[graphql(name = "includeImplicitAccess")]
    _include_implicit_access: Option<bool>,
}

#[derive(SimpleObject)]
pub struct UserProjectCollection {
    total_count: i32,
    /// Projects hidden for lack of an SSO session; there is no SSO here, so always 0.
    number_of_hidden: i32,
    cursor: Option<String>,
    items: Vec<Project>,
}

#[ComplexObject]
impl User {
    /// The projects the user has a role on, most recently updated first (needs `streams:read`).
    async fn projects(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 25)] limit: i32,
        cursor: Option<String>,
        filter: Option<UserProjectsFilter>,
        #[graphql(
            name = "sortBy",
            desc = "Accepted for compatibility; the order is always most recently updated first."
        )]
        _sort_by: Option<Vec<String>>,
    ) -> Result<UserProjectCollection> {
        let user = auth(ctx).require_scope(SCOPE_STREAMS_READ)?;
        let limit = page::check_limit(limit)?;
        let f = filter.unwrap_or_default();
        let filter = svc::UserProjectsFilter {
            search: f.search,
            only_with_roles: f.only_with_roles,
            workspace_id: f.workspace_id.map(|w| w.0),
        };
        let db = &state(ctx).db;
        let p = svc::list_for_user(db, &user.id, &filter, limit, cursor.as_deref()).await?;
        let items = projects_from(
            db,
            p.items
                .into_iter()
                .map(|(s, role)| (s, Some(role)))
                .collect(),
        )
        .await?;
        Ok(UserProjectCollection {
            total_count: i32::try_from(p.total_count).unwrap_or(i32::MAX),
            number_of_hidden: 0,
            cursor: p.cursor,
            items,
        })
    }

    /// Invitations waiting for the user: this server has none (roles are granted directly).
    async fn project_invites(&self) -> Vec<PendingStreamCollaborator> {
        Vec::new()
    }

    async fn permissions(&self, ctx: &Context<'_>) -> RootPermissionChecks {
        let a = auth(ctx);
        RootPermissionChecks {
            access: Access {
                signed_in: a.user.is_some(),
                scopes: a.scopes.clone(),
                role: None,
                is_public: false,
            },
        }
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

/// The caller's own profile, as the token may see it.
fn own_profile(a: &Auth, u: &entity::user::Model) -> User {
    User {
        id: ID(u.id.clone()),
        name: u.name.clone(),
        email: a.has_scope(SCOPE_PROFILE_READ).then(|| u.email.clone()),
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

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    async fn active_user(&self, ctx: &Context<'_>) -> Option<User> {
        let a = auth(ctx);
        Some(own_profile(a, a.user.as_ref()?))
    }
}

/// Only the fields given change.
#[derive(InputObject)]
pub struct UserUpdateInput {
    name: Option<String>,
    company: Option<String>,
    bio: Option<String>,
    avatar: Option<String>,
}

pub struct ActiveUserMutations;

#[Object]
impl ActiveUserMutations {
    /// Changes the caller's profile.
    async fn update(&self, ctx: &Context<'_>, user: UserUpdateInput) -> Result<User> {
        let a = auth(ctx);
        let me = a.require_scope(SCOPE_PROFILE_WRITE)?;
        let input = user_svc::ProfileUpdate {
            name: user.name,
            company: user.company,
            bio: user.bio,
            avatar: user.avatar,
        };
        let updated = user_svc::update_profile(&state(ctx).db, &me.id, input).await?;
        Ok(own_profile(a, &updated))
    }
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Changes to the caller's own account (needs a token with `profile:write`).
    async fn active_user_mutations(&self, ctx: &Context<'_>) -> Result<ActiveUserMutations> {
        auth(ctx).require_scope(SCOPE_PROFILE_WRITE)?;
        Ok(ActiveUserMutations)
    }
}
