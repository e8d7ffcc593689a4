//! Database connection, migrations and the health probe.
//!
//! Any SeaORM URL works. SQLite's settings live here and only here (see
//! `sqlite_settings`): WAL, so readers do not wait for a writer; a busy
//! timeout, so a writer waits a moment for another before giving up; and
//! foreign keys on, so deleting a user deletes their recipes and sessions.
//! Pool acquisition times out quickly, so a database that is down or locked
//! turns into 503 pages (`AppError::Unavailable`) instead of hung requests,
//! and the pool reconnects by itself when the database is back.

use std::time::Duration;

use anyhow::Context as _;

use crate::config::PoolSettings;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// The file path of a `sqlite:` URL, if it names a file.
pub(crate) fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// SQLite, the embedded default, set up for a web server: every connection
/// of the pool gets these.
fn sqlite_settings(options: SqliteConnectOptions, busy_timeout: Duration) -> SqliteConnectOptions {
    options
        .journal_mode(SqliteJournalMode::Wal)
        // With WAL, NORMAL loses no committed data on a crash of the process
        // (only on a power cut), and saves an fsync per transaction.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(busy_timeout)
        .foreign_keys(true)
}

pub async fn connect(url: &str, pool: &PoolSettings) -> anyhow::Result<DatabaseConnection> {
    if let Some(parent) = sqlite_path(url).and_then(|p| std::path::Path::new(p).parent()) {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the database folder {}", parent.display()))?;
        }
    }
    let mut options = ConnectOptions::new(url.to_owned());
    let busy_timeout = pool.sqlite_busy_timeout;
    // SeaORM's `connect_timeout` is sqlx's acquire timeout under another
    // name, so `database_connect_timeout` bounds the first connection at
    // start instead (below); a connection opened later is bounded by the
    // acquire timeout.
    options
        .sqlx_logging(false)
        .max_connections(pool.size)
        .min_connections(0)
        .acquire_timeout(pool.acquire_timeout)
        .idle_timeout(pool.idle_timeout)
        // A connection is checked before use, so one broken by a database
        // restart is replaced instead of failing a request.
        .test_before_acquire(true)
        .map_sqlx_sqlite_opts(move |options| sqlite_settings(options, busy_timeout));
    // The error of a failed connect may quote the URL, password included.
    let connected = rocket::tokio::time::timeout(pool.connect_timeout, Database::connect(options)).await;
    match connected {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(DbErr::Conn(_))) => anyhow::bail!("cannot connect to the database (check database_url / DATABASE_URL)"),
        Ok(Err(_)) => anyhow::bail!("database connection failed (check database_url / DATABASE_URL)"),
        Err(_) => anyhow::bail!("the database did not answer within database_connect_timeout (check database_url / DATABASE_URL)"),
    }
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
