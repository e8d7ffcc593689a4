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

use super::cookies::{self, ACCESS_COOKIE, REFRESH_COOKIE};
use super::session::{self, Authenticated, TokenPair};
use crate::client::ClientInfo;
use crate::app::App;
use crate::error::{fail_guard, AppError, AuthError, GuardFailed};

/// The outcome of resolving the caller.
enum AuthState {
    Anonymous,
    User(Authenticated),
    /// A token was presented and refused.
    Refused(AuthError),
    /// The database could not answer; logged where it happened.
    Broken(Status),
}

struct BrowserAuth(AuthState);
struct BearerAuth(AuthState);

pub(crate) fn app<'r>(req: &'r Request<'_>) -> &'r App {
    req.rocket().state::<App>().expect("BUG: App is managed from ignite on")
}

fn broken(error: AppError) -> AuthState {
    let status = error.status();
    match error {
        AppError::Unauthenticated(reason) => AuthState::Refused(reason),
        other => {
            // Logged here once; the guard then reports a bare status.
            other.log();
            AuthState::Broken(status)
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
            Ok(user) => return AuthState::User(user),
            Err(AppError::Unauthenticated(AuthError::Expired)) => {}
            Err(AppError::Unauthenticated(reason)) => {
                change_token_cookies(req, TokenCookies::Cleared);
                return AuthState::Refused(reason);
            }
            Err(other) => return broken(other),
        }
    }
    let Some(refresh) = jar.get(REFRESH_COOKIE) else {
        return AuthState::Anonymous;
    };
    match session::refresh(app, refresh.value(), &ClientInfo::of(req)).await {
        Ok((user, pair)) => {
            change_token_cookies(req, TokenCookies::Rotated(pair));
            AuthState::User(user)
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

async fn resolve_bearer(req: &Request<'_>) -> AuthState {
    match bearer(req) {
        Ok(None) => AuthState::Anonymous,
        Err(reason) => AuthState::Refused(reason),
        Ok(Some(token)) => match session::authenticate(app(req), token).await {
            Ok(user) => AuthState::User(user),
            Err(error) => broken(error),
        },
    }
}

async fn browser<'r>(req: &'r Request<'_>) -> &'r AuthState {
    &req.local_cache_async(async { BrowserAuth(resolve_browser(req).await) }).await.0
}

async fn api<'r>(req: &'r Request<'_>) -> &'r AuthState {
    &req.local_cache_async(async { BearerAuth(resolve_bearer(req).await) }).await.0
}

/// The browser's user, if logged in; `None` if not (never a failure, except
/// when the database is down).
pub(crate) async fn browser_user<'r>(req: &'r Request<'_>) -> Result<Option<&'r Authenticated>, Status> {
    match browser(req).await {
        AuthState::User(user) => Ok(Some(user)),
        AuthState::Anonymous | AuthState::Refused(_) => Ok(None),
        AuthState::Broken(status) => Err(*status),
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
/// An API caller with a valid access token.
pub struct ApiUser(pub Authenticated);
/// An API caller with a valid access token and the admin role.
pub struct ApiAdmin(pub Authenticated);
deref_to_authenticated!(CurrentUser, FreshUser, AdminUser, FreshAdmin, ApiUser, ApiAdmin);

/// Any browser visitor: `Some` user when logged in.
pub struct MaybeUser(pub Option<Authenticated>);
/// Any API caller: `None` without a token, 401 with a bad one.
pub struct MaybeApiUser(pub Option<Authenticated>);

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
        match browser(req).await {
            AuthState::User(user) => Outcome::Success(CurrentUser(user.clone())),
            AuthState::Anonymous => fail_guard(req, AppError::Unauthenticated(AuthError::Missing)),
            AuthState::Refused(reason) => fail_guard(req, AppError::Unauthenticated(*reason)),
            AuthState::Broken(status) => fail_guard(req, AppError::from_status(*status)),
        }
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
impl<'r> FromRequest<'r> for MaybeApiUser {
    type Error = GuardFailed;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
        match api(req).await {
            AuthState::User(user) => Outcome::Success(MaybeApiUser(Some(user.clone()))),
            AuthState::Anonymous => Outcome::Success(MaybeApiUser(None)),
            AuthState::Refused(reason) => fail_guard(req, AppError::Unauthenticated(*reason)),
            AuthState::Broken(status) => fail_guard(req, AppError::from_status(*status)),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ApiUser {
    type Error = GuardFailed;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
        match MaybeApiUser::from_request(req).await {
            Outcome::Success(MaybeApiUser(Some(user))) => Outcome::Success(ApiUser(user)),
            Outcome::Success(MaybeApiUser(None)) => fail_guard(req, AppError::Unauthenticated(AuthError::Missing)),
            Outcome::Error(e) => Outcome::Error(e),
            Outcome::Forward(f) => Outcome::Forward(f),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ApiAdmin {
    type Error = GuardFailed;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, GuardFailed> {
        match ApiUser::from_request(req).await {
            Outcome::Success(ApiUser(user)) if user.is_admin() => Outcome::Success(ApiAdmin(user)),
            Outcome::Success(_) => fail_guard(req, AppError::Forbidden),
            Outcome::Error(e) => Outcome::Error(e),
            Outcome::Forward(f) => Outcome::Forward(f),
        }
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

