//! Verified addresses (SPEC.md §2, §4): a link at sign-up, once and for 48
//! hours; a new link on request; an email change that waits for the new
//! address to be confirmed.

use rocket::http::Status;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::EntityTrait;
use serde_json::json;

use crate::helpers::{location, TestApp, TestUser};
use recipebox::entities::email_token;

const VERIFY: &str = "Confirm your email address";

fn link_in(message: &str) -> String {
    let start = message.find("/verify-email?token=").expect("a verification link");
    message[start..].split_whitespace().next().unwrap().to_owned()
}

async fn verified(t: &TestApp, email: &str) -> bool {
    let user = recipebox::store::users::find_by_email(&t.app().db, email).await.unwrap().expect("the account");
    user.email_verified_at.is_some()
}

#[rocket::async_test]
async fn sign_up_sends_a_link_that_verifies_the_address_once() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let me = t.client.get("/me").dispatch().await.into_string().await.unwrap();
    assert!(me.contains("Please verify your address"), "the notice shows until the address is verified");
    let message = t.mail(VERIFY, 1).await.remove(0);
    assert!(message.contains(&format!("To: {}", user.email)));
    let link = link_in(&message);
    assert!(!verified(&t, &user.email).await);

    let followed = t.client.get(link.clone()).dispatch().await;
    assert_eq!(followed.status(), Status::SeeOther);
    assert_eq!(location(&followed), "/", "the token leaves the URL");
    assert!(verified(&t, &user.email).await);
    let me = t.client.get("/me").dispatch().await.into_string().await.unwrap();
    assert!(!me.contains("Please verify your address") && me.contains("verified"));

    let again = t.client.get(link).dispatch().await;
    assert_eq!(again.status(), Status::BadRequest, "a link works once");
    let wrong = t.client.get("/verify-email?token=not-a-token").dispatch().await;
    assert_eq!(wrong.status(), Status::BadRequest);
    assert!(wrong.into_string().await.unwrap().contains("invalid, used or expired"));
    assert_eq!(t.client.get("/verify-email").dispatch().await.status(), Status::BadRequest, "no token at all");
}

#[rocket::async_test]
async fn an_expired_link_fails_and_a_resent_link_replaces_the_old_one() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let first = link_in(&t.mail(VERIFY, 1).await[0]);
    email_token::Entity::update_many()
        .col_expr(email_token::Column::ExpiresAt, Expr::col(email_token::Column::ExpiresAt).sub(48 * 3600 + 1))
        .exec(&t.app().db)
        .await
        .unwrap();
    assert_eq!(t.client.get(first).dispatch().await.status(), Status::BadRequest, "after 48 hours");

    let csrf = t.session_csrf().await;
    assert_eq!(t.post_form("/me/verify-email", Some(&csrf), &[]).await.status(), Status::SeeOther);
    t.mail(VERIFY, 2).await;
    assert_eq!(t.post_form("/me/verify-email", Some(&csrf), &[]).await.status(), Status::SeeOther);
    let mail = t.mail(VERIFY, 3).await;
    let (older, newest) = (link_in(&mail[1]), link_in(&mail[2]));
    assert_eq!(t.client.get(older).dispatch().await.status(), Status::BadRequest, "a newer link retires the older");
    assert_eq!(t.client.get(newest).dispatch().await.status(), Status::SeeOther);
    assert!(verified(&t, &user.email).await);
}

/// The address `GET /api/v1/me` shows to the holder of `access`.
async fn api_email(t: &TestApp, access: &str) -> String {
    let me: serde_json::Value = t.get_json("/api/v1/me", Some(access)).await.into_json().await.unwrap();
    me["email"].as_str().unwrap().to_owned()
}

#[rocket::async_test]
async fn an_email_change_keeps_the_old_address_until_the_new_one_is_confirmed() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let (other, _) = t.api_signup().await;
    let csrf = t.csrf_from("/me/email").await;
    let new_email = "new.address@example.com";

    let wrong = t.post_form("/me/email", Some(&csrf), &[("email", new_email), ("current_password", "not my password")]).await;
    assert_eq!(wrong.status(), Status::UnprocessableEntity);
    assert!(wrong.into_string().await.unwrap().contains(r#"id="current_password-error""#));
    let taken = t.post_form("/me/email", Some(&csrf), &[("email", &other.email), ("current_password", &user.password)]).await;
    assert_eq!(taken.status(), Status::Conflict);
    let bad = t.post_form("/me/email", Some(&csrf), &[("email", "not-an-email"), ("current_password", &user.password)]).await;
    assert_eq!(bad.status(), Status::UnprocessableEntity);

    // A reset link sent to the old address, before the change.
    t.post_json("/api/v1/auth/forgot-password", None, &json!({"email": user.email})).await;
    let reset_message = t.mail("Reset your recipebox password", 1).await.remove(0);
    let start = reset_message.find("token=").unwrap() + "token=".len();
    let reset_token = reset_message[start..].split_whitespace().next().unwrap().to_owned();

    let asked = t.post_form("/me/email", Some(&csrf), &[("email", new_email), ("current_password", &user.password)]).await;
    assert_eq!(asked.status(), Status::SeeOther);
    let message = t.mail(VERIFY, 3).await.into_iter().find(|m| m.contains(&format!("To: {new_email}"))).expect("a link to the new address");
    let me = t.client.get("/me").dispatch().await.into_string().await.unwrap();
    assert!(me.contains(&user.email) && me.contains(&format!("Waiting for you to confirm {new_email}")));
    let tokens = t.api_login(&user).await;
    assert_eq!(api_email(&t, &tokens.access).await, user.email);

    assert_eq!(t.client.get(link_in(&message)).dispatch().await.status(), Status::SeeOther);
    assert!(verified(&t, new_email).await, "the new address is the account's, verified");
    let notice = t.mail(recipebox::accounts::notices::EMAIL_CHANGED, 1).await.remove(0);
    assert!(notice.contains(&format!("To: {}", user.email)), "the notice goes to the old address: {notice}");
    assert!(notice.contains(new_email) && notice.contains("/forgot-password"), "{notice}");
    assert!(!notice.contains("token="), "and carries no link with a token");
    assert_eq!(api_email(&t, &tokens.access).await, new_email, "a token issued before the change shows the new address at once");
    let old = t.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await;
    assert_eq!(old.status(), Status::Unauthorized, "the old address no longer logs in");
    let reset = json!({"token": reset_token, "new_password": "taken over through the old address"});
    let refused = t.post_json("/api/v1/auth/reset-password", None, &reset).await;
    assert_eq!(refused.status(), Status::UnprocessableEntity, "a reset link to the old address died with the change");
    t.api_login(&TestUser { email: new_email.into(), ..user }).await;
}

#[rocket::async_test]
async fn verification_links_are_throttled_per_address() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let csrf = t.session_csrf().await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let response = t.post_form("/me/verify-email", Some(&csrf), &[]).await;
        statuses.push(response.status());
        if response.status() == Status::TooManyRequests {
            assert!(response.headers().get_one("Retry-After").is_some());
            break;
        }
    }
    // The sign-up's link and nine more make ten, the limit per address.
    assert_eq!(statuses.iter().filter(|s| **s == Status::SeeOther).count(), 9, "{statuses:?}");
    assert_eq!(statuses.last(), Some(&Status::TooManyRequests));
    assert_eq!(t.mail(VERIFY, 10).await.len(), 10);
}

#[rocket::async_test]
async fn admins_see_whether_an_address_is_verified() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    t.make_admin(&user.email).await;
    let target = recipebox::store::users::find_by_email(&t.app().db, &user.email).await.unwrap().unwrap();
    let page = t.client.get(format!("/admin/users/{}", target.public_id)).dispatch().await.into_string().await.unwrap();
    assert!(page.contains("(not verified)"));
    t.client.get(link_in(&t.mail(VERIFY, 1).await[0])).dispatch().await;
    let page = t.client.get(format!("/admin/users/{}", target.public_id)).dispatch().await.into_string().await.unwrap();
    assert!(page.contains("(verified)"));
}
