//! What people do with their accounts: sign up, log in, log out, end
//! sessions, change the password; and (in [`admin`]) what admins do to
//! other accounts. The pages, the API and the command line share these, so
//! each front end only translates input and output, and every action writes
//! its audit event in one place.

pub mod admin;
pub mod delete;
pub mod export;
pub mod identities;
pub mod notices;
pub mod overview;
pub mod passkeys;
pub mod reset;
pub mod tokens;
pub mod two_factor;
pub mod verify;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::app::App;
use crate::audit::{self, Detail, Event};
use crate::auth::throttle::LoginThrottle;
use crate::auth::{session, Authenticated, ClientInfo, TokenPair};
use crate::domain::{AuditKind, Email, FieldErrors, Password, Role, Username};
use crate::entities::user;
use crate::error::AppError;
use crate::store;
use sea_orm::TransactionTrait;

/// A new random token and its hash: the link, cookie or client carries
/// the token, the database only the hash.
fn link_token() -> (String, String) {
    let token = session::random_token();
    let hash = token_hash(&token);
    (token, hash)
}

fn token_hash(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// A chosen password, checked against SPEC.md §2 for the account it is
/// for, and against its confirmation where the front end has one; problems
/// are filed under `field` and `{field}_confirm`.
fn check_new_password(
    app: &App,
    errors: &mut FieldErrors,
    field: &str,
    (raw, confirm): (&str, Option<&str>),
    (email, username): (&str, &str),
) -> Option<Password> {
    let password = errors.check(field, Password::parse(raw, app.config.password_rules, email, username));
    if confirm.is_some_and(|confirm| confirm != raw) {
        errors.add(&format!("{field}_confirm"), "The two passwords differ.");
    }
    password
}

/// A sign-up as typed. `password_confirm` is `None` where the front end has
/// no confirmation field (the API).
pub struct SignupInput<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub password_confirm: Option<&'a str>,
}

/// Checks every field at once (422), then that email and username are free
/// (409), then hashes and stores.
pub async fn register(app: &App, input: SignupInput<'_>, role: Role) -> Result<user::Model, AppError> {
    let mut errors = FieldErrors::new();
    let email = errors.check("email", Email::parse(input.email));
    let username = errors.check("username", Username::parse(input.username));
    let password =
        check_new_password(app, &mut errors, "password", (input.password, input.password_confirm), (input.email, input.username));
    let (Some(email), Some(username), Some(password), true) = (email, username, password, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let taken = store::users::taken(&app.db, &email, &username).await?;
    if !taken.is_empty() {
        return Err(AppError::Conflict(taken));
    }
    let password_hash = app.hasher.hash(password.expose()).await?;
    store::users::create(&app.db, store::users::NewUser { email, username, password_hash, role, email_verified: false }).await
}

/// A sign-up from the site or the API: the account and its first session.
/// At most `signup_max_per_address` accounts per client address within
/// `signup_window` (429 past it).
pub async fn signup(app: &App, input: SignupInput<'_>, client: &ClientInfo) -> Result<(user::Model, TokenPair), AppError> {
    let throttle = LoginThrottle::for_signups(app, client);
    let attempt = throttle.attempt().await?;
    let user = match register(app, input, Role::User).await {
        Ok(user) => {
            throttle.stays_counted(attempt);
            user
        }
        Err(e) => {
            throttle.take_back(attempt).await?;
            return Err(e);
        }
    };
    let pair = session::start(app, &user, client, None, true).await?;
    audit::record(app, client, Event::own(AuditKind::Signup, user.public_id)).await;
    // A new address is unique, so sign-up sends one link per address at
    // most; were it throttled anyway, the account still stands.
    if let Err(e) = verify::send_link(app, &user, &user.email, client).await {
        tracing::warn!(error = %e, "no verification link at sign-up");
    }
    Ok((user, pair))
}

/// What a password check found.
enum PasswordCheck {
    Matches(user::Model),
    UnknownEmail,
    WrongPassword(user::Model),
}

/// One bcrypt verify whatever the email: against the account's hash, or a
/// dummy of the same cost when there is no account (or it has no
/// password), so timing does not tell which emails exist. A password
/// bcrypt cannot take counts as wrong. On a match the hash is upgraded if
/// `bcrypt_cost` was raised since it was made.
async fn check_password(app: &App, email: &str, password: &str) -> Result<PasswordCheck, AppError> {
    let user = store::users::find_by_email(&app.db, email).await?;
    let hash = user.as_ref().and_then(user::Model::password);
    let matches = app.hasher.verify_or_dummy(password, hash).await?;
    let Some(user) = user else {
        return Ok(PasswordCheck::UnknownEmail);
    };
    if !matches {
        return Ok(PasswordCheck::WrongPassword(user));
    }
    if app.hasher.needs_upgrade(&user.password_hash) {
        match app.hasher.hash(password).await {
            Ok(hash) => store::users::set_password_hash(&app.db, user.id, hash).await?,
            Err(e) => tracing::warn!(error = %e, "could not upgrade a password hash"),
        }
    }
    Ok(PasswordCheck::Matches(user))
}

/// How a login goes on to its second step, for an account that has one.
pub struct SecondStep<'a> {
    /// Where the ticket works: the pages or the API.
    pub via: two_factor::Via,
    /// Where the browser goes once logged in.
    pub next: Option<String>,
    /// The browser's "remember this browser" cookie.
    pub remembered: Option<&'a str>,
}

/// A password login. Unknown email and wrong password are one error after
/// the same work; a disabled account is refused (403) only after the
/// password proved right, so it reveals nothing to a guesser. A throttled
/// account or address is refused (429) before bcrypt runs.
///
/// For an account with a second factor a right password is not a login:
/// it is `SecondFactorRequired` with the ticket the second step takes
/// (`two_factor::finish`, then [`complete_login`]). The account's failure
/// count is cleared only by a whole login, so a guesser who has the
/// password gets no new budget of codes with each right password. A
/// remembered browser skips the step, but its session is not fresh; a
/// logged-in visitor confirming their password is always asked.
///
/// `current` is the browser's session when it already has one: the same
/// account logging in again (to get a fresh token) keeps that session with
/// new tokens; another account's session is ended first, so a browser
/// holds one session at a time.
pub async fn login(
    app: &App,
    (email, password): (&str, &str),
    client: &ClientInfo,
    current: Option<(&Authenticated, Option<&str>)>,
    second: SecondStep<'_>,
) -> Result<(user::Model, TokenPair), AppError> {
    let failed = |subject: Option<Uuid>, reason| Event::about(AuditKind::LoginFailed, subject).with(Detail::LoginFailed { reason });
    let throttle = LoginThrottle::new(app, email, client);
    let attempt = throttle.attempt().await?;
    let user = match check_password(app, email, password).await? {
        PasswordCheck::Matches(user) => user,
        PasswordCheck::UnknownEmail => {
            throttle.stays_counted(attempt);
            audit::record(app, client, failed(None, "unknown_email")).await;
            return Err(AppError::InvalidCredentials);
        }
        PasswordCheck::WrongPassword(user) => {
            throttle.stays_counted(attempt);
            audit::record(app, client, failed(Some(user.public_id), "wrong_password")).await;
            return Err(AppError::InvalidCredentials);
        }
    };
    if user.disabled_at.is_some() {
        throttle.succeeded(attempt).await?;
        audit::record(app, client, failed(Some(user.public_id), "disabled")).await;
        return Err(AppError::Forbidden);
    }
    let step = two_factor::second_step(app, &user, current.map(|(session_user, _)| session_user), second.remembered).await?;
    let detail = match step {
        two_factor::SecondStep::Due => {
            throttle.take_back(attempt).await?;
            let ticket = two_factor::begin(app, &user, second.via, two_factor::Resume { next: second.next, provider: None }).await?;
            return Err(AppError::SecondFactorRequired(ticket));
        }
        two_factor::SecondStep::Remembered => Detail::SecondStep { second_step: two_factor::REMEMBERED_STEP },
        two_factor::SecondStep::None => Detail::None,
    };
    throttle.succeeded(attempt).await?;
    let fresh = step == two_factor::SecondStep::None;
    complete_login(app, user, client, current, fresh, detail).await
}

/// The session of a login that passed every step it needs: the browser's
/// own session again for the same account (new tokens), or a new one.
/// `fresh` unless a remembered browser stood in for the second step.
pub async fn complete_login(
    app: &App,
    user: user::Model,
    client: &ClientInfo,
    current: Option<(&Authenticated, Option<&str>)>,
    fresh: bool,
    detail: Detail,
) -> Result<(user::Model, TokenPair), AppError> {
    let pair = match current {
        Some((session_user, refresh)) if session_user.id == user.id && fresh => session::reissue(app, session_user, refresh).await?,
        other => {
            if let Some((session_user, refresh)) = other {
                session::end(app, session_user, refresh).await?;
            }
            let notice = |family: &str| new_device_notice(app, &user, client, family);
            session::start(app, &user, client, Some(&notice), fresh).await?
        }
    };
    audit::record(app, client, Event::own(AuditKind::Login, user.public_id).with(detail)).await;
    Ok((user, pair))
}

/// The notice of a login from a device the account has not used before
/// (browser and system, `client::device::family`), so each device is
/// announced once.
fn new_device_notice(app: &App, user: &user::Model, client: &ClientInfo, family: &str) -> Result<session::Notice, AppError> {
    let what = format!("Someone logged in to your recipebox account from a device it had not used before ({family})");
    Ok(session::Notice { to: user.email.clone(), subject: notices::NEW_DEVICE, text: notices::text(app, &user.username, &what, client, notices::Advice::NewPassword)? })
}

/// Ends the caller's session: both its tokens are revoked.
pub async fn logout(
    app: &App,
    user: &Authenticated,
    refresh_token: Option<&str>,
    client: &ClientInfo,
) -> Result<(), AppError> {
    session::end(app, user, refresh_token).await?;
    audit::record(app, client, Event::own(AuditKind::Logout, user.public_id)).await;
    Ok(())
}

/// Every session of the caller ends, this one included.
pub async fn logout_everywhere(app: &App, user: &Authenticated, client: &ClientInfo) -> Result<(), AppError> {
    let sessions = session::end_all(&app.db, user.into()).await?;
    let event = Event::own(AuditKind::LogoutEverywhere, user.public_id).with(Detail::SessionsEnded { sessions });
    audit::record(app, client, event).await;
    Ok(())
}

/// Ends one of the caller's own sessions. Someone else's (or an unknown)
/// `sid` is `NotFound`: it does not exist for this user.
pub async fn end_session(app: &App, user: &Authenticated, sid: Uuid, client: &ClientInfo) -> Result<(), AppError> {
    if !session::end_one(app, user.into(), sid).await? {
        return Err(AppError::NotFound);
    }
    audit::record(app, client, Event::own(AuditKind::SessionEnded, user.public_id)).await;
    Ok(())
}

/// The current-password check of a logged-in user's sensitive change (the
/// password, the email address). It shares the login counters, or it would
/// be an unthrottled way to guess a stolen session's password; a wrong
/// password is a failed login in the audit trail.
async fn current_password_matches(app: &App, account: &user::Model, password: &str, client: &ClientInfo) -> Result<bool, AppError> {
    let throttle = LoginThrottle::new(app, &account.email, client);
    let attempt = throttle.attempt().await?;
    if app.hasher.verify_or_dummy(password, account.password()).await? {
        throttle.succeeded(attempt).await?;
        return Ok(true);
    }
    throttle.stays_counted(attempt);
    let event = Event::own(AuditKind::LoginFailed, account.public_id).with(Detail::LoginFailed { reason: "wrong_current_password" });
    audit::record(app, client, event).await;
    Ok(false)
}

/// A password change as typed. `new_password_confirm` is `None` where the
/// front end has no confirmation field (the API).
pub struct PasswordChange<'a> {
    pub current_password: &'a str,
    pub new_password: &'a str,
    pub new_password_confirm: Option<&'a str>,
}

/// Changes the caller's password. Every field is checked at once (422 with
/// a message per field): the current password must be right, the new one
/// must follow SPEC.md §2 and differ from it. Then every other session of
/// the user ends; the caller's own goes on.
pub async fn change_password(
    app: &App,
    user: &Authenticated,
    input: PasswordChange<'_>,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let account = store::users::find_by_public_id(&app.db, user.public_id).await?.ok_or(AppError::NotFound)?;
    let mut errors = FieldErrors::new();
    let chosen = (input.new_password, input.new_password_confirm);
    let new_password = check_new_password(app, &mut errors, "new_password", chosen, (&account.email, &account.username));
    if input.new_password == input.current_password && !input.new_password.is_empty() {
        errors.add("new_password", "The new password must differ from the current one.");
    }
    if !current_password_matches(app, &account, input.current_password, client).await? {
        errors.add("current_password", "That is not your current password.");
    }
    let (Some(new_password), true) = (new_password, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let hash = app.hasher.hash(new_password.expose()).await?;
    let what = "The password of your recipebox account was changed, and every other session was logged out";
    let txn = app.db.begin().await?;
    store::users::set_password_hash(&txn, account.id, hash).await?;
    store::factors::forget_browsers(&txn, account.id).await?;
    // A login begun with the old password cannot be finished.
    store::factors::drop_tickets(&txn, account.id).await?;
    // A reset link sent before no longer works.
    store::email_tokens::retire(&txn, account.id, reset::PURPOSE).await?;
    let sessions = session::end_others(&txn, (&account).into(), user.sid).await?;
    app.mailer.commit_with(txn, &account.email, notices::PASSWORD_CHANGED, notices::text(app, &account.username, what, client, notices::Advice::NewPassword)?).await?;
    let event = Event::own(AuditKind::PasswordChanged, user.public_id).with(Detail::SessionsEnded { sessions });
    audit::record(app, client, event).await;
    Ok(())
}
