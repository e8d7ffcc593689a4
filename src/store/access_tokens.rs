//! Queries on `access_tokens`: personal access tokens (`crate::pat`), found
//! by the SHA-256 of the token.

use sea_orm::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::ActiveValue::Set;
use sea_orm::{Condition, FromQueryResult, QueryOrder, StatementBuilder};

use time::OffsetDateTime;

use super::{now_ts, ts};
use crate::domain::Role;
use crate::entities::{access_token, user};

/// What a new token records (its text is never stored, only `hash`).
pub struct NewToken<'a> {
    pub name: &'a str,
    pub scopes: &'a str,
    pub hash: &'a str,
    /// The instant `expires_at` was counted from.
    pub created_at: OffsetDateTime,
    /// Unix seconds.
    pub expires_at: i64,
}

pub async fn create<C: ConnectionTrait>(db: &C, user_id: i64, new: NewToken<'_>) -> Result<access_token::Model, DbErr> {
    access_token::ActiveModel {
        public_id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        name: Set(new.name.to_owned()),
        scopes: Set(new.scopes.to_owned()),
        token_hash: Set(new.hash.to_owned()),
        created_at: Set(TimeUnixTimestamp(new.created_at)),
        expires_at: Set(ts(new.expires_at)),
        last_used_at: Set(None),
        last_used_ip: Set(None),
        revoked_at: Set(None),
        expiry_noticed_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Every token the user has (live, revoked or expired until purged),
/// newest first.
pub async fn of_user<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Vec<access_token::Model>, DbErr> {
    access_token::Entity::find()
        .filter(access_token::Column::UserId.eq(user_id))
        .order_by_desc(access_token::Column::Id)
        .all(db)
        .await
}

fn live() -> Condition {
    Condition::all().add(access_token::Column::RevokedAt.is_null()).add(access_token::Column::ExpiresAt.gt(now_ts()))
}

/// How many of the user's tokens work now.
pub async fn count_live<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<u64, DbErr> {
    access_token::Entity::find().filter(access_token::Column::UserId.eq(user_id)).filter(live()).count(db).await
}

/// The user's token `public_id`, when it works now.
pub async fn find_live<C: ConnectionTrait>(db: &C, user_id: i64, public_id: Uuid) -> Result<Option<access_token::Model>, DbErr> {
    access_token::Entity::find()
        .filter(access_token::Column::UserId.eq(user_id))
        .filter(access_token::Column::PublicId.eq(public_id))
        .filter(live())
        .one(db)
        .await
}

/// Revokes one live token of the user; the token as it was, when one was.
pub async fn revoke<C: ConnectionTrait>(db: &C, user_id: i64, public_id: Uuid) -> Result<Option<access_token::Model>, DbErr> {
    let Some(token) = find_live(db, user_id, public_id).await? else {
        return Ok(None);
    };
    let revoked = access_token::Entity::update_many()
        .col_expr(access_token::Column::RevokedAt, Expr::value(Some(now_ts())))
        .filter(access_token::Column::Id.eq(token.id))
        .filter(access_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok((revoked.rows_affected > 0).then_some(token))
}

/// Revokes every live token of the user; how many.
pub async fn revoke_all<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<u64, DbErr> {
    let revoked = access_token::Entity::update_many()
        .col_expr(access_token::Column::RevokedAt, Expr::value(Some(now_ts())))
        .filter(access_token::Column::UserId.eq(user_id))
        .filter(live())
        .exec(db)
        .await?;
    Ok(revoked.rows_affected)
}

/// Records a use from `ip`, unless one was recorded less than
/// `every_seconds` ago: "last used" to the minute, without a write per
/// request.
pub async fn touch<C: ConnectionTrait>(db: &C, id: i64, ip: Option<&str>, every_seconds: i64) -> Result<(), DbErr> {
    let now = now_ts();
    let stale = ts(now.0.unix_timestamp() - every_seconds);
    access_token::Entity::update_many()
        .col_expr(access_token::Column::LastUsedAt, Expr::value(Some(now)))
        .col_expr(access_token::Column::LastUsedIp, Expr::value(ip.map(str::to_owned)))
        .filter(access_token::Column::Id.eq(id))
        .filter(Condition::any().add(access_token::Column::LastUsedAt.is_null()).add(access_token::Column::LastUsedAt.lte(stale)))
        .exec(db)
        .await
        .map(drop)
}

/// What the API guard needs to know about a token, in one row: the token
/// and its owner as they are now.
#[derive(Debug, Clone, FromQueryResult)]
pub struct HolderRow {
    pub token_hash: String,
    pub token_id: i64,
    pub token_public_id: Uuid,
    pub token_name: String,
    pub scopes: String,
    pub expires_at: TimeUnixTimestamp,
    pub revoked_at: Option<TimeUnixTimestamp>,
    pub last_used_at: Option<TimeUnixTimestamp>,
    pub user_id: i64,
    pub public_id: Uuid,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub created_at: TimeUnixTimestamp,
    pub email_verified_at: Option<TimeUnixTimestamp>,
    pub disabled_at: Option<TimeUnixTimestamp>,
    pub user_version: i64,
    pub recipes_version: i64,
}

impl crate::kept::Weigh for HolderRow {
    fn heap_bytes(&self) -> usize {
        self.token_hash.capacity() + self.token_name.capacity() + self.scopes.capacity() + self.email.capacity() + self.username.capacity()
    }
}

/// The columns of a [`HolderRow`]: table, column, alias.
const HOLDER_COLUMNS: [(&str, &str, &str); 17] = [
    ("access_tokens", "token_hash", "token_hash"),
    ("access_tokens", "id", "token_id"),
    ("access_tokens", "public_id", "token_public_id"),
    ("access_tokens", "name", "token_name"),
    ("access_tokens", "scopes", "scopes"),
    ("access_tokens", "expires_at", "expires_at"),
    ("access_tokens", "revoked_at", "revoked_at"),
    ("access_tokens", "last_used_at", "last_used_at"),
    ("users", "id", "user_id"),
    ("users", "public_id", "public_id"),
    ("users", "email", "email"),
    ("users", "username", "username"),
    ("users", "role", "role"),
    ("users", "created_at", "created_at"),
    ("users", "email_verified_at", "email_verified_at"),
    ("users", "disabled_at", "disabled_at"),
    ("users", "version", "user_version"),
];

/// The tokens whose hashes are `hashes`, with their owners and the
/// recipes' version, in one query, answered in the order asked (`None`
/// for an unknown hash):
///
/// ```sql
/// SELECT t.token_hash, t.id, …, u.id, …, u.version, (SELECT value FROM versions WHERE name = 'recipes')
/// FROM access_tokens t JOIN users u ON u.id = t.user_id
/// WHERE t.token_hash IN ($1, …)
/// ```
pub async fn holders<C: ConnectionTrait>(db: &C, hashes: &[String]) -> Result<Vec<Option<HolderRow>>, DbErr> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let mut statement = Query::select();
    for (table, name, alias) in HOLDER_COLUMNS {
        statement.expr_as(Expr::col((Alias::new(table), Alias::new(name))), Alias::new(alias));
    }
    statement
        .expr_as(super::versions::recipes_subquery(), Alias::new("recipes_version"))
        .from(access_token::Entity)
        .inner_join(user::Entity, Expr::col((user::Entity, user::Column::Id)).equals((access_token::Entity, access_token::Column::UserId)))
        .and_where(Expr::col((access_token::Entity, access_token::Column::TokenHash)).is_in(hashes.iter().cloned()));
    let found = HolderRow::find_by_statement(StatementBuilder::build(&statement, &db.get_database_backend())).all(db).await?;
    Ok(hashes.iter().map(|hash| found.iter().find(|row| &row.token_hash == hash).cloned()).collect())
}

/// Live tokens that expire before `before` (Unix seconds) and whose
/// owner was not yet told.
pub async fn expiring_unnoticed<C: ConnectionTrait>(db: &C, before: i64) -> Result<Vec<access_token::Model>, DbErr> {
    access_token::Entity::find()
        .filter(live())
        .filter(access_token::Column::ExpiresAt.lt(ts(before)))
        .filter(access_token::Column::ExpiryNoticedAt.is_null())
        .order_by_asc(access_token::Column::Id)
        .all(db)
        .await
}

/// Marks a token's expiry as told; `false` when another instance did
/// first (only the one that marks it queues the notice).
pub async fn mark_expiry_noticed<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool, DbErr> {
    let marked = access_token::Entity::update_many()
        .col_expr(access_token::Column::ExpiryNoticedAt, Expr::value(Some(now_ts())))
        .filter(access_token::Column::Id.eq(id))
        .filter(access_token::Column::ExpiryNoticedAt.is_null())
        .exec(db)
        .await?;
    Ok(marked.rows_affected > 0)
}

/// Deletes the tokens that expired or were revoked before `before` (Unix
/// seconds).
pub async fn purge_ended<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, DbErr> {
    let ended = Condition::any()
        .add(access_token::Column::ExpiresAt.lt(ts(before)))
        .add(access_token::Column::RevokedAt.lt(ts(before)));
    super::delete_in_batches::<access_token::Entity, _>(db, access_token::Column::Id, ended).await
}
