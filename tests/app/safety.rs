//! Account safety (SPEC.md §1, §3, §6): sessions that end, a bound on live
//! sessions, sign-up limits, HSTS and `Secure` cookies, and what a visitor
//! can make the server keep in memory.

use std::net::SocketAddr;

use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::LocalResponse;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::EntityTrait;
use serde_json::{json, Value};

use crate::helpers::{claims_of, error_code, location, TestApp, TestUser};
use recipebox::entities::session;

/// Moves every session's login `seconds` into the past.
async fn age_sessions(t: &TestApp, seconds: i64) {
    session::Entity::update_many()
        .col_expr(session::Column::CreatedAt, Expr::col(session::Column::CreatedAt).sub(seconds))
        .exec(&t.app().db)
        .await
        .unwrap();
}

#[rocket::async_test]
async fn no_token_of_a_session_expires_after_the_session_does() {
    let t = TestApp::spawn_with(&[("session_max_age", json!(600))]).await;
    let (_, tokens) = t.api_signup().await;
    for token in [&tokens.access, &tokens.refresh] {
        let claims = claims_of(token);
        assert!(claims["exp"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap() + 600, "{claims}");
    }
}

#[rocket::async_test]
async fn a_refresh_past_the_sessions_lifetime_is_refused_whatever_the_refresh_tokens_own_expiry() {
    let t = TestApp::spawn_with(&[("session_max_age", json!(3600))]).await;
    let (user, _) = t.api_signup().await;
    let tokens = t.api_login(&user).await;
    age_sessions(&t, 3601).await;
    let refreshed = t.post_json("/api/v1/auth/refresh", Some(&tokens.refresh), &Value::Null).await;
    assert_eq!(error_code(refreshed, Status::Unauthorized).await, "token_expired");
    let me = t.get_json("/api/v1/me", Some(&tokens.access)).await;
    assert_eq!(error_code(me, Status::Unauthorized).await, "token_expired", "its access token ends with it");
    // A new login is a new session, with a lifetime of its own.
    let again = t.api_login(&user).await;
    assert_eq!(t.get_json("/api/v1/me", Some(&again.access)).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn a_browser_whose_session_has_ended_is_sent_to_log_in() {
    let t = TestApp::spawn_with(&[("session_max_age", json!(3600))]).await;
    t.signup().await;
    assert_eq!(t.client.get("/me").dispatch().await.status(), Status::Ok);
    age_sessions(&t, 3601).await;
    let response = t.client.get("/me").dispatch().await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/login?next=%2Fme");
}

#[rocket::async_test]
async fn me_shows_when_each_session_ends() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let page = t.client.get("/me").dispatch().await.into_string().await.unwrap();
    assert!(page.contains("A login lasts 30 days at most"), "{page}");
    let row = session::Entity::find().one(&t.app().db).await.unwrap().unwrap();
    let ends = row.created_at.0 + time::Duration::days(30);
    let shown = recipebox::views::human(ends);
    assert!(page.contains(&format!(r#"<td data-label="Ends">{shown}</td>"#)), "the end, {shown}, is shown");
}

fn from(ip: &str) -> SocketAddr {
    format!("{ip}:50000").parse().unwrap()
}

async fn api_signup_from<'a>(t: &'a TestApp, user: &TestUser, ip: &str) -> LocalResponse<'a> {
    let body = json!({"email": user.email, "username": user.username, "password": user.password});
    t.client.post("/api/v1/users").header(ContentType::JSON).remote(from(ip)).body(body.to_string()).dispatch().await
}

#[rocket::async_test]
async fn sign_ups_from_one_address_past_the_limit_get_429_with_retry_after_on_the_api_and_the_page() {
    let t = TestApp::spawn_with(&[("signup_max_per_address", json!(2)), ("signup_window", json!(600))]).await;
    // A sign-up that makes no account does not count.
    let taken_name = TestUser { username: "x".into(), ..TestUser::random() };
    assert_eq!(api_signup_from(&t, &taken_name, "203.0.113.5").await.status(), Status::UnprocessableEntity);
    for n in 0..2 {
        assert_eq!(api_signup_from(&t, &TestUser::random(), "203.0.113.5").await.status(), Status::Created, "sign-up {n}");
    }
    let refused = api_signup_from(&t, &TestUser::random(), "203.0.113.5").await;
    assert_eq!(refused.status(), Status::TooManyRequests);
    let wait: u64 = refused.headers().get_one("Retry-After").expect("Retry-After").parse().unwrap();
    assert!((1..=600).contains(&wait), "{wait}");

    let csrf = t.csrf_from("/signup").await;
    let user = TestUser::random();
    let fields = [
        ("email", user.email.as_str()),
        ("username", &user.username),
        ("password", &user.password),
        ("password_confirm", &user.password),
        ("csrf_token", &csrf),
    ];
    let page = t
        .client
        .post("/signup")
        .header(ContentType::Form)
        .remote(from("203.0.113.5"))
        .body(crate::helpers::form_body(&fields))
        .dispatch()
        .await;
    assert_eq!(page.status(), Status::TooManyRequests);
    assert!(page.headers().get_one("Retry-After").is_some());
    let html = page.into_string().await.unwrap();
    assert!(html.contains("Too many attempts") && html.contains("/static/style.css"), "the styled page: {html}");
    assert!(t.user_row(&user.email).await.is_none(), "no account was made");

    assert_eq!(api_signup_from(&t, &TestUser::random(), "198.51.100.7").await.status(), Status::Created, "another address signs up");
}

#[rocket::async_test]
async fn with_cookie_secure_every_response_has_hsts_and_every_cookie_is_secure() {
    let t = TestApp::spawn_with(&[("cookie_secure", json!(true))]).await;
    let home = t.client.get("/").dispatch().await;
    assert_eq!(home.headers().get_one("Strict-Transport-Security"), Some("max-age=31536000; includeSubDomains"));
    let missing = t.client.get("/no/such/page").dispatch().await;
    assert_eq!(missing.status(), Status::NotFound);
    assert!(missing.headers().get_one("Strict-Transport-Security").is_some(), "error pages too");
    assert!(t.get_json("/api/v1/me", None).await.headers().get_one("Strict-Transport-Security").is_some(), "and the API");

    // A sign-up sets the token cookies and a flash message (Rocket's `_flash`).
    let user = TestUser::random();
    let response = t.signup_as(&user).await;
    assert_eq!(response.status(), Status::SeeOther);
    let cookies: Vec<&str> = response.headers().get("Set-Cookie").collect();
    for name in ["access_token=", "refresh_token=", "_flash="] {
        assert!(cookies.iter().any(|c| c.starts_with(name)), "{name} is set: {cookies:?}");
    }
    for cookie in cookies {
        assert!(cookie.split(';').any(|attribute| attribute.trim() == "Secure"), "not Secure: {cookie}");
    }
}

#[rocket::async_test]
async fn without_cookie_secure_there_is_no_hsts() {
    let t = TestApp::spawn().await;
    let home = t.client.get("/").dispatch().await;
    assert_eq!(home.status(), Status::Ok);
    assert!(home.headers().get_one("Strict-Transport-Security").is_none());
}

#[rocket::async_test]
async fn hostile_filters_cannot_make_the_server_keep_more_than_its_budget() {
    let t = TestApp::spawn().await;
    let before = t.app().kept.bytes();
    // Filters no user name can be: each was a kept page before, 30 kB each;
    // now each is refused before anything is read or kept.
    for n in 0..200 {
        let author = format!("{n}{}", "x".repeat(30_000));
        let response = t.client.get(format!("/recipes?author={author}")).dispatch().await;
        assert_eq!(response.status(), Status::BadRequest);
        let api = t.client.get(format!("/api/v1/recipes?author={author}")).dispatch().await;
        assert_eq!(api.status(), Status::UnprocessableEntity);
    }
    let grown = t.app().kept.bytes() - before;
    assert!(grown < 64 << 10, "200 hostile filters kept {grown} bytes");
    // Searches, each a page of its own, stay within the one budget.
    for n in 0..2_000 {
        let q = format!("{n:0>200}");
        assert_eq!(t.client.get(format!("/recipes?q={q}")).dispatch().await.status(), Status::Ok);
    }
    assert!(t.app().kept.bytes() <= recipebox::kept::BUDGET);
}

#[rocket::async_test]
async fn a_valid_author_filter_is_kept_and_follows_a_write() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    let recipe = json!({"name": "Barley soup", "description": "", "cook_time": 30, "directions": "Simmer."});
    assert_eq!(t.post_json("/api/v1/recipes", Some(&tokens.access), &recipe).await.status(), Status::Created);
    let path = format!("/recipes?author={}", user.username);
    assert!(t.client.get(path.clone()).dispatch().await.into_string().await.unwrap().contains("Barley soup"));
    let other = json!({"name": "Rye bread", "description": "", "cook_time": 90, "directions": "Bake."});
    assert_eq!(t.post_json("/api/v1/recipes", Some(&tokens.access), &other).await.status(), Status::Created);
    let page = t.client.get(path).dispatch().await.into_string().await.unwrap();
    assert!(page.contains("Barley soup") && page.contains("Rye bread"), "the kept page was read again after the write");
}

/// `sid` and `jti` of a token, as the guard reads them.
fn session_of(token: &str) -> (sea_orm::prelude::Uuid, sea_orm::prelude::Uuid) {
    let claims = claims_of(token);
    let uuid = |name: &str| claims[name].as_str().unwrap().parse().unwrap();
    (uuid("sid"), uuid("jti"))
}

#[rocket::async_test]
async fn a_batched_read_answers_each_token_as_it_would_alone() {
    let t = TestApp::spawn().await;
    let (ann, ann_tokens) = t.api_signup().await;
    let (bob, bob_tokens) = t.api_signup().await;
    let bob_gone = t.api_login(&bob).await;
    let logout = t.client.post("/api/v1/auth/logout").header(crate::helpers::bearer(&bob_gone.access)).dispatch().await;
    assert_eq!(logout.status(), Status::NoContent);
    let nobody = (sea_orm::prelude::Uuid::new_v4(), sea_orm::prelude::Uuid::new_v4());
    let asked = [session_of(&ann_tokens.access), nobody, session_of(&bob_gone.access), session_of(&bob_tokens.access), session_of(&ann_tokens.access)];
    let rows = recipebox::store::tokens::auth_rows(&t.app().db, &asked).await.unwrap();
    for (i, (sid, jti)) in asked.iter().enumerate() {
        let alone = recipebox::store::tokens::auth_row(&t.app().db, *sid, *jti).await.unwrap();
        let facts = |row: &Option<recipebox::store::tokens::AuthRow>| {
            row.as_ref().map(|row| (row.username.clone(), row.session_revoked_at.is_some(), row.revoked_jti.is_some()))
        };
        assert_eq!(facts(&rows[i]), facts(&alone), "pair {i}");
    }
    let name = |i: usize| rows[i].as_ref().map(|row| row.username.clone());
    assert_eq!(name(0).as_deref(), Some(ann.username.as_str()));
    assert_eq!(name(1), None, "no such session");
    assert!(rows[2].as_ref().is_some_and(|row| row.session_revoked_at.is_some() && row.revoked_jti.is_some()), "logged out");
    assert_eq!(name(3).as_deref(), Some(bob.username.as_str()));
    assert_eq!(name(4), name(0), "the same pair twice");

    // Through the guard, many requests at once: each gets its own answer.
    let requests = (0..24).map(|i| {
        let token = [&ann_tokens.access, &bob_gone.access, &bob_tokens.access][i % 3].clone();
        let t = &t;
        async move { (i, t.get_json("/api/v1/me", Some(&token)).await.status()) }
    });
    for (i, status) in rocket::futures::future::join_all(requests).await {
        let expected = if i % 3 == 1 { Status::Unauthorized } else { Status::Ok };
        assert_eq!(status, expected, "request {i}");
    }
}

/// A fault where the sessions end (as a crash at that instant would leave
/// things, if they ended in a transaction of their own): the whole change
/// is undone, never half made. SQLite's trigger syntax; the code under test
/// is the same on every backend.
#[rocket::async_test]
async fn a_change_whose_session_ends_fail_is_undone_whole() {
    use sea_orm::ConnectionTrait;
    let t = TestApp::spawn().await;
    if !t.database.is_sqlite() {
        eprintln!("skipped on this backend: the injected fault is an SQLite trigger");
        return;
    }
    let (user, tokens) = t.api_signup().await;
    let other = t.api_login(&user).await;
    let db = &t.app().db;
    db.execute_unprepared("CREATE TRIGGER injected_fault BEFORE UPDATE OF revoked_at ON sessions BEGIN SELECT RAISE(ABORT, 'injected fault'); END")
        .await
        .unwrap();

    let change = json!({"current_password": user.password, "new_password": "a whole new phrase 2"});
    let changed = t.post_json("/api/v1/me/password", Some(&tokens.access), &change).await;
    assert_eq!(changed.status(), Status::InternalServerError);
    let logout = t.post_json("/api/v1/auth/logout", Some(&other.access), &json!({"refresh_token": other.refresh})).await;
    assert_eq!(logout.status(), Status::InternalServerError);

    db.execute_unprepared("DROP TRIGGER injected_fault").await.unwrap();
    // Neither happened in part: the other session's tokens work (the
    // logout blocklisted neither), the old password logs in, and no
    // notice of a change that did not happen was queued.
    assert_eq!(t.get_json("/api/v1/me", Some(&other.access)).await.status(), Status::Ok);
    let refreshed = t.post_json("/api/v1/auth/refresh", Some(&other.refresh), &json!({})).await;
    assert_eq!(refreshed.status(), Status::Ok, "the refresh token was not used up by the failed logout");
    t.api_login(&user).await;
    let queued: Vec<String> = recipebox::entities::mail_message::Entity::find().all(db).await.unwrap().into_iter().map(|m| m.subject).collect();
    assert!(!queued.iter().any(|subject| subject.contains("password")), "no password notice: {queued:?}");
}
