//! Queries on `known_devices` (migration 19): the devices each account has
//! logged in from, a row each, so that a login asks one indexed question
//! whatever the account's history.

use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, QuerySelect};

use super::now_ts;
use crate::entities::known_device::{self, Column};

/// The family of an account whose devices are still to be read from its
/// older sessions (migration 19's mark).
const UNREAD: &str = "";
/// The column's width.
const FAMILY_MAX: usize = 100;

/// What a login's device was to its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Before,
    /// Now for the first time, and recorded.
    First,
    /// Not among the devices known since migration 19, now recorded; the
    /// account's older sessions are still to be read (the caller does,
    /// with [`remember`]).
    NotSinceUpgrade,
}

fn of(family: &str) -> String {
    family.chars().take(FAMILY_MAX).collect()
}

/// Records `family` for the account and says whether it was known. In the
/// login's transaction, after the user's row was written, so the account's
/// logins take turns and each device is first once.
pub async fn first_use<C: ConnectionTrait>(db: &C, user_id: i64, family: &str) -> Result<Seen, DbErr> {
    let family = of(family);
    let found: Vec<String> = known_device::Entity::find()
        .select_only()
        .column(Column::Family)
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Family.is_in([family.as_str(), UNREAD]))
        .into_tuple()
        .all(db)
        .await?;
    if found.contains(&family) {
        return Ok(Seen::Before);
    }
    insert(db, user_id, family).await?;
    if !found.iter().any(|f| f == UNREAD) {
        return Ok(Seen::First);
    }
    known_device::Entity::delete_many().filter(Column::UserId.eq(user_id)).filter(Column::Family.eq(UNREAD)).exec(db).await?;
    Ok(Seen::NotSinceUpgrade)
}

/// Records the families the account had used before, each once.
pub async fn remember<C: ConnectionTrait>(db: &C, user_id: i64, families: impl IntoIterator<Item = String>) -> Result<(), DbErr> {
    let families: std::collections::BTreeSet<String> = families.into_iter().map(|f| of(&f)).filter(|f| f != UNREAD).collect();
    let known: Vec<String> = known_device::Entity::find()
        .select_only()
        .column(Column::Family)
        .filter(Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    for family in families.into_iter().filter(|f| !known.contains(f)) {
        insert(db, user_id, family).await?;
    }
    Ok(())
}

async fn insert<C: ConnectionTrait>(db: &C, user_id: i64, family: String) -> Result<(), DbErr> {
    let row = known_device::ActiveModel { user_id: Set(user_id), family: Set(family), first_seen_at: Set(now_ts()), ..Default::default() };
    known_device::Entity::insert(row).exec_without_returning(db).await.map(drop)
}
