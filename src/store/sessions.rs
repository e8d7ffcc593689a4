//! Queries on `sessions`: one row per login, named by the `sid` claim.

use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

use super::{now_ts, ts};
use crate::entities::session;

/// Longest user agent kept; the column is `VARCHAR(255)`.
const USER_AGENT_MAX: usize = 255;

/// What a new session records.
pub struct NewSession<'a> {
    pub user_agent: Option<&'a str>,
    pub ip_address: Option<&'a str>,
    /// When its first refresh token expires (Unix seconds).
    pub expires_at: i64,
}

pub async fn create<C: ConnectionTrait>(db: &C, user_id: i64, new: NewSession<'_>) -> Result<session::Model, DbErr> {
    let now = now_ts();
    let user_agent = new.user_agent.map(|ua| ua.chars().take(USER_AGENT_MAX).collect::<String>());
    let expires_at = new.expires_at;
    session::ActiveModel {
        sid: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        user_agent: Set(user_agent),
        ip_address: Set(new.ip_address.map(str::to_owned)),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(ts(expires_at)),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Marks a rotation: the session was used now and lives until `expires_at`.
pub async fn touch<C: ConnectionTrait>(db: &C, sid: Uuid, expires_at: Option<i64>) -> Result<(), DbErr> {
    let mut update = session::Entity::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(now_ts()))
        .filter(session::Column::Sid.eq(sid));
    if let Some(expires_at) = expires_at {
        update = update.col_expr(session::Column::ExpiresAt, Expr::value(ts(expires_at)));
    }
    update.exec(db).await.map(drop)
}

/// Revokes one session; with `user_id`, only if it is that user's.
/// Returns whether a live session was revoked.
pub async fn revoke<C: ConnectionTrait>(db: &C, sid: Uuid, user_id: Option<i64>) -> Result<bool, DbErr> {
    let mut update = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Some(now_ts())))
        .filter(session::Column::Sid.eq(sid))
        .filter(session::Column::RevokedAt.is_null());
    if let Some(user_id) = user_id {
        update = update.filter(session::Column::UserId.eq(user_id));
    }
    Ok(update.exec(db).await?.rows_affected > 0)
}

/// Revokes every live session of every user.
pub async fn revoke_everyone<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let update = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Some(now_ts())))
        .filter(session::Column::RevokedAt.is_null());
    Ok(update.exec(db).await?.rows_affected)
}

/// Revokes every live session of a user, optionally sparing one.
pub async fn revoke_all<C: ConnectionTrait>(db: &C, user_id: i64, except: Option<Uuid>) -> Result<u64, DbErr> {
    let mut update = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Some(now_ts())))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null());
    if let Some(sid) = except {
        update = update.filter(session::Column::Sid.ne(sid));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// A user's sessions that are neither revoked nor past their refresh
/// token's expiry, most recently used first.
pub async fn list_active<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Vec<session::Model>, DbErr> {
    session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now_ts()))
        .order_by_desc(session::Column::LastUsedAt)
        .order_by_desc(session::Column::Id)
        .all(db)
        .await
}

/// How many sessions of a user are live (neither revoked nor expired).
pub async fn count_active<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<u64, DbErr> {
    session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now_ts()))
        .count(db)
        .await
}

/// The user agent of every session the user has had, live or ended (one
/// row each for the distinct ones): read once per account, at its first
/// login after its devices were first kept (`store::devices`).
pub async fn user_agents<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Vec<Option<String>>, DbErr> {
    session::Entity::find()
        .select_only()
        .column(session::Column::UserAgent)
        .distinct()
        .filter(session::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await
}
