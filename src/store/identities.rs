//! Queries on `linked_identities`: accounts linked to a person at an
//! OpenID Connect provider, found by (`issuer`, `subject`).

use sea_orm::prelude::*;
use sea_orm::ActiveValue::Set;
use sea_orm::{QueryOrder, QuerySelect};

use super::{is_unique_violation, now_ts};
use crate::entities::{linked_identity, passkey, user};

/// A person at a provider, as its ID token named them.
pub struct NewIdentity<'a> {
    pub provider: &'a str,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a str>,
}

/// Links the person to `user_id`; `None` when the person is linked
/// already (to anyone) or the account has a person at this provider (the
/// unique indexes decide, on any instance).
pub async fn link<C: ConnectionTrait>(db: &C, user_id: i64, new: NewIdentity<'_>) -> Result<Option<linked_identity::Model>, DbErr> {
    let now = now_ts();
    let row = linked_identity::ActiveModel {
        public_id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        provider: Set(new.provider.to_owned()),
        issuer: Set(new.issuer.to_owned()),
        subject: Set(new.subject.to_owned()),
        email: Set(new.email.map(str::to_owned)),
        linked_at: Set(now),
        last_used_at: Set(Some(now)),
        ..Default::default()
    };
    match row.insert(db).await {
        Ok(row) => Ok(Some(row)),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The link of the person (`issuer`, `subject`), if any.
pub async fn find<C: ConnectionTrait>(db: &C, issuer: &str, subject: &str) -> Result<Option<linked_identity::Model>, DbErr> {
    linked_identity::Entity::find()
        .filter(linked_identity::Column::Issuer.eq(issuer))
        .filter(linked_identity::Column::Subject.eq(subject))
        .one(db)
        .await
}

/// The account's links, oldest first.
pub async fn of_user<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Vec<linked_identity::Model>, DbErr> {
    linked_identity::Entity::find()
        .filter(linked_identity::Column::UserId.eq(user_id))
        .order_by_asc(linked_identity::Column::Id)
        .all(db)
        .await
}

/// Records a login through the link.
pub async fn used<C: ConnectionTrait>(db: &C, id: i64) -> Result<(), DbErr> {
    linked_identity::Entity::update_many()
        .col_expr(linked_identity::Column::LastUsedAt, Expr::value(Some(now_ts())))
        .filter(linked_identity::Column::Id.eq(id))
        .exec(db)
        .await
        .map(drop)
}

/// What [`unlink`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlinked {
    /// The link removed.
    Done(linked_identity::Model),
    /// The account has no link `public_id`.
    NotFound,
    /// It is the account's last way to log in: left in place.
    LastWay,
}

/// Removes the account's link `public_id` unless it is the last way left
/// to log in. Run in a transaction: it first writes the account's row,
/// which takes SQLite's write lock and the row's lock on PostgreSQL and
/// MySQL, so two unlinks of one account at once are decided one after
/// the other and cannot both remove a last way.
pub async fn unlink<C: ConnectionTrait>(txn: &C, user_id: i64, public_id: Uuid) -> Result<Unlinked, DbErr> {
    user::Entity::update_many()
        .col_expr(user::Column::UpdatedAt, Expr::col(user::Column::UpdatedAt).into())
        .filter(user::Column::Id.eq(user_id))
        .exec(txn)
        .await?;
    let mut links = of_user(txn, user_id).await?;
    let Some(at) = links.iter().position(|link| link.public_id == public_id) else {
        return Ok(Unlinked::NotFound);
    };
    if links.len() == 1 && other_ways(txn, user_id).await? == 0 {
        return Ok(Unlinked::LastWay);
    }
    let link = links.swap_remove(at);
    linked_identity::Entity::delete_by_id(link.id).exec(txn).await?;
    Ok(Unlinked::Done(link))
}

/// How many ways the account has to log in other than its links: a
/// password, and each passkey (a passkey signs in on its own).
pub async fn other_ways<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<u64, DbErr> {
    let has_password = user::Entity::find_by_id(user_id)
        .select_only()
        .column(user::Column::PasswordHash)
        .into_tuple::<String>()
        .one(db)
        .await?
        .is_some_and(|hash| !hash.is_empty());
    let passkeys = passkey::Entity::find().filter(passkey::Column::UserId.eq(user_id)).count(db).await?;
    Ok(u64::from(has_password) + passkeys)
}
