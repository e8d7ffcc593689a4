//! Changing the password (SPEC.md §3–§5): a fresh login is needed, every
//! other session ends, the one that changed it goes on.

use rocket::http::{Cookie, Status};
use serde_json::{json, Value};

use crate::helpers::{error_code, TestApp, TestUser};

const NEW_PASSWORD: &str = "a brand new kitchen secret";

/// The browser's current tokens and CSRF value.
struct BrowserTokens {
    access: String,
    refresh: String,
}

fn browser_tokens(t: &TestApp) -> BrowserTokens {
    BrowserTokens { access: t.cookie("access_token").unwrap(), refresh: t.cookie("refresh_token").unwrap() }
}

async fn change_in_browser<'a>(t: &'a TestApp, current: &str, new: &str, confirm: &str) -> rocket::local::asynchronous::LocalResponse<'a> {
    let csrf = t.csrf_from("/me/password").await;
    t.post_form("/me/password", Some(&csrf), &[("current_password", current), ("new_password", new), ("new_password_confirm", confirm)])
        .await
}

/// A browser session whose access token came from a refresh, not a login:
/// the app restarts with a client that holds only the refresh cookie, and
/// the first page load refreshes it transparently.
async fn stale_browser(t: TestApp) -> TestApp {
    let refresh = t.cookie("refresh_token").unwrap();
    let t = t.restart().await;
    let status = t.client.get("/me").cookie(Cookie::new("refresh_token", refresh)).dispatch().await.status();
    assert_eq!(status, Status::Ok, "the refresh cookie alone logs the browser in");
    let claims = crate::helpers::claims_of(&t.cookie("access_token").unwrap());
    assert_eq!(claims["fresh"], false, "a refreshed token is not fresh");
    t
}

async fn active_sessions(t: &TestApp, email: &str) -> usize {
    let db = &t.app().db;
    let user = recipebox::store::users::find_by_email(db, email).await.unwrap().unwrap();
    recipebox::store::sessions::list_active(db, user.id).await.unwrap().len()
}

#[rocket::async_test]
async fn a_fresh_browser_changes_the_password_stays_logged_in_and_every_other_session_ends() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let before = browser_tokens(&t);
    let elsewhere = t.api_login(&user).await;
    assert_eq!(active_sessions(&t, &user.email).await, 2);

    let response = change_in_browser(&t, &user.password, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Location"), Some("/me"));
    let after = browser_tokens(&t);
    assert_ne!(after.access, before.access, "this browser got a new access token");
    assert_ne!(after.refresh, before.refresh, "and a new refresh token");
    let me = t.client.get("/me").dispatch().await;
    assert_eq!(me.status(), Status::Ok, "this browser stays logged in");
    assert!(me.into_string().await.unwrap().contains("Your password has been changed"), "with a flash message");

    // The other session is over, token by token.
    assert_eq!(error_code(t.get_json("/api/v1/me", Some(&elsewhere.access)).await, Status::Unauthorized).await, "token_revoked");
    let refresh = t.post_json("/api/v1/auth/refresh", Some(&elsewhere.refresh), &json!({})).await;
    assert_eq!(error_code(refresh, Status::Unauthorized).await, "token_revoked");
    assert_eq!(active_sessions(&t, &user.email).await, 1, "only this browser's session is left");
    // The tokens this browser held before the change are worth nothing now.
    for (name, token) in [("access_token", &before.access), ("refresh_token", &before.refresh)] {
        let other = rocket::local::asynchronous::Client::untracked(recipebox::rocket(t.figment())).await.unwrap();
        let page = other.get("/me").cookie(Cookie::new(name, token.clone())).dispatch().await;
        assert_eq!(page.status(), Status::SeeOther, "the old {name} no longer logs anyone in");
    }

    // Only the new password opens the account now.
    let old = t.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await;
    assert_eq!(old.status(), Status::Unauthorized);
    t.api_login(&TestUser { password: NEW_PASSWORD.into(), ..user }).await;
}

#[rocket::async_test]
async fn a_session_from_a_refresh_confirms_the_password_first_and_comes_back_to_the_form() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let t = stale_browser(t).await;

    let form = t.client.get("/me/password").dispatch().await;
    assert_eq!(form.status(), Status::SeeOther, "no error page: on to the login form");
    assert_eq!(form.headers().get_one("Location"), Some("/login?next=%2Fme%2Fpassword"));
    let login = t.client.get("/login?next=%2Fme%2Fpassword").dispatch().await;
    assert_eq!(login.status(), Status::Ok, "a logged-in but stale session is shown the form, not sent round in a circle");
    let body = login.into_string().await.unwrap();
    assert!(body.contains("Confirm your password"), "{body}");
    assert!(body.contains(&user.email), "the email is filled in");
    let csrf = crate::helpers::extract_csrf(&body).unwrap();

    // A form posted with a stale session is sent the same way, and changes nothing.
    let post = t
        .post_form("/me/password", Some(&csrf), &[("current_password", &user.password), ("new_password", NEW_PASSWORD), ("new_password_confirm", NEW_PASSWORD)])
        .await;
    assert_eq!(post.status(), Status::SeeOther);
    assert_eq!(post.headers().get_one("Location"), Some("/login?next=%2Fme%2Fpassword"));

    let again = t.post_form("/login", Some(&csrf), &[("email", &user.email), ("password", &user.password), ("next", "/me/password")]).await;
    assert_eq!(again.status(), Status::SeeOther);
    assert_eq!(again.headers().get_one("Location"), Some("/me/password"));
    assert_eq!(crate::helpers::claims_of(&t.cookie("access_token").unwrap())["fresh"], true);
    assert_eq!(active_sessions(&t, &user.email).await, 1, "confirming the password keeps the browser's one session");
    assert_eq!(t.client.get("/me/password").dispatch().await.status(), Status::Ok);
    assert_eq!(change_in_browser(&t, &user.password, NEW_PASSWORD, NEW_PASSWORD).await.status(), Status::SeeOther);
}

#[rocket::async_test]
async fn a_wrong_current_password_or_an_unfit_new_one_is_422_beside_its_field() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let cases = [
        ("current_password", "not my password at all", NEW_PASSWORD, NEW_PASSWORD),
        ("new_password", user.password.as_str(), "password123", "password123"),
        ("new_password", user.password.as_str(), user.password.as_str(), user.password.as_str()),
        ("new_password", user.password.as_str(), "short", "short"),
        ("new_password", user.password.as_str(), &user.username, &user.username),
        ("new_password_confirm", user.password.as_str(), NEW_PASSWORD, "another new secret"),
    ];
    for (field, current, new, confirm) in cases {
        let response = change_in_browser(&t, current, new, confirm).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "case {field}: {new:?}");
        let body = response.into_string().await.unwrap();
        assert!(body.contains(&format!(r#"id="{field}-error""#)), "case {field}: the message is beside the field");
        for secret in [current, new] {
            assert!(!body.contains(&format!(r#"value="{secret}""#)), "case {field}: no password is echoed");
        }
    }
    let same = change_in_browser(&t, &user.password, &user.password, &user.password).await.into_string().await.unwrap();
    assert!(same.contains("must differ from the current one"), "the same password is refused with its reason");
    let common = change_in_browser(&t, &user.password, "password123", "password123").await.into_string().await.unwrap();
    assert!(common.contains("most common"), "a common password is refused with its reason");
    // Nothing changed: the old password still works, the session too.
    t.api_login(&user).await;
    assert_eq!(t.client.get("/me").dispatch().await.status(), Status::Ok);
}

#[rocket::async_test]
async fn the_api_changes_the_password_with_a_fresh_token_and_ends_the_other_sessions() {
    let t = TestApp::spawn().await;
    let (user, mine) = t.api_signup().await;
    let other = t.api_login(&user).await;
    let body = json!({"current_password": user.password, "new_password": NEW_PASSWORD});
    let response = t.post_json("/api/v1/me/password", Some(&mine.access), &body).await;
    assert_eq!(response.status(), Status::NoContent);

    assert_eq!(t.get_json("/api/v1/me", Some(&mine.access)).await.status(), Status::Ok, "the caller's token goes on working");
    let rotated = t.post_json("/api/v1/auth/refresh", Some(&mine.refresh), &json!({})).await;
    assert_eq!(rotated.status(), Status::Ok, "and so does its session");
    assert_eq!(error_code(t.get_json("/api/v1/me", Some(&other.access)).await, Status::Unauthorized).await, "token_revoked");
    let refresh = t.post_json("/api/v1/auth/refresh", Some(&other.refresh), &json!({})).await;
    assert_eq!(error_code(refresh, Status::Unauthorized).await, "token_revoked");
    let old = t.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await;
    assert_eq!(old.status(), Status::Unauthorized);
    t.api_login(&TestUser { password: NEW_PASSWORD.into(), ..user }).await;
}

#[rocket::async_test]
async fn the_api_refuses_a_refreshed_token_and_bad_fields() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    let refreshed = t.post_json("/api/v1/auth/refresh", Some(&tokens.refresh), &json!({})).await;
    let refreshed = crate::helpers::tokens_of(refreshed.into_json().await.unwrap());
    let body = json!({"current_password": user.password, "new_password": NEW_PASSWORD});
    let response = t.post_json("/api/v1/me/password", Some(&refreshed.access), &body).await;
    let challenge = response.headers().get_one("WWW-Authenticate").unwrap_or_default().to_owned();
    assert!(challenge.contains(r#"error="invalid_token""#), "{challenge}");
    assert_eq!(error_code(response, Status::Unauthorized).await, "fresh_token_required");

    let fresh = t.api_login(&user).await;
    for (field, current, new) in [
        ("current_password", "not my password at all", NEW_PASSWORD),
        ("new_password", user.password.as_str(), "password123"),
        ("new_password", user.password.as_str(), user.password.as_str()),
        ("new_password", user.password.as_str(), &"x".repeat(73)),
    ] {
        let response = t.post_json("/api/v1/me/password", Some(&fresh.access), &json!({"current_password": current, "new_password": new})).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "case {field}: {new:?}");
        let body: Value = response.into_json().await.unwrap();
        assert!(body["error"]["fields"][field].is_string(), "case {field}: {body}");
        assert!(!body.to_string().contains(new), "case {field}: no password is echoed");
    }
    let malformed = t.client.post("/api/v1/me/password").header(crate::helpers::bearer(&fresh.access)).body("{nope").dispatch().await;
    assert_eq!(malformed.status(), Status::BadRequest);
    let anonymous = t.post_json("/api/v1/me/password", None, &body).await;
    assert_eq!(error_code(anonymous, Status::Unauthorized).await, "token_missing");
    t.api_login(&user).await;
}

#[rocket::async_test]
async fn password_managers_find_the_change_page_at_the_well_known_address() {
    let t = TestApp::spawn().await;
    let response = t.client.get("/.well-known/change-password").dispatch().await;
    assert_eq!(response.status(), Status::Found, "RFC 8615's change-password: a redirect");
    assert_eq!(response.headers().get_one("Location"), Some("/me/password"));
    // Not logged in, the page itself sends the browser to log in first.
    let response = t.client.get("/me/password").dispatch().await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Location"), Some("/login?next=%2Fme%2Fpassword"));
}
