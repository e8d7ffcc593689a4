//! The blocklist, and the one query that checks a token against the database.

use sea_orm::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement, UnionType};
use sea_orm::{ActiveValue::Set, DbBackend, FromQueryResult, Statement, StatementBuilder};

use super::{is_unique_violation, now_ts, ts};
use crate::domain::Role;
use crate::entities::{revoked_token, session, user};

/// What the request guard needs to know about a token, in one row.
#[derive(Debug, Clone, FromQueryResult)]
pub struct AuthRow {
    pub user_id: i64,
    pub public_id: Uuid,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub created_at: TimeUnixTimestamp,
    pub email_verified_at: Option<TimeUnixTimestamp>,
    pub disabled_at: Option<TimeUnixTimestamp>,
    pub tokens_valid_after: TimeUnixTimestamp,
    pub session_revoked_at: Option<TimeUnixTimestamp>,
    pub session_last_used_at: TimeUnixTimestamp,
    pub session_created_at: TimeUnixTimestamp,
    /// The version of what `/me` shows of the user (`crate::kept`).
    pub user_version: i64,
    /// The version of every recipe list, read in the same round trip.
    pub recipes_version: i64,
    /// The keyring's version (`crate::keys`), read in the same round trip.
    pub keys_version: i64,
    /// `Some` when this token's `jti` is on the blocklist.
    pub revoked_jti: Option<Uuid>,
}

impl crate::kept::Weigh for AuthRow {
    fn heap_bytes(&self) -> usize {
        self.email.heap_bytes() + self.username.heap_bytes()
    }
}

/// The session `sid` joined with its user, plus whether `jti` is blocklisted
/// and the versions of what is kept in memory: one indexed round trip per
/// authenticated request.
///
/// ```sql
/// SELECT u.id, …, u.version, s.revoked_at, s.last_used_at, s.created_at, r.jti,
///        (SELECT value FROM versions WHERE name = 'recipes'),
///        (SELECT value FROM versions WHERE name = 'keys')
/// FROM sessions s JOIN users u ON u.id = s.user_id
/// LEFT JOIN revoked_tokens r ON r.jti = $jti
/// WHERE s.sid = $sid
/// ```
pub async fn auth_row<C: ConnectionTrait>(db: &C, sid: Uuid, jti: Uuid) -> Result<Option<AuthRow>, DbErr> {
    let mut statement = auth_columns();
    statement
        .from(session::Entity)
        .inner_join(user::Entity, Expr::col((user::Entity, user::Column::Id)).equals((session::Entity, session::Column::UserId)))
        .left_join(revoked_token::Entity, Expr::col((revoked_token::Entity, revoked_token::Column::Jti)).eq(jti))
        .and_where(Expr::col((session::Entity, session::Column::Sid)).eq(sid));
    AuthRow::find_by_statement(StatementBuilder::build(&statement, &db.get_database_backend()))
        .one(db)
        .await
}

/// [`auth_row`] for many `(sid, jti)` pairs in one query (`super::batch`),
/// answered in their order: the pairs are a table of their own, joined as
/// the one pair is (on PostgreSQL, two arrays unnested).
///
/// ```sql
/// SELECT asked.i, u.id, …
/// FROM (SELECT 0 AS i, $sid0 AS sid, $jti0 AS jti UNION ALL SELECT 1, $sid1, $jti1 …) asked
/// JOIN sessions s ON s.sid = asked.sid JOIN users u ON u.id = s.user_id
/// LEFT JOIN revoked_tokens r ON r.jti = asked.jti
/// ```
pub async fn auth_rows<C: ConnectionTrait>(db: &C, keys: &[(Uuid, Uuid)]) -> Result<Vec<Option<AuthRow>>, DbErr> {
    let Some((first, rest)) = keys.split_first() else { return Ok(Vec::new()) };
    let statement = match db.get_database_backend() {
        DbBackend::Postgres => postgres_auth_rows(keys),
        backend => StatementBuilder::build(&asked_pairs(first, rest), &backend),
    };
    let mut rows = vec![None; keys.len()];
    for row in db.query_all_raw(statement).await? {
        let i = row.try_get::<i64>("", "asked")?;
        let slot = usize::try_from(i).ok().and_then(|i| rows.get_mut(i));
        let slot = slot.ok_or_else(|| DbErr::Custom(format!("a batched read answered for a pair it was not asked: {i}")))?;
        *slot = Some(AuthRow::from_query_result(&row, "")?);
    }
    Ok(rows)
}

/// PostgreSQL: the pairs as two arrays, so that every batch, whatever its
/// size, is the one statement, prepared and planned once.
fn postgres_auth_rows(keys: &[(Uuid, Uuid)]) -> Statement {
    let array = |part: fn(&(Uuid, Uuid)) -> Uuid| format!("{{{}}}", keys.iter().map(|key| part(key).to_string()).collect::<Vec<_>>().join(","));
    let columns: Vec<String> = AUTH_COLUMNS.iter().map(|(table, column, alias)| format!("{table}.{column} AS {alias}")).collect();
    let sql = format!(
        "SELECT asked.i - 1 AS asked, {}, {} AS recipes_version, {} AS keys_version \
         FROM unnest(CAST($1 AS uuid[]), CAST($2 AS uuid[])) WITH ORDINALITY AS asked(sid, jti, i) \
         JOIN sessions ON sessions.sid = asked.sid JOIN users ON users.id = sessions.user_id \
         LEFT JOIN revoked_tokens ON revoked_tokens.jti = asked.jti",
        columns.join(", "),
        super::versions::RECIPES,
        super::keys::KEYS,
    );
    Statement::from_sql_and_values(DbBackend::Postgres, sql, [array(|key| key.0).into(), array(|key| key.1).into()])
}

/// The pairs as a table of `SELECT`s joined by `UNION ALL`.
fn asked_pairs(first: &(Uuid, Uuid), rest: &[(Uuid, Uuid)]) -> SelectStatement {
    let asked_pair = |(i, (sid, jti)): (usize, &(Uuid, Uuid))| {
        Query::select()
            .expr_as(Expr::val(i as i64), Alias::new("i"))
            .expr_as(Expr::val(*sid), Alias::new("sid"))
            .expr_as(Expr::val(*jti), Alias::new("jti"))
            .to_owned()
    };
    let mut asked = asked_pair((0, first));
    for (i, pair) in rest.iter().enumerate() {
        asked.union(UnionType::All, asked_pair((i + 1, pair)));
    }
    let asked_col = |name: &str| Expr::col((Alias::new("asked"), Alias::new(name)));
    let mut statement = auth_columns();
    statement
        .expr_as(asked_col("i"), Alias::new("asked"))
        .from_subquery(asked, Alias::new("asked"))
        .inner_join(session::Entity, Expr::col((session::Entity, session::Column::Sid)).eq(asked_col("sid")))
        .inner_join(user::Entity, Expr::col((user::Entity, user::Column::Id)).equals((session::Entity, session::Column::UserId)))
        .left_join(revoked_token::Entity, Expr::col((revoked_token::Entity, revoked_token::Column::Jti)).eq(asked_col("jti")));
    statement
}

/// The columns of an [`AuthRow`]: table, column, alias.
const AUTH_COLUMNS: [(&str, &str, &str); 14] = [
    ("users", "id", "user_id"),
    ("users", "public_id", "public_id"),
    ("users", "email", "email"),
    ("users", "username", "username"),
    ("users", "role", "role"),
    ("users", "created_at", "created_at"),
    ("users", "email_verified_at", "email_verified_at"),
    ("users", "disabled_at", "disabled_at"),
    ("users", "tokens_valid_after", "tokens_valid_after"),
    ("sessions", "revoked_at", "session_revoked_at"),
    ("users", "version", "user_version"),
    ("sessions", "last_used_at", "session_last_used_at"),
    ("sessions", "created_at", "session_created_at"),
    ("revoked_tokens", "jti", "revoked_jti"),
];

fn auth_columns() -> SelectStatement {
    let mut statement = Query::select();
    for (table, name, alias) in AUTH_COLUMNS {
        statement.expr_as(Expr::col((Alias::new(table), Alias::new(name))), Alias::new(alias));
    }
    statement.expr_as(super::versions::recipes_subquery(), Alias::new("recipes_version"));
    statement.expr_as(Expr::cust(super::keys::KEYS), Alias::new("keys_version"));
    statement
}

/// Puts `jti` on the blocklist. Returns `false` when it was already there:
/// the unique index makes "use a refresh token once" atomic.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    jti: Uuid,
    token_type: &str,
    user_public_id: Uuid,
    expires_at: i64,
) -> Result<bool, DbErr> {
    let row = revoked_token::ActiveModel {
        jti: Set(jti),
        token_type: Set(token_type.to_owned()),
        user_public_id: Set(user_public_id),
        expires_at: Set(ts(expires_at)),
        revoked_at: Set(now_ts()),
        ..Default::default()
    };
    match revoked_token::Entity::insert(row).exec(db).await {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes blocklist rows whose token has expired (past the leeway too):
/// such a token is refused by its `exp` alone.
pub async fn purge_expired<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let cutoff = now_ts().0.unix_timestamp() - crate::crypto::jwt::LEEWAY_SECONDS as i64;
    let expired = sea_orm::Condition::all().add(revoked_token::Column::ExpiresAt.lt(ts(cutoff)));
    super::delete_in_batches::<revoked_token::Entity, _>(db, revoked_token::Column::Id, expired).await
}
