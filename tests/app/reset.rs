//! Forgotten passwords (SPEC.md §4, §5): the same answer for every email,
//! a link that works once and for an hour, whose token leaves the URL at
//! once, and a reset that ends every session.

use rocket::http::{Cookie, Status};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::EntityTrait;
use serde_json::{json, Value};

use crate::helpers::{error_code, extract_csrf, location, TestApp, TestUser};
use recipebox::entities::email_token;

const NEW_PASSWORD: &str = "a brand new kitchen secret";
pub(crate) const RESET: &str = "Reset your recipebox password";

pub(crate) async fn ask_for_link(t: &TestApp, email: &str) -> (Status, String) {
    let csrf = t.csrf_from("/forgot-password").await;
    let response = t.post_form("/forgot-password", Some(&csrf), &[("email", email)]).await;
    (response.status(), response.into_string().await.unwrap())
}

/// The reset token in the newest message (the link's `token=`).
pub(crate) fn token_in(message: &str) -> String {
    let start = message.find("/reset-password?token=").expect("a reset link") + "/reset-password?token=".len();
    message[start..].split_whitespace().next().unwrap().to_owned()
}

/// Follows a link in the browser: the token goes into a cookie and the
/// browser to the token-free address.
pub(crate) async fn follow(t: &TestApp, token: &str) -> (Status, String) {
    let response = t.client.get(format!("/reset-password?token={token}")).dispatch().await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/reset-password", "the token leaves the URL");
    let set_cookie: Vec<&str> = response.headers().get("Set-Cookie").collect();
    let cookie = set_cookie.iter().find(|c| c.starts_with("reset_token=")).expect("the token moves into a cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/reset-password", "Max-Age="] {
        assert!(cookie.contains(flag), "{flag}: {cookie}");
    }
    let page = t.client.get("/reset-password").dispatch().await;
    (page.status(), page.into_string().await.unwrap())
}

pub(crate) async fn set_new_password<'a>(t: &'a TestApp, page: &str, password: &str) -> rocket::local::asynchronous::LocalResponse<'a> {
    let csrf = extract_csrf(page).expect("the form has a csrf_token");
    t.post_form("/reset-password", Some(&csrf), &[("new_password", password), ("new_password_confirm", password)]).await
}

#[rocket::async_test]
async fn known_and_unknown_emails_get_the_same_answer_and_only_an_account_gets_mail() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    let (known_status, known) = ask_for_link(&t, &user.email).await;
    let (unknown_status, unknown) = ask_for_link(&t, "nobody@example.com").await;
    assert_eq!((known_status, unknown_status), (Status::Ok, Status::Ok));
    let strip = |page: &str, email: &str| page.replace(email, "EMAIL");
    assert_eq!(strip(&known, &user.email), strip(&unknown, "nobody@example.com"), "the pages differ only by the address typed");
    let mail = t.mail(RESET, 1).await;
    assert_eq!(mail.len(), 1, "one reset message, to the account");
    assert!(mail[0].contains(&format!("To: {}", user.email)) || mail[0].contains(&user.email));
    assert!(mail[0].contains("Subject: Reset your recipebox password"));
    assert!(mail[0].contains("http://localhost:8000/reset-password?token="), "the link is built on public_url");

    for email in [user.email.as_str(), "nobody@example.com"] {
        let api = t.post_json("/api/v1/auth/forgot-password", None, &json!({"email": email})).await;
        assert_eq!(api.status(), Status::Accepted, "{email}");
    }
    let rows = email_token::Entity::find().all(&t.app().db).await.unwrap();
    let token = token_in(&t.mail(RESET, 2).await[1]);
    assert!(rows.iter().all(|row| row.token_hash != token && row.token_hash.len() == 64), "only a hash is stored");
}

#[rocket::async_test]
async fn a_link_sets_a_new_password_once_ends_every_session_and_logs_in() {
    let t = TestApp::spawn().await;
    let (user, before) = t.api_signup().await;
    ask_for_link(&t, &user.email).await;
    let token = token_in(&t.mail(RESET, 1).await[0]);

    let (status, page) = follow(&t, &token).await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("Choose a new password"));
    assert!(!page.contains(&token), "the token is not in the page");
    let done = set_new_password(&t, &page, NEW_PASSWORD).await;
    assert_eq!(done.status(), Status::SeeOther);
    assert_eq!(location(&done), "/");
    assert!(!done.headers().get("Set-Cookie").any(|c| c.contains(&token)), "the reset cookie is cleared");
    assert!(t.cookie("access_token").is_some(), "logged in with a new session");
    assert_eq!(t.client.get("/me").dispatch().await.status(), Status::Ok);

    assert_eq!(error_code(t.get_json("/api/v1/me", Some(&before.access)).await, Status::Unauthorized).await, "token_revoked", "every old session ended");
    let old = t.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await;
    assert_eq!(old.status(), Status::Unauthorized);
    t.api_login(&TestUser { password: NEW_PASSWORD.into(), ..user.clone() }).await;
    let notice = t.mail("Your recipebox password was changed", 1).await;
    assert!(notice[0].contains(&user.email), "a notice is mailed");

    // The same link again: refused, and nothing changes.
    t.logout().await;
    let (status, page) = follow(&t, &token).await;
    assert_eq!(status, Status::BadRequest);
    assert!(page.contains("This link does not work") && page.contains("/forgot-password"));
    let api = t.post_json("/api/v1/auth/reset-password", None, &json!({"token": token, "new_password": "yet another new secret"})).await;
    assert_eq!(api.status(), Status::UnprocessableEntity);
    let body: Value = api.into_json().await.unwrap();
    assert!(body["error"]["fields"]["token"].is_string(), "{body}");
}

#[rocket::async_test]
async fn a_link_stops_working_after_an_hour_after_a_newer_link_and_after_a_password_change() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    let reset = |token: String| json!({"token": token, "new_password": NEW_PASSWORD});

    // An hour later.
    t.post_json("/api/v1/auth/forgot-password", None, &json!({"email": user.email})).await;
    let expired = token_in(&t.mail(RESET, 1).await[0]);
    email_token::Entity::update_many()
        .col_expr(email_token::Column::ExpiresAt, Expr::col(email_token::Column::ExpiresAt).sub(3601))
        .exec(&t.app().db)
        .await
        .unwrap();
    assert_eq!(t.post_json("/api/v1/auth/reset-password", None, &reset(expired)).await.status(), Status::UnprocessableEntity, "expired");

    // A newer link retires the older one.
    t.post_json("/api/v1/auth/forgot-password", None, &json!({"email": user.email})).await;
    t.mail(RESET, 2).await;
    t.post_json("/api/v1/auth/forgot-password", None, &json!({"email": user.email})).await;
    let mail = t.mail(RESET, 3).await;
    let (older, newer) = (token_in(&mail[1]), token_in(&mail[2]));
    assert_ne!(older, newer);
    assert_eq!(t.post_json("/api/v1/auth/reset-password", None, &reset(older)).await.status(), Status::UnprocessableEntity, "older link");

    // A password changed meanwhile retires the newest one too.
    let change = json!({"current_password": user.password, "new_password": "changed by the owner meanwhile"});
    assert_eq!(t.post_json("/api/v1/me/password", Some(&tokens.access), &change).await.status(), Status::NoContent);
    assert_eq!(t.post_json("/api/v1/auth/reset-password", None, &reset(newer)).await.status(), Status::UnprocessableEntity, "after a change");
}

#[rocket::async_test]
async fn the_api_resets_with_the_token_and_refuses_a_weak_password_without_using_the_link() {
    let t = TestApp::spawn().await;
    let (user, before) = t.api_signup().await;
    t.post_json("/api/v1/auth/forgot-password", None, &json!({"email": user.email})).await;
    let token = token_in(&t.mail(RESET, 1).await[0]);
    let weak = t.post_json("/api/v1/auth/reset-password", None, &json!({"token": token, "new_password": "password123"})).await;
    assert_eq!(weak.status(), Status::UnprocessableEntity);
    let body: Value = weak.into_json().await.unwrap();
    assert!(body["error"]["fields"]["new_password"].is_string(), "{body}");
    let done = t.post_json("/api/v1/auth/reset-password", None, &json!({"token": token, "new_password": NEW_PASSWORD})).await;
    assert_eq!(done.status(), Status::NoContent, "the refused attempt did not use the link up");
    assert_eq!(t.get_json("/api/v1/me", Some(&before.access)).await.status(), Status::Unauthorized);
    t.api_login(&TestUser { password: NEW_PASSWORD.into(), ..user }).await;
    let blank = t.post_json("/api/v1/auth/forgot-password", None, &json!({"email": " "})).await;
    assert_eq!(blank.status(), Status::Accepted, "202 always");
}

#[rocket::async_test]
async fn a_weak_new_password_shows_the_form_again_and_a_missing_cookie_shows_no_form() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    ask_for_link(&t, &user.email).await;
    let token = token_in(&t.mail(RESET, 1).await[0]);
    let (_, page) = follow(&t, &token).await;
    let again = set_new_password(&t, &page, "short").await;
    assert_eq!(again.status(), Status::UnprocessableEntity);
    assert!(again.into_string().await.unwrap().contains(r#"id="new_password-error""#));

    let bare = t.client.get("/reset-password").cookie(Cookie::new("reset_token", "made-up")).dispatch().await;
    assert_eq!(bare.status(), Status::BadRequest);
    assert!(!bare.into_string().await.unwrap().contains(r#"name="new_password""#), "no form without a working link");
}

#[rocket::async_test]
async fn reset_requests_are_throttled_per_account() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    for n in 0..10 {
        let response = t.post_json("/api/v1/auth/forgot-password", None, &json!({"email": user.email})).await;
        assert_eq!(response.status(), Status::Accepted, "request {n}");
    }
    let response = t.post_json("/api/v1/auth/forgot-password", None, &json!({"email": user.email})).await;
    assert!(response.headers().get_one("Retry-After").is_some());
    assert_eq!(error_code(response, Status::TooManyRequests).await, "too_many_requests");
    assert!(!t.api_login(&user).await.access.is_empty(), "logging in is a separate count");
}
