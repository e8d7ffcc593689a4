//! Accounts and the people at OpenID Connect providers (SPEC §4): logging
//! in through a provider, signing up after a first login, linking and
//! unlinking. The provider's own checks are `crate::oidc`'s; these are the
//! rules about accounts:
//!
//! - (`iss`, `sub`) names the person, never the email: a known pair logs
//!   its account in (and asks for the second step when it has one).
//! - An unknown pair is never joined to an account by email, except
//!   through a provider with `email_login = true` when its email and the
//!   account's are both verified; otherwise it signs up (a username to
//!   choose) or, when an account uses the email, is told to log in and link.
//! - Linking and unlinking happen on `/me/security` with a fresh session;
//!   the last way left to log in is never unlinked.

use sea_orm::TransactionTrait;
use uuid::Uuid;

use super::notices::{self, Advice};
use super::two_factor::{self, Resume, SecondStep, Via};
use super::verify;
use crate::app::App;
use crate::audit::{self, Detail, Event};
use crate::auth::throttle::LoginThrottle;
use crate::auth::{session, Authenticated, ClientInfo, TokenPair};
use crate::domain::{AuditKind, Email, FieldErrors, Role, Username};
use crate::entities::{linked_identity, user};
use crate::error::{AppError, OidcRefusal, TicketToken};
use crate::oidc::{Identity, Pending};
use crate::store;
use crate::store::identities::{NewIdentity, Unlinked};

/// Where a login through a provider goes on.
#[derive(Debug)]
pub enum Outcome {
    /// Logged in: the session's tokens.
    LoggedIn(user::Model, TokenPair),
    /// The account has a second factor: the ticket of the second step.
    SecondStep(TicketToken),
    /// A person no account knows: the sign-up page asks for a username.
    SignUp(Pending),
}

/// What a login through a provider carries from the browser.
pub struct Browser<'a> {
    /// The browser's session, if it has one (see `accounts::login`).
    pub current: Option<(&'a Authenticated, Option<&'a str>)>,
    /// Its "remember this browser" cookie.
    pub remembered: Option<&'a str>,
    /// Where it goes once logged in.
    pub next: Option<String>,
}

fn new_identity(identity: &Identity) -> NewIdentity<'_> {
    NewIdentity { provider: &identity.provider, issuer: &identity.issuer, subject: &identity.subject, email: identity.email.as_deref() }
}

fn provider_detail(provider: &str) -> Detail {
    Detail::Provider { provider: provider.to_owned(), second_step: None }
}

/// A login through a provider, by the rules of the module's documentation.
pub async fn login(app: &App, identity: Identity, browser: Browser<'_>, client: &ClientInfo) -> Result<Outcome, AppError> {
    let provider = app.oidc.config(&identity.provider)?.clone();
    if let Some(link) = store::identities::find(&app.db, &identity.issuer, &identity.subject).await? {
        let user = store::users::find_by_id(&app.db, link.user_id).await?.ok_or(AppError::Oidc(OidcRefusal::Expired))?;
        return log_in(app, user, &link, browser, client).await;
    }
    let email = identity.email.clone().ok_or_else(|| AppError::Oidc(OidcRefusal::NoEmail(provider.name.clone())))?;
    let Some(user) = store::users::find_by_email(&app.db, &email).await? else {
        return Ok(Outcome::SignUp(Pending { identity, next: browser.next }));
    };
    let joins = provider.email_login && identity.email_verified && user.email_verified_at.is_some();
    if !joins {
        return Err(AppError::Oidc(OidcRefusal::EmailInUse(provider.name)));
    }
    let link = link_to(app, &user, &identity, client).await?;
    log_in(app, user, &link, browser, client).await
}

/// Logs `user` in through their `link`: refused when disabled, on to the
/// second step when the account has one (a remembered browser skips it,
/// and its session is not fresh).
async fn log_in(app: &App, user: user::Model, link: &linked_identity::Model, browser: Browser<'_>, client: &ClientInfo) -> Result<Outcome, AppError> {
    if user.disabled_at.is_some() {
        let event = Event::about(AuditKind::LoginFailed, Some(user.public_id)).with(Detail::LoginFailed { reason: "disabled" });
        audit::record(app, client, event).await;
        return Err(AppError::Forbidden);
    }
    store::identities::used(&app.db, link.id).await?;
    let second_step = match two_factor::second_step(app, &user, browser.current.map(|(session_user, _)| session_user), browser.remembered).await? {
        SecondStep::Due => {
            let resume = Resume { next: browser.next, provider: Some(link.provider.clone()) };
            return Ok(Outcome::SecondStep(two_factor::begin(app, &user, Via::Page, resume).await?));
        }
        SecondStep::Remembered => Some(two_factor::REMEMBERED_STEP),
        SecondStep::None => None,
    };
    let detail = Detail::Provider { provider: link.provider.clone(), second_step };
    let (user, pair) = super::complete_login(app, user, client, browser.current, second_step.is_none(), detail).await?;
    Ok(Outcome::LoggedIn(user, pair))
}

/// Links `identity` to `user`, with its notice and audit event.
async fn link_to(app: &App, user: &user::Model, identity: &Identity, client: &ClientInfo) -> Result<linked_identity::Model, AppError> {
    let provider = app.oidc.config(&identity.provider)?;
    let what = format!("Your {} account was linked to your recipebox account: it can now log you in", provider.name);
    let advice = "If this was not you, unlink it on your account's security page at once, and reset your password with the link below.";
    let text = notices::text(app, &user.username, &what, client, Advice::Then(advice))?;
    let txn = app.db.begin().await?;
    let Some(link) = store::identities::link(&txn, user.id, new_identity(identity)).await? else {
        return Err(AppError::Oidc(OidcRefusal::LinkedElsewhere(provider.name.clone())));
    };
    app.mailer.commit_with(txn, &user.email, notices::PROVIDER_LINKED, text).await?;
    audit::record(app, client, Event::own(AuditKind::IdentityLinked, user.public_id).with(provider_detail(&identity.provider))).await;
    Ok(link)
}

/// A username to suggest for `pending`: the provider's name for the
/// person, or the email's local part, if it is a valid username.
pub fn suggested_username(pending: &Pending) -> Option<String> {
    let from_email = pending.identity.email.as_deref().and_then(|email| email.split('@').next());
    [pending.identity.preferred_username.as_deref(), from_email]
        .into_iter()
        .flatten()
        .find_map(|name| Username::parse(name).ok())
        .map(|name| name.as_str().to_owned())
}

/// Creates the account of a first login through a provider, with the
/// chosen `username` (422 when invalid, 409 when taken), the provider's
/// email (verified when the provider said so) and no password; links the
/// person and starts a fresh session. Counted against
/// `signup_max_per_address` like any sign-up.
pub async fn sign_up(app: &App, pending: &Pending, username: &str, client: &ClientInfo) -> Result<(user::Model, TokenPair), AppError> {
    let identity = &pending.identity;
    let provider = app.oidc.config(&identity.provider)?;
    let raw_email = identity.email.as_deref().ok_or_else(|| AppError::Oidc(OidcRefusal::NoEmail(provider.name.clone())))?;
    let email = Email::parse(raw_email).map_err(|_| AppError::Oidc(OidcRefusal::NoEmail(provider.name.clone())))?;
    let mut errors = FieldErrors::new();
    let username = errors.check("username", Username::parse(username));
    let (Some(username), true) = (username, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let taken = store::users::taken(&app.db, &email, &username).await?;
    if taken.get("email").is_some() {
        return Err(AppError::Oidc(OidcRefusal::EmailInUse(provider.name.clone())));
    }
    if !taken.is_empty() {
        return Err(AppError::Conflict(taken));
    }
    let throttle = LoginThrottle::for_signups(app, client);
    let attempt = throttle.attempt().await?;
    let txn = app.db.begin().await?;
    let new = store::users::NewUser { email, username, password_hash: String::new(), role: Role::User, email_verified: identity.email_verified };
    let user = match store::users::create(&txn, new).await {
        Ok(user) => user,
        Err(e) => {
            drop(txn);
            throttle.take_back(attempt).await?;
            return Err(match e {
                AppError::Conflict(taken) if taken.get("email").is_some() => AppError::Oidc(OidcRefusal::EmailInUse(provider.name.clone())),
                other => other,
            });
        }
    };
    if store::identities::link(&txn, user.id, new_identity(identity)).await?.is_none() {
        // The same first login, signed up twice at once.
        drop(txn);
        throttle.take_back(attempt).await?;
        return Err(AppError::Oidc(OidcRefusal::LinkedElsewhere(provider.name.clone())));
    }
    txn.commit().await?;
    throttle.stays_counted(attempt);
    let pair = session::start(app, &user, client, None, true).await?;
    audit::record(app, client, Event::own(AuditKind::Signup, user.public_id).with(provider_detail(&identity.provider))).await;
    if !identity.email_verified {
        if let Err(e) = verify::send_link(app, &user, &user.email, client).await {
            tracing::warn!(error = %e, "no verification link at sign-up");
        }
    }
    Ok((user, pair))
}

/// Links the person `identity` to the signed-in account whose session is
/// fresh (the route's guard). Linked to it already is done; linked to
/// another account, or the account has another person at that provider,
/// is refused.
pub async fn link(app: &App, user: &Authenticated, identity: &Identity, client: &ClientInfo) -> Result<(), AppError> {
    let provider = app.oidc.config(&identity.provider)?;
    if let Some(row) = store::identities::find(&app.db, &identity.issuer, &identity.subject).await? {
        return match row.user_id == user.id {
            true => Ok(()),
            false => Err(AppError::Oidc(OidcRefusal::LinkedElsewhere(provider.name.clone()))),
        };
    }
    if store::identities::of_user(&app.db, user.id).await?.iter().any(|row| row.provider == identity.provider) {
        return Err(AppError::Oidc(OidcRefusal::AlreadyLinked(provider.name.clone())));
    }
    let account = store::users::find_by_id(&app.db, user.id).await?.ok_or(AppError::NotFound)?;
    link_to(app, &account, identity, client).await.map(drop)
}

/// Unlinks one of the caller's links (another's, or an unknown id, is
/// `NotFound`); refused (409) when it is the last way left to log in: no
/// password, no passkey, no other link.
pub async fn unlink(app: &App, user: &Authenticated, id: Uuid, client: &ClientInfo) -> Result<(), AppError> {
    let account = store::users::find_by_id(&app.db, user.id).await?.ok_or(AppError::NotFound)?;
    let txn = app.db.begin().await?;
    let link = match store::identities::unlink(&txn, user.id, id).await? {
        Unlinked::Done(link) => link,
        Unlinked::NotFound => return Err(AppError::NotFound),
        Unlinked::LastWay => return Err(AppError::Oidc(OidcRefusal::LastWay)),
    };
    let name = app.oidc.config(&link.provider).map_or_else(|_| link.provider.clone(), |p| p.name.clone());
    let what = format!("Your {name} account was unlinked from your recipebox account: it no longer logs you in");
    let text = notices::text(app, &account.username, &what, client, Advice::NewPassword)?;
    app.mailer.commit_with(txn, &account.email, notices::PROVIDER_UNLINKED, text).await?;
    audit::record(app, client, Event::own(AuditKind::IdentityUnlinked, user.public_id).with(provider_detail(&link.provider))).await;
    Ok(())
}

/// The account's links, oldest first.
pub async fn list(app: &App, user_id: i64) -> Result<Vec<linked_identity::Model>, AppError> {
    Ok(store::identities::of_user(&app.db, user_id).await?)
}
