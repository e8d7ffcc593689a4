//! Two-step login (SPEC.md §2, §4, §5): a TOTP app as the second factor,
//! ten single-use recovery codes, remembered browsers, and the half-done
//! login between the password and the code.
//!
//! - A right password for an account with a second factor starts no
//!   session: it issues a ticket (5 minutes, single use, for the pages or
//!   for the API) that only the second step takes.
//! - A code is accepted once: the time step it matched must come after the
//!   last accepted one, and moving `last_step` forward is a conditional
//!   write (`store::factors::take_step`), so a replay fails on every
//!   instance. A recovery code is used up the same way.
//! - Wrong codes are failed logins: the same counters per account and per
//!   address, the same 429.
//! - Every change of factors forgets every remembered browser, writes an
//!   audit event and mails a notice in the change's transaction.

use rand::Rng;
use sea_orm::TransactionTrait;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{link_token, notices, token_hash};
use crate::app::App;
use crate::audit::{self, Detail, Event};
use crate::auth::throttle::LoginThrottle;
use crate::auth::{session, Authenticated, ClientInfo};
use crate::crypto::totp;
use crate::domain::{AuditKind, FieldErrors};
use crate::entities::{login_ticket, remembered_browser, user};
use crate::error::{AppError, TicketToken};
use crate::store;

/// How long the second step may wait after the password.
pub const TICKET_SECONDS: i64 = 300;
/// How long "remember this browser" lasts.
pub const REMEMBER_SECONDS: i64 = 30 * 86_400;
/// Recovery codes per set.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code (Crockford's base32: no i, l, o or u).
const CODE_ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
const CODE_LENGTH: usize = 10;

/// Where a half-done login goes on: its ticket works only there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Page,
    Api,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Page => "page",
            Via::Api => "api",
        }
    }
}

/// Whether logging in to this account with its password takes a second
/// step: it has TOTP or a passkey (SPEC §4).
pub async fn required(app: &App, user: &user::Model) -> Result<bool, AppError> {
    Ok(store::factors::has_totp(&app.db, user.id).await? || store::passkeys::has_any(&app.db, user.id).await?)
}

/// The audit detail's `second_step` of a login a remembered browser let
/// through.
pub const REMEMBERED_STEP: &str = "remembered_browser";

/// Where a login whose first step passed stands with the second (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondStep {
    /// The account has no second factor.
    None,
    /// A remembered browser stands in for it: the session is not fresh.
    Remembered,
    /// It is asked for now.
    Due,
}

/// Whether a login of `user`, whose first step (a password, a provider)
/// passed, goes on to the second step: when the account has a factor,
/// unless the browser is remembered, and always for the account's own
/// session confirming itself (`current`), which must end fresh.
pub async fn second_step(app: &App, user: &user::Model, current: Option<&Authenticated>, remember_token: Option<&str>) -> Result<SecondStep, AppError> {
    if !required(app, user).await? {
        return Ok(SecondStep::None);
    }
    let confirming = current.is_some_and(|session_user| session_user.id == user.id);
    if confirming || !remembered(app, user, remember_token).await? {
        return Ok(SecondStep::Due);
    }
    Ok(SecondStep::Remembered)
}

/// Which second factors an account has.
#[derive(Debug, Clone, Copy)]
pub struct Factors {
    pub totp: bool,
    pub passkey: bool,
}

impl Factors {
    /// Whether a password alone does not log in.
    pub fn any(self) -> bool {
        self.totp || self.passkey
    }
}

pub async fn factors(app: &App, user: &user::Model) -> Result<Factors, AppError> {
    Ok(Factors { totp: store::factors::has_totp(&app.db, user.id).await?, passkey: store::passkeys::has_any(&app.db, user.id).await? })
}

/// What a half-done login goes on with once its second step passed: where
/// the browser goes, and the provider the login came through, if any.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    pub next: Option<String>,
    pub provider: Option<String>,
}

impl Resume {
    fn of(ticket: login_ticket::Model) -> Self {
        Self { next: ticket.next_path, provider: ticket.provider }
    }

    /// The detail of the login's audit event: its second step, and the
    /// provider it came through.
    pub fn detail(&self, second_step: &'static str) -> Detail {
        match &self.provider {
            Some(provider) => Detail::Provider { provider: provider.clone(), second_step: Some(second_step) },
            None => Detail::SecondStep { second_step },
        }
    }
}

/// Uses up the ticket of a second step that passed another way (a
/// passkey): its account must be `user_id`'s. The account and what the
/// login goes on with come back.
pub async fn spend(app: &App, via: Via, token: &str, user_id: i64) -> Result<(user::Model, Resume), AppError> {
    let ticket = store::factors::ticket(&app.db, via.as_str(), &token_hash(token)).await?;
    let ticket = ticket.filter(|ticket| ticket.user_id == user_id).ok_or(AppError::SecondFactorInvalid)?;
    if !store::factors::spend_ticket(&app.db, ticket.id).await? {
        return Err(AppError::SecondFactorInvalid);
    }
    let user = store::users::find_by_id(&app.db, user_id).await?.ok_or(AppError::SecondFactorInvalid)?;
    if user.disabled_at.is_some() {
        return Err(AppError::Forbidden);
    }
    Ok((user, Resume::of(ticket)))
}

/// The ticket of a right password: its token goes to the browser (a
/// cookie) or the API client (`second_factor_token`), its hash to the
/// database. `resume` is where the browser goes once logged in, and the
/// provider the login came through.
pub async fn begin(app: &App, user: &user::Model, via: Via, resume: Resume) -> Result<TicketToken, AppError> {
    let (token, hash) = link_token();
    let expires_at = store::now().unix_timestamp() + TICKET_SECONDS;
    store::factors::issue_ticket(&app.db, user.id, via.as_str(), hash, (resume.next, resume.provider), expires_at).await?;
    Ok(TicketToken(token))
}

/// The account a live ticket is for, and where the browser goes after.
pub async fn ticket_holder(app: &App, via: Via, token: &str) -> Result<Option<(user::Model, Option<String>)>, AppError> {
    if token.is_empty() {
        return Ok(None);
    }
    let Some(ticket) = store::factors::ticket(&app.db, via.as_str(), &token_hash(token)).await? else {
        return Ok(None);
    };
    let user = store::users::find_by_id(&app.db, ticket.user_id).await?;
    Ok(user.map(|user| (user, ticket.next_path)))
}

/// A code as typed, tidied: spaces and dashes out, lower case.
fn tidy(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect()
}

fn recovery_hash(user: &user::Model, code: &str) -> String {
    format!("{:x}", Sha256::digest(format!("recipebox-recovery:{}:{code}", user.public_id)))
}

/// What passed a second step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passed {
    Totp,
    RecoveryCode,
}

impl Passed {
    fn as_str(self) -> &'static str {
        match self {
            Passed::Totp => "totp",
            Passed::RecoveryCode => "recovery_code",
        }
    }
}

/// Takes `code` for the user, once: a TOTP code of a step after the last
/// accepted one, or an unused recovery code (used up now, with its notice
/// in the same transaction). `None` for anything else.
async fn take_code(app: &App, user: &user::Model, code: &str, client: &ClientInfo) -> Result<Option<Passed>, AppError> {
    let code = tidy(code);
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let Some(row) = store::factors::totp(&app.db, user.id).await?.filter(|row| row.enabled_at.is_some()) else {
            return Ok(None);
        };
        let now = store::now().unix_timestamp().max(0) as u64;
        let Some(step) = totp::matching_step(&row.secret, &code, now)? else {
            return Ok(None);
        };
        let taken = totp::is_new_step(step, row.last_step) && store::factors::take_step(&app.db, user.id, step as i64).await?;
        return Ok(taken.then_some(Passed::Totp));
    }
    if code.len() != CODE_LENGTH || !code.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
        return Ok(None);
    }
    let txn = app.db.begin().await?;
    if !store::factors::use_recovery_code(&txn, user.id, &recovery_hash(user, &code)).await? {
        return Ok(None);
    }
    let left = store::factors::recovery_codes_left(&txn, user.id).await?;
    let what = format!("A recovery code was used to log in to your recipebox account; {left} of them are left");
    let advice = "If this was not you, someone has your password and a recovery code: reset your password at once \
                  with the link below, then renew your recovery codes.";
    let text = notices::text(app, &user.username, &what, client, notices::Advice::Then(advice))?;
    app.mailer.commit_with(txn, &user.email, notices::RECOVERY_CODE_USED, text).await?;
    let event = Event::own(AuditKind::RecoveryCodeUsed, user.public_id).with(Detail::CodesLeft { codes_left: left });
    audit::record(app, client, event).await;
    Ok(Some(Passed::RecoveryCode))
}

/// The second step: the ticket's account, if `code` is right for it. A
/// wrong code counts as a failed login (per account and per address, 429
/// past the limits) and leaves the ticket for another try; a right one
/// uses the ticket up. An unknown, used or expired ticket is
/// `SecondFactorInvalid` like a wrong code.
pub async fn finish(
    app: &App,
    via: Via,
    token: &str,
    code: &str,
    client: &ClientInfo,
) -> Result<(user::Model, Resume, Passed), AppError> {
    let ticket = match token.is_empty() {
        true => None,
        false => store::factors::ticket(&app.db, via.as_str(), &token_hash(token)).await?,
    };
    let Some(ticket) = ticket else {
        return Err(AppError::SecondFactorInvalid);
    };
    let user = store::users::find_by_id(&app.db, ticket.user_id).await?.ok_or(AppError::SecondFactorInvalid)?;
    let throttle = LoginThrottle::new(app, &user.email, client);
    let attempt = throttle.attempt().await?;
    let Some(passed) = take_code(app, &user, code, client).await? else {
        throttle.stays_counted(attempt);
        let event = Event::about(AuditKind::LoginFailed, Some(user.public_id)).with(Detail::LoginFailed { reason: "wrong_code" });
        audit::record(app, client, event).await;
        return Err(AppError::SecondFactorInvalid);
    };
    throttle.succeeded(attempt).await?;
    // Of two right codes at once, one login.
    if !store::factors::spend_ticket(&app.db, ticket.id).await? {
        return Err(AppError::SecondFactorInvalid);
    }
    if user.disabled_at.is_some() {
        return Err(AppError::Forbidden);
    }
    Ok((user, Resume::of(ticket), passed))
}

impl Passed {
    /// The login's audit detail, naming the provider `resume` came through.
    pub fn detail(self, resume: &Resume) -> Detail {
        resume.detail(self.as_str())
    }
}

// --- Remembered browsers ---------------------------------------------------

/// Whether the browser's remember cookie (`token`) skips the second step
/// for this account.
pub async fn remembered(app: &App, user: &user::Model, token: Option<&str>) -> Result<bool, AppError> {
    match token.filter(|t| !t.is_empty()) {
        Some(token) => Ok(store::factors::browser_remembered(&app.db, user.id, &token_hash(token)).await?),
        None => Ok(false),
    }
}

/// Remembers this browser for [`REMEMBER_SECONDS`]; the token is for its
/// cookie.
pub async fn remember(app: &App, user: &user::Model, client: &ClientInfo) -> Result<String, AppError> {
    let (token, token_hash) = link_token();
    let device = crate::client::device::describe(client.user_agent.as_deref());
    let new = store::factors::NewBrowser {
        token_hash,
        device: &device,
        ip_address: client.ip.as_deref(),
        expires_at: store::now().unix_timestamp() + REMEMBER_SECONDS,
    };
    store::factors::remember_browser(&app.db, user.id, new).await?;
    Ok(token)
}

/// Forgets one of the caller's remembered browsers; someone else's (or an
/// unknown) id is `NotFound`.
pub async fn forget_browser(app: &App, user: &Authenticated, id: Uuid, client: &ClientInfo) -> Result<(), AppError> {
    if !store::factors::forget_browser(&app.db, user.id, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(app, client, Event::own(AuditKind::BrowserForgotten, user.public_id)).await;
    Ok(())
}

// --- What /me/security shows ----------------------------------------------

pub struct Security {
    pub totp: bool,
    pub codes_left: u64,
    pub browsers: Vec<remembered_browser::Model>,
    pub passkeys: Vec<crate::entities::passkey::Model>,
    /// Whether the account has a password (one made through a provider
    /// has none until its owner sets one).
    pub password: bool,
}

pub async fn security(app: &App, user: &Authenticated) -> Result<Security, AppError> {
    let account = store::users::find_by_id(&app.db, user.id).await?.ok_or(AppError::NotFound)?;
    Ok(Security {
        password: account.password().is_some(),
        totp: store::factors::has_totp(&app.db, user.id).await?,
        codes_left: store::factors::recovery_codes_left(&app.db, user.id).await?,
        browsers: store::factors::browsers(&app.db, user.id).await?,
        passkeys: store::passkeys::of_user(&app.db, user.id).await?,
    })
}

// --- Turning it on and off ---------------------------------------------------

/// What the enrolment page shows: the secret as text and as a QR code.
pub struct Enrolment {
    pub secret: String,
    pub qr_svg: String,
}

/// The pending secret of the caller (a new one the first time), or `None`
/// when two-step login is on already.
pub async fn enrolment(app: &App, user: &Authenticated) -> Result<Option<Enrolment>, AppError> {
    let row = store::factors::pending_totp(&app.db, user.id, totp::new_secret()).await?;
    if row.enabled_at.is_some() {
        return Ok(None);
    }
    let url = totp::setup_url(&row.secret, &user.email)?;
    Ok(Some(Enrolment { qr_svg: totp::qr_svg(&url)?, secret: row.secret }))
}

fn wrong_code() -> AppError {
    AppError::Validation(FieldErrors::single(
        "code",
        "That code is not right. Type the 6 digits your app shows now; if it keeps failing, check the time on the phone.",
    ))
}

/// Ten new recovery codes (as shown, `xxxxx-xxxxx`) and their hashes.
fn new_recovery_codes(user: &user::Model) -> (Vec<String>, Vec<String>) {
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let code: String =
                (0..CODE_LENGTH).map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char).collect();
            let shown = format!("{}-{}", &code[..5], &code[5..]);
            (shown, recovery_hash(user, &code))
        })
        .unzip()
}

async fn account(app: &App, user: &Authenticated) -> Result<user::Model, AppError> {
    store::users::find_by_public_id(&app.db, user.public_id).await?.ok_or(AppError::NotFound)
}

/// Turns two-step login on when `code` is right for the pending secret.
/// Returns the recovery codes, to be shown once. Every other session of
/// the account ends (their logins passed one factor only), every
/// remembered browser is forgotten, and a notice is mailed.
pub async fn enable(app: &App, user: &Authenticated, code: &str, client: &ClientInfo) -> Result<Vec<String>, AppError> {
    let account = account(app, user).await?;
    let row = store::factors::totp(&app.db, account.id).await?;
    let Some(row) = row.filter(|row| row.enabled_at.is_none()) else {
        return Err(AppError::Validation(FieldErrors::single("code", "Two-step login is on already.")));
    };
    let now = store::now().unix_timestamp().max(0) as u64;
    let Some(step) = totp::matching_step(&row.secret, &tidy(code), now)? else {
        return Err(wrong_code());
    };
    let (shown, hashes) = new_recovery_codes(&account);
    let what = "Two-step login was turned on for your recipebox account: logging in now takes a code from an \
                authenticator app after the password";
    let text = notices::text(app, &account.username, what, client, notices::Advice::NewPassword)?;
    let txn = app.db.begin().await?;
    if !store::factors::enable_totp(&txn, account.id, &row.secret, step as i64).await? {
        return Err(wrong_code());
    }
    store::factors::replace_recovery_codes(&txn, account.id, hashes).await?;
    store::factors::forget_browsers(&txn, account.id).await?;
    let sessions = session::end_others(&txn, user.into(), user.sid).await?;
    app.mailer.commit_with(txn, &account.email, notices::TWO_FACTOR_ON, text).await?;
    let event = Event::own(AuditKind::TwoFactorEnabled, user.public_id).with(Detail::SessionsEnded { sessions });
    audit::record(app, client, event).await;
    Ok(shown)
}

/// Turns two-step login off: the secret and the recovery codes go, and
/// every remembered browser is forgotten. `false` when it was off.
pub async fn disable(app: &App, user: &Authenticated, client: &ClientInfo) -> Result<bool, AppError> {
    let account = account(app, user).await?;
    let what = "Two-step login was turned off for your recipebox account: the password alone now logs in";
    let advice = "If this was not you, reset your password at once with the link below, then turn two-step login \
                  on again from your account's security page.";
    let text = notices::text(app, &account.username, what, client, notices::Advice::Then(advice))?;
    let txn = app.db.begin().await?;
    if !store::factors::remove_totp(&txn, account.id).await? {
        return Ok(false);
    }
    store::factors::forget_browsers(&txn, account.id).await?;
    app.mailer.commit_with(txn, &account.email, notices::TWO_FACTOR_OFF, text).await?;
    audit::record(app, client, Event::own(AuditKind::TwoFactorDisabled, user.public_id)).await;
    Ok(true)
}

/// Ten new recovery codes; the old ones stop working. `None` when
/// two-step login is off (there is nothing to recover).
pub async fn renew_codes(app: &App, user: &Authenticated, client: &ClientInfo) -> Result<Option<Vec<String>>, AppError> {
    let account = account(app, user).await?;
    if !store::factors::has_totp(&app.db, account.id).await? {
        return Ok(None);
    }
    let (shown, hashes) = new_recovery_codes(&account);
    let what = "New recovery codes were made for your recipebox account; the old ones no longer work";
    let text = notices::text(app, &account.username, what, client, notices::Advice::NewPassword)?;
    let txn = app.db.begin().await?;
    store::factors::replace_recovery_codes(&txn, account.id, hashes).await?;
    store::factors::forget_browsers(&txn, account.id).await?;
    app.mailer.commit_with(txn, &account.email, notices::RECOVERY_CODES_RENEWED, text).await?;
    audit::record(app, client, Event::own(AuditKind::RecoveryCodesRenewed, user.public_id)).await;
    Ok(Some(shown))
}

/// An admin's reset of `target`'s second factors: TOTP, recovery codes,
/// passkeys, remembered browsers and half-done logins go, every session ends, and
/// the user is told. `false` when there was nothing to reset.
pub async fn reset_by_admin(app: &App, admin: &Authenticated, target: &user::Model, client: &ClientInfo) -> Result<(), AppError> {
    let what = "An admin reset the two-step login of your recipebox account: the password alone now logs in, \
                every session was logged out and every personal access token revoked";
    let advice = "Log in and turn two-step login on again from your account's security page. If you did not ask \
                  for this, reset your password with the link below.";
    let text = notices::text(app, &target.username, what, client, notices::Advice::Then(advice))?;
    let txn = app.db.begin().await?;
    store::factors::remove_totp(&txn, target.id).await?;
    store::passkeys::remove_all(&txn, target.id).await?;
    store::factors::forget_browsers(&txn, target.id).await?;
    store::factors::drop_tickets(&txn, target.id).await?;
    let sessions = session::end_all(&txn, target.into()).await?;
    // And every personal access token (SPEC §5).
    let tokens = store::access_tokens::revoke_all(&txn, target.id).await?;
    app.mailer.commit_with(txn, &target.email, notices::TWO_FACTOR_RESET, text).await?;
    let event = Event::admin(AuditKind::TwoFactorReset, admin.public_id, target.public_id).with(Detail::SessionsEnded { sessions });
    audit::record(app, client, event).await;
    let revoked = Event::admin(AuditKind::TokenRevoked, admin.public_id, target.public_id);
    super::tokens::record_all_revoked(app, client, revoked, tokens, "two_factor_reset").await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_tidied_before_they_are_compared() {
        assert_eq!(tidy(" 123 456 "), "123456");
        assert_eq!(tidy("ABCDE-fghjk"), "abcdefghjk");
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_only_their_hashes_are_kept() {
        let user = user::Model {
            id: 1,
            public_id: Uuid::new_v4(),
            email: "a@example.com".into(),
            username: "a".into(),
            username_key: "a".into(),
            password_hash: String::new(),
            role: crate::domain::Role::User,
            disabled_at: None,
            tokens_valid_after: store::now_ts(),
            email_verified_at: None,
            last_login_at: None,
            created_at: store::now_ts(),
            updated_at: store::now_ts(),
        };
        let (shown, hashes) = new_recovery_codes(&user);
        assert_eq!(shown.len(), RECOVERY_CODES);
        let distinct: std::collections::HashSet<_> = shown.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        for (code, hash) in shown.iter().zip(&hashes) {
            assert_eq!(code.len(), CODE_LENGTH + 1, "{code}");
            assert_eq!(&recovery_hash(&user, &tidy(code)), hash, "typed back, it matches");
            assert!(!hash.contains(&tidy(code)));
        }
    }
}
