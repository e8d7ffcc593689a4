//! What an admin does to an account: change its role, disable or enable it,
//! end all its sessions, delete it. The admin pages, the API and the
//! operator's commands (`recipebox user …`, `recipebox sessions end`) call
//! these, so each keeps the same rules and leaves the same trail.
//!
//! SPEC.md §6: the last active admin can be neither demoted, disabled nor
//! deleted, not even by themselves (`AppError::LastAdmin`, 409). The check
//! and the change run in one transaction that locks the active admins' rows
//! (see `store::users::change_as_admin`), so two admins demoting each other
//! at once cannot both succeed.

use sea_orm::TransactionTrait;
use uuid::Uuid;

use crate::app::App;
use crate::audit::{self, ByToken, Detail, Event};
use crate::auth::{session, ApiCaller, Authenticated, ClientInfo};
use crate::domain::{AuditKind, Role};
use crate::entities::user;
use crate::error::AppError;
use crate::store;
use crate::store::users::AdminChange;

/// Who does an admin's action: an admin, through the pages or the API, or
/// the operator at the command line, who has no account (the event names
/// no actor; its user agent says so, see `ClientInfo::command_line`).
/// Through the API, a personal access token may be what the admin used;
/// the event then names it.
#[derive(Debug, Clone)]
pub enum By {
    Admin(Uuid, Option<ByToken>),
    Operator,
}

impl By {
    pub fn admin(admin: &Authenticated) -> Self {
        By::Admin(admin.public_id, None)
    }

    /// An admin through the API, with a session or a token.
    pub fn api(admin: &ApiCaller) -> Self {
        By::Admin(admin.public_id(), super::tokens::by_token(admin))
    }

    fn event(&self, kind: AuditKind, subject: Uuid) -> Event {
        match self {
            By::Admin(actor, token) => Event::admin(kind, *actor, subject).by_token(token.clone()),
            By::Operator => Event::about(kind, Some(subject)),
        }
    }
}

pub async fn set_role(
    app: &App,
    by: By,
    target: &user::Model,
    role: Role,
    client: &ClientInfo,
) -> Result<(), AppError> {
    if target.role == role {
        return Ok(());
    }
    let before = change(app, target, AdminChange::Role(role)).await?;
    let event = by.event(AuditKind::RoleChanged, target.public_id)
        .with(Detail::RoleChanged { from: before.role, to: role });
    audit::record(app, client, event).await;
    Ok(())
}

/// Disabling stops the account's tokens on their next request (the guard
/// reads `disabled_at`) and ends every session; enabling lets the user log
/// in again.
pub async fn set_disabled(
    app: &App,
    by: By,
    target: &user::Model,
    disabled: bool,
    client: &ClientInfo,
) -> Result<(), AppError> {
    if target.disabled_at.is_some() == disabled {
        return Ok(());
    }
    // The account is disabled and its sessions end together.
    let txn = app.db.begin().await?;
    store::users::change_as_admin(&txn, target, AdminChange::Disabled(disabled)).await?;
    let sessions = if disabled { session::end_all(&txn, target.into()).await? } else { 0 };
    txn.commit().await?;
    let event = if disabled {
        by.event(AuditKind::UserDisabled, target.public_id).with(Detail::SessionsEnded { sessions })
    } else {
        by.event(AuditKind::UserEnabled, target.public_id)
    };
    audit::record(app, client, event).await;
    Ok(())
}

/// `recipebox user promote`: the admin role, given by the operator rather
/// than by an admin, so not under the last-admin rule (it adds one).
pub async fn promote(app: &App, user: &user::Model) -> Result<(), AppError> {
    Ok(store::users::set_role(&app.db, user.id, Role::Admin).await?)
}

/// `recipebox sessions end-all`: every token of every user issued until now
/// stops working, and every session ends. Returns how many live sessions
/// ended.
pub async fn end_every_session(app: &App) -> Result<u64, AppError> {
    let txn = app.db.begin().await?;
    store::users::cut_off_everyone(&txn).await?;
    let ended = store::sessions::revoke_everyone(&txn).await?;
    txn.commit().await?;
    Ok(ended)
}

/// Every session of the account ends and every token issued so far stops;
/// how many live sessions ended.
pub async fn force_logout(
    app: &App,
    by: By,
    target: &user::Model,
    client: &ClientInfo,
) -> Result<u64, AppError> {
    let sessions = session::end_all(&app.db, target.into()).await?;
    let event = by.event(AuditKind::ForcedLogout, target.public_id).with(Detail::SessionsEnded { sessions });
    audit::record(app, client, event).await;
    Ok(sessions)
}

/// Deletes the account; its recipes and sessions go with it.
pub async fn delete(app: &App, by: By, target: &user::Model, client: &ClientInfo) -> Result<(), AppError> {
    let before = change(app, target, AdminChange::Delete).await?;
    let deleted = Detail::Deleted { username: before.username, email: before.email };
    audit::record(app, client, by.event(AuditKind::UserDeleted, target.public_id).with(deleted)).await;
    Ok(())
}

/// Applies an admin's change to `target` (see `store::users::change_as_admin`).
async fn change(app: &App, target: &user::Model, change: AdminChange) -> Result<user::Model, AppError> {
    store::users::change_as_admin(&app.db, target, change).await
}
