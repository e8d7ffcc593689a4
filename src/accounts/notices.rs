//! Notices by mail (SPEC.md §6): each says what happened, when, from which
//! device and address, and what to do if it was not the account's owner,
//! in one look for all of them (`templates/mail/notice.txt.tera`). Each is
//! queued in the transaction of the change it reports (`crate::mail`).

use rocket_dyn_templates::tera::Context;

use crate::app::App;
use crate::auth::ClientInfo;
use crate::error::AppError;
use crate::mail::Mailer;
use crate::store;
use crate::client::device;
use crate::views::human;

pub const PASSWORD_CHANGED: &str = "Your recipebox password was changed";
pub const EMAIL_CHANGED: &str = "Your recipebox email address was changed";
pub const NEW_DEVICE: &str = "A new device logged in to your recipebox account";
pub const TWO_FACTOR_ON: &str = "Two-step login is on for your recipebox account";
pub const TWO_FACTOR_OFF: &str = "Two-step login is off for your recipebox account";
pub const TWO_FACTOR_RESET: &str = "An admin reset the two-step login of your recipebox account";
pub const RECOVERY_CODES_RENEWED: &str = "New recovery codes for your recipebox account";
pub const PASSKEY_ADDED: &str = "A passkey was added to your recipebox account";
pub const PASSKEY_REMOVED: &str = "A passkey was removed from your recipebox account";
pub const RECOVERY_CODE_USED: &str = "A recovery code of your recipebox account was used";
pub const TOKEN_CREATED: &str = "A personal access token was made for your recipebox account";
pub const TOKEN_EXPIRING: &str = "A personal access token of your recipebox account expires soon";
pub const PROVIDER_LINKED: &str = "A sign-in provider was linked to your recipebox account";
pub const PROVIDER_UNLINKED: &str = "A sign-in provider was unlinked from your recipebox account";

/// What a notice tells someone to do if it was not them.
#[derive(Debug, Clone, Copy)]
pub enum Advice<'a> {
    /// A new password, through `/forgot-password`.
    NewPassword,
    /// These words, then the `/forgot-password` link.
    Then(&'a str),
    /// These words alone (there is no account left to reset).
    Only(&'a str),
}

/// The text of a notice to `username` that `what` happened just now,
/// through `client`. `what` is a sentence without its final stop.
pub fn text(app: &App, username: &str, what: &str, client: &ClientInfo, advice: Advice<'_>) -> Result<String, AppError> {
    compose(&app.mailer, username, what, client, advice)
}

/// [`text`] with the mailer alone, for what runs outside a request.
pub fn compose(mailer: &Mailer, username: &str, what: &str, client: &ClientInfo, advice: Advice<'_>) -> Result<String, AppError> {
    let (advice, reset_link) = match advice {
        Advice::NewPassword => (None, true),
        Advice::Then(words) => (Some(words), true),
        Advice::Only(words) => (Some(words), false),
    };
    let mut context = Context::new();
    context.insert("what", what);
    context.insert("when", &human(store::now()));
    context.insert("device", &device::describe(client.user_agent.as_deref()));
    context.insert("ip", client.ip.as_deref().unwrap_or("unknown"));
    context.insert("advice", &advice);
    context.insert("reset_link", &reset_link);
    Ok(mailer.text("mail/notice", username, context)?)
}
