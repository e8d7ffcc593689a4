//! The hourly purge (SPEC.md §2): every table back to what is live (plus
//! what the audit trail keeps), however many logins come and go. Each
//! table is purged in batches (`super::delete_in_batches`), never one long
//! statement.

use sea_orm::prelude::*;
use sea_orm::Condition;

use super::{delete_in_batches, now_ts};
use crate::entities::{login_ticket, passkey_ceremony, remembered_browser, session};

/// How long a revoked or expired personal access token stays (seconds):
/// a week in which its owner's list shows how it ended, and a script
/// still using it is told `token_revoked` or `token_expired` rather than
/// `token_invalid`.
pub const ENDED_TOKENS_KEPT: i64 = 7 * 24 * 3600;

/// What a purge keeps that is not live.
#[derive(Debug, Clone, Copy)]
pub struct Keep {
    /// Days of audit events.
    pub audit_days: u32,
    /// Seconds of login failures (the throttling window).
    pub login_window: i64,
}

/// Purges every table once; each table's count, or why it failed.
pub async fn run<C: ConnectionTrait>(db: &C, keep: Keep) -> Vec<(&'static str, Result<u64, DbErr>)> {
    vec![
        ("ended sessions", ended_sessions(db).await),
        ("expired blocklist rows", super::tokens::purge_expired(db).await),
        ("old login failures", super::throttle::purge_older_than(db, keep.login_window).await),
        ("old audit events", super::audit::purge_older_than(db, keep.audit_days).await),
        ("spent email tokens", super::email_tokens::purge(db).await),
        ("expired login tickets", expired_tickets(db).await),
        ("expired remembered browsers", expired_browsers(db).await),
        ("finished passkey ceremonies", expired_ceremonies(db).await),
        ("old recipe changes", super::recipes::purge_changes(db).await),
        ("delivered and failed mail", super::outbox::purge(db).await),
        ("ended access tokens", super::access_tokens::purge_ended(db, now_ts().0.unix_timestamp() - ENDED_TOKENS_KEPT).await),
    ]
}

/// Sessions revoked, or past their refresh token's expiry: a token of
/// theirs names a session that is gone, which the guard refuses as
/// revoked. The devices they came from stay known (`known_devices`).
pub async fn ended_sessions<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let ended = Condition::any().add(session::Column::RevokedAt.is_not_null()).add(session::Column::ExpiresAt.lt(now_ts()));
    delete_in_batches::<session::Entity, _>(db, session::Column::Id, ended).await
}

/// Half-done logins past their five minutes (used ones are deleted as
/// they are used).
pub async fn expired_tickets<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let expired = Condition::all().add(login_ticket::Column::ExpiresAt.lt(now_ts()));
    delete_in_batches::<login_ticket::Entity, _>(db, login_ticket::Column::Id, expired).await
}

/// Remembered browsers past their 30 days (forgotten ones are deleted as
/// they are forgotten).
pub async fn expired_browsers<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let expired = Condition::all().add(remembered_browser::Column::ExpiresAt.lt(now_ts()));
    delete_in_batches::<remembered_browser::Entity, _>(db, remembered_browser::Column::Id, expired).await
}

/// Passkey ceremonies never finished, and sign-ins spent, past their five
/// minutes.
pub async fn expired_ceremonies<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let expired = Condition::all().add(passkey_ceremony::Column::ExpiresAt.lt(now_ts()));
    delete_in_batches::<passkey_ceremony::Entity, _>(db, passkey_ceremony::Column::Id, expired).await
}
