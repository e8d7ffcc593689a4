//! Queries on `login_failures`: record, count over a window, clear, purge.

use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, DbBackend, QueryOrder, QuerySelect, Statement, TransactionTrait};

use super::{now_ts, ts};
use crate::entities::login_failure;

/// Records an attempt of `key` as a failure; returns the row's id and how
/// many failures of `key` since `since` were recorded up to it (itself
/// included): the attempts that came before it, and itself.
///
/// Of attempts made at once, each counts every attempt whose row has a
/// lower id, also on a server database, where an id is handed out before
/// its row is committed and visible: PostgreSQL takes the attempts of one
/// key in turn (a transaction-scoped advisory lock), MariaDB counts with a
/// locking read, which waits for a row not yet committed, and SQLite has
/// one writer at a time.
pub async fn record_and_count(db: &DatabaseConnection, scope: &str, key: &str, since: i64) -> Result<(i64, u64), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        let id = record(db, scope, key).await?;
        return Ok((id, count_upto(db, scope, key, since, id).await?));
    }
    let txn = db.begin().await?;
    let lock = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
    txn.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, lock, [format!("login_failures {scope} {key}").into()])).await?;
    let id = record(&txn, scope, key).await?;
    let counted = count_upto(&txn, scope, key, since, id).await?;
    txn.commit().await?;
    Ok((id, counted))
}

async fn record<C: ConnectionTrait>(db: &C, scope: &str, key: &str) -> Result<i64, DbErr> {
    let row = login_failure::ActiveModel {
        scope: Set(scope.to_owned()),
        key: Set(key.to_owned()),
        created_at: Set(now_ts()),
        ..Default::default()
    };
    Ok(login_failure::Entity::insert(row).exec(db).await?.last_insert_id)
}

async fn count_upto<C: ConnectionTrait>(db: &C, scope: &str, key: &str, since: i64, id: i64) -> Result<u64, DbErr> {
    let mut rows = login_failure::Entity::find()
        .select_only()
        .column_as(login_failure::Column::Id.count(), "counted")
        .filter(login_failure::Column::Scope.eq(scope))
        .filter(login_failure::Column::Key.eq(key))
        .filter(login_failure::Column::CreatedAt.gt(ts(since)))
        .filter(login_failure::Column::Id.lte(id));
    if db.get_database_backend() == DbBackend::MySql {
        rows = rows.lock_shared();
    }
    let counted: Option<i64> = rows.into_tuple().one(db).await?;
    Ok(counted.unwrap_or(0) as u64)
}

/// Takes back recorded attempts: the password was right, or the attempt
/// was refused before it was tried.
pub async fn forget<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<(), DbErr> {
    login_failure::Entity::delete_many().filter(login_failure::Column::Id.is_in(ids.iter().copied())).exec(db).await.map(drop)
}

/// The times (Unix seconds) of the newest `limit` failures of `key` since
/// `since`, newest first: one indexed range read, whatever the attack.
pub async fn newest<C: ConnectionTrait>(db: &C, scope: &str, key: &str, since: i64, limit: u64) -> Result<Vec<i64>, DbErr> {
    let rows: Vec<TimeUnixTimestamp> = login_failure::Entity::find()
        .select_only()
        .column(login_failure::Column::CreatedAt)
        .filter(login_failure::Column::Scope.eq(scope))
        .filter(login_failure::Column::Key.eq(key))
        .filter(login_failure::Column::CreatedAt.gt(ts(since)))
        .order_by_desc(login_failure::Column::CreatedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|at| at.0.unix_timestamp()).collect())
}

pub async fn clear<C: ConnectionTrait>(db: &C, scope: &str, key: &str) -> Result<(), DbErr> {
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Scope.eq(scope))
        .filter(login_failure::Column::Key.eq(key))
        .exec(db)
        .await
        .map(drop)
}

/// Deletes failures older than `window_seconds`: they no longer count.
pub async fn purge_older_than<C: ConnectionTrait>(db: &C, window_seconds: i64) -> Result<u64, DbErr> {
    let cutoff = now_ts().0.unix_timestamp() - window_seconds;
    let old = sea_orm::Condition::all().add(login_failure::Column::CreatedAt.lt(ts(cutoff)));
    super::delete_in_batches::<login_failure::Entity, _>(db, login_failure::Column::Id, old).await
}
