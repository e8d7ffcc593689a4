//! Queries on the second factors (SPEC.md §2): TOTP secrets, recovery
//! codes, remembered browsers, and the tickets of half-done logins.
//!
//! Every "once" here is a conditional write whose row count says who won,
//! so it holds across instances and backends: a time step is taken by an
//! `UPDATE … WHERE last_step < step`, a recovery code by an `UPDATE … WHERE
//! used_at IS NULL`, a ticket by its `DELETE`.

use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::Set;
use sea_orm::{Condition, QueryOrder, QuerySelect};

use super::{now_ts, ts};
use crate::entities::{login_ticket, recovery_code, remembered_browser, totp_secret};

// --- TOTP -----------------------------------------------------------------

/// The user's TOTP row, pending or on.
pub async fn totp<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Option<totp_secret::Model>, DbErr> {
    totp_secret::Entity::find_by_id(user_id).one(db).await
}

/// Whether the user has two-step login on.
pub async fn has_totp<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<bool, DbErr> {
    let on = totp_secret::Entity::find()
        .filter(totp_secret::Column::UserId.eq(user_id))
        .filter(totp_secret::Column::EnabledAt.is_not_null())
        .count(db)
        .await?;
    Ok(on > 0)
}

/// Which of `user_ids` have two-step login on (a page of the admin list).
pub async fn with_totp<C: ConnectionTrait>(db: &C, user_ids: &[i64]) -> Result<Vec<i64>, DbErr> {
    totp_secret::Entity::find()
        .select_only()
        .column(totp_secret::Column::UserId)
        .filter(totp_secret::Column::UserId.is_in(user_ids.iter().copied()))
        .filter(totp_secret::Column::EnabledAt.is_not_null())
        .into_tuple()
        .all(db)
        .await
}

/// Stores a pending secret for the user, unless one exists (pending or
/// on); returns the row that is there now. Two tabs opening the page at
/// once show the same secret.
pub async fn pending_totp<C: ConnectionTrait>(db: &C, user_id: i64, secret: String) -> Result<totp_secret::Model, DbErr> {
    let row = totp_secret::ActiveModel {
        user_id: Set(user_id),
        secret: Set(secret),
        last_step: Set(None),
        created_at: Set(now_ts()),
        enabled_at: Set(None),
    };
    match totp_secret::Entity::insert(row).exec_without_returning(db).await {
        Ok(_) => {}
        Err(e) if super::is_unique_violation(&e) => {}
        Err(e) => return Err(e),
    }
    totp(db, user_id).await?.ok_or_else(|| DbErr::RecordNotFound("the TOTP row just written".into()))
}

/// Turns two-step login on with the pending `secret`, taking `step` as the
/// first accepted one. `false` when that secret is no longer the pending
/// one (turned on already, or replaced).
pub async fn enable_totp<C: ConnectionTrait>(db: &C, user_id: i64, secret: &str, step: i64) -> Result<bool, DbErr> {
    let result = totp_secret::Entity::update_many()
        .col_expr(totp_secret::Column::EnabledAt, Expr::value(Some(now_ts())))
        .col_expr(totp_secret::Column::LastStep, Expr::value(Some(step)))
        .filter(totp_secret::Column::UserId.eq(user_id))
        .filter(totp_secret::Column::Secret.eq(secret))
        .filter(totp_secret::Column::EnabledAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Accepts a code of `step` for the user: `true` for the one caller that
/// moved `last_step` forward to it; `false` when it is not after the last
/// accepted step (a replay, here or on another instance).
pub async fn take_step<C: ConnectionTrait>(db: &C, user_id: i64, step: i64) -> Result<bool, DbErr> {
    let result = totp_secret::Entity::update_many()
        .col_expr(totp_secret::Column::LastStep, Expr::value(Some(step)))
        .filter(totp_secret::Column::UserId.eq(user_id))
        .filter(totp_secret::Column::EnabledAt.is_not_null())
        .filter(Condition::any().add(totp_secret::Column::LastStep.is_null()).add(totp_secret::Column::LastStep.lt(step)))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Removes the user's TOTP secret and recovery codes; whether TOTP was on.
pub async fn remove_totp<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<bool, DbErr> {
    let was_on = has_totp(db, user_id).await?;
    recovery_code::Entity::delete_many().filter(recovery_code::Column::UserId.eq(user_id)).exec(db).await?;
    // A pending secret goes too.
    totp_secret::Entity::delete_many().filter(totp_secret::Column::UserId.eq(user_id)).exec(db).await?;
    Ok(was_on)
}

// --- Recovery codes -------------------------------------------------------

/// Replaces the user's recovery codes with these hashes.
pub async fn replace_recovery_codes<C: ConnectionTrait>(db: &C, user_id: i64, hashes: Vec<String>) -> Result<(), DbErr> {
    recovery_code::Entity::delete_many().filter(recovery_code::Column::UserId.eq(user_id)).exec(db).await?;
    let rows = hashes.into_iter().map(|code_hash| recovery_code::ActiveModel {
        user_id: Set(user_id),
        code_hash: Set(code_hash),
        created_at: Set(now_ts()),
        used_at: Set(None),
        ..Default::default()
    });
    recovery_code::Entity::insert_many(rows).exec_without_returning(db).await.map(drop)
}

/// Uses the user's unused recovery code with this hash: `true` for the one
/// caller that marked it used.
pub async fn use_recovery_code<C: ConnectionTrait>(db: &C, user_id: i64, code_hash: &str) -> Result<bool, DbErr> {
    let result = recovery_code::Entity::update_many()
        .col_expr(recovery_code::Column::UsedAt, Expr::value(Some(now_ts())))
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::CodeHash.eq(code_hash))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// How many of the user's recovery codes are unused.
pub async fn recovery_codes_left<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<u64, DbErr> {
    recovery_code::Entity::find()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::UsedAt.is_null())
        .count(db)
        .await
}

// --- Remembered browsers --------------------------------------------------

/// What a remembered browser is stored with.
pub struct NewBrowser<'a> {
    pub token_hash: String,
    pub device: &'a str,
    pub ip_address: Option<&'a str>,
    pub expires_at: i64,
}

pub async fn remember_browser<C: ConnectionTrait>(db: &C, user_id: i64, new: NewBrowser<'_>) -> Result<(), DbErr> {
    let row = remembered_browser::ActiveModel {
        public_id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        token_hash: Set(new.token_hash),
        device: Set(new.device.chars().take(160).collect()),
        ip_address: Set(new.ip_address.map(|ip| ip.chars().take(64).collect())),
        created_at: Set(now_ts()),
        last_used_at: Set(None),
        expires_at: Set(ts(new.expires_at)),
        ..Default::default()
    };
    remembered_browser::Entity::insert(row).exec_without_returning(db).await.map(drop)
}

/// Whether the token of a browser's cookie is a live remembered browser of
/// this user; notes its use when it is.
pub async fn browser_remembered<C: ConnectionTrait>(db: &C, user_id: i64, token_hash: &str) -> Result<bool, DbErr> {
    let result = remembered_browser::Entity::update_many()
        .col_expr(remembered_browser::Column::LastUsedAt, Expr::value(Some(now_ts())))
        .filter(remembered_browser::Column::UserId.eq(user_id))
        .filter(remembered_browser::Column::TokenHash.eq(token_hash))
        .filter(remembered_browser::Column::ExpiresAt.gt(now_ts()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The user's live remembered browsers, newest first.
pub async fn browsers<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Vec<remembered_browser::Model>, DbErr> {
    remembered_browser::Entity::find()
        .filter(remembered_browser::Column::UserId.eq(user_id))
        .filter(remembered_browser::Column::ExpiresAt.gt(now_ts()))
        .order_by_desc(remembered_browser::Column::Id)
        .all(db)
        .await
}

/// Forgets one of the user's remembered browsers; whether it was theirs.
pub async fn forget_browser<C: ConnectionTrait>(db: &C, user_id: i64, public_id: Uuid) -> Result<bool, DbErr> {
    let result = remembered_browser::Entity::delete_many()
        .filter(remembered_browser::Column::UserId.eq(user_id))
        .filter(remembered_browser::Column::PublicId.eq(public_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Forgets every remembered browser of the user; how many.
pub async fn forget_browsers<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<u64, DbErr> {
    let result = remembered_browser::Entity::delete_many().filter(remembered_browser::Column::UserId.eq(user_id)).exec(db).await?;
    Ok(result.rows_affected)
}

// --- Tickets of half-done logins ----------------------------------------

pub async fn issue_ticket<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    purpose: &str,
    token_hash: String,
    (next_path, provider): (Option<String>, Option<String>),
    expires_at: i64,
) -> Result<(), DbErr> {
    let row = login_ticket::ActiveModel {
        token_hash: Set(token_hash),
        user_id: Set(user_id),
        purpose: Set(purpose.to_owned()),
        next_path: Set(next_path),
        provider: Set(provider),
        created_at: Set(now_ts()),
        expires_at: Set(ts(expires_at)),
        ..Default::default()
    };
    login_ticket::Entity::insert(row).exec_without_returning(db).await.map(drop)
}

/// The live ticket of `purpose` with this hash.
pub async fn ticket<C: ConnectionTrait>(db: &C, purpose: &str, token_hash: &str) -> Result<Option<login_ticket::Model>, DbErr> {
    login_ticket::Entity::find()
        .filter(login_ticket::Column::TokenHash.eq(token_hash))
        .filter(login_ticket::Column::Purpose.eq(purpose))
        .filter(login_ticket::Column::ExpiresAt.gt(now_ts()))
        .one(db)
        .await
}

/// Uses a ticket up: `true` for the one caller that deleted it.
pub async fn spend_ticket<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool, DbErr> {
    let result = login_ticket::Entity::delete_many().filter(login_ticket::Column::Id.eq(id)).exec(db).await?;
    Ok(result.rows_affected == 1)
}

/// Every half-done login of the user ends (their factors were reset).
pub async fn drop_tickets<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<(), DbErr> {
    login_ticket::Entity::delete_many().filter(login_ticket::Column::UserId.eq(user_id)).exec(db).await.map(drop)
}

