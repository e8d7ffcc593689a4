//! The token and CSRF cookies (SPEC.md §4): `HttpOnly`, `SameSite=Lax`,
//! `Path=/`, `Max-Age` = the token's lifetime, `Secure` per configuration.

use rocket::http::{Cookie, CookieJar, SameSite};
use rocket::time::Duration;

use super::session::{random_token, TokenPair};
use crate::config::AppConfig;

pub const ACCESS_COOKIE: &str = "access_token";
pub const REFRESH_COOKIE: &str = "refresh_token";
/// The anonymous forms' (sign-up, login) double-submit value.
pub const CSRF_COOKIE: &str = "csrf";

fn cookie(name: &'static str, value: String, max_age: Option<i64>, config: &AppConfig) -> Cookie<'static> {
    let mut builder = Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(config.cookie_secure);
    if let Some(seconds) = max_age {
        builder = builder.max_age(Duration::seconds(seconds));
    }
    builder.build()
}

pub fn set_tokens(jar: &CookieJar<'_>, pair: &TokenPair, config: &AppConfig) {
    jar.add(cookie(ACCESS_COOKIE, pair.access_token.clone(), Some(config.access_token_ttl), config));
    jar.add(cookie(REFRESH_COOKIE, pair.refresh_token.clone(), Some(config.refresh_token_ttl), config));
}

pub fn clear_tokens(jar: &CookieJar<'_>) {
    jar.remove(Cookie::build(ACCESS_COOKIE).path("/"));
    jar.remove(Cookie::build(REFRESH_COOKIE).path("/"));
}

/// The CSRF value for a form anyone may post (login, forgotten password):
/// the session's when the browser is logged in (the CSRF guard expects
/// that one then), else the anonymous cookie's.
pub fn form_csrf(jar: &CookieJar<'_>, config: &AppConfig, current: Option<&super::Authenticated>) -> String {
    current.map_or_else(|| anonymous_csrf(jar, config), |user| user.csrf.clone())
}

/// The CSRF value for an anonymous form: the browser's existing `csrf`
/// cookie (so two open tabs both work), or a new one set now.
pub fn anonymous_csrf(jar: &CookieJar<'_>, config: &AppConfig) -> String {
    if let Some(existing) = jar.get(CSRF_COOKIE).filter(|c| c.value().len() >= 32) {
        return existing.value().to_owned();
    }
    let value = random_token();
    jar.add(cookie(CSRF_COOKIE, value.clone(), None, config));
    value
}

/// The password reset token, moved out of the link's URL into a cookie that
/// only `/reset-password` receives, for a quarter of an hour.
pub const RESET_COOKIE: &str = "reset_token";
const RESET_COOKIE_SECONDS: i64 = 900;

/// A cookie sent only to `path` and below, for `seconds`. Lax, not Strict:
/// the navigations that bring these back come from another site (a mail
/// client or webmail's link, an OpenID provider's redirect), and a Strict
/// cookie would not come with them.
pub fn scoped(name: &'static str, value: String, path: &'static str, seconds: i64, config: &AppConfig) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path(path)
        .secure(config.cookie_secure)
        .max_age(Duration::seconds(seconds))
        .build()
}

pub fn set_reset_token(jar: &CookieJar<'_>, token: &str, config: &AppConfig) {
    jar.add(scoped(RESET_COOKIE, token.to_owned(), "/reset-password", RESET_COOKIE_SECONDS, config));
}

pub fn clear_reset_token(jar: &CookieJar<'_>) {
    jar.remove(Cookie::build(RESET_COOKIE).path("/reset-password"));
}

/// A half-done login (SPEC §4): the ticket of a right password, for the
/// second step alone. Only `/login…` receives it, for five minutes.
pub const TICKET_COOKIE: &str = "login_ticket";
/// "Remember this browser": skips the second step for 30 days. Only
/// `/login…` receives it.
pub const REMEMBER_COOKIE: &str = "remembered_browser";
const LOGIN_PATH: &str = "/login";

pub fn set_ticket(jar: &CookieJar<'_>, token: &str, seconds: i64, config: &AppConfig) {
    jar.add(scoped(TICKET_COOKIE, token.to_owned(), LOGIN_PATH, seconds, config));
}

/// The half-done login's ticket this browser holds ("" without one).
pub fn ticket(jar: &CookieJar<'_>) -> String {
    jar.get(TICKET_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default()
}

pub fn clear_ticket(jar: &CookieJar<'_>) {
    jar.remove(Cookie::build(TICKET_COOKIE).path(LOGIN_PATH));
}

pub fn set_remembered(jar: &CookieJar<'_>, token: &str, seconds: i64, config: &AppConfig) {
    jar.add(scoped(REMEMBER_COOKIE, token.to_owned(), LOGIN_PATH, seconds, config));
}
