//! Deleting one's own account (SPEC.md §4 `POST /me/delete`, §5
//! `DELETE /api/v1/me`, §6): the pages and the API call [`delete_own`].
//!
//! It takes a fresh token and the current password (checked and throttled
//! like the password change's, through `current_password_matches`). The
//! delete itself is the admin's (`store::users::change_as_admin` with
//! `AdminChange::Delete`), so the last active admin is refused (409) under
//! the same lock, and the recipes, sessions and email links go with the
//! row by cascade; every token names a session that no longer exists, so
//! it stops at once. The audit event names the account by its `public_id`
//! only, never its email or username (unlike an admin's delete, whose
//! event keeps both so the trail says whom the admin removed). A notice
//! goes to the address the account had.

use super::current_password_matches;
use crate::app::App;
use crate::audit::{self, Event};
use crate::auth::{Authenticated, ClientInfo};
use crate::domain::{AuditKind, FieldErrors};
use crate::entities::user;
use crate::error::{AppError, AuthError};
use crate::store;
use sea_orm::TransactionTrait;
use crate::store::users::AdminChange;

pub const NOTICE_SUBJECT: &str = "Your recipebox account was deleted";

/// Deletes the caller's own account when `current_password` is theirs.
///
/// A token from a refresh is refused (`fresh_token_required`) here as well
/// as by the pages' `FreshUser` guard, so no front end can forget it. A
/// wrong password is a 422 on `current_password`, as in the password
/// change; the last active admin gets `LastAdmin` (409) and keeps the
/// account.
pub async fn delete_own(app: &App, user: &Authenticated, current_password: &str, client: &ClientInfo) -> Result<(), AppError> {
    if !user.fresh {
        return Err(AppError::Unauthenticated(AuthError::NotFresh));
    }
    let account = store::users::find_by_public_id(&app.db, user.public_id).await?.ok_or(AppError::NotFound)?;
    if !current_password_matches(app, &account, current_password, client).await? {
        return Err(AppError::Validation(FieldErrors::single("current_password", "That is not your current password.")));
    }
    // The account goes and its notice is queued in one transaction.
    let txn = app.db.begin().await?;
    let deleted = store::users::change_as_admin(&txn, &account, AdminChange::Delete).await?;
    app.mailer.commit_with(txn, &deleted.email, NOTICE_SUBJECT, notice(app, &deleted, client)?).await?;
    audit::record(app, client, Event::own(AuditKind::AccountDeleted, deleted.public_id)).await;
    Ok(())
}

/// The notice: what happened, when, from which device and address, and
/// what to do if it was not the owner. There is no account left for a
/// password reset to save (SPEC §6's usual `/forgot-password` link would
/// lead nowhere), so it says to reply, which reaches `mail_from`, the
/// site's operators; to change the password wherever else it is used; and
/// that signing up again is open.
fn notice(app: &App, account: &user::Model, client: &ClientInfo) -> Result<String, AppError> {
    let what = format!(
        "Your recipebox account ({}) and every recipe in it were deleted, and every browser and app logged in to it was logged out",
        account.email
    );
    let advice = format!(
        "If it was not you, someone knew your password. The account cannot be restored: reply to this message to tell \
         the site's operators, and change that password wherever else you use it. You are welcome to sign up again at {}.",
        app.mailer.link("/signup")
    );
    super::notices::text(app, &account.username, &what, client, super::notices::Advice::Only(&advice))
}
