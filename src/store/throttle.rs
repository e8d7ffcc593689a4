//! Queries on `login_failures`: record, count over a window, clear, purge.

use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

use super::{now_ts, ts};
use crate::entities::login_failure;

pub async fn record<C: ConnectionTrait>(db: &C, scope: &str, key: &str) -> Result<(), DbErr> {
    login_failure::ActiveModel {
        scope: Set(scope.to_owned()),
        key: Set(key.to_owned()),
        created_at: Set(now_ts()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map(drop)
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
