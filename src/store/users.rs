//! Queries on `users`.

use sea_orm::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ActiveValue::Set, Condition, QueryOrder, QuerySelect};

use super::{is_unique_violation, like_pattern, now_ts, Page};
use crate::domain::{Email, FieldErrors, Role, Username};
use crate::entities::user;
use crate::error::AppError;

/// A user ready to be inserted: every field already valid, password hashed.
pub struct NewUser {
    pub email: Email,
    pub username: Username,
    pub password_hash: String,
    pub role: Role,
}

pub async fn create<C: ConnectionTrait>(db: &C, new: NewUser) -> Result<user::Model, AppError> {
    let now = now_ts();
    let model = user::ActiveModel {
        public_id: Set(Uuid::new_v4()),
        email: Set(new.email.as_str().to_owned()),
        username: Set(new.username.as_str().to_owned()),
        username_key: Set(new.username.key()),
        password_hash: Set(new.password_hash),
        role: Set(new.role),
        disabled_at: Set(None),
        tokens_valid_after: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    match model.insert(db).await {
        Ok(user) => Ok(user),
        // Two sign-ups raced past the pre-check: say which field is taken.
        Err(e) if is_unique_violation(&e) => Err(AppError::Conflict(taken(db, &new.email, &new.username).await?)),
        Err(e) => Err(e.into()),
    }
}

/// Which of `email` and `username` already belong to someone.
pub async fn taken<C: ConnectionTrait>(db: &C, email: &Email, username: &Username) -> Result<FieldErrors, DbErr> {
    let rows = user::Entity::find()
        .filter(
            Condition::any()
                .add(user::Column::Email.eq(email.as_str()))
                .add(user::Column::UsernameKey.eq(username.key())),
        )
        .all(db)
        .await?;
    let mut errors = FieldErrors::new();
    for row in rows {
        if row.email == email.as_str() {
            errors.add("email", "An account with this email already exists.");
        }
        if row.username_key == username.key() {
            errors.add("username", "This username is taken.");
        }
    }
    Ok(errors)
}

pub async fn find_by_email<C: ConnectionTrait>(db: &C, email: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find().filter(user::Column::Email.eq(email.trim().to_lowercase())).one(db).await
}

pub async fn find_by_public_id<C: ConnectionTrait>(db: &C, public_id: Uuid) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find().filter(user::Column::PublicId.eq(public_id)).one(db).await
}

pub async fn set_password_hash<C: ConnectionTrait>(db: &C, id: i64, hash: String) -> Result<(), DbErr> {
    user::ActiveModel { id: Set(id), password_hash: Set(hash), updated_at: Set(now_ts()), ..Default::default() }
        .update(db)
        .await
        .map(drop)
}

pub async fn set_role<C: ConnectionTrait>(db: &C, id: i64, role: Role) -> Result<(), DbErr> {
    user::ActiveModel { id: Set(id), role: Set(role), updated_at: Set(now_ts()), ..Default::default() }
        .update(db)
        .await
        .map(drop)
}

pub async fn set_disabled<C: ConnectionTrait>(db: &C, id: i64, disabled: bool) -> Result<(), DbErr> {
    let now = now_ts();
    let disabled_at = disabled.then_some(now);
    user::ActiveModel { id: Set(id), disabled_at: Set(disabled_at), updated_at: Set(now), ..Default::default() }
        .update(db)
        .await
        .map(drop)
}

/// Tokens issued before now stop working (SPEC §3, "log out everywhere").
pub async fn bump_tokens_valid_after<C: ConnectionTrait>(db: &C, id: i64) -> Result<(), DbErr> {
    let now = now_ts();
    user::ActiveModel { id: Set(id), tokens_valid_after: Set(now), updated_at: Set(now), ..Default::default() }
        .update(db)
        .await
        .map(drop)
}

/// Deletes the user; their recipes and sessions go by `ON DELETE CASCADE`.
pub async fn delete<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool, DbErr> {
    Ok(user::Entity::delete_by_id(id).exec(db).await?.rows_affected > 0)
}

/// Users, newest first, optionally those whose email or username contains `q`.
pub async fn list<C: ConnectionTrait>(db: &C, q: Option<&str>, page: u64, per_page: u64) -> Result<Page<user::Model>, DbErr> {
    let mut query = user::Entity::find();
    if let Some(q) = q.filter(|q| !q.is_empty()) {
        let pattern = like_pattern(q);
        query = query.filter(
            Condition::any()
                .add(Expr::col(user::Column::Email).like(LikeExpr::new(&pattern).escape('!')))
                .add(Expr::expr(Func::lower(Expr::col(user::Column::Username))).like(LikeExpr::new(&pattern).escape('!'))),
        );
    }
    let total = query.clone().count(db).await?;
    let items = query
        .order_by_desc(user::Column::CreatedAt)
        .order_by_desc(user::Column::Id)
        .offset((page - 1) * per_page)
        .limit(per_page)
        .all(db)
        .await?;
    Ok(Page { items, page, per_page, total })
}
