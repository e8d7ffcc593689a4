use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// MySQL and MariaDB only; SQLite and PostgreSQL need nothing.
///
/// - `recipes.directions` holds up to 20,000 characters, up to 80,000 bytes
///   in UTF-8: more than a MySQL `TEXT` (64 KiB), so it becomes `MEDIUMTEXT`.
/// - Every table compares text byte for byte (`utf8mb4_bin`), as SQLite and
///   PostgreSQL do. The server's usual `_ci` collations would treat `é` and
///   `e` as equal, making two different emails one and a search for "creme"
///   find "crème"; the application already folds case itself.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::MySql {
            return Ok(());
        }
        let db = manager.get_connection();
        for table in TABLES {
            db.execute_unprepared(&format!("ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")).await?;
        }
        db.execute_unprepared("ALTER TABLE recipes MODIFY directions MEDIUMTEXT NOT NULL").await.map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::MySql {
            return Ok(());
        }
        // Refused by MySQL's strict mode (not cut) if longer directions exist.
        manager.get_connection().execute_unprepared("ALTER TABLE recipes MODIFY directions TEXT NOT NULL").await.map(drop)
    }
}

const TABLES: [&str; 6] = ["users", "recipes", "sessions", "revoked_tokens", "audit_events", "login_failures"];
