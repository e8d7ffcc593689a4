//! Login sessions and their tokens: the one place that issues a token and the
//! one place that accepts one (SPEC.md §3).
//!
//! A login creates a `sessions` row; its `sid` is in every token of that login.
//! Accepting a token = `jwt::verify` (signature, time, shape, type) and then
//! one query (`store::tokens::auth_row`): the `jti` is not blocklisted, the
//! session is not revoked, the user is enabled, and `iat` is not before the
//! user's `tokens_valid_after`. Roles are read from that row, not the token,
//! so a demotion takes effect on the next request. That query runs on every
//! request, on every backend: nothing a token is worth is kept in memory.
//! The same row brings the versions of what `/me` and the recipe lists keep
//! (`crate::kept`), so they are checked in the request's one round trip.
//!
//! A session lives at most `session_max_age` from its login (SPEC §3): no
//! token of it expires later, and a refresh past that is refused. An
//! account has at most `sessions_per_account` live sessions; a new login
//! past that ends the least recently used one only if it is not in use,
//! and is refused with 429 otherwise ([`make_room`]).
//!
//! `tokens_valid_after` is kept in whole seconds, like `iat`: a token is
//! refused when `iat < tokens_valid_after`. A token issued in the very second
//! of a "log out everywhere" passes that comparison but belongs to a session
//! revoked in the same step, so it stops working anyway; a login made right
//! after gets a new session and works.

use std::fmt;
use std::time::Instant;

use time::OffsetDateTime;
use uuid::Uuid;
use sea_orm::{ConnectionTrait, TransactionSession as _, TransactionTrait};

use crate::client::ClientInfo;
use crate::crypto::jwt::{Claims, TokenType, ISSUER};
use crate::app::App;
use crate::audit::{self, Detail, Event};
use crate::domain::{AuditKind, Role};
use crate::entities::user;
use crate::error::{AppError, AuthError};
use crate::keys;
use crate::kept::Version;
use crate::store::devices::Seen;
use crate::store::recipes::Viewer;
use crate::store::{self, tokens::AuthRow};

/// How stale `sessions.last_used_at` may get before a request refreshes it;
/// keeps "last used" useful without a write on every request.
const TOUCH_AFTER_SECONDS: i64 = 60;

/// A fresh access and refresh token of one session.
#[derive(Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// The session's CSRF value, also in both tokens' `csrf` claim.
    pub csrf: String,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenPair(<redacted>)")
    }
}

/// The two ids of a user: what the database and the cache need to end
/// their sessions.
#[derive(Debug, Clone, Copy)]
pub struct Account {
    pub id: i64,
    pub public_id: Uuid,
}

impl From<&user::Model> for Account {
    fn from(user: &user::Model) -> Self {
        Account { id: user.id, public_id: user.public_id }
    }
}

impl From<&Authenticated> for Account {
    fn from(user: &Authenticated) -> Self {
        Account { id: user.id, public_id: user.public_id }
    }
}

/// Proof that a request carries a valid access token of an enabled user.
#[derive(Clone)]
pub struct Authenticated {
    pub id: i64,
    pub public_id: Uuid,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub created_at: OffsetDateTime,
    pub email_verified: bool,
    /// The login session this token belongs to.
    pub sid: Uuid,
    pub jti: Uuid,
    pub exp: i64,
    pub csrf: String,
    /// Issued by a login that passed every factor of the account (not by a
    /// refresh, nor a login whose second step a remembered browser skipped).
    pub fresh: bool,
    /// The version of what `/me` shows of this account, read with the row.
    pub user_version: Version,
    /// When the session ends at the latest (Unix seconds).
    pub session_ends_at: i64,
    /// The version of every recipe list, read with the row.
    pub recipes_version: Version,
}

impl Authenticated {
    fn new(app: &App, row: AuthRow, claims: &Claims) -> Self {
        Self {
            session_ends_at: ends_at(app, row.session_created_at.0),
            id: row.user_id,
            public_id: row.public_id,
            email: row.email,
            username: row.username,
            role: row.role,
            created_at: row.created_at.0,
            email_verified: row.email_verified_at.is_some(),
            sid: claims.sid,
            jti: claims.jti,
            exp: claims.exp,
            csrf: claims.csrf.clone(),
            fresh: claims.fresh,
            user_version: Version(row.user_version),
            recipes_version: Version(row.recipes_version),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Which recipes they may read: admins every one, a user also their
    /// own private ones.
    pub fn viewer(&self) -> Viewer {
        if self.is_admin() {
            Viewer::Admin
        } else {
            Viewer::User(self.id)
        }
    }
}

impl fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticated")
            .field("public_id", &self.public_id)
            .field("role", &self.role)
            .field("sid", &self.sid)
            .finish_non_exhaustive()
    }
}

pub use crate::crypto::random_token;

fn unix_now() -> i64 {
    store::now().unix_timestamp()
}

/// The token ids of one session: whose it is, which, and when it ends at
/// the latest (`session_max_age` after its login).
struct SessionIds {
    sub: Uuid,
    role: Role,
    sid: Uuid,
    ends_at: i64,
}

/// Signs an access and a refresh token for a session; also returns the
/// access token's claims, so a caller need not decode what it just signed.
/// Neither outlives the session.
fn issue(app: &App, session: &SessionIds, csrf: String, fresh: bool) -> anyhow::Result<(TokenPair, Claims)> {
    let now = unix_now();
    let SessionIds { sub, role, sid, ends_at } = *session;
    let claims = |token_type: TokenType, ttl: i64| Claims {
        iss: ISSUER.to_owned(),
        sub,
        iat: now,
        nbf: now,
        exp: (now + ttl).min(ends_at),
        jti: Uuid::new_v4(),
        token_type,
        role,
        csrf: csrf.clone(),
        sid,
        fresh,
        kid: None,
    };
    let access = claims(TokenType::Access, app.config.access_token_ttl);
    let pair = TokenPair {
        access_token: app.keys.sign(&access)?,
        refresh_token: app.keys.sign(&claims(TokenType::Refresh, app.config.refresh_token_ttl))?,
        csrf,
    };
    Ok((pair, access))
}

/// When a session that began at `created_at` ends at the latest.
pub fn ends_at(app: &App, created_at: OffsetDateTime) -> i64 {
    created_at.unix_timestamp().saturating_add(app.config.session_max_age)
}

/// When a session's refresh token issued now expires: its idle timeout,
/// never past the session's end.
fn refresh_expiry(app: &App, ends_at: i64) -> i64 {
    (unix_now() + app.config.refresh_token_ttl).min(ends_at)
}

/// Starts a session after a successful login or sign-up. `fresh` when the
/// login passed every factor the account has (SPEC §4): not when a
/// remembered browser skipped the second step.
pub async fn start(
    app: &App,
    user: &user::Model,
    client: &ClientInfo,
    notice: Option<&NoticeOf<'_>>,
    fresh: bool,
) -> Result<TokenPair, AppError> {
    // Its first refresh token lives the idle timeout, or the whole session
    // where that is shorter.
    let expires_at = unix_now() + app.config.refresh_token_ttl.min(app.config.session_max_age);
    let new = store::sessions::NewSession { user_agent: client.user_agent.as_deref(), ip_address: client.ip.as_deref(), expires_at };
    // Sign with the key the database says is active.
    keys::current(app.into()).await?;
    // The user's row is written first. On SQLite the transaction then holds
    // the write lock from its start (a read first could not become a write
    // after another connection's commit). On PostgreSQL and MariaDB the
    // row's lock puts the account's logins in line, so each one reads the
    // devices of those before it: a notice is decided once.
    let device = crate::client::device::family(client.user_agent.as_deref());
    let txn = app.db.begin().await?;
    store::users::record_login(&txn, user.id).await?;
    let ended = make_room(app, &txn, user.id).await?;
    let new_device = match store::devices::first_use(&txn, user.id, &device).await? {
        Seen::Before => false,
        Seen::First => true,
        // Once per account: the devices of its sessions from before the
        // table of known devices.
        Seen::NotSinceUpgrade => {
            let agents = store::sessions::user_agents(&txn, user.id).await?;
            let before: Vec<String> = agents.iter().map(|agent| crate::client::device::family(agent.as_deref())).collect();
            let new_device = !before.contains(&device);
            store::devices::remember(&txn, user.id, before).await?;
            new_device
        }
    };
    let notice = match notice {
        Some(notice) if new_device => Some(notice(&device)?),
        _ => None,
    };
    let session = store::sessions::create(&txn, user.id, new).await?;
    match notice {
        Some(notice) => app.mailer.commit_with(txn, &notice.to, notice.subject, notice.text).await?,
        None => txn.commit().await?,
    }
    if ended > 0 {
        let limit = Detail::SessionLimit { sessions_per_account: app.config.sessions_per_account };
        audit::record(app, client, Event::about(AuditKind::SessionEnded, Some(user.public_id)).with(limit)).await;
    }
    let ids = SessionIds { sub: user.public_id, role: user.role, sid: session.sid, ends_at: ends_at(app, session.created_at.0) };
    Ok(issue(app, &ids, random_token(), fresh)?.0)
}

/// Makes room for one more session of the account, within the login's
/// transaction (after the user's row was written, so its logins take
/// turns and count each other's sessions): at most `sessions_per_account`
/// live ones (SPEC §3). Ends the least recently used beyond that when it
/// was last used more than `access_token_ttl` ago; a session in use is
/// never ended, and the login is refused with 429 instead. Its record of
/// use is at most [`TOUCH_AFTER_SECONDS`] late (the guard's touch), so it
/// must be older than both together. How many sessions ended.
async fn make_room<C: ConnectionTrait>(app: &App, db: &C, user_id: i64) -> Result<u64, AppError> {
    let limit = app.config.sessions_per_account;
    let live = store::sessions::list_active(db, user_id).await?;
    let Some(beyond) = (live.len() as u64 + 1).checked_sub(limit).filter(|n| *n > 0) else {
        return Ok(0);
    };
    let idle_after = app.config.access_token_ttl + TOUCH_AFTER_SECONDS;
    let now = unix_now();
    // Least recently used first.
    let oldest: Vec<_> = live.iter().rev().take(usize::try_from(beyond).unwrap_or(usize::MAX)).collect();
    if let Some(in_use) = oldest.iter().find(|session| now - session.last_used_at.0.unix_timestamp() < idle_after) {
        let free_in = in_use.last_used_at.0.unix_timestamp() + idle_after - now;
        return Err(AppError::SessionsInUse { limit, retry_after: free_in.max(1).unsigned_abs() });
    }
    let mut ended = 0;
    for session in oldest {
        ended += u64::from(store::sessions::revoke(db, session.sid, Some(user_id)).await?);
    }
    Ok(ended)
}

/// The message to queue with a new session when its device is new to the
/// account (`store::devices`): `accounts` writes the login from a new
/// device's notice, from the device's name (`client::device::family`) it
/// is handed. Signing up and a reset's login send none, and still record
/// the device.
pub type NoticeOf<'a> = dyn Fn(&str) -> Result<Notice, AppError> + Send + Sync + 'a;

/// A message to queue with a new session, in its transaction.
pub struct Notice {
    pub to: String,
    pub subject: &'static str,
    pub text: String,
}

/// A fresh pair for the caller's own session, after they proved their
/// password again (a re-login, a password change). The tokens it replaces
/// (this access token, and `old_refresh` when it is of the same session) are
/// blocklisted, so a copy of them is worth nothing.
pub async fn reissue(app: &App, user: &Authenticated, old_refresh: Option<&str>) -> Result<TokenPair, AppError> {
    keys::current(app.into()).await?;
    revoke_own_tokens(app, &app.db, user, old_refresh).await?;
    let ids = SessionIds { sub: user.public_id, role: user.role, sid: user.sid, ends_at: user.session_ends_at };
    store::sessions::touch(&app.db, user.sid, Some(refresh_expiry(app, ids.ends_at))).await?;
    Ok(issue(app, &ids, user.csrf.clone(), true)?.0)
}

/// Blocklists the caller's access token, and `refresh_token` when it belongs
/// to the same session and user.
async fn revoke_own_tokens<C: ConnectionTrait>(app: &App, db: &C, user: &Authenticated, refresh_token: Option<&str>) -> Result<(), AppError> {
    store::tokens::revoke(db, user.jti, TokenType::Access.as_str(), user.public_id, user.exp).await?;
    if let Some(claims) = refresh_token.and_then(|token| app.keys.verify(&app.kept, token, TokenType::Refresh).ok()) {
        if claims.sid == user.sid && claims.sub == user.public_id {
            store::tokens::revoke(db, claims.jti, TokenType::Refresh.as_str(), claims.sub, claims.exp).await?;
        }
    }
    Ok(())
}

/// The database half of verification, shared by access and refresh tokens.
/// `Ok(row)` still needs its `revoked_jti` looked at by the caller, because
/// a blocklisted refresh token means reuse.
async fn load(app: &App, claims: &Claims) -> Result<AuthRow, AppError> {
    let row = app.reads.auth_row(&app.kept, claims.sid, claims.jti).await?.ok_or_else(|| {
        // Unknown session: deleted user, or a token signed with our key for a
        // session that never existed.
        AppError::Unauthenticated(AuthError::Revoked)
    })?;
    // The key that signed it, as of the row's `keys` version.
    keys::admit(app, claims, &row, Instant::now()).await?;
    admit(app, &row, claims)?;
    Ok(row)
}

/// What the row of a token's session says about the token's own claims.
fn admit(app: &App, row: &AuthRow, claims: &Claims) -> Result<(), AppError> {
    if row.public_id != claims.sub {
        return Err(AppError::Unauthenticated(AuthError::Invalid));
    }
    let before_cutoff = claims.iat < row.tokens_valid_after.0.unix_timestamp();
    if row.session_revoked_at.is_some() || row.disabled_at.is_some() || before_cutoff {
        return Err(AppError::Unauthenticated(AuthError::Revoked));
    }
    // A token is never issued past its session's end, but the operator
    // may have shortened `session_max_age` since.
    if unix_now() > ends_at(app, row.session_created_at.0) {
        return Err(AppError::Unauthenticated(AuthError::Expired));
    }
    Ok(())
}

/// Accepts an access token, or says why not.
pub async fn authenticate(app: &App, token: &str) -> Result<Authenticated, AppError> {
    let claims = keys::verify(app, token, TokenType::Access).await?;
    let row = load(app, &claims).await?;
    if row.revoked_jti.is_some() {
        return Err(AppError::Unauthenticated(AuthError::Revoked));
    }
    if unix_now() - row.session_last_used_at.0.unix_timestamp() > TOUCH_AFTER_SECONDS {
        if let Err(e) = store::sessions::touch(&app.db, claims.sid, None).await {
            tracing::warn!(error = %e, "could not record session use");
        }
    }
    Ok(Authenticated::new(app, row, &claims))
}

/// Uses a refresh token once: blocklists it and issues a new pair of the same
/// session. A refresh token that was already used (or revoked at logout)
/// revokes its whole session: someone holds a copy (SPEC §3 reuse detection).
pub async fn refresh(app: &App, token: &str, client: &ClientInfo) -> Result<(Authenticated, TokenPair), AppError> {
    let claims = keys::verify(app, token, TokenType::Refresh).await?;
    let row = load(app, &claims).await?;
    // The blocklist insert is the atomic "first use": of two concurrent uses
    // of one token, exactly one inserts.
    let first_use = row.revoked_jti.is_none()
        && store::tokens::revoke(&app.db, claims.jti, TokenType::Refresh.as_str(), claims.sub, claims.exp).await?;
    if !first_use {
        store::sessions::revoke(&app.db, claims.sid, None).await?;
        tracing::warn!(sid = %claims.sid, user = %claims.sub, "refresh token reused; session revoked");
        audit::record(app, client, Event::about(AuditKind::RefreshReuseDetected, Some(claims.sub))).await;
        return Err(AppError::Unauthenticated(AuthError::Revoked));
    }
    let ids = SessionIds { sub: row.public_id, role: row.role, sid: claims.sid, ends_at: ends_at(app, row.session_created_at.0) };
    store::sessions::touch(&app.db, claims.sid, Some(refresh_expiry(app, ids.ends_at))).await?;
    let (pair, access) = issue(app, &ids, claims.csrf.clone(), false)?;
    Ok((Authenticated::new(app, row, &access), pair))
}

/// Logs out one session: blocklists its access token (and the refresh token,
/// when given and of the same session) and revokes the session, which also
/// retires every other token it ever issued: all of it in one transaction.
pub async fn end(app: &App, user: &Authenticated, refresh_token: Option<&str>) -> Result<(), AppError> {
    let txn = app.db.begin().await?;
    revoke_own_tokens(app, &txn, user, refresh_token).await?;
    store::sessions::revoke(&txn, user.sid, None).await?;
    txn.commit().await?;
    Ok(())
}

/// "Log out everywhere", an admin's force logout, disabling an account:
/// every token issued before now stops working and every session ends, in
/// one transaction (a savepoint of the caller's, when `db` is one, so that
/// the change that ends them and the ends commit together or not at all).
/// Returns how many live sessions ended.
pub async fn end_all<C: TransactionTrait>(db: &C, user: Account) -> Result<u64, AppError> {
    let txn = db.begin().await?;
    store::users::bump_tokens_valid_after(&txn, user.id).await?;
    let ended = store::sessions::revoke_all(&txn, user.id, None).await?;
    txn.commit().await?;
    Ok(ended)
}

/// A password change: every session but `keep` ends, and with it every
/// token of those sessions (each token names its session). The cut-off
/// `tokens_valid_after` is not moved here, because it would also stop the
/// kept session's tokens, and the API's password change (204, no new token)
/// keeps its caller logged in; the pages, which hand the browser a new pair
/// at once, also call [`cut_off`].
/// Made on `db`: the transaction of the change that ends them.
pub async fn end_others<C: ConnectionTrait>(db: &C, user: Account, keep: Uuid) -> Result<u64, AppError> {
    Ok(store::sessions::revoke_all(db, user.id, Some(keep)).await?)
}

/// Every token of the user issued before now stops working (sessions stay).
pub async fn cut_off(app: &App, user: Account) -> Result<(), AppError> {
    Ok(store::users::bump_tokens_valid_after(&app.db, user.id).await?)
}

/// Ends one of `user`'s sessions; whether a live one ended.
pub async fn end_one(app: &App, user: Account, sid: Uuid) -> Result<bool, AppError> {
    Ok(store::sessions::revoke(&app.db, sid, Some(user.id)).await?)
}
