//! `stream_acl`: who has which role on a stream (`stream:owner`, `stream:contributor`,
//! `stream:reviewer`). One row per (stream, user); the role decides what the user may do.

use sea_orm::entity::prelude::*;

pub const ROLE_OWNER: &str = "stream:owner";
pub const ROLE_CONTRIBUTOR: &str = "stream:contributor";
pub const ROLE_REVIEWER: &str = "stream:reviewer";
pub const ROLES: [&str; 3] = [ROLE_OWNER, ROLE_CONTRIBUTOR, ROLE_REVIEWER];

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stream_acl")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub stream_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub role: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::stream::Entity",
        from = "Column::StreamId",
        to = "super::stream::Column::Id",
        on_delete = "Cascade"
    )]
    Stream,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::stream::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Stream.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// The role `user_id` holds on `stream_id`, if any.
pub async fn role_of<C: ConnectionTrait>(
    db: &C,
    stream_id: &str,
    user_id: &str,
) -> Result<Option<String>, DbErr> {
    Ok(
        Entity::find_by_id((stream_id.to_owned(), user_id.to_owned()))
            .one(db)
            .await?
            .map(|m| m.role),
    )
}
