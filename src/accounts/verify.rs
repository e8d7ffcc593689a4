//! Verified addresses (SPEC.md §2, §4): sign-up sends a link (single use,
//! 48 hours, stored hashed); following it marks the address verified. An
//! email change sends the link to the new address and keeps the old one
//! until the new one is verified.

use super::{link_token, token_hash};
use crate::app::App;
use crate::auth::throttle::LoginThrottle;
use crate::auth::{Authenticated, ClientInfo};
use crate::domain::{Email, FieldErrors};
use crate::entities::user;
use crate::error::AppError;
use crate::store;
use sea_orm::TransactionTrait;

pub const PURPOSE: &str = "verify";
/// How long a verification link works.
pub const LINK_TTL_SECONDS: i64 = 48 * 3600;

/// Mails a verification link for `email` (the user's address, or the one
/// they are changing to); retires every earlier link. Throttled per address
/// and per client like reset requests (429).
pub async fn send_link(app: &App, user: &user::Model, email: &str, client: &ClientInfo) -> Result<(), AppError> {
    LoginThrottle::for_verification_links(app, email, client).count().await?;
    let (token, hash) = link_token();
    let expires_at = store::now().unix_timestamp() + LINK_TTL_SECONDS;
    let mut context = rocket_dyn_templates::tera::Context::new();
    context.insert("email", email);
    context.insert("link", &app.mailer.link(&format!("/verify-email?token={token}")));
    let text = app.mailer.text("mail/verify", &user.username, context)?;
    // The link and its message go together, or not at all.
    let txn = app.db.begin().await?;
    store::email_tokens::issue(&txn, user.id, PURPOSE, hash, email, expires_at).await?;
    app.mailer.commit_with(txn, email, "Confirm your email address", text).await?;
    Ok(())
}

/// Follows a verification link: the address it was sent to becomes the
/// user's verified address. `BadRequest` when the link is unknown, used,
/// retired or expired; `Conflict` when someone took the new address since.
pub async fn verify(app: &App, token: &str, client: &ClientInfo) -> Result<user::Model, AppError> {
    let invalid = || AppError::BadRequest("This verification link is invalid, used or expired. Ask for a new one on your account page.".into());
    let row = store::email_tokens::find_usable(&app.db, PURPOSE, &token_hash(token)).await?.ok_or_else(invalid)?;
    let user = store::users::find_by_id(&app.db, row.user_id).await?.ok_or_else(invalid)?;
    if !store::email_tokens::consume(&app.db, row.id).await? {
        return Err(invalid());
    }
    if row.email == user.email {
        store::users::set_verified_email(&app.db, user.id, &row.email).await?;
    } else {
        // An address changed: the notice goes to the old one, with the change.
        let what = format!("The email address of your recipebox account was changed from {} to {}", user.email, row.email);
        let text = super::notices::text(app, &user.username, &what, client, super::notices::Advice::NewPassword)?;
        let txn = app.db.begin().await?;
        store::users::set_verified_email(&txn, user.id, &row.email).await?;
        app.mailer.commit_with(txn, &user.email, super::notices::EMAIL_CHANGED, text).await?;
    }
    store::users::find_by_id(&app.db, user.id).await?.ok_or_else(invalid)
}

/// Starts an email change: needs the current password (throttled like a
/// login); the link goes to the new address, the old one stays until then.
pub async fn request_change(
    app: &App,
    user: &Authenticated,
    new_email: &str,
    current_password: &str,
    client: &ClientInfo,
) -> Result<Email, AppError> {
    let account = store::users::find_by_public_id(&app.db, user.public_id).await?.ok_or(AppError::NotFound)?;
    let mut errors = FieldErrors::new();
    let email = errors.check("email", Email::parse(new_email));
    if email.as_ref().is_some_and(|e| e.as_str() == account.email) {
        errors.add("email", "This is your address already.");
    }
    if !super::current_password_matches(app, &account, current_password, client).await? {
        errors.add("current_password", "That is not your current password.");
    }
    let (Some(email), true) = (email, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    if store::users::find_by_email(&app.db, email.as_str()).await?.is_some() {
        return Err(AppError::Conflict(FieldErrors::single("email", "An account with this email already exists.")));
    }
    send_link(app, &account, email.as_str(), client).await?;
    Ok(email)
}
