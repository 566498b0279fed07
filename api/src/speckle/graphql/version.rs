//! Today's Speckle `Version` (a version **is** a commit: the same row) as `project.version(s)` and
//! `model.version(s)` show it; its mutations are in [`super::version_mutations`].
//! `previewUrl` is Speckle's URL form (it is non-null in Speckle's schema), but this server
//! renders no previews, so it answers 404.

use async_graphql::{ComplexObject, Context, InputObject, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::commit;
use entity::ids::{BranchId, CommitId, StreamId};

use crate::context::error::Result;
use crate::context::resolver::state;
use crate::speckle::graphql::containers::Model;
use crate::speckle::graphql::permissions::{Access, VersionPermissionChecks};
use crate::speckle::graphql::user::{limited_user, LimitedUser};
use crate::speckle::service::{branch as branch_svc, page, version as svc};

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Version {
    #[graphql(skip)]
    pub key: CommitId,
    /// The id of the version's root object.
    referenced_object: Option<String>,
    message: Option<String>,
    source_application: Option<String>,
    created_at: DateTime<Utc>,
    total_children_count: Option<i32>,
    parents: Option<Vec<Option<String>>>,
    #[graphql(skip)]
    pub project_id: StreamId,
    #[graphql(skip)]
    pub branch_id: BranchId,
    #[graphql(skip)]
    author_id: Option<String>,
}

impl From<commit::Model> for Version {
    fn from(c: commit::Model) -> Self {
        let parents: Option<Vec<Option<String>>> = c
            .parents
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok());
        Self {
            key: CommitId::from(c.id),
            referenced_object: Some(c.object_id),
            message: c.message,
            source_application: c.source_application,
            created_at: c.created_at,
            total_children_count: c.total_children_count,
            parents,
            project_id: StreamId::from(c.stream_id),
            branch_id: BranchId::from(c.branch_id),
            author_id: c.author_id,
        }
    }
}

#[ComplexObject]
impl Version {
    async fn id(&self) -> ID {
        ID(self.key.to_string())
    }

    async fn author_user(&self, ctx: &Context<'_>) -> Result<Option<LimitedUser>> {
        limited_user(ctx, self.author_id.as_deref()).await
    }

    async fn model(&self, ctx: &Context<'_>) -> Result<Model> {
        Ok(
            branch_svc::find(&state(ctx).db, &self.project_id, &self.branch_id)
                .await?
                .into(),
        )
    }

    /// Speckle's preview URL for this version; this server renders no previews.
    async fn preview_url(&self, ctx: &Context<'_>) -> String {
        format!(
            "{}/preview/{}/commits/{}",
            state(ctx).server_info.canonical_url.trim_end_matches('/'),
            self.project_id,
            self.key
        )
    }

    async fn permissions(&self, ctx: &Context<'_>) -> Result<VersionPermissionChecks> {
        let s = crate::speckle::service::stream::find(&state(ctx).db, &self.project_id).await?;
        Ok(VersionPermissionChecks {
            access: Access::load(ctx, self.project_id.as_str(), s.is_public).await?,
        })
    }
}

#[derive(SimpleObject)]
pub struct VersionCollection {
    total_count: i32,
    cursor: Option<String>,
    items: Vec<Version>,
}

/// Speckle's `ModelVersionsFilter`.
#[derive(InputObject)]
pub struct ModelVersionsFilter {
    /// These versions come first.
    priority_ids: Option<Vec<String>>,
    /// Only the versions in `priorityIds`.
    priority_ids_only: Option<bool>,
}

/// `Project.versions` / `Model.versions`: the caller has already been allowed to read.
pub(crate) async fn list(
    ctx: &Context<'_>,
    project: &StreamId,
    model: Option<&BranchId>,
    limit: i32,
    cursor: Option<String>,
    filter: Option<ModelVersionsFilter>,
) -> Result<VersionCollection> {
    let limit = page::check_limit(limit)?;
    let priority = filter.map(|f| svc::Priority {
        ids: f.priority_ids.unwrap_or_default(),
        only: f.priority_ids_only.unwrap_or(false),
    });
    let p = svc::list(
        &state(ctx).db,
        project,
        model,
        limit,
        cursor.as_deref(),
        priority,
    )
    .await?;
    Ok(VersionCollection {
        total_count: i32::try_from(p.total_count).unwrap_or(i32::MAX),
        cursor: p.cursor,
        items: p.items.into_iter().map(Version::from).collect(),
    })
}

pub(crate) async fn get(ctx: &Context<'_>, project: &StreamId, id: &CommitId) -> Result<Version> {
    Ok(svc::find(&state(ctx).db, project, id).await?.into())
}
