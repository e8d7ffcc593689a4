//! Database connection and migrations.
//!
//! Any SeaORM URL works; for SQLite the file's folder is created first, and
//! the database is switched to WAL so readers do not wait for a writer.
//! Pool acquisition times out quickly, so a database that is down or locked
//! turns into 503 pages instead of hung requests.

use std::time::Duration;

use anyhow::Context as _;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

/// The file path of a `sqlite:` URL, if it names a file.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    if let Some(parent) = sqlite_path(url).and_then(|p| std::path::Path::new(p).parent()) {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the database folder {}", parent.display()))?;
        }
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .max_connections(16);
    // The error of a failed connect may quote the URL, password included.
    let db = Database::connect(options).await.map_err(|e| {
        let kind = match e {
            sea_orm::DbErr::Conn(_) => "cannot connect to the database",
            _ => "database connection failed",
        };
        anyhow::anyhow!("{kind} (check database_url / DATABASE_URL)")
    })?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode = WAL;").await.context("cannot enable WAL")?;
    }
    Ok(db)
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("applying migrations failed")
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_paths_are_read_from_urls() {
        assert_eq!(super::sqlite_path("sqlite://data/recipebox.db?mode=rwc"), Some("data/recipebox.db"));
        assert_eq!(super::sqlite_path("sqlite:/tmp/x.db"), Some("/tmp/x.db"));
        assert_eq!(super::sqlite_path("sqlite::memory:"), None);
        assert_eq!(super::sqlite_path("postgres://localhost/test"), None);
    }
}
