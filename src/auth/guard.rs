//! Request guards: each type is proof of what it names.
//!
//! The caller is resolved once per request (`local_cache_async`) and every
//! guard on a route reads that one result, so `CurrentUser` + a CSRF form
//! rotate an expired token at most once. Pages read only the cookies, the API
//! only `Authorization: Bearer` (never both, and never a query string).
//!
//! Browser: an expired or missing access cookie with a valid refresh cookie is
//! refreshed transparently (new cookies on the response); any other bad token
//! clears the cookies and the visitor is anonymous. API: a present-but-bad
//! token is a 401 with its reason, never "anonymous" (realworld's rule).
//!
//! Guard failures park the full `AppError` for the catcher (`fail_guard`),
//! and hand Rocket only `GuardFailed`, so Rocket's `{:?}` log holds no detail.

use std::fmt;
use std::ops::Deref;
use std::sync::Mutex;

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};

use uuid::Uuid;

use super::cookies::{self, ACCESS_COOKIE, REFRESH_COOKIE};
use super::session::{self, Authenticated, TokenPair};
use crate::app::App;
use crate::client::ClientInfo;
use crate::domain::{Role, Scope};
use crate::error::{fail_guard, AppError, AuthError, GuardFailed};
use crate::kept::Version;
use crate::pat::{self, Holder, TokenUse};
use crate::store::recipes::Viewer;

/// The outcome of resolving the caller.
enum Resolved<T> {
    Anonymous,
    User(T),
    /// A token was presented and refused.
    Refused(AuthError),
    /// The database could not answer; logged where it happened.
    Broken(Status),
}

impl<T: Clone> Resolved<T> {
    /// The caller (`None` for a visitor without a token), or why the
    /// request cannot have one: the token's refusal, or the database's
    /// failure.
    fn caller(&self) -> Result<Option<T>, AppError> {
        match self {
            Resolved::User(user) => Ok(Some(user.clone())),
            Resolved::Anonymous => Ok(None),
            Resolved::Refused(reason) => Err(AppError::Unauthenticated(*reason)),
            Resolved::Broken(status) => Err(AppError::from_status(*status)),
        }
    }

    /// [`Self::caller`], where a visitor without a token is 401 too.
    fn required(&self) -> Result<T, AppError> {
        self.caller()?.ok_or(AppError::Unauthenticated(AuthError::Missing))
    }
}

type AuthState = Resolved<Authenticated>;

struct BrowserAuth(AuthState);
struct BearerAuth(Resolved<ApiCaller>);

/// Who calls the API: a session's access token, or a personal access
/// token (`crate::pat`), which may do only what its scopes allow.
#[derive(Debug, Clone)]
pub enum ApiCaller {
    Session(Authenticated),
    Token(Holder),
}

impl ApiCaller {
    pub fn id(&self) -> i64 {
        match self {
            ApiCaller::Session(user) => user.id,
            ApiCaller::Token(holder) => holder.id,
        }
    }

    pub fn public_id(&self) -> Uuid {
        match self {
            ApiCaller::Session(user) => user.public_id,
            ApiCaller::Token(holder) => holder.public_id,
        }
    }

    /// An admin who may act as one: a session's admin, or a token with
    /// the `admin` scope of an owner who is an admin now.
    pub fn acts_as_admin(&self) -> bool {
        match self {
            ApiCaller::Session(user) => user.is_admin(),
            ApiCaller::Token(holder) => holder.may(Scope::Admin),
        }
    }

    /// May act as an admin, or else why not: 403, `insufficient_scope`
    /// for an admin's token without the `admin` scope.
    pub fn require_admin(&self) -> Result<(), AppError> {
        match self {
            ApiCaller::Session(user) if user.is_admin() => Ok(()),
            ApiCaller::Token(holder) if holder.role == Role::Admin => self.require(Scope::Admin),
            _ => Err(AppError::Forbidden),
        }
    }

    /// A session may do what its user may; a token also needs `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), AppError> {
        match self {
            ApiCaller::Token(holder) if !holder.token.scopes.contains(scope) => Err(AppError::InsufficientScope(scope)),
            _ => Ok(()),
        }
    }

    /// The token the request used, if it was one.
    pub fn token(&self) -> Option<&TokenUse> {
        match self {
            ApiCaller::Session(_) => None,
            ApiCaller::Token(holder) => Some(&holder.token),
        }
    }

    /// Which recipes the caller may read: a token without `recipes:read`
    /// reads what a visitor does; with it, its owner's private ones too,
    /// and every recipe when it may also act as an admin.
    pub fn viewer(&self) -> Viewer {
        match self {
            ApiCaller::Session(user) => user.viewer(),
            ApiCaller::Token(holder) if !holder.token.scopes.contains(Scope::RecipesRead) => Viewer::Anonymous,
            ApiCaller::Token(holder) if holder.may(Scope::Admin) => Viewer::Admin,
            ApiCaller::Token(holder) => Viewer::User(holder.id),
        }
    }

    /// The version of every recipe list, read with the caller's row.
    pub fn recipes_version(&self) -> Version {
        match self {
            ApiCaller::Session(user) => user.recipes_version,
            ApiCaller::Token(holder) => holder.recipes_version,
        }
    }
}

pub(crate) fn app<'r>(req: &'r Request<'_>) -> &'r App {
    req.rocket().state::<App>().expect("BUG: App is managed from ignite on")
}

fn broken<T>(error: AppError) -> Resolved<T> {
    let status = error.status();
    match error {
        AppError::Unauthenticated(reason) => Resolved::Refused(reason),
        other => {
            // Logged here once; the guard then reports a bare status.
            other.log();
            Resolved::Broken(status)
        }
    }
}

/// What the browser guard did to the token cookies of this request.
enum TokenCookies {
    /// A transparent refresh rotated both tokens.
    Rotated(TokenPair),
    /// The cookies held a token that was refused.
    Cleared,
}

struct PendingTokenCookies(Mutex<Option<TokenCookies>>);

fn pending_token_cookies<'r>(req: &'r Request<'_>) -> &'r Mutex<Option<TokenCookies>> {
    &req.local_cache(|| PendingTokenCookies(Mutex::new(None))).0
}

/// Changes the token cookies, and notes the change for `reapply_token_cookies`.
fn change_token_cookies(req: &Request<'_>, change: TokenCookies) {
    match &change {
        TokenCookies::Rotated(pair) => cookies::set_tokens(req.cookies(), pair, &app(req).config),
        TokenCookies::Cleared => cookies::clear_tokens(req.cookies()),
    }
    *pending_token_cookies(req).lock().expect("BUG: poisoned") = Some(change);
}

/// Applies the browser guard's cookie changes again. Rocket drops every
/// cookie change of a request when a catcher answers it (the jar's delta is
/// reset before each catcher), so the page catchers call this. Without it a
/// refresh that rotated the tokens before another guard refused the request
/// (a plain user on an admin page, a stale form) never reaches the browser,
/// whose next request presents the spent refresh token and is taken for
/// token theft; and a refused token's cookies would stay.
pub(crate) fn reapply_token_cookies(req: &Request<'_>) {
    let pending = pending_token_cookies(req).lock().expect("BUG: poisoned").take();
    match pending {
        Some(TokenCookies::Rotated(pair)) => cookies::set_tokens(req.cookies(), &pair, &app(req).config),
        Some(TokenCookies::Cleared) => cookies::clear_tokens(req.cookies()),
        None => {}
    }
}

async fn resolve_browser(req: &Request<'_>) -> AuthState {
    let app = app(req);
    let jar = req.cookies();
    if let Some(access) = jar.get(ACCESS_COOKIE) {
        match session::authenticate(app, access.value()).await {
            Ok(user) => return Resolved::User(user),
            Err(AppError::Unauthenticated(AuthError::Expired)) => {}
            Err(AppError::Unauthenticated(reason)) => {
                change_token_cookies(req, TokenCookies::Cleared);
                return Resolved::Refused(reason);
            }
            Err(other) => return broken(other),
        }
    }
    let Some(refresh) = jar.get(REFRESH_COOKIE) else {
        return Resolved::Anonymous;
    };
    match session::refresh(app, refresh.value(), &ClientInfo::of(req)).await {
        Ok((user, pair)) => {
            change_token_cookies(req, TokenCookies::Rotated(pair));
            Resolved::User(user)
        }
        Err(error) => {
            if matches!(error, AppError::Unauthenticated(_)) {
                change_token_cookies(req, TokenCookies::Cleared);
            }
            broken(error)
        }
    }
}

/// The token of an `Authorization: Bearer` header, if there is one.
fn bearer<'r>(req: &'r Request<'_>) -> Result<Option<&'r str>, AuthError> {
    let Some(header) = req.headers().get_one("Authorization") else {
        return Ok(None);
    };
    match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim()))
        }
        _ => Err(AuthError::Missing),
    }
}

/// A bearer token is a session's JWT or a personal access token, told
/// apart by the latter's prefix; each is accepted by its own module.
async fn resolve_bearer(req: &Request<'_>) -> Resolved<ApiCaller> {
    let token = match bearer(req) {
        Ok(None) => return Resolved::Anonymous,
        Err(reason) => return Resolved::Refused(reason),
        Ok(Some(token)) => token,
    };
    let caller = if pat::looks_like_token(token) {
        pat::authenticate(app(req), token, ClientInfo::of(req).ip.as_deref()).await.map(ApiCaller::Token)
    } else {
        session::authenticate(app(req), token).await.map(ApiCaller::Session)
    };
    match caller {
        Ok(caller) => Resolved::User(caller),
        Err(error) => broken(error),
    }
}

async fn browser<'r>(req: &'r Request<'_>) -> &'r AuthState {
    &req.local_cache_async(async { BrowserAuth(resolve_browser(req).await) }).await.0
}

async fn api<'r>(req: &'r Request<'_>) -> &'r Resolved<ApiCaller> {
    &req.local_cache_async(async { BearerAuth(resolve_bearer(req).await) }).await.0
}

/// The browser's user, if logged in; `None` if not (never a failure, except
/// when the database is down).
pub(crate) async fn browser_user<'r>(req: &'r Request<'_>) -> Result<Option<&'r Authenticated>, Status> {
    match browser(req).await {
        Resolved::User(user) => Ok(Some(user)),
        Resolved::Anonymous | Resolved::Refused(_) => Ok(None),
        Resolved::Broken(status) => Err(*status),
    }
}

macro_rules! deref_to_authenticated {
    ($($guard:ident),*) => {$(
        impl Deref for $guard {
            type Target = Authenticated;
            fn deref(&self) -> &Authenticated {
                &self.0
            }
        }
        impl fmt::Debug for $guard {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($guard)).field(&self.0).finish()
            }
        }
    )*};
}

/// A logged-in browser user. Anonymous: 401, which the page catcher turns
/// into a 303 to `/login?next=<path>`.
pub struct CurrentUser(pub Authenticated);
/// A browser user whose token came from a password login just now.
pub struct FreshUser(pub Authenticated);
/// A browser user with the admin role (403 for other users).
pub struct AdminUser(pub Authenticated);
/// An admin whose session is fresh (SPEC §4): for the admin actions that
/// change someone's factors. A stale admin session is asked to confirm,
/// as `FreshUser` is.
pub struct FreshAdmin(pub Authenticated);
/// An API caller with a session's valid access token: what a personal
/// access token may never do (SPEC §5) takes this guard, and a token gets
/// 403.
pub struct ApiUser(pub Authenticated);
deref_to_authenticated!(CurrentUser, FreshUser, AdminUser, FreshAdmin, ApiUser);

/// Any browser visitor: `Some` user when logged in.
pub struct MaybeUser(pub Option<Authenticated>);
/// Any API caller: `None` without a token, 401 with a bad one.
#[derive(Debug)]
pub struct MaybeApiCaller(pub Option<ApiCaller>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MaybeUser {
    type Error = GuardFailed;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
        match browser_user(req).await {
            Ok(user) => Outcome::Success(MaybeUser(user.cloned())),
            Err(status) => fail_guard(req, AppError::from_status(status)),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CurrentUser {
    type Error = GuardFailed;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
        outcome(req, browser(req).await.required().map(CurrentUser))
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for FreshUser {
    type Error = GuardFailed;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
        match CurrentUser::from_request(req).await {
            Outcome::Success(CurrentUser(user)) if user.fresh => Outcome::Success(FreshUser(user)),
            // Not fresh: log in again with the password, then come back.
            Outcome::Success(_) => fail_guard(req, AppError::Unauthenticated(AuthError::NotFresh)),
            Outcome::Error(e) => Outcome::Error(e),
            Outcome::Forward(f) => Outcome::Forward(f),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AdminUser {
    type Error = GuardFailed;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
        match CurrentUser::from_request(req).await {
            Outcome::Success(CurrentUser(user)) if user.is_admin() => Outcome::Success(AdminUser(user)),
            Outcome::Success(_) => fail_guard(req, AppError::Forbidden),
            Outcome::Error(e) => Outcome::Error(e),
            Outcome::Forward(f) => Outcome::Forward(f),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for FreshAdmin {
    type Error = GuardFailed;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
        match AdminUser::from_request(req).await {
            Outcome::Success(AdminUser(user)) if user.fresh => Outcome::Success(FreshAdmin(user)),
            Outcome::Success(_) => fail_guard(req, AppError::Unauthenticated(AuthError::NotFresh)),
            Outcome::Error(e) => Outcome::Error(e),
            Outcome::Forward(f) => Outcome::Forward(f),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MaybeApiCaller {
    type Error = GuardFailed;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
        outcome(req, api(req).await.caller().map(MaybeApiCaller))
    }
}

/// Any API caller with a valid token (401 without one).
async fn api_caller(req: &Request<'_>) -> Result<ApiCaller, AppError> {
    api(req).await.required()
}

/// A guard's outcome: its value, or the error parked for the catcher.
fn outcome<T>(req: &Request<'_>, result: Result<T, AppError>) -> Outcome<T, GuardFailed> {
    match result {
        Ok(value) => Outcome::Success(value),
        Err(error) => fail_guard(req, error),
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ApiUser {
    type Error = GuardFailed;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
        let result = api_caller(req).await.and_then(|caller| match caller {
            ApiCaller::Session(user) => Ok(ApiUser(user)),
            ApiCaller::Token(_) => Err(AppError::NeedsSession),
        });
        outcome(req, result)
    }
}

/// Any API caller with a valid token (401 without one).
#[rocket::async_trait]
impl<'r> FromRequest<'r> for ApiCaller {
    type Error = GuardFailed;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
        outcome(req, api_caller(req).await)
    }
}

/// API guards that take a session, or a personal access token with one
/// scope; each derefs to the [`ApiCaller`].
macro_rules! scoped_guards {
    ($($(#[$doc:meta])* $guard:ident => $scope:expr),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $guard(pub ApiCaller);

        impl Deref for $guard {
            type Target = ApiCaller;
            fn deref(&self) -> &ApiCaller {
                &self.0
            }
        }

        #[rocket::async_trait]
        impl<'r> FromRequest<'r> for $guard {
            type Error = GuardFailed;

            async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
                let result = api_caller(req).await.and_then(|caller| {
                    caller.require($scope)?;
                    Ok($guard(caller))
                });
                outcome(req, result)
            }
        }
    )*};
}

scoped_guards!(
    /// Reads the caller's account: `account:read` for a token.
    AccountReader => Scope::AccountRead,
    /// Writes the caller's recipes: `recipes:write` for a token.
    RecipeWriter => Scope::RecipesWrite,
);

/// An API caller who may act as an admin: a session of an admin, or a
/// token with the `admin` scope whose owner is an admin now. Anyone else
/// is refused with 403 (a token of an admin without the scope:
/// `insufficient_scope`).
#[derive(Debug)]
pub struct ApiAdmin(pub ApiCaller);

impl Deref for ApiAdmin {
    type Target = ApiCaller;
    fn deref(&self) -> &ApiCaller {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ApiAdmin {
    type Error = GuardFailed;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
        let result = api_caller(req).await.and_then(|caller| {
            caller.require_admin()?;
            Ok(ApiAdmin(caller))
        });
        outcome(req, result)
    }
}

/// The raw `Authorization: Bearer` token, unverified: for the refresh
/// endpoint, which verifies it as a refresh token itself.
pub struct BearerToken(pub String);

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for BearerToken {
    type Error = GuardFailed;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
        match bearer(req) {
            Ok(Some(token)) => Outcome::Success(BearerToken(token.to_owned())),
            Ok(None) | Err(_) => fail_guard(req, AppError::Unauthenticated(AuthError::Missing)),
        }
    }
}

