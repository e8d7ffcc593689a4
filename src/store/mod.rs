//! Every database query of the application, grouped by table.
//!
//! Functions take `&DatabaseConnection` (or any `ConnectionTrait`) and domain
//! types that are already valid; they return entities or small row structs.
//! Nothing above this layer builds a query. Unique-constraint violations are
//! turned into field errors here, where the constraint is known.

pub mod access_tokens;
pub mod audit;
pub mod batch;
pub mod commits;
pub mod devices;
pub mod email_tokens;
pub mod factors;
pub mod identities;
pub mod keys;
pub mod outbox;
pub mod passkeys;
pub mod purge;
pub mod recipes;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod versions;

use sea_orm::prelude::TimeUnixTimestamp;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, SqlErr, Statement};
use time::OffsetDateTime;

/// Now, in the whole seconds the schema stores.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

pub fn now_ts() -> TimeUnixTimestamp {
    TimeUnixTimestamp(now())
}

pub fn ts(unix_seconds: i64) -> TimeUnixTimestamp {
    TimeUnixTimestamp(OffsetDateTime::from_unix_timestamp(unix_seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH))
}

/// Rows one purge statement deletes at most.
const PURGE_BATCH: u64 = 1000;

/// Deletes the rows of `E` that `condition` matches, [`PURGE_BATCH`] at a
/// time: each batch is a statement of its own that reads the ids, then
/// deletes those, so no purge holds a lock for long however much it
/// deletes (MySQL takes no `LIMIT` in an `IN` subquery). How many went.
pub async fn delete_in_batches<E, C>(db: &C, id: E::Column, condition: sea_orm::Condition) -> Result<u64, DbErr>
where
    E: sea_orm::EntityTrait,
    C: sea_orm::ConnectionTrait,
{
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let mut deleted = 0;
    loop {
        let ids: Vec<i64> = E::find().select_only().column(id).filter(condition.clone()).limit(PURGE_BATCH).into_tuple().all(db).await?;
        if ids.is_empty() {
            return Ok(deleted);
        }
        let batch = ids.len() as u64;
        deleted += E::delete_many().filter(id.is_in(ids)).exec(db).await?.rows_affected;
        if batch < PURGE_BATCH {
            return Ok(deleted);
        }
    }
}

fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A page of any list, as SPEC.md's `{items, page, per_page, total}`.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

impl<T> Page<T> {
    pub fn last_page(&self) -> u64 {
        self.total.div_ceil(self.per_page).max(1)
    }
}

/// Escapes `%`, `_` and the escape character itself, so user text matches
/// literally in `LIKE … ESCAPE '!'` on every backend. `!` rather than `\`
/// because MySQL treats a backslash inside a string literal specially.
pub fn like_pattern(query: &str) -> String {
    let mut pattern = String::with_capacity(query.len() + 2);
    pattern.push('%');
    for c in query.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Whether the database answers (SPEC §6 `/healthz`), without a write
/// lock: a server database answers a ping; SQLite a read of its schema,
/// which opens a read transaction on the file (a ping would only reach
/// sqlx's worker thread). With WAL, SQLite's readers go on while another
/// process holds the write lock, and so does the site's reading.
pub async fn probe(db: &DatabaseConnection) -> Result<(), DbErr> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            db.query_one_raw(Statement::from_string(DbBackend::Sqlite, "SELECT 1 FROM sqlite_master LIMIT 1")).await.map(drop)
        }
        _ => db.ping().await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(super::like_pattern("50%_Off!"), "%50!%!_off!!%");
    }
}
