//! Queries on the keyring (migration 20): `signing_keys`, the `keyring`
//! row, and the `keys` version that triggers change with every write to
//! `signing_keys`.

use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, FromQueryResult, QueryOrder, Statement};

use super::{now_ts, ts};
use crate::entities::{keyring, signing_key};

pub(super) const KEYS: &str = "(SELECT value FROM versions WHERE name = 'keys')";

#[derive(FromQueryResult)]
struct VersionRow {
    version: i64,
}

/// The `keys` version now.
pub async fn version<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let statement = Statement::from_string(db.get_database_backend(), format!("SELECT {KEYS} AS version"));
    let row = VersionRow::find_by_statement(statement).one(db).await?;
    row.map(|row| row.version).ok_or_else(|| DbErr::RecordNotFound("the keys' version".into()))
}

/// The keyring's row.
pub async fn ring<C: ConnectionTrait>(db: &C) -> Result<keyring::Model, DbErr> {
    keyring::Entity::find_by_id(1).one(db).await?.ok_or_else(|| DbErr::RecordNotFound("the keyring's row (migration 20)".into()))
}

/// Every key, oldest first.
pub async fn all<C: ConnectionTrait>(db: &C) -> Result<Vec<signing_key::Model>, DbErr> {
    signing_key::Entity::find().order_by_asc(signing_key::Column::Id).all(db).await
}

/// Writes the keyring's row, first thing in a transaction that changes
/// the keyring: such transactions then take turns (the row's lock on
/// PostgreSQL and MariaDB, the write lock on SQLite), and each decides
/// from what the one before it committed.
pub async fn take_turn<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    keyring::Entity::update_many().col_expr(keyring::Column::ChangedAt, Expr::value(now_ts())).filter(keyring::Column::Id.eq(1)).exec(db).await.map(drop)
}

/// A key to add.
pub struct NewKey {
    pub kid: String,
    pub algorithm: &'static str,
    pub state: &'static str,
    pub material: Vec<u8>,
    /// For a `next` key: when it becomes active.
    pub activates_at: Option<i64>,
}

pub async fn insert<C: ConnectionTrait>(db: &C, key: NewKey) -> Result<(), DbErr> {
    let now = now_ts();
    let active = key.state == "active";
    let row = signing_key::ActiveModel {
        kid: Set(key.kid),
        algorithm: Set(key.algorithm.to_owned()),
        state: Set(key.state.to_owned()),
        material: Set(key.material),
        created_at: Set(now),
        activates_at: Set(key.activates_at.map(ts)),
        activated_at: Set(active.then_some(now)),
        ..Default::default()
    };
    signing_key::Entity::insert(row).exec_without_returning(db).await.map(drop)
}

/// Moves the key `kid` from state `from` to `to`, stamping the moment of
/// the new state; whether it was in `from`.
pub async fn set_state<C: ConnectionTrait>(db: &C, kid: &str, from: &str, to: &'static str) -> Result<bool, DbErr> {
    let stamp = match to {
        "active" => Some(signing_key::Column::ActivatedAt),
        "retired" => Some(signing_key::Column::RetiredAt),
        "revoked" => Some(signing_key::Column::RevokedAt),
        _ => None,
    };
    let mut update = signing_key::Entity::update_many().col_expr(signing_key::Column::State, Expr::value(to));
    if let Some(stamp) = stamp {
        update = update.col_expr(stamp, Expr::value(Some(now_ts())));
    }
    let result = update.filter(signing_key::Column::Kid.eq(kid)).filter(signing_key::Column::State.eq(from)).exec(db).await?;
    Ok(result.rows_affected == 1)
}

/// Deletes the keys that stopped (`retired` or `revoked`) before `before`
/// (Unix seconds): every token a retired key signed has expired by then,
/// and a revoked key's tokens are refused by their `exp` alone (an unknown
/// `kid` is refused too). How many.
pub async fn delete_stopped<C: ConnectionTrait>(db: &C, state: &str, before: i64) -> Result<u64, DbErr> {
    let stopped_at = if state == "revoked" { signing_key::Column::RevokedAt } else { signing_key::Column::RetiredAt };
    let result = signing_key::Entity::delete_many()
        .filter(signing_key::Column::State.eq(state))
        .filter(stopped_at.lt(ts(before)))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
