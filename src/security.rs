//! Response hardening and the cross-site request check (SPEC.md §4).
//!
//! - Shield: `X-Frame-Options: DENY`, `Referrer-Policy: same-origin`,
//!   `X-Content-Type-Options: nosniff`.
//! - A Content-Security-Policy without `unsafe-inline` (Shield sends none).
//! - `Cache-Control: no-store` on every response to a request that carries a
//!   token and on every response that sets one.
//! - With `cookie_secure` on (SPEC §6): `Strict-Transport-Security` on every
//!   response, and `Secure` on every cookie, Rocket's own `_flash` included
//!   (Rocket marks cookies `Secure` only when it serves TLS itself, which
//!   behind a reverse proxy it does not).
//! - Unsafe requests whose `Origin` names another site are rerouted to a
//!   handler that answers 403: a fairing cannot answer by itself.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{Cookie, Header, Method};
use rocket::shield::{Frame, NoSniff, Referrer, Shield};
use rocket::{Data, Request, Response};

use crate::app::App;
use crate::auth::cookies::{ACCESS_COOKIE, REFRESH_COOKIE, REMEMBER_COOKIE, TICKET_COOKIE};

/// The cookies that hold a token: a session's pair, a half-done login's
/// ticket, a remembered browser's token.
const TOKEN_COOKIES: [&str; 4] = [ACCESS_COOKIE, REFRESH_COOKIE, TICKET_COOKIE, REMEMBER_COOKIE];

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// [`CSP`] with `form-action` also allowing `origins` (space-separated):
/// a form's POST that the site answers with a redirect to another origin
/// (an OpenID provider's sign-in) is held to `form-action` all the way.
pub fn csp_with_form_origins(origins: &str) -> String {
    if origins.is_empty() {
        return CSP.to_owned();
    }
    CSP.replace("form-action 'self';", &format!("form-action 'self' {origins};"))
}

pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Where a cross-site unsafe request is sent instead of its target.
pub const CROSS_ORIGIN_PATH: &str = "/__cross-origin";

pub fn shield() -> Shield {
    Shield::default()
        .enable(Frame::Deny)
        .enable(Referrer::SameOrigin)
        .enable(NoSniff::Enable)
}

/// The headers that Shield does not set.
#[derive(Default)]
pub struct Headers {
    /// [`CSP`] with the sign-in providers' origins, made at the first
    /// response (the configuration is read at ignite); leaked once per
    /// application, so that each response borrows it.
    csp: std::sync::OnceLock<&'static str>,
}

#[rocket::async_trait]
impl Fairing for Headers {
    fn info(&self) -> Info {
        Info { name: "security headers", kind: Kind::Response }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        // A route with a policy of its own (only `/api/docs`) keeps it.
        if !res.headers().contains("Content-Security-Policy") {
            let csp = match req.rocket().state::<App>() {
                Some(app) => *self.csp.get_or_init(|| Box::leak(csp_with_form_origins(&app.oidc.origins().join(" ")).into_boxed_str())),
                None => CSP,
            };
            res.set_header(Header::new("Content-Security-Policy", csp));
        }
        let jar = req.cookies();
        let carried = TOKEN_COOKIES.iter().any(|name| jar.get(name).is_some()) || req.headers().contains("Authorization");
        let sets_token = res.headers().get("Set-Cookie").any(|c| TOKEN_COOKIES.iter().any(|name| c.starts_with(name)));
        if carried || sets_token {
            res.set_header(Header::new("Cache-Control", "no-store"));
        }
        if req.rocket().state::<App>().is_some_and(|app| app.config.cookie_secure) {
            res.set_header(Header::new("Strict-Transport-Security", HSTS));
            secure_cookies(res);
        }
    }
}

/// Marks every cookie `res` sets `Secure`.
fn secure_cookies(res: &mut Response<'_>) {
    if res.headers().get("Set-Cookie").all(|c| Cookie::parse(c).is_ok_and(|c| c.secure() == Some(true))) {
        return;
    }
    let cookies: Vec<String> = res
        .headers()
        .get("Set-Cookie")
        .map(|c| match Cookie::parse(c) {
            Ok(mut cookie) => {
                cookie.set_secure(true);
                cookie.to_string()
            }
            // Not a cookie Rocket could have written; left as it is.
            Err(_) => c.to_owned(),
        })
        .collect();
    res.remove_header("Set-Cookie");
    for cookie in cookies {
        res.adjoin_header(Header::new("Set-Cookie", cookie));
    }
}

/// `host[:port]` of an `Origin` value such as `https://example.com:8443`.
fn origin_authority(origin: &str) -> Option<&str> {
    origin.split_once("://").map(|(_, rest)| rest.trim_end_matches('/'))
}

/// True for a request that a page of another site (or an opaque `null`
/// origin) sent. Requests without `Origin` pass: the CSRF token covers them.
fn is_cross_site(req: &Request<'_>) -> bool {
    let Some(origin) = req.headers().get_one("Origin") else {
        return false;
    };
    let host = req.headers().get_one("Host");
    match (origin_authority(origin), host) {
        (Some(authority), Some(host)) => !authority.eq_ignore_ascii_case(host),
        _ => true,
    }
}

pub struct OriginCheck;

#[rocket::async_trait]
impl Fairing for OriginCheck {
    fn info(&self) -> Info {
        Info { name: "cross-origin check", kind: Kind::Request }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        let unsafe_method = matches!(req.method(), Method::Post | Method::Put | Method::Patch | Method::Delete);
        if unsafe_method && is_cross_site(req) {
            let target = if req.uri().path().starts_with("/api/") {
                format!("/api/v1{CROSS_ORIGIN_PATH}")
            } else {
                CROSS_ORIGIN_PATH.to_owned()
            };
            tracing::warn!(path = %req.uri().path(), "cross-origin request refused");
            req.set_method(Method::Post);
            req.set_uri(rocket::http::uri::Origin::parse_owned(target).expect("BUG: static path"));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn origin_authorities_are_extracted() {
        assert_eq!(super::origin_authority("http://127.0.0.1:8000"), Some("127.0.0.1:8000"));
        assert_eq!(super::origin_authority("https://evil.example"), Some("evil.example"));
        assert_eq!(super::origin_authority("null"), None);
    }
}
