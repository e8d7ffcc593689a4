//! Queries on `users`.

use sea_orm::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{ActiveValue::Set, Condition, DbBackend, QueryOrder, QuerySelect, TransactionSession, TransactionTrait};

use super::{is_unique_violation, like_pattern, now_ts, Page};
use crate::domain::{Email, FieldErrors, Role, Username};
use crate::entities::user;
use crate::error::AppError;

/// A user ready to be inserted: every field already valid, password hashed.
pub struct NewUser {
    pub email: Email,
    pub username: Username,
    /// Empty for an account made through a provider: no password until
    /// its owner sets one (`user::Model::password_hash`).
    pub password_hash: String,
    pub role: Role,
    /// Whether the address is verified already (a provider said so).
    pub email_verified: bool,
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
        last_login_at: Set(None),
        email_verified_at: Set(new.email_verified.then_some(now)),
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

pub async fn find_by_id<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(id).one(db).await
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

/// A change that may take an admin away.
#[derive(Debug, Clone, Copy)]
pub enum AdminChange {
    Role(Role),
    Disabled(bool),
    Delete,
}

impl AdminChange {
    fn can_remove_an_admin(self) -> bool {
        matches!(self, AdminChange::Role(Role::User) | AdminChange::Disabled(true) | AdminChange::Delete)
    }
}

/// An admin who can act: the admin role and not disabled.
fn active_admin() -> Condition {
    Condition::all().add(user::Column::Role.eq(Role::Admin)).add(user::Column::DisabledAt.is_null())
}

/// Applies `change` to `target`, unless it would leave no active admin
/// (`AppError::LastAdmin`) or the user is gone (`NotFound`); returns the
/// user as they were just before the change.
///
/// The target's row and every active admin's are locked in id order, in
/// one statement (`SELECT … FOR UPDATE` on PostgreSQL and MySQL), so of two
/// admins demoting each other at once the second waits, sees the first
/// change, and is refused, and the two cannot deadlock. SQLite has no row
/// locks: there the transaction takes the database's write lock with its
/// first statement, so the check and the change see no other writer.
pub async fn change_as_admin<C: TransactionTrait>(db: &C, target: &user::Model, change: AdminChange) -> Result<user::Model, AppError> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Sqlite {
        user::Entity::update_many()
            .col_expr(user::Column::UpdatedAt, Expr::col(user::Column::UpdatedAt))
            .filter(user::Column::Id.eq(target.id))
            .exec(&txn)
            .await?;
    }
    let locked = user::Entity::find()
        .filter(Condition::any().add(active_admin()).add(user::Column::Id.eq(target.id)))
        .order_by_asc(user::Column::Id)
        .lock_exclusive()
        .all(&txn)
        .await?;
    let current = locked.iter().find(|u| u.id == target.id).cloned().ok_or(AppError::NotFound)?;
    if change.can_remove_an_admin() {
        let active_admins: Vec<i64> = locked.iter().filter(|u| u.role == Role::Admin && u.disabled_at.is_none()).map(|u| u.id).collect();
        if active_admins == [target.id] {
            return Err(AppError::LastAdmin);
        }
    }
    let now = now_ts();
    let row = |model: user::ActiveModel| user::ActiveModel { id: Set(target.id), updated_at: Set(now), ..model };
    match change {
        AdminChange::Role(role) => {
            row(user::ActiveModel { role: Set(role), ..Default::default() }).update(&txn).await?;
        }
        AdminChange::Disabled(disabled) => {
            row(user::ActiveModel { disabled_at: Set(disabled.then_some(now)), ..Default::default() }).update(&txn).await?;
        }
        AdminChange::Delete => {
            user::Entity::delete_by_id(target.id).exec(&txn).await?;
        }
    }
    txn.commit().await?;
    Ok(current)
}

/// Whether `target` is the only active admin (a read without locks, for
/// the confirmation pages; `change_as_admin` checks again under lock).
pub async fn is_last_active_admin<C: ConnectionTrait>(db: &C, target: &user::Model) -> Result<bool, DbErr> {
    if target.role != Role::Admin || target.disabled_at.is_some() {
        return Ok(false);
    }
    let others = user::Entity::find()
        .filter(active_admin())
        .filter(user::Column::Id.ne(target.id))
        .count(db)
        .await?;
    Ok(others == 0)
}

/// Gives a user the admin role, for the command line (`user promote`).
pub async fn set_role<C: ConnectionTrait>(db: &C, id: i64, role: Role) -> Result<(), DbErr> {
    user::ActiveModel { id: Set(id), role: Set(role), updated_at: Set(now_ts()), ..Default::default() }
        .update(db)
        .await
        .map(drop)
}

/// Marks `email` as the user's verified address (an email change takes
/// effect here). A unique violation means someone else took the address
/// meanwhile: 409 on `email`.
pub async fn set_verified_email<C: ConnectionTrait>(db: &C, id: i64, email: &str) -> Result<(), AppError> {
    let now = now_ts();
    let update = user::ActiveModel {
        id: Set(id),
        email: Set(email.to_owned()),
        email_verified_at: Set(Some(now)),
        updated_at: Set(now),
        ..Default::default()
    };
    match update.update(db).await {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => {
            Err(AppError::Conflict(FieldErrors::single("email", "An account with this email already exists.")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Notes that the user started a session just now.
pub async fn record_login<C: ConnectionTrait>(db: &C, id: i64) -> Result<(), DbErr> {
    user::ActiveModel { id: Set(id), last_login_at: Set(Some(now_ts())), ..Default::default() }.update(db).await.map(drop)
}

/// Tokens issued before now stop working (SPEC §3, "log out everywhere").
pub async fn bump_tokens_valid_after<C: ConnectionTrait>(db: &C, id: i64) -> Result<(), DbErr> {
    let now = now_ts();
    user::ActiveModel { id: Set(id), tokens_valid_after: Set(now), updated_at: Set(now), ..Default::default() }
        .update(db)
        .await
        .map(drop)
}

/// Every user's `tokens_valid_after` moves to now.
pub async fn cut_off_everyone<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let now = now_ts();
    let update = user::Entity::update_many()
        .col_expr(user::Column::TokensValidAfter, Expr::value(now))
        .col_expr(user::Column::UpdatedAt, Expr::value(now));
    Ok(update.exec(db).await?.rows_affected)
}

/// Users, newest first, optionally those whose email or username contains
/// `q` (literally and case-insensitively: both columns are stored folded).
pub async fn list<C: ConnectionTrait>(
    db: &C,
    q: Option<&str>,
    page: u64,
    per_page: u64,
) -> Result<Page<user::Model>, DbErr> {
    let mut query = user::Entity::find();
    if let Some(q) = q.filter(|q| !q.is_empty()) {
        let pattern = like_pattern(q);
        query = query.filter(
            Condition::any()
                .add(Expr::col(user::Column::Email).like(LikeExpr::new(&pattern).escape('!')))
                .add(Expr::col(user::Column::UsernameKey).like(LikeExpr::new(&pattern).escape('!'))),
        );
    }
    let total = query.clone().count(db).await?;
    let items = query
        .order_by_desc(user::Column::CreatedAt)
        .order_by_desc(user::Column::Id)
        .offset(page.saturating_sub(1).saturating_mul(per_page))
        .limit(per_page)
        .all(db)
        .await?;
    Ok(Page { items, page, per_page, total })
}
