//! `streams.allow_public_comments`: the one column today's Speckle `Project` adds to a stream,
//! mapped as its own small entity over the same `streams` table. Keeping it out of
//! [`super::stream::Model`] means everything that builds or reads a stream row (the legacy API,
//! the dispatcher, tests, the benchmark's raw inserts) stays as it was; the column has a default,
//! so rows inserted without it read `false`, which is Speckle's default for new projects.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "streams")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub allow_public_comments: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
