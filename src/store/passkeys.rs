//! Queries on passkeys and on the ceremonies that register or use them.
//!
//! A ceremony is taken by deleting its row: of two finishes of one
//! challenge, on any instances, exactly one deletes it, so a challenge
//! works once.

use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::Set;
use sea_orm::{QueryOrder, QuerySelect};

use super::{now_ts, ts};
use crate::entities::{passkey, passkey_ceremony};

/// The user's passkeys, oldest first.
pub async fn of_user<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Vec<passkey::Model>, DbErr> {
    passkey::Entity::find().filter(passkey::Column::UserId.eq(user_id)).order_by_asc(passkey::Column::Id).all(db).await
}

pub async fn has_any<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<bool, DbErr> {
    Ok(passkey::Entity::find().filter(passkey::Column::UserId.eq(user_id)).count(db).await? > 0)
}

/// Which of `user_ids` have a passkey (a page of the admin list).
pub async fn with_passkeys<C: ConnectionTrait>(db: &C, user_ids: &[i64]) -> Result<Vec<i64>, DbErr> {
    passkey::Entity::find()
        .select_only()
        .column(passkey::Column::UserId)
        .distinct()
        .filter(passkey::Column::UserId.is_in(user_ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await
}

/// The passkey whose credential id hashes to `credential_key`.
pub async fn by_credential<C: ConnectionTrait>(db: &C, credential_key: &str) -> Result<Option<passkey::Model>, DbErr> {
    passkey::Entity::find().filter(passkey::Column::CredentialKey.eq(credential_key)).one(db).await
}

pub struct NewPasskey {
    pub credential_key: String,
    pub credential: String,
    pub name: String,
}

/// Stores a new passkey; `None` when its credential is registered already
/// (to this account or another).
pub async fn add<C: ConnectionTrait>(db: &C, user_id: i64, new: NewPasskey) -> Result<Option<Uuid>, DbErr> {
    let public_id = Uuid::new_v4();
    let row = passkey::ActiveModel {
        public_id: Set(public_id),
        user_id: Set(user_id),
        credential_key: Set(new.credential_key),
        credential: Set(new.credential),
        name: Set(new.name),
        sign_count: Set(0),
        created_at: Set(now_ts()),
        last_used_at: Set(None),
        ..Default::default()
    };
    match passkey::Entity::insert(row).exec_without_returning(db).await {
        Ok(_) => Ok(Some(public_id)),
        Err(e) if super::is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Records a use: the credential as updated (its counter) and the time.
/// A nonzero `sign_count` is written only over a lower one, so of two
/// signatures with one count (a key and its copy, at once, on any
/// instances) exactly one is recorded: `false` for the other.
pub async fn used<C: ConnectionTrait>(db: &C, id: i64, credential: Option<String>, sign_count: i64) -> Result<bool, DbErr> {
    let mut update = passkey::Entity::update_many()
        .col_expr(passkey::Column::LastUsedAt, Expr::value(Some(now_ts())))
        .col_expr(passkey::Column::SignCount, Expr::value(sign_count))
        .filter(passkey::Column::Id.eq(id));
    if sign_count > 0 {
        update = update.filter(passkey::Column::SignCount.lt(sign_count));
    }
    if let Some(credential) = credential {
        update = update.col_expr(passkey::Column::Credential, Expr::value(credential));
    }
    let written = update.exec(db).await?.rows_affected == 1;
    // Without a counter there is nothing to decide (and MySQL counts a row
    // whose values did not change as not written).
    Ok(written || sign_count == 0)
}

/// Removes one of the user's passkeys; whether it was theirs.
pub async fn remove<C: ConnectionTrait>(db: &C, user_id: i64, public_id: Uuid) -> Result<bool, DbErr> {
    let result = passkey::Entity::delete_many()
        .filter(passkey::Column::UserId.eq(user_id))
        .filter(passkey::Column::PublicId.eq(public_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Removes every passkey of the user (an admin's reset); how many.
pub async fn remove_all<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<u64, DbErr> {
    let result = passkey::Entity::delete_many().filter(passkey::Column::UserId.eq(user_id)).exec(db).await?;
    Ok(result.rows_affected)
}

// --- Ceremonies -----------------------------------------------------------

pub async fn begin<C: ConnectionTrait>(
    db: &C,
    kind: &str,
    user_id: Option<i64>,
    token_hash: String,
    state: String,
    expires_at: i64,
) -> Result<(), DbErr> {
    let row = passkey_ceremony::ActiveModel {
        token_hash: Set(token_hash),
        kind: Set(kind.to_owned()),
        user_id: Set(user_id),
        state: Set(state),
        created_at: Set(now_ts()),
        expires_at: Set(ts(expires_at)),
        ..Default::default()
    };
    passkey_ceremony::Entity::insert(row).exec_without_returning(db).await.map(drop)
}

/// Takes the live ceremony of `kind` with this hash: read, then deleted;
/// `None` for the caller that did not delete it (used already, here or on
/// another instance), and for an unknown or expired one.
pub async fn take<C: ConnectionTrait>(db: &C, kind: &str, token_hash: &str) -> Result<Option<passkey_ceremony::Model>, DbErr> {
    let Some(row) = passkey_ceremony::Entity::find()
        .filter(passkey_ceremony::Column::TokenHash.eq(token_hash))
        .filter(passkey_ceremony::Column::Kind.eq(kind))
        .filter(passkey_ceremony::Column::ExpiresAt.gt(now_ts()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let deleted = passkey_ceremony::Entity::delete_many().filter(passkey_ceremony::Column::Id.eq(row.id)).exec(db).await?;
    Ok((deleted.rows_affected == 1).then_some(row))
}

/// Records the ceremony whose token has this hash as spent, until it
/// expires; `false` when it was spent already (the unique hash decides
/// between two finishes at once, on any instance).
pub async fn spend<C: ConnectionTrait>(db: &C, kind: &str, token_hash: String, expires_at: i64) -> Result<bool, DbErr> {
    match begin(db, kind, None, token_hash, String::new(), expires_at).await {
        Ok(()) => Ok(true),
        Err(e) if super::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

