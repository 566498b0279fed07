//! Webhook secrets become encrypted at rest. Sealing needs the server key, which migrations do
//! not have, so this step only marks every stored secret as legacy plain text (`plain:` + the
//! text); the server seals those right after migrating (`streamhooks_worker::secrets::store`).
//! Marking in SQL, once, is what keeps the stored form unambiguous: afterwards every value names
//! its scheme, so an old secret that happened to start with `v1:` is not taken for a sealed one.
//!
//! On SQLite the file is also rebuilt once (`VACUUM`) and its WAL emptied: secrets of webhooks
//! deleted or changed before `secure_delete` was on are still in free pages and old WAL frames,
//! and nothing else would ever overwrite them. That costs one rewrite of the file at upgrade.
//! `down` strips the marker from values not yet sealed; sealed ones need the key and stay sealed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        // An empty secret already meant "none" (`hasSecret` false); store it as such.
        db.execute_unprepared("UPDATE webhooks_config SET secret = NULL WHERE secret = ''")
            .await?;
        db.execute_unprepared(
            "UPDATE webhooks_config SET secret = 'plain:' || secret WHERE secret IS NOT NULL",
        )
        .await?;
        if db.get_database_backend() == DbBackend::Sqlite {
            db.execute_unprepared("VACUUM").await?;
            db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                "UPDATE webhooks_config SET secret = substr(secret, 7) WHERE secret LIKE 'plain:%'",
            )
            .await?;
        Ok(())
    }
}
