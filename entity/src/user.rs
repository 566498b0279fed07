//! `users`: the people who own streams and cause events. There is no password: users get a token
//! from `streamhooks user create` or `apiTokenCreate`, so nothing secret lives in this row.

use sea_orm::entity::prelude::*;

/// The server-wide role of a user; admins may use the event-ingest path for foreign backends.
pub const ROLE_ADMIN: &str = "server:admin";
pub const ROLE_USER: &str = "server:user";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    #[sea_orm(unique)]
    pub email: String,
    pub avatar: Option<String>,
    pub bio: Option<String>,
    pub company: Option<String>,
    pub server_role: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn is_admin(&self) -> bool {
        self.server_role == ROLE_ADMIN
    }

    /// This user's id, typed, for the signatures that take one.
    pub fn user_id(&self) -> crate::ids::UserId {
        crate::ids::UserId::from(self.id.as_str())
    }
}
