//! `activeUser` (the caller, as their token identifies them; null without a token) with what
//! today's Speckle clients read from it: `verified`, `projects(limit, cursor, filter)`,
//! `projectInvites`, `permissions`, `emails`, `versions`; what Speckle's first web app reads:
//! `streams`, `commits`; and `activeUserMutations.update` for one's own profile.
//!
//! A `User` is also what the legacy `branch.author` answers, for someone else: then the fields
//! Speckle keeps for the user themself (`email`, `emails`, `projects`, `versions`, …) are
//! refused, `streams` lists none (Speckle lists another user's *discoverable* streams, a
//! feature it removed) and `commits` only those in public streams.

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};

use crate::context::auth::{SCOPE_PROFILE_READ, SCOPE_PROFILE_WRITE, SCOPE_STREAMS_READ};
use crate::context::error::Result;
use crate::context::resolver::{auth, state};
use crate::context::scalars::JsonObject;
use crate::speckle::graphql::commit::{self, CommitCollection};
use crate::speckle::graphql::permissions::{Access, RootPermissionChecks};
use crate::speckle::graphql::project::{projects_from, PendingStreamCollaborator, Project};
use crate::speckle::graphql::stream::{streams_of, UserStreamCollection};
use crate::speckle::graphql::user::{user_as_seen, User};
use crate::speckle::graphql::workspace::LimitedWorkspace;
use crate::speckle::service::{page, project as svc, user as user_svc, version as version_svc};

/// One of a user's email addresses. Users here have exactly one: the address they were created
/// with, which is therefore primary and shares the user's id.
#[derive(SimpleObject)]
pub struct UserEmail {
    id: ID,
    email: String,
    /// Always false: this server verifies no addresses.
    verified: bool,
    primary: bool,
    user_id: ID,
}

/// A count, where Speckle has not built the list yet (`User.versions`).
#[derive(SimpleObject)]
pub struct CountOnlyCollection {
    total_count: i32,
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
    /// The streams the user has a role on, most recently updated first (needs `streams:read`);
    /// none for another user.
    async fn streams(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 25)] limit: i32,
        cursor: Option<String>,
    ) -> Result<UserStreamCollection> {
        let me = auth(ctx).require_scope(SCOPE_STREAMS_READ)?;
        if !self.is_self {
            return Ok(UserStreamCollection::none());
        }
        streams_of(ctx, &me.user_id(), None, limit, cursor).await
    }

    /// The commits the user made, newest first (for another user, those in public streams).
    async fn commits(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 25)] limit: i32,
        cursor: Option<String>,
    ) -> Result<Option<CommitCollection>> {
        let public_only = !self.is_self;
        let author = self.user_id();
        let page = commit::page_by_author(ctx, &author, public_only, limit, cursor).await?;
        Ok(Some(page))
    }

    /// Always false: this server sends no verification mails.
    async fn has_pending_verification(&self) -> Result<Option<bool>> {
        self.owner_only()?;
        Ok(Some(false))
    }

    /// Always empty: this server sends no notifications.
    async fn notification_preferences(&self) -> Result<JsonObject> {
        self.owner_only()?;
        Ok(JsonObject(serde_json::Map::new()))
    }

    /// Always 0: this server has no favourites.
    async fn total_owned_streams_favorites(&self) -> i32 {
        0
    }

    /// The user's email addresses (needs `profile:read`).
    async fn emails(&self) -> Result<Vec<UserEmail>> {
        self.owner_only()?;
        let (true, Some(email)) = (self.email_readable, &self.email) else {
            return Err(crate::context::error::Error::forbidden(format!(
                "Your token does not have the required scope: {SCOPE_PROFILE_READ}"
            )));
        };
        Ok(vec![UserEmail {
            id: self.id.clone(),
            email: email.clone(),
            verified: false,
            primary: true,
            user_id: self.id.clone(),
        }])
    }

    /// How many versions there are in the projects the user has a role on (only those the user
    /// made with `authoredOnly`); Speckle answers this with the count alone, and so does this.
    async fn versions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] authored_only: bool,
        #[graphql(default = 25)] limit: i32,
    ) -> Result<CountOnlyCollection> {
        self.owner_only()?;
        page::check_limit(limit)?;
        let user = self.user_id();
        let n = version_svc::count_for_user(&state(ctx).db, &user, authored_only).await?;
        Ok(CountOnlyCollection {
            total_count: i32::try_from(n).unwrap_or(i32::MAX),
        })
    }

    /// Always null: this server has no workspaces.
    async fn active_workspace(&self) -> Result<Option<LimitedWorkspace>> {
        self.owner_only()?;
        Ok(None)
    }

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
        self.owner_only()?;
        let user = auth(ctx).require_scope(SCOPE_STREAMS_READ)?;
        let limit = page::check_limit(limit)?;
        let f = filter.unwrap_or_default();
        let filter = svc::UserProjectsFilter {
            search: f.search,
            only_with_roles: f.only_with_roles,
            workspace_id: f.workspace_id.map(|w| w.0),
        };
        let db = &state(ctx).db;
        let me = user.user_id();
        let p = svc::list_for_user(db, &me, &filter, limit, cursor.as_deref()).await?;
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

    async fn permissions(&self, ctx: &Context<'_>) -> Result<RootPermissionChecks> {
        self.owner_only()?;
        let a = auth(ctx);
        Ok(RootPermissionChecks {
            access: Access {
                signed_in: a.user.is_some(),
                scopes: a.scopes.clone(),
                role: None,
                is_public: false,
            },
        })
    }
}

impl User {
    /// Speckle's `@isOwner`: some fields are for the user themself only.
    fn owner_only(&self) -> Result<()> {
        if self.is_self {
            return Ok(());
        }
        Err(crate::context::error::Error::forbidden(
            "Only the user themself may read this field",
        ))
    }
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    async fn active_user(&self, ctx: &Context<'_>) -> Option<User> {
        let a = auth(ctx);
        Some(user_as_seen(a, a.user.as_ref()?))
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
        let updated = user_svc::update_profile(&state(ctx).db, &me.user_id(), input).await?;
        Ok(user_as_seen(a, &updated))
    }
}

#[derive(Default)]
pub struct ActiveUserMutationsField;

#[Object]
impl ActiveUserMutationsField {
    /// Changes to the caller's own account (needs a token with `profile:write`).
    async fn active_user_mutations(&self, ctx: &Context<'_>) -> Result<ActiveUserMutations> {
        auth(ctx).require_scope(SCOPE_PROFILE_WRITE)?;
        Ok(ActiveUserMutations)
    }
}
