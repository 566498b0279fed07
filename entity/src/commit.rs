//! `commits`: a version of a stream's data on one branch. Speckle keeps commits in a separate
//! table joined through `branch_commits`; one commit lives on exactly one branch, so a column does.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub stream_id: String,
    pub branch_id: String,
    pub object_id: String,
    pub message: Option<String>,
    pub author_id: Option<String>,
    pub source_application: Option<String>,
    pub total_children_count: Option<i32>,
    /// JSON array of parent commit ids.
    pub parents: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::branch::Entity",
        from = "Column::BranchId",
        to = "super::branch::Column::Id",
        on_delete = "Cascade"
    )]
    Branch,
    #[sea_orm(
        belongs_to = "super::stream::Entity",
        from = "Column::StreamId",
        to = "super::stream::Column::Id",
        on_delete = "Cascade"
    )]
    Stream,
}

impl Related<super::branch::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Branch.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
