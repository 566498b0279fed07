//! The streamhooks schema as sea-orm migrations. `api` applies them at start-up (so a fresh SQLite
//! file just works) and `streamhooks migrate` applies them on demand before a rolling deploy.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_init;
mod m20261122_000002_manual_events;
mod m20261123_000003_encrypted_secrets;
mod m20261123_000004_current_speckle;
mod m20261123_000005_objects;
mod m20261123_000006_delivery_record;
mod m20261123_000007_wire_formats;
mod m20261124_000008_attempts_cascade_trigger;
mod m20261125_000009_secrets_key_check;
mod m20261206_000010_failing_webhooks_index;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_init::Migration),
            Box::new(m20261122_000002_manual_events::Migration),
            Box::new(m20261123_000003_encrypted_secrets::Migration),
            Box::new(m20261123_000004_current_speckle::Migration),
            Box::new(m20261123_000005_objects::Migration),
            Box::new(m20261123_000006_delivery_record::Migration),
            Box::new(m20261123_000007_wire_formats::Migration),
            Box::new(m20261124_000008_attempts_cascade_trigger::Migration),
            Box::new(m20261125_000009_secrets_key_check::Migration),
            Box::new(m20261206_000010_failing_webhooks_index::Migration),
        ]
    }
}
