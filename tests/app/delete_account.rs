//! Deleting one's own account (SPEC.md §4 `POST /me/delete`, §5
//! `DELETE /api/v1/me`, §6): a fresh session and the current password; the
//! last active admin cannot (409); recipes, sessions and tokens go; an audit
//! event that names the account by its public id only; a notice mailed to
//! the address.

use std::net::SocketAddr;

use rocket::http::{ContentType, Cookie, Header, Status};
use rocket::local::asynchronous::LocalResponse;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{bearer, claims_of, error_code, extract_csrf, form_body, location, tokens_of, TestApp, TestUser};
use recipebox::accounts::delete::NOTICE_SUBJECT;
use recipebox::domain::AuditKind;
use recipebox::store::audit::{EventFilter, EventRow};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
const FLASH: &str = "Your account and your recipes have been deleted.";

/// Creates a recipe over the API; returns its id.
async fn api_recipe(t: &TestApp, token: &str, name: &str, visibility: &str) -> i64 {
    let body = json!({"name": name, "description": "Tasty.", "cook_time": 30, "directions": "Cook it.", "visibility": visibility});
    let response = t.post_json("/api/v1/recipes", Some(token), &body).await;
    assert_eq!(response.status(), Status::Created, "create {name}");
    response.into_json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// Creates a public recipe through the browser form; returns its id.
async fn form_recipe(t: &TestApp, name: &str) -> i64 {
    let csrf = t.session_csrf().await;
    let fields = [("name", name), ("description", "Spicy."), ("cook_time", "90"), ("directions", "Simmer."), ("visibility", "public")];
    let response = t.post_form("/recipes", Some(&csrf), &fields).await;
    assert_eq!(response.status(), Status::SeeOther, "create {name}");
    location(&response).strip_prefix("/recipes/").expect("303 to the recipe").parse().unwrap()
}

/// `DELETE /api/v1/me` with `body` as it is (`None`: no body at all).
async fn api_delete_me<'a>(t: &'a TestApp, token: Option<&str>, body: Option<&str>) -> LocalResponse<'a> {
    let mut request = t.client.delete("/api/v1/me");
    if let Some(body) = body {
        request = request.header(ContentType::JSON).body(body);
    }
    if let Some(token) = token {
        request = request.header(bearer(token));
    }
    request.dispatch().await
}

/// Posts the delete form with `password` from Firefox at `ip`.
async fn delete_in_browser<'a>(t: &'a TestApp, csrf: Option<&str>, password: &str) -> LocalResponse<'a> {
    let mut fields = vec![("current_password", password)];
    if let Some(csrf) = csrf {
        fields.push(("csrf_token", csrf));
    }
    t.client
        .post("/me/delete")
        .header(ContentType::Form)
        .header(Header::new("User-Agent", FIREFOX))
        .remote(SocketAddr::from(([203, 0, 113, 7], 40000)))
        .body(form_body(&fields))
        .dispatch()
        .await
}

async fn page(t: &TestApp, path: &str) -> (Status, String) {
    let response = t.client.get(path.to_owned()).dispatch().await;
    (response.status(), response.into_string().await.unwrap_or_default())
}

async fn events(t: &TestApp, kind: AuditKind, subject: &str) -> Vec<EventRow> {
    let filter = EventFilter { kind: Some(kind), subject: Some(Uuid::parse_str(subject).unwrap()) };
    recipebox::store::audit::list(&t.app().db, filter, 1, 100).await.unwrap().items
}

async fn api_login_status(t: &TestApp, user: &TestUser) -> Status {
    t.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await.status()
}

/// A browser session whose access token came from a refresh, not a login
/// (as in the password tests): the app restarts with a client that holds
/// only the refresh cookie, and the first page load refreshes it.
async fn stale_browser(t: TestApp) -> TestApp {
    let refresh = t.cookie("refresh_token").unwrap();
    let t = t.restart().await;
    let status = t.client.get("/me").cookie(Cookie::new("refresh_token", refresh)).dispatch().await.status();
    assert_eq!(status, Status::Ok, "the refresh cookie alone logs the browser in");
    assert_eq!(claims_of(&t.cookie("access_token").unwrap())["fresh"], false, "a refreshed token is not fresh");
    t
}

#[rocket::async_test]
async fn deleting_the_account_in_the_browser_removes_it_and_its_recipes_ends_every_token_mails_and_audits() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let (browser_access, browser_refresh) = (t.cookie("access_token").unwrap(), t.cookie("refresh_token").unwrap());
    let api = t.api_login(&user).await;
    let public = form_recipe(&t, "Doomed public stew").await;
    let private = api_recipe(&t, &api.access, "Doomed private pie", "private").await;
    let (_, keeper) = t.api_signup().await;
    let kept = api_recipe(&t, &keeper.access, "Kept soup", "public").await;

    let (status, me) = page(&t, "/me").await;
    assert_eq!(status, Status::Ok);
    assert!(me.contains("Delete account") && me.contains(r#"href="/me/delete""#), "/me links to the delete page");
    let (status, form) = page(&t, "/me/delete").await;
    assert_eq!(status, Status::Ok);
    assert!(form.contains(r#"name="current_password""#) && form.contains(r#"action="/me/delete""#), "{form}");
    let csrf = extract_csrf(&form).unwrap();

    let response = delete_in_browser(&t, Some(&csrf), &user.password).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/");
    drop(response);
    assert!(t.cookie("access_token").is_none() && t.cookie("refresh_token").is_none(), "the token cookies are cleared");
    let (status, home) = page(&t, "/").await;
    assert_eq!(status, Status::Ok);
    assert!(home.contains(FLASH), "the flash message says so");
    assert!(home.contains(r#"href="/login""#), "and the browser is logged out");

    // The account and its recipes are gone; others' stay.
    assert!(t.user_row(&user.email).await.is_none());
    let (_, list) = page(&t, "/recipes").await;
    assert!(!list.contains("Doomed") && list.contains("Kept soup"), "{list}");
    for id in [public, private] {
        assert_eq!(page(&t, &format!("/recipes/{id}")).await.0, Status::NotFound, "recipe {id}");
        assert_eq!(t.get_json(&format!("/api/v1/recipes/{id}"), Some(&keeper.access)).await.status(), Status::NotFound);
    }
    assert_eq!(t.get_json(&format!("/api/v1/recipes/{kept}"), None).await.status(), Status::Ok);

    // Every token of every session stops, the browser's and the API's.
    for access in [&browser_access, &api.access] {
        assert_eq!(t.get_json("/api/v1/me", Some(access)).await.status(), Status::Unauthorized, "an old access token");
    }
    for refresh in [&browser_refresh, &api.refresh] {
        let response = t.post_json("/api/v1/auth/refresh", Some(refresh), &json!({})).await;
        assert_eq!(response.status(), Status::Unauthorized, "an old refresh token");
    }
    let stale = t.client.get("/me").cookie(Cookie::new("refresh_token", browser_refresh.clone())).dispatch().await;
    assert_eq!(stale.status(), Status::SeeOther, "the old refresh cookie logs no one in");
    drop(stale);
    assert_eq!(api_login_status(&t, &user).await, Status::Unauthorized, "the old credentials open nothing");
    assert_eq!(t.login(&user.email, &user.password).await.status(), Status::Unauthorized);

    // The audit trail names the account by its public id only.
    let deleted = events(&t, AuditKind::AccountDeleted, &api.public_id).await;
    assert_eq!(deleted.len(), 1, "one event");
    let event = &deleted[0];
    assert_eq!(event.actor_public_id, Some(Uuid::parse_str(&api.public_id).unwrap()), "by the account itself");
    assert_eq!(event.ip_address.as_deref(), Some("203.0.113.7"));
    assert_eq!(event.detail, "{}", "no email or username in the detail");
    for leak in [&user.email, &user.username] {
        assert!(!format!("{event:?}").contains(leak.as_str()), "the event does not hold {leak}");
    }
    let admin = t.browser_admin().await;
    let (status, trail) = page(&t, &format!("/admin/audit?kind=account_deleted&user={}", api.public_id)).await;
    assert_eq!(status, Status::Ok);
    assert!(trail.contains("Account deleted by its owner"), "the admin's trail shows it");
    assert!(!trail.contains(&user.email) && !trail.contains(&user.username), "without the email or username");
    assert!(trail.contains(&admin.username), "(the page is the admin's)");

    // A notice went to the address, saying when, from where and what next.
    let mail = t.mail(NOTICE_SUBJECT, 1).await;
    assert_eq!(mail.len(), 1);
    let message = &mail[0];
    assert!(message.contains(&format!("To: {}", user.email)), "{message}");
    for expected in ["Firefox 132 on Linux", "203.0.113.7", "UTC", "/signup", "If it was not you"] {
        assert!(message.contains(expected), "the notice says {expected:?}: {message}");
    }
}

#[rocket::async_test]
async fn a_wrong_password_shows_the_form_again_with_422_and_deletes_nothing() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let public_id = t.user_row(&user.email).await.unwrap().public_id.to_string();
    let id = form_recipe(&t, "Still here").await;
    for typed in ["not my password at all", ""] {
        let csrf = t.csrf_from("/me/delete").await;
        let response = delete_in_browser(&t, Some(&csrf), typed).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "case {typed:?}");
        let body = response.into_string().await.unwrap();
        assert!(body.contains(r#"id="current_password-error""#), "case {typed:?}: the message is beside the field");
        assert!(body.contains("That is not your current password."), "case {typed:?}");
        if !typed.is_empty() {
            assert!(!body.contains(typed), "case {typed:?}: the password is not echoed");
        }
    }
    assert!(t.user_row(&user.email).await.is_some(), "the account stays");
    assert_eq!(page(&t, &format!("/recipes/{id}")).await.0, Status::Ok, "and its recipe");
    assert_eq!(page(&t, "/me").await.0, Status::Ok, "and the session");
    assert_eq!(events(&t, AuditKind::LoginFailed, &public_id).await.len(), 2, "each wrong password counts as a failed login");
    t.api_login(&user).await;
    assert!(events(&t, AuditKind::AccountDeleted, &public_id).await.is_empty());
}

#[rocket::async_test]
async fn a_delete_without_the_right_csrf_token_is_refused_with_403() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    for csrf in [None, Some("not-the-token")] {
        let response = delete_in_browser(&t, csrf, &user.password).await;
        assert_eq!(response.status(), Status::Forbidden, "csrf {csrf:?}");
        assert!(response.into_string().await.unwrap().contains("expired"), "the form-expired page");
    }
    assert!(t.user_row(&user.email).await.is_some(), "nothing was deleted");
    assert_eq!(page(&t, "/me").await.0, Status::Ok);
}

#[rocket::async_test]
async fn a_stale_session_confirms_the_password_first_and_comes_back_to_the_delete_page() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let t = stale_browser(t).await;
    const TO_LOGIN: &str = "/login?next=%2Fme%2Fdelete";

    let form = t.client.get("/me/delete").dispatch().await;
    assert_eq!(form.status(), Status::SeeOther, "no error page: on to the login form");
    assert_eq!(location(&form), TO_LOGIN);
    drop(form);
    let (status, login) = page(&t, TO_LOGIN).await;
    assert_eq!(status, Status::Ok);
    assert!(login.contains("Confirm your password"), "{login}");
    let csrf = extract_csrf(&login).unwrap();

    // A form posted with a stale session is sent the same way, and deletes nothing.
    let post = delete_in_browser(&t, Some(&csrf), &user.password).await;
    assert_eq!(post.status(), Status::SeeOther);
    assert_eq!(location(&post), TO_LOGIN);
    drop(post);
    assert!(t.user_row(&user.email).await.is_some());

    let again = t.post_form("/login", Some(&csrf), &[("email", &user.email), ("password", &user.password), ("next", "/me/delete")]).await;
    assert_eq!(again.status(), Status::SeeOther);
    assert_eq!(location(&again), "/me/delete");
    drop(again);
    let csrf = t.csrf_from("/me/delete").await;
    assert_eq!(location(&delete_in_browser(&t, Some(&csrf), &user.password).await), "/");
    assert!(t.user_row(&user.email).await.is_none());

    // A visitor is sent to log in too.
    let anonymous = t.client.get("/me/delete").dispatch().await;
    assert_eq!((anonymous.status(), location(&anonymous)), (Status::SeeOther, TO_LOGIN.to_owned()));
}

#[rocket::async_test]
async fn the_last_active_admin_cannot_delete_their_account_on_the_page_or_the_api() {
    let t = TestApp::spawn().await;
    let admin = t.browser_admin().await;

    let (status, form) = page(&t, "/me/delete").await;
    assert_eq!(status, Status::Conflict, "the page says why not");
    assert!(form.contains("last active admin") && !form.contains(r#"name="current_password""#), "{form}");
    let csrf = t.session_csrf().await;
    let response = delete_in_browser(&t, Some(&csrf), &admin.password).await;
    assert_eq!(response.status(), Status::Conflict);
    assert!(response.into_string().await.unwrap().contains("last active admin"));
    let tokens = t.api_login(&admin).await;
    let body = json!({"current_password": admin.password}).to_string();
    assert_eq!(error_code(api_delete_me(&t, Some(&tokens.access), Some(&body)).await, Status::Conflict).await, "last_admin");
    assert!(t.user_row(&admin.email).await.is_some(), "the admin stays");
    assert!(events(&t, AuditKind::AccountDeleted, &tokens.public_id).await.is_empty());

    // With a second active admin, the first may go; then the second is the last.
    let (second, second_tokens) = t.api_admin().await;
    assert_eq!(api_delete_me(&t, Some(&tokens.access), Some(&body)).await.status(), Status::NoContent);
    assert!(t.user_row(&admin.email).await.is_none());
    let body = json!({"current_password": second.password}).to_string();
    assert_eq!(error_code(api_delete_me(&t, Some(&second_tokens.access), Some(&body)).await, Status::Conflict).await, "last_admin");
}

#[rocket::async_test]
async fn the_api_deletes_the_account_with_a_fresh_token_and_the_current_password() {
    let t = TestApp::spawn().await;
    let (user, mine) = t.api_signup().await;
    let other = t.api_login(&user).await;
    let recipe = api_recipe(&t, &mine.access, "Doomed API stew", "public").await;

    let body = json!({"current_password": user.password}).to_string();
    let response = api_delete_me(&t, Some(&mine.access), Some(&body)).await;
    assert_eq!(response.status(), Status::NoContent);
    drop(response);

    assert!(t.user_row(&user.email).await.is_none());
    assert_eq!(t.get_json(&format!("/api/v1/recipes/{recipe}"), None).await.status(), Status::NotFound);
    for tokens in [&mine, &other] {
        assert_eq!(error_code(t.get_json("/api/v1/me", Some(&tokens.access)).await, Status::Unauthorized).await, "token_revoked");
        let refresh = t.post_json("/api/v1/auth/refresh", Some(&tokens.refresh), &json!({})).await;
        assert_eq!(refresh.status(), Status::Unauthorized);
    }
    assert_eq!(api_login_status(&t, &user).await, Status::Unauthorized);
    let deleted = events(&t, AuditKind::AccountDeleted, &mine.public_id).await;
    assert_eq!((deleted.len(), deleted[0].detail.as_str()), (1, "{}"));
    let mail = t.mail(NOTICE_SUBJECT, 1).await;
    assert!(mail[0].contains(&format!("To: {}", user.email)));
}

#[rocket::async_test]
async fn the_api_refuses_a_refreshed_token_a_wrong_password_and_a_missing_body() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    let refreshed = t.post_json("/api/v1/auth/refresh", Some(&tokens.refresh), &json!({})).await;
    let refreshed = tokens_of(refreshed.into_json().await.unwrap());
    let body = json!({"current_password": user.password}).to_string();

    let response = api_delete_me(&t, Some(&refreshed.access), Some(&body)).await;
    let challenge = response.headers().get_one("WWW-Authenticate").unwrap_or_default().to_owned();
    assert!(challenge.contains(r#"error="invalid_token""#), "{challenge}");
    assert_eq!(error_code(response, Status::Unauthorized).await, "fresh_token_required");

    let fresh = t.api_login(&user).await;
    for wrong in [json!({"current_password": "not my password at all"}), json!({})] {
        let response = api_delete_me(&t, Some(&fresh.access), Some(&wrong.to_string())).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "case {wrong}");
        let answer: Value = response.into_json().await.unwrap();
        assert_eq!(answer["error"]["code"], "validation_failed", "case {wrong}");
        assert!(answer["error"]["fields"]["current_password"].is_string(), "case {wrong}: {answer}");
        assert!(!answer.to_string().contains("not my password"), "no password is echoed");
    }
    assert_eq!(api_delete_me(&t, Some(&fresh.access), None).await.status(), Status::BadRequest, "no body");
    assert_eq!(api_delete_me(&t, Some(&fresh.access), Some("{nope")).await.status(), Status::BadRequest, "not JSON");
    assert_eq!(error_code(api_delete_me(&t, None, Some(&body)).await, Status::Unauthorized).await, "token_missing");

    assert!(t.user_row(&user.email).await.is_some(), "nothing was deleted");
    assert_eq!(t.get_json("/api/v1/me", Some(&fresh.access)).await.status(), Status::Ok);
    assert!(events(&t, AuditKind::AccountDeleted, &tokens.public_id).await.is_empty());
}
