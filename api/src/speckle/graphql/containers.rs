//! The object types a commit or version points back up to: its `Stream`, its `Branch`, its
//! `Model` (as a stream lists its commits, a commit names its stream). Their structs and how a
//! row becomes one are here, below every resolver file, so that both directions of such a pair
//! import only downward; the fields that lead from them to other types are in their own files
//! (`#[ComplexObject]` in `stream.rs`, `branch.rs`, `model.rs`).

use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};
use entity::ids::{BranchId, StreamId};
use entity::{branch, stream};

// A stream, by its legacy name (a project is the same row).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Stream {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) is_public: bool,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl Stream {
    pub(super) fn stream_id(&self) -> StreamId {
        StreamId::from(self.id.as_str())
    }
}

impl From<stream::Model> for Stream {
    fn from(s: stream::Model) -> Self {
        Self {
            id: s.id,
            name: s.name,
            description: s.description,
            is_public: s.is_public,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

// A branch, the legacy name of a model (the same row).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Branch {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) created_at: DateTime<Utc>,
    #[graphql(skip)]
    pub(super) stream_id: StreamId,
    #[graphql(skip)]
    pub(super) author_id: Option<String>,
}

impl Branch {
    pub(super) fn branch_id(&self) -> BranchId {
        BranchId::from(self.id.as_str())
    }
}

impl From<branch::Model> for Branch {
    fn from(b: branch::Model) -> Self {
        Self {
            id: b.id,
            name: b.name,
            description: b.description,
            created_at: b.created_at,
            stream_id: StreamId::from(b.stream_id),
            author_id: b.author_id,
        }
    }
}

// Today's name for a branch.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Model {
    #[graphql(skip)]
    pub key: String,
    /// Full name, parent models separated by forward slashes.
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) project_id: String,
    #[graphql(skip)]
    pub(super) author_id: Option<String>,
}

impl Model {
    pub(super) fn branch_id(&self) -> BranchId {
        BranchId::from(self.key.as_str())
    }

    pub(super) fn project(&self) -> StreamId {
        StreamId::from(self.project_id.as_str())
    }
}

impl From<branch::Model> for Model {
    fn from(b: branch::Model) -> Self {
        Self {
            key: b.id,
            name: b.name,
            description: b.description,
            created_at: b.created_at,
            updated_at: b.updated_at,
            project_id: b.stream_id,
            author_id: b.author_id,
        }
    }
}
