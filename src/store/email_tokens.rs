//! Queries on `email_tokens`: single-use tokens sent by email.

use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::Set;

use super::{now_ts, ts};
use crate::entities::email_token;

/// Stores a new token of `purpose` for the user, then retires every older
/// unused one of the same purpose: only the newest link works, even when
/// two are issued at once (each retires only lower ids, so the highest
/// survives).
pub async fn issue<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    purpose: &str,
    token_hash: String,
    email: &str,
    expires_at: i64,
) -> Result<(), DbErr> {
    let id = email_token::Entity::insert(email_token::ActiveModel {
        user_id: Set(user_id),
        purpose: Set(purpose.to_owned()),
        token_hash: Set(token_hash),
        email: Set(email.to_owned()),
        created_at: Set(now_ts()),
        expires_at: Set(ts(expires_at)),
        used_at: Set(None),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    retiring(user_id, purpose).filter(email_token::Column::Id.lt(id)).exec(db).await.map(drop)
}

/// Marks the user's unused tokens of `purpose` used (narrowed by callers).
fn retiring(user_id: i64, purpose: &str) -> sea_orm::UpdateMany<email_token::Entity> {
    email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(Some(now_ts())))
        .filter(email_token::Column::UserId.eq(user_id))
        .filter(email_token::Column::Purpose.eq(purpose))
        .filter(email_token::Column::UsedAt.is_null())
}

/// The token with this hash, if it is of `purpose`, unused and unexpired.
pub async fn find_usable<C: ConnectionTrait>(db: &C, purpose: &str, token_hash: &str) -> Result<Option<email_token::Model>, DbErr> {
    email_token::Entity::find()
        .filter(email_token::Column::TokenHash.eq(token_hash))
        .filter(email_token::Column::Purpose.eq(purpose))
        .filter(email_token::Column::UsedAt.is_null())
        .filter(email_token::Column::ExpiresAt.gt(now_ts()))
        .one(db)
        .await
}

/// Marks the token used. `false` when it was used (or retired) already:
/// of two uses at once, exactly one succeeds.
pub async fn consume<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool, DbErr> {
    let result = email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(Some(now_ts())))
        .filter(email_token::Column::Id.eq(id))
        .filter(email_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Retires every unused token of `purpose` of the user (a newer link was
/// sent, or the password changed).
pub async fn retire<C: ConnectionTrait>(db: &C, user_id: i64, purpose: &str) -> Result<(), DbErr> {
    retiring(user_id, purpose).exec(db).await.map(drop)
}

/// Deletes tokens that can no longer be used: expired ones, and used ones
/// older than a day.
pub async fn purge<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let day_ago = ts(now_ts().0.unix_timestamp() - 86_400);
    let result = email_token::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(email_token::Column::ExpiresAt.lt(now_ts()))
                .add(email_token::Column::UsedAt.lt(day_ago)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// The newest unused, unexpired token of `purpose` of the user (a pending
/// email change, for `/me`).
pub async fn pending<C: ConnectionTrait>(db: &C, user_id: i64, purpose: &str) -> Result<Option<email_token::Model>, DbErr> {
    use sea_orm::QueryOrder;
    email_token::Entity::find()
        .filter(email_token::Column::UserId.eq(user_id))
        .filter(email_token::Column::Purpose.eq(purpose))
        .filter(email_token::Column::UsedAt.is_null())
        .filter(email_token::Column::ExpiresAt.gt(now_ts()))
        .order_by_desc(email_token::Column::Id)
        .one(db)
        .await
}
