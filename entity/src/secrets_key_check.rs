//! `secrets_key_check`: the one row that says which key this database's webhook secrets are
//! sealed under, as a check value (HMAC-SHA256 of a fixed text under the key) and the key's
//! fingerprint, never the key itself. Every process that opens secrets compares its key with it
//! at start (`streamhooks_worker::secrets::store::prepare`).

use sea_orm::entity::prelude::*;

/// The row's only id.
pub const ID: i16 = 1;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "secrets_key_check")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i16,
    /// Hex HMAC-SHA256 of a fixed text under the key.
    pub check_value: String,
    /// The key's fingerprint (the start of its SHA-256), as the logs show it.
    pub fingerprint: String,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
