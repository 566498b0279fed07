//! `streams`: a Speckle stream (a "project" in Speckle's newer API). Deleting one cascades to its
//! roles, branches and commits, but not to its webhooks: see `webhook_config`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "streams")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub is_public: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::stream_acl::Entity")]
    Acl,
    #[sea_orm(has_many = "super::branch::Entity")]
    Branch,
}

impl Related<super::stream_acl::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Acl.def()
    }
}

impl Related<super::branch::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Branch.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
