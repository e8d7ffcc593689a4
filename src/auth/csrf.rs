//! CSRF protection for HTML forms (SPEC.md §4), as a data guard: the token is
//! in the body, which request guards cannot read.
//!
//! `Csrf<T>` reads the urlencoded body once, checks its `csrf_token` field,
//! then parses the same body as `T` (Rocket's forms ignore the extra field).
//! For a logged-in user the token must equal the session's `csrf` claim; for
//! a visitor, the `csrf` cookie that the form's page set. Missing or wrong,
//! and equally an empty body or one that is not a form at all: 403 and a
//! "form expired" page, never a 400 or a 500. This guard is the one place
//! that decides it, for every form of the site.

use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::form::{Form, FromForm};
use rocket::http::RawStr;
use rocket::request::Request;
use subtle::ConstantTimeEq;

use super::cookies::CSRF_COOKIE;
use super::guard::browser_user;
use crate::error::{fail_guard, AppError, GuardFailed};

/// Largest form body: 20,000 characters of directions, percent-encoded, fit.
const FORM_LIMIT_KIB: u64 = 512;

/// A form of `T` whose CSRF token was checked.
#[derive(Debug)]
pub struct Csrf<T>(pub T);

/// A form of nothing but its CSRF token: log out, delete, end a session.
#[derive(Debug, FromForm)]
pub struct ActionForm {
    #[field(name = "csrf_token", default = String::new())]
    _csrf_token: String,
}

#[derive(FromForm)]
struct CsrfField {
    csrf_token: String,
}

fn tokens_match(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

#[rocket::async_trait]
impl<'r, T: for<'a> FromForm<'a> + Send + 'static> FromData<'r> for Csrf<T> {
    type Error = GuardFailed;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        // Not a form (JSON, no content type, an empty body): no page of ours
        // sent it, so it is refused like a form with a wrong token.
        if !req.content_type().is_some_and(|ct| ct.is_form()) {
            return fail_guard(req, AppError::CsrfRejected);
        }
        let body = match data.open(FORM_LIMIT_KIB.kibibytes()).into_string().await {
            Ok(body) if body.is_complete() => body.into_inner(),
            Ok(_) => return fail_guard(req, AppError::PayloadTooLarge),
            Err(_) => return fail_guard(req, AppError::CsrfRejected),
        };
        let body = RawStr::new(&body);

        let expected = match browser_user(req).await {
            Ok(Some(user)) => user.csrf.clone(),
            Ok(None) => req.cookies().get(CSRF_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default(),
            Err(status) => return fail_guard(req, AppError::from_status(status)),
        };
        let given = Form::<CsrfField>::parse_encoded(body).map(|f| f.csrf_token).unwrap_or_default();
        if !tokens_match(&given, &expected) {
            return fail_guard(req, AppError::CsrfRejected);
        }
        match Form::<T>::parse_encoded(body) {
            Ok(value) => data::Outcome::Success(Csrf(value)),
            Err(errors) => {
                let fields: Vec<String> = errors.iter().filter_map(|e| e.name.as_ref().map(|n| n.to_string())).collect();
                fail_guard(req, AppError::BadRequest(format!("The form is incomplete ({}).", fields.join(", "))))
            }
        }
    }
}

/// A JSON body of `T` whose `csrf_token` field was checked exactly as a
/// form's: the passkey ceremonies, which a page's script posts.
pub struct CsrfJson<T>(pub T);

/// Largest ceremony body: a registration's attestation fits many times.
const JSON_LIMIT_KIB: u64 = 64;

#[rocket::async_trait]
impl<'r, T: serde::de::DeserializeOwned + Send + 'static> FromData<'r> for CsrfJson<T> {
    type Error = GuardFailed;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        if !req.content_type().is_some_and(|ct| ct.is_json()) {
            return fail_guard(req, AppError::CsrfRejected);
        }
        let body = match data.open(JSON_LIMIT_KIB.kibibytes()).into_string().await {
            Ok(body) if body.is_complete() => body.into_inner(),
            Ok(_) => return fail_guard(req, AppError::PayloadTooLarge),
            Err(_) => return fail_guard(req, AppError::CsrfRejected),
        };
        let expected = match browser_user(req).await {
            Ok(Some(user)) => user.csrf.clone(),
            Ok(None) => req.cookies().get(CSRF_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default(),
            Err(status) => return fail_guard(req, AppError::from_status(status)),
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&body) else {
            return fail_guard(req, AppError::BadRequest("The body is not JSON.".into()));
        };
        let given = value.get("csrf_token").and_then(|token| token.as_str()).unwrap_or_default();
        if !tokens_match(given, &expected) {
            return fail_guard(req, AppError::CsrfRejected);
        }
        match serde_json::from_value::<T>(value) {
            Ok(value) => data::Outcome::Success(CsrfJson(value)),
            Err(e) => fail_guard(req, AppError::BadRequest(format!("The request is incomplete: {e}."))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_must_match_exactly_and_not_be_empty() {
        assert!(super::tokens_match("abc", "abc"));
        assert!(!super::tokens_match("abd", "abc"));
        assert!(!super::tokens_match("", ""));
        assert!(!super::tokens_match("abc", "abcd"));
    }
}
