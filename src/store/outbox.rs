//! Queries on `mail_outbox` (migration 16): mail that waits in the
//! database until an instance has delivered it.

use sea_orm::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, Condition, QueryOrder, QuerySelect};

use super::{now, now_ts, ts};
use crate::entities::mail_message::{self, Column};

pub const QUEUED: &str = "queued";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

/// Puts a message in the outbox, due now, in `db`'s transaction if it is
/// one: it is delivered only if that commits.
pub async fn queue<C: ConnectionTrait>(db: &C, recipient: &str, subject: &str, body: String) -> Result<(), DbErr> {
    let now = now_ts();
    mail_message::Entity::insert(mail_message::ActiveModel {
        recipient: Set(recipient.to_owned()),
        subject: Set(subject.to_owned()),
        body: Set(Some(body)),
        status: Set(QUEUED.to_owned()),
        attempts: Set(0),
        created_at: Set(now),
        next_attempt_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await
    .map(drop)
}

/// Due and unclaimed (or its claim run out) at `at`.
fn claimable(at: i64) -> Condition {
    Condition::all()
        .add(Column::Status.eq(QUEUED))
        .add(Column::NextAttemptAt.lte(ts(at)))
        .add(Condition::any().add(Column::LeaseUntil.is_null()).add(Column::LeaseUntil.lt(ts(at))))
}

/// Claims up to `limit` due messages for `owner` until `lease_seconds`
/// from now, oldest first, and returns them. Each claim is a conditional
/// `UPDATE` of one row that matches only while the row is claimable, so of
/// two instances claiming at once exactly one gets each message, on every
/// backend. The claim counts the attempt: a try whose instance died, or
/// whose end could not be recorded, still counts towards `mail_retry_for`.
pub async fn claim<C: ConnectionTrait>(db: &C, owner: &str, limit: u64, lease_seconds: i64) -> Result<Vec<mail_message::Model>, DbErr> {
    let at = now().unix_timestamp();
    let candidates: Vec<i64> = mail_message::Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(claimable(at))
        .order_by_asc(Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    for id in candidates {
        mail_message::Entity::update_many()
            .col_expr(Column::LeaseOwner, Expr::value(Some(owner.to_owned())))
            .col_expr(Column::LeaseUntil, Expr::value(Some(ts(at + lease_seconds))))
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .filter(Column::Id.eq(id))
            .filter(claimable(at))
            .exec(db)
            .await?;
    }
    // `owner` is new to each claim: its rows are the ones just taken.
    mail_message::Entity::find().filter(Column::LeaseOwner.eq(owner)).order_by_asc(Column::Id).all(db).await
}

/// Extends `owner`'s claim on a message it is still sending to
/// `lease_seconds` from now; `false` when the claim is no longer its own
/// (it ran out and another instance took the message, or it was sent).
pub async fn renew<C: ConnectionTrait>(db: &C, id: i64, owner: &str, lease_seconds: i64) -> Result<bool, DbErr> {
    let result = mail_message::Entity::update_many()
        .col_expr(Column::LeaseUntil, Expr::value(Some(ts(now().unix_timestamp() + lease_seconds))))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(QUEUED))
        .filter(Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Marks a message as sent and deletes its body. By its id alone: a
/// message that went out is sent, whoever holds its claim by now.
pub async fn sent<C: ConnectionTrait>(db: &C, id: i64) -> Result<(), DbErr> {
    mail_message::Entity::update_many()
        .col_expr(Column::Status, Expr::value(SENT))
        .col_expr(Column::Body, Expr::value(Option::<String>::None))
        .col_expr(Column::SentAt, Expr::value(Some(now_ts())))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseUntil, Expr::value(Option::<TimeUnixTimestamp>::None))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .map(drop)
}

/// Records a failed try of a message `owner` claimed (the claim counted
/// it): due again at `retry_at`, or, with `None`, failed for good (and its
/// body deleted).
pub async fn try_failed<C: ConnectionTrait>(db: &C, id: i64, owner: &str, error: &str, retry_at: Option<i64>) -> Result<(), DbErr> {
    let mut update = mail_message::Entity::update_many()
        .col_expr(Column::LastError, Expr::value(Some(error.chars().take(500).collect::<String>())))
        .col_expr(Column::LastErrorAt, Expr::value(Some(now_ts())))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseUntil, Expr::value(Option::<TimeUnixTimestamp>::None));
    update = match retry_at {
        Some(at) => update.col_expr(Column::NextAttemptAt, Expr::value(ts(at))),
        None => update.col_expr(Column::Status, Expr::value(FAILED)).col_expr(Column::Body, Expr::value(Option::<String>::None)),
    };
    update.filter(Column::Id.eq(id)).filter(Column::LeaseOwner.eq(owner)).exec(db).await.map(drop)
}

/// What `/admin/mail` shows.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub queued: u64,
    pub sent_last_day: u64,
    pub failed: u64,
    /// When the oldest message still waiting was queued.
    pub oldest_waiting: Option<TimeUnixTimestamp>,
    /// The newest failed try's error and when it was.
    pub last_error: Option<(String, TimeUnixTimestamp)>,
}

pub async fn summary<C: ConnectionTrait>(db: &C) -> Result<Summary, DbErr> {
    let count = |condition: Condition| mail_message::Entity::find().filter(condition).count(db);
    let day_ago = ts(now().unix_timestamp() - 86_400);
    let queued = count(Condition::all().add(Column::Status.eq(QUEUED))).await?;
    let sent_last_day = count(Condition::all().add(Column::Status.eq(SENT)).add(Column::SentAt.gte(day_ago))).await?;
    let failed = count(Condition::all().add(Column::Status.eq(FAILED))).await?;
    let oldest_waiting = mail_message::Entity::find()
        .filter(Column::Status.eq(QUEUED))
        .order_by_asc(Column::Id)
        .one(db)
        .await?
        .map(|row| row.created_at);
    let last_error = mail_message::Entity::find()
        .filter(Column::LastErrorAt.is_not_null())
        .order_by_desc(Column::LastErrorAt)
        .order_by_desc(Column::Id)
        .one(db)
        .await?
        .and_then(|row| row.last_error.zip(row.last_error_at));
    Ok(Summary { queued, sent_last_day, failed, oldest_waiting, last_error })
}

/// Deletes sent messages older than a week and failed ones older than a
/// month (their bodies went already).
pub async fn purge<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let at = now().unix_timestamp();
    let old = Condition::any()
        .add(Condition::all().add(Column::Status.eq(SENT)).add(Column::CreatedAt.lt(ts(at - 7 * 86_400))))
        .add(Condition::all().add(Column::Status.eq(FAILED)).add(Column::CreatedAt.lt(ts(at - 30 * 86_400))));
    Ok(mail_message::Entity::delete_many().filter(old).exec(db).await?.rows_affected)
}
