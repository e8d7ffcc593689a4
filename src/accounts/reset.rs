//! Forgotten passwords (SPEC.md §4, §5): a link by email, valid for one
//! hour and once, whose token is stored only as a hash.
//!
//! Asking for a link answers the same, and as fast, whether the account
//! exists or not (the account's work happens after the answer), and is
//! throttled per account and per address. A newer link retires the older ones, and so
//! does any password change. Using a link sets the new password, ends every
//! session of the user and starts a new one, and mails a notice.

use super::two_factor::{self, Via};
use super::{link_token, token_hash};
use crate::app::App;
use crate::audit::{self, Detail, Event};
use crate::auth::throttle::LoginThrottle;
use crate::auth::{session, ClientInfo, TokenPair};
use crate::domain::{AuditKind, FieldErrors};
use crate::entities::{email_token, user};
use crate::error::{AppError, TicketToken};
use crate::mail::Mailer;
use crate::store;
use sea_orm::TransactionTrait;

pub const PURPOSE: &str = "reset";
/// How long a reset link works.
pub const LINK_TTL_SECONDS: i64 = 3600;

/// Asks for a reset link for `email`. After the throttle (the same for
/// every address) the answer does not wait: looking the account up, storing
/// the token and queueing the message happen in a task of their own, so
/// whether the account exists changes neither the answer nor its timing.
pub async fn request(app: &App, email: &str, client: &ClientInfo) -> Result<(), AppError> {
    LoginThrottle::for_reset_requests(app, email, client).count().await?;
    let (db, mailer, email) = (app.db.clone(), app.mailer.clone(), email.to_owned());
    rocket::tokio::spawn(async move {
        if let Err(e) = send_link(&db, &mailer, &email).await {
            tracing::warn!(error = format!("{e:#}"), "a password reset link could not be prepared");
        }
    });
    Ok(())
}

/// Sends a reset link to `email` if it belongs to an enabled account.
async fn send_link(db: &sea_orm::DatabaseConnection, mailer: &Mailer, email: &str) -> anyhow::Result<()> {
    let Some(user) = store::users::find_by_email(db, email).await?.filter(|u| u.disabled_at.is_none()) else {
        return Ok(());
    };
    let (token, token_hash) = link_token();
    let expires_at = store::now().unix_timestamp() + LINK_TTL_SECONDS;
    let mut context = rocket_dyn_templates::tera::Context::new();
    context.insert("link", &mailer.link(&format!("/reset-password?token={token}")));
    let text = mailer.text("mail/reset", &user.username, context)?;
    let txn = db.begin().await?;
    store::email_tokens::issue(&txn, user.id, PURPOSE, token_hash, &user.email, expires_at).await?;
    mailer.commit_with(txn, &user.email, "Reset your recipebox password", text).await?;
    Ok(())
}

fn invalid_link() -> AppError {
    AppError::Validation(FieldErrors::single("token", "This link is invalid, used or expired. Ask for a new one."))
}

/// The account a reset token opens, if the token still works.
pub async fn check(app: &App, token: &str) -> Result<(email_token::Model, user::Model), AppError> {
    let row = store::email_tokens::find_usable(&app.db, PURPOSE, &token_hash(token)).await?.ok_or_else(invalid_link)?;
    // Only while the address it was sent to is still the account's: an
    // email change makes links sent to the old address worthless.
    let user = store::users::find_by_id(&app.db, row.user_id)
        .await?
        .filter(|u| u.disabled_at.is_none() && u.email == row.email)
        .ok_or_else(invalid_link)?;
    Ok((row, user))
}

/// What follows a reset.
pub enum AfterReset {
    /// The pages' browser is logged in.
    LoggedIn(TokenPair),
    /// The account has a second factor: the browser goes on to the second
    /// step with this ticket (SPEC §4: never a session by the link alone).
    SecondStep(TicketToken),
    /// The API logs nobody in.
    Nothing,
}

/// Sets a new password through a reset token: every session of the user
/// ends, every remembered browser is forgotten and a notice is mailed.
/// With `log_in` (the pages) the browser is logged in, or sent on to the
/// second step; the API only answers 204.
pub async fn reset(
    app: &App,
    token: &str,
    new_password: &str,
    confirm: Option<&str>,
    log_in: bool,
    client: &ClientInfo,
) -> Result<(user::Model, AfterReset), AppError> {
    let (row, user) = check(app, token).await?;
    let mut errors = FieldErrors::new();
    let password = super::check_new_password(app, &mut errors, "new_password", (new_password, confirm), (&user.email, &user.username));
    let (Some(password), true) = (password, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    // Used once: of two uses at once, the second finds it taken.
    if !store::email_tokens::consume(&app.db, row.id).await? {
        return Err(invalid_link());
    }
    let password_hash = app.hasher.hash(password.expose()).await?;
    let what = "The password of your recipebox account was changed with a reset link: every session was logged out and every personal access token revoked";
    let text = super::notices::text(app, &user.username, what, client, super::notices::Advice::NewPassword)?;
    // The new password and its notice go together.
    let txn = app.db.begin().await?;
    store::users::set_password_hash(&txn, user.id, password_hash).await?;
    store::factors::forget_browsers(&txn, user.id).await?;
    // A login begun with the old password cannot be finished.
    store::factors::drop_tickets(&txn, user.id).await?;
    store::email_tokens::retire(&txn, user.id, PURPOSE).await?;
    let sessions = session::end_all(&txn, (&user).into()).await?;
    // And every personal access token (SPEC §5).
    let tokens = store::access_tokens::revoke_all(&txn, user.id).await?;
    app.mailer.commit_with(txn, &user.email, super::notices::PASSWORD_CHANGED, text).await?;
    let after = match log_in {
        false => AfterReset::Nothing,
        true if two_factor::required(app, &user).await? => AfterReset::SecondStep(two_factor::begin(app, &user, Via::Page, Default::default()).await?),
        true => AfterReset::LoggedIn(session::start(app, &user, client, None, true).await?),
    };
    let event = Event::own(AuditKind::PasswordChanged, user.public_id).with(Detail::SessionsEnded { sessions });
    audit::record(app, client, event).await;
    super::tokens::record_all_revoked(app, client, Event::own(AuditKind::TokenRevoked, user.public_id), tokens, "password_reset").await;
    Ok((user, after))
}
