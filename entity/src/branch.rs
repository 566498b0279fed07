//! `branches`: named lines of commits in a stream; every stream starts with `main`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "branches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub stream_id: String,
    pub name: String,
    pub description: Option<String>,
    pub author_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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
}

impl Related<super::stream::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Stream.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// The branch of `stream_id` called `name` (names are unique per stream).
pub async fn find_by_name<C: ConnectionTrait>(
    db: &C,
    stream_id: &str,
    name: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::StreamId.eq(stream_id))
        .filter(Column::Name.eq(name))
        .one(db)
        .await
}
