//! `api_tokens`: personal access tokens. The token a user holds is `<id><secret>`; only the
//! SHA-256 of the secret is stored. A plain hash, not a password KDF, is right here: the secret is
//! 32 random characters, so there is nothing to brute-force, and it is checked on every request.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub token_digest: String,
    pub owner_id: String,
    pub name: String,
    /// Space-separated scope names, e.g. `streams:read streams:write`.
    pub scopes: String,
    pub expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn scope_list(&self) -> impl Iterator<Item = &str> {
        self.scopes.split_whitespace()
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope_list().any(|s| s == scope)
    }
}
