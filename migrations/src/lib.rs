//! recipebox's schema, one migration per change.
//!
//! Self-contained on purpose: nothing here imports the application crate, so
//! an old migration never changes meaning when the entities move on. Every
//! migration has a working `down`. Instants are stored as whole Unix seconds
//! (`BIGINT`), which compare the same way on SQLite, PostgreSQL and MySQL.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_users;
mod m20261123_000002_create_recipes;
mod m20261123_000003_create_sessions;
mod m20261123_000004_create_revoked_tokens;
mod m20261123_000005_add_recipe_search_text;
mod m20261123_000006_create_audit_events;
mod m20261123_000007_add_login_details;
mod m20261123_000008_create_login_failures;
mod m20261123_000009_mysql_text_and_collation;
mod m20261123_000010_create_email_tokens;
mod m20261123_000011_add_email_verified_at;
mod m20261125_000012_index_recipe_lists;
mod m20261204_000013_versions;
mod m20261204_000014_index_list_orders;
mod m20261204_000015_recipe_changes;
mod m20261204_000016_mail_outbox;
mod m20261204_000017_second_factors;
mod m20261204_000018_passkeys;
mod m20261207_000019_devices_and_live_sessions;
mod m20261207_000020_signing_keys;
mod m20261207_000021_access_tokens;
mod m20261207_000022_linked_identities;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_users::Migration),
            Box::new(m20261123_000002_create_recipes::Migration),
            Box::new(m20261123_000003_create_sessions::Migration),
            Box::new(m20261123_000004_create_revoked_tokens::Migration),
            Box::new(m20261123_000005_add_recipe_search_text::Migration),
            Box::new(m20261123_000006_create_audit_events::Migration),
            Box::new(m20261123_000007_add_login_details::Migration),
            Box::new(m20261123_000008_create_login_failures::Migration),
            Box::new(m20261123_000009_mysql_text_and_collation::Migration),
            Box::new(m20261123_000010_create_email_tokens::Migration),
            Box::new(m20261123_000011_add_email_verified_at::Migration),
            Box::new(m20261125_000012_index_recipe_lists::Migration),
            Box::new(m20261204_000013_versions::Migration),
            Box::new(m20261204_000014_index_list_orders::Migration),
            Box::new(m20261204_000015_recipe_changes::Migration),
            Box::new(m20261204_000016_mail_outbox::Migration),
            Box::new(m20261204_000017_second_factors::Migration),
            Box::new(m20261204_000018_passkeys::Migration),
            Box::new(m20261207_000019_devices_and_live_sessions::Migration),
            Box::new(m20261207_000020_signing_keys::Migration),
            Box::new(m20261207_000021_access_tokens::Migration),
            Box::new(m20261207_000022_linked_identities::Migration),
        ]
    }
}
