//! Queries on `login_failures`: record, count over a window, clear, purge.

use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

use super::{now_ts, ts};
use crate::entities::login_failure;

/// Records an attempt of `key` as a failure; returns the row's id.
pub async fn record<C: ConnectionTrait>(db: &C, scope: &str, key: &str) -> Result<i64, DbErr> {
    let row = login_failure::ActiveModel {
        scope: Set(scope.to_owned()),
        key: Set(key.to_owned()),
        created_at: Set(now_ts()),
        ..Default::default()
    };
    Ok(login_failure::Entity::insert(row).exec(db).await?.last_insert_id)
}

/// How many failures of `key` since `since` were recorded up to row `id`
/// (that row included): the attempts that came before it, and itself.
pub async fn count_upto<C: ConnectionTrait>(db: &C, scope: &str, key: &str, since: i64, id: i64) -> Result<u64, DbErr> {
    login_failure::Entity::find()
        .filter(login_failure::Column::Scope.eq(scope))
        .filter(login_failure::Column::Key.eq(key))
        .filter(login_failure::Column::CreatedAt.gt(ts(since)))
        .filter(login_failure::Column::Id.lte(id))
        .count(db)
        .await
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
    let result = login_failure::Entity::delete_many()
        .filter(login_failure::Column::CreatedAt.lt(ts(cutoff)))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
