//! Today's Speckle `Project` and `project(id)`: a project **is** a stream (the same row, roles
//! and webhooks), so this is a second view of the table the legacy `Stream` type shows, with
//! Speckle's current field names (`visibility`, `allowPublicComments`, `role`, `sourceApps`,
//! `models`, `versions`, `permissions`, `team`, …). `workspaceId` is always null: this server has
//! no workspaces, and every project is a personal one. `projectMutations` are in
//! [`super::project_mutations`].

use std::collections::HashMap;

use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::ids::{BranchId, CommitId, StreamId};
use entity::{stream as stream_entity, stream_acl};
use sea_orm::ConnectionTrait;

use crate::context::error::Result;
use crate::context::resolver::{auth, state};
use crate::speckle::graphql::containers::Model;
use crate::speckle::graphql::model::{self, ModelCollection, ProjectModelsFilter};
use crate::speckle::graphql::object::{self, SpeckleObject};
use crate::speckle::graphql::permissions::{readable_stream, Access, ProjectPermissionChecks};
use crate::speckle::graphql::user::LimitedUser;
use crate::speckle::graphql::version::{self, Version, VersionCollection};
use crate::speckle::graphql::workspace::{Workspace, WorkspaceFeatureName, WorkspaceSeatType};
use crate::speckle::service::project as svc;
use crate::webhooks::graphql::webhook::{webhooks_of, WebhookCollection};

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum ProjectVisibility {
    /// Only accessible to explicit collaborators.
    Private,
    /// Legacy: the same as public.
    Unlisted,
    /// Accessible to everyone, even without a token.
    Public,
    /// Accessible to the project's workspace; this server has no workspaces and refuses it.
    Workspace,
}

impl ProjectVisibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "PRIVATE",
            Self::Unlisted => "UNLISTED",
            Self::Public => "PUBLIC",
            Self::Workspace => "WORKSPACE",
        }
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Project {
    #[graphql(skip)]
    pub id: StreamId,
    name: String,
    description: Option<String>,
    visibility: ProjectVisibility,
    allow_public_comments: bool,
    /// The caller's role on this project; null without a token or without a role.
    role: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[graphql(skip)]
    is_public: bool,
}

/// Projects for `rows` of (stream, the caller's role), reading `allowPublicComments` in one query.
pub async fn projects_from<C: ConnectionTrait>(
    db: &C,
    rows: Vec<(stream_entity::Model, Option<String>)>,
) -> Result<Vec<Project>> {
    let ids: Vec<String> = rows.iter().map(|(s, _)| s.id.clone()).collect();
    let allow: HashMap<String, bool> = svc::allow_public_comments(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|(s, role)| Project {
            allow_public_comments: allow.get(&s.id).copied().unwrap_or(false),
            visibility: if s.is_public {
                ProjectVisibility::Public
            } else {
                ProjectVisibility::Private
            },
            is_public: s.is_public,
            role,
            id: StreamId::from(s.id),
            name: s.name,
            description: s.description,
            created_at: s.created_at,
            updated_at: s.updated_at,
        })
        .collect())
}

/// The project `s` as the caller sees it.
pub async fn project_for_caller(ctx: &Context<'_>, s: stream_entity::Model) -> Result<Project> {
    let db = &state(ctx).db;
    let role = match auth(ctx).user.as_ref() {
        Some(u) => stream_acl::role_of(db, &s.id, &u.id).await?,
        None => None,
    };
    let mut v = projects_from(db, vec![(s, role)]).await?;
    v.pop()
        .ok_or_else(crate::context::error::Error::stream_not_found)
}

#[derive(SimpleObject)]
pub struct ProjectCollaborator {
    /// The user's id.
    id: ID,
    role: String,
    user: LimitedUser,
    /// A workspace seat: always null, this server has no workspaces.
    seat_type: Option<WorkspaceSeatType>,
    /// A workspace role: always null, this server has no workspaces.
    workspace_role: Option<String>,
}

/// A project's comment threads. This server has no comments, so the counts are 0; the type is
/// here because the web app's project page asks for `commentThreads(limit: 0) { totalCount }`.
#[derive(SimpleObject)]
pub struct ProjectCommentCollection {
    /// Always 0: there are no comments on this server.
    total_count: i32,
    /// Always 0: there are no comments on this server.
    total_archived_count: i32,
    cursor: Option<String>,
}

/// Speckle's `ProjectCommentsFilter`; accepted, and matches nothing, as there are no comments.
#[derive(InputObject)]
pub struct ProjectCommentsFilter {
    #[graphql(name = "resourceIdString")]
    _resource_id_string: Option<String>,
    #[graphql(name = "loadedVersionsOnly")]
    _loaded_versions_only: Option<bool>,
    #[graphql(name = "includeArchived")]
    _include_archived: Option<bool>,
}

/// An invitation to a project. This server grants roles directly and has no invitations, so
/// lists of these are always empty; the type is here because clients ask for it.
#[derive(SimpleObject)]
pub struct PendingStreamCollaborator {
    id: String,
    invite_id: String,
    project_id: String,
    project_name: String,
    #[graphql(deprecation = "Use projectId instead")]
    stream_id: String,
    #[graphql(deprecation = "Use projectName instead")]
    stream_name: String,
    /// E-mail address or name of the invited user.
    title: String,
    role: String,
    invited_by: LimitedUser,
    /// Set only if the user is registered.
    user: Option<LimitedUser>,
    /// Only for the invited user.
    token: Option<String>,
}

#[ComplexObject]
impl Project {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// Source applications of this project's versions.
    async fn source_apps(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        svc::source_apps(&state(ctx).db, &self.id).await
    }

    /// Always null: this server has no workspaces.
    async fn workspace_id(&self) -> Option<String> {
        None
    }

    /// Always null: this server has no workspaces.
    async fn workspace(&self) -> Option<Workspace> {
        None
    }

    /// Always false: the features named are workspace plan features, and there are no
    /// workspaces here.
    async fn has_access_to_feature(
        &self,
        #[graphql(name = "featureName")] _feature_name: WorkspaceFeatureName,
    ) -> bool {
        false
    }

    /// The project's comment threads: none, this server has no comments.
    async fn comment_threads(
        &self,
        #[graphql(name = "cursor")] _cursor: Option<String>,
        #[graphql(name = "limit")] _limit: Option<i32>,
        #[graphql(name = "filter")] _filter: Option<ProjectCommentsFilter>,
    ) -> ProjectCommentCollection {
        ProjectCommentCollection {
            total_count: 0,
            total_archived_count: 0,
            cursor: None,
        }
    }

    /// An object stored in this project (as uploaded through the object API).
    async fn object(&self, ctx: &Context<'_>, id: String) -> Result<Option<SpeckleObject>> {
        object::find(ctx, self.id.as_str(), &id).await
    }

    /// The collaborators and their roles, owners first.
    async fn team(&self, ctx: &Context<'_>) -> Result<Vec<ProjectCollaborator>> {
        let rows = svc::collaborators(&state(ctx).db, &self.id).await?;
        Ok(rows
            .into_iter()
            .map(|(role, u)| ProjectCollaborator {
                id: ID(u.id.clone()),
                role,
                user: u.into(),
                seat_type: None,
                workspace_role: None,
            })
            .collect())
    }

    /// Collaborators invited but not yet accepted: none, there are no invitations here.
    async fn invited_team(&self) -> Option<Vec<PendingStreamCollaborator>> {
        Some(Vec::new())
    }

    /// The project's models, most recently updated first.
    async fn models(
        &self,
        ctx: &Context<'_>,
        cursor: Option<String>,
        #[graphql(default = 25)] limit: i32,
        filter: Option<ProjectModelsFilter>,
    ) -> Result<ModelCollection> {
        model::list(ctx, &self.id, limit, cursor, filter).await
    }

    async fn model(&self, ctx: &Context<'_>, id: String) -> Result<Model> {
        model::get(ctx, &self.id, &BranchId::from(id)).await
    }

    async fn model_by_name(&self, ctx: &Context<'_>, name: String) -> Result<Model> {
        model::by_name(ctx, &self.id, &name).await
    }

    /// All the project's versions, newest first.
    async fn versions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 25)] limit: i32,
        cursor: Option<String>,
    ) -> Result<VersionCollection> {
        version::list(ctx, &self.id, None, limit, cursor, None).await
    }

    async fn version(&self, ctx: &Context<'_>, id: String) -> Result<Version> {
        version::get(ctx, &self.id, &CommitId::from(id)).await
    }

    /// What the caller may do here, by this server's rules.
    async fn permissions(&self, ctx: &Context<'_>) -> Result<ProjectPermissionChecks> {
        Ok(ProjectPermissionChecks {
            project_id: self.id.clone(),
            access: Access::load(ctx, self.id.as_str(), self.is_public).await?,
        })
    }

    /// The project's webhooks (owners with `streams:write` only); `id` picks one.
    async fn webhooks(&self, ctx: &Context<'_>, id: Option<String>) -> Result<WebhookCollection> {
        webhooks_of(ctx, &self.id, id.as_deref()).await
    }
}

#[derive(Default)]
pub struct ProjectQuery;

#[Object]
impl ProjectQuery {
    /// A project the caller may read (public, or a role and `streams:read`).
    async fn project(&self, ctx: &Context<'_>, id: String) -> Result<Project> {
        let s = readable_stream(ctx, &StreamId::from(id)).await?;
        project_for_caller(ctx, s).await
    }

    /// An invitation to the project for the caller: always null, as this server grants roles
    /// directly and has no invitations.
    async fn project_invite(
        &self,
        #[graphql(name = "projectId")] _project_id: String,
        #[graphql(name = "token")] _token: Option<String>,
    ) -> Option<PendingStreamCollaborator> {
        None
    }
}
