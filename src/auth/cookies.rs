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
