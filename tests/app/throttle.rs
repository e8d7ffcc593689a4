//! Login throttling (SPEC.md §6): failures counted per account and per
//! client address, in the database, over a sliding window; 429 with
//! `Retry-After` past a limit, even for the right password.

use std::net::SocketAddr;

use base64::Engine as _;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::LocalResponse;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::helpers::{error_code, form_body, TestApp};
use recipebox::entities::{audit_event, login_failure, session};

const WRONG: &str = "a wrong guess of a password";

fn from(ip: &str) -> SocketAddr {
    format!("{ip}:50000").parse().unwrap()
}

async fn json_login<'a>(t: &'a TestApp, email: &str, password: &str, ip: &str) -> LocalResponse<'a> {
    t.client
        .post("/api/v1/auth/login")
        .header(ContentType::JSON)
        .remote(from(ip))
        .body(json!({"email": email, "password": password}).to_string())
        .dispatch()
        .await
}

async fn basic_login<'a>(t: &'a TestApp, email: &str, password: &str, ip: &str) -> LocalResponse<'a> {
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{email}:{password}"));
    t.client
        .post("/api/v1/auth/login")
        .header(Header::new("Authorization", format!("Basic {credentials}")))
        .remote(from(ip))
        .dispatch()
        .await
}

async fn form_login<'a>(t: &'a TestApp, email: &str, password: &str, ip: &str) -> LocalResponse<'a> {
    let csrf = t.csrf_from("/login").await;
    t.client
        .post("/login")
        .header(ContentType::Form)
        .remote(from(ip))
        .body(form_body(&[("email", email), ("password", password), ("csrf_token", &csrf)]))
        .dispatch()
        .await
}

fn retry_after(response: &LocalResponse<'_>) -> u64 {
    response.headers().get_one("Retry-After").expect("a Retry-After header").parse().expect("whole seconds")
}

async fn fail_json(t: &TestApp, email: &str, times: usize, ip: &str) {
    for n in 0..times {
        assert_eq!(json_login(t, email, WRONG, ip).await.status(), Status::Unauthorized, "failure {n}");
    }
}

/// Moves every recorded failure `seconds` into the past.
async fn age_failures(t: &TestApp, seconds: i64) {
    login_failure::Entity::update_many()
        .col_expr(login_failure::Column::CreatedAt, Expr::col(login_failure::Column::CreatedAt).sub(seconds))
        .exec(&t.app().db)
        .await
        .unwrap();
}

#[rocket::async_test]
async fn ten_failures_lock_the_account_with_429_even_for_the_right_password_in_every_login() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    fail_json(&t, &user.email, 10, "203.0.113.1").await;

    let response = json_login(&t, &user.email, &user.password, "203.0.113.1").await;
    let seconds = retry_after(&response);
    assert!((890..=900).contains(&seconds), "a slot frees when the oldest failure leaves the 15-minute window: {seconds}");
    assert_eq!(error_code(response, Status::TooManyRequests).await, "too_many_requests");

    let basic = basic_login(&t, &user.email, &user.password, "203.0.113.2").await;
    assert_eq!(basic.status(), Status::TooManyRequests, "HTTP Basic shares the count, from any address");
    let page = form_login(&t, &user.email.to_uppercase(), &user.password, "203.0.113.3").await;
    assert_eq!(page.status(), Status::TooManyRequests, "so does the form, whatever the email's case");
    assert!(retry_after(&page) > 0);
    let body = page.into_string().await.unwrap();
    assert!(body.contains("Slow down") && body.contains("Try again in 15 minutes"), "a styled page saying when: {body}");
    assert!(t.cookie("access_token").is_none(), "no session was started");
    let failures = login_failure::Entity::find().all(&t.app().db).await.unwrap();
    let logins: Vec<_> = failures.iter().filter(|f| f.scope == "account" || f.scope == "address").collect();
    assert_eq!(logins.len(), 20, "ten per account and ten per address; throttled attempts are not counted");
    assert!(failures.iter().all(|f| !f.key.contains(&user.email)), "the email is stored only as a hash");
}

#[rocket::async_test]
async fn form_json_and_basic_logins_share_one_account_counter() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    for n in 0..4 {
        assert_eq!(form_login(&t, &user.email, WRONG, "203.0.113.1").await.status(), Status::Unauthorized, "form {n}");
    }
    for n in 0..3 {
        assert_eq!(basic_login(&t, &user.email, WRONG, "203.0.113.1").await.status(), Status::Unauthorized, "basic {n}");
    }
    fail_json(&t, &user.email, 3, "203.0.113.1").await;
    assert_eq!(json_login(&t, &user.email, &user.password, "203.0.113.1").await.status(), Status::TooManyRequests);
}

#[rocket::async_test]
async fn a_successful_login_clears_the_accounts_count() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    fail_json(&t, &user.email, 9, "203.0.113.1").await;
    assert_eq!(json_login(&t, &user.email, &user.password, "203.0.113.1").await.status(), Status::Ok);
    fail_json(&t, &user.email, 9, "203.0.113.1").await;
    assert_eq!(json_login(&t, &user.email, &user.password, "203.0.113.1").await.status(), Status::Ok, "nine again is still under the limit");
}

#[rocket::async_test]
async fn unknown_emails_are_throttled_like_real_accounts() {
    let t = TestApp::spawn().await;
    fail_json(&t, "nobody@example.com", 10, "203.0.113.1").await;
    let response = json_login(&t, "nobody@example.com", WRONG, "203.0.113.1").await;
    assert_eq!(response.status(), Status::TooManyRequests, "a 429 says nothing about whether the account exists");
}

#[rocket::async_test]
async fn the_window_slides_failures_older_than_it_stop_counting() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    fail_json(&t, &user.email, 10, "203.0.113.1").await;
    age_failures(&t, 600).await;
    let response = json_login(&t, &user.email, &user.password, "203.0.113.1").await;
    let seconds = retry_after(&response);
    assert!((290..=300).contains(&seconds), "ten minutes later, five are left to wait: {seconds}");
    age_failures(&t, 301).await;
    assert_eq!(json_login(&t, &user.email, &user.password, "203.0.113.1").await.status(), Status::Ok);

    fail_json(&t, &user.email, 3, "203.0.113.1").await;
    age_failures(&t, 901).await;
    let purged = recipebox::store::throttle::purge_older_than(&t.app().db, 900).await.unwrap();
    // Ten earlier failures of the address stay counted: a right password
    // clears the account's count, never the address's.
    // (and the sign-up's verification link, counted too). The app's own
    // clean-up, started with it, may run late on a busy machine and purge
    // some or all of them first: either way none is left.
    assert!(purged <= 17, "old rows are purged: {purged}");
    assert!(login_failure::Entity::find().all(&t.app().db).await.unwrap().is_empty());
}

#[rocket::async_test]
async fn the_address_limit_spans_accounts_and_a_forged_address_header_changes_nothing() {
    let t = TestApp::spawn_with(&[("login_max_failures_per_address", json!(3))]).await;
    let (victim, _) = t.api_signup().await;
    for n in 0..3 {
        let email = format!("guess-{n}@example.com");
        let forged = t
            .client
            .post("/api/v1/auth/login")
            .header(ContentType::JSON)
            .header(Header::new("X-Real-IP", format!("198.51.100.{n}")))
            .header(Header::new("X-Forwarded-For", format!("198.51.100.{n}")))
            .remote(from("203.0.113.66"))
            .body(json!({"email": email, "password": WRONG}).to_string())
            .dispatch()
            .await;
        assert_eq!(forged.status(), Status::Unauthorized);
    }
    let next = t
        .client
        .post("/api/v1/auth/login")
        .header(ContentType::JSON)
        .header(Header::new("X-Real-IP", "192.0.2.200"))
        .remote(from("203.0.113.66"))
        .body(json!({"email": victim.email, "password": victim.password}).to_string())
        .dispatch()
        .await;
    assert_eq!(next.status(), Status::TooManyRequests, "the address is the socket's, whatever the header claims");
    assert_eq!(json_login(&t, &victim.email, &victim.password, "203.0.113.67").await.status(), Status::Ok, "another address is not throttled");

    // The same address goes into the session list and the audit trail.
    let db = &t.app().db;
    let sessions = session::Entity::find().filter(session::Column::IpAddress.is_not_null()).all(db).await.unwrap();
    assert_eq!(sessions.iter().map(|s| s.ip_address.as_deref().unwrap()).collect::<Vec<_>>(), ["203.0.113.67"]);
    let events = audit_event::Entity::find().filter(audit_event::Column::IpAddress.is_not_null()).all(db).await.unwrap();
    assert!(!events.is_empty());
    for event in events {
        let ip = event.ip_address.unwrap();
        assert!(ip == "203.0.113.66" || ip == "203.0.113.67", "{:?} from {ip}", event.kind);
    }
}

#[rocket::async_test]
async fn the_password_changes_current_password_check_shares_the_counters() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    for n in 0..10 {
        let body = json!({"current_password": WRONG, "new_password": "a brand new kitchen secret"});
        let response = t.post_json("/api/v1/me/password", Some(&tokens.access), &body).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "guess {n}");
    }
    let body = json!({"current_password": user.password, "new_password": "a brand new kitchen secret"});
    let response = t.post_json("/api/v1/me/password", Some(&tokens.access), &body).await;
    assert!(response.headers().get_one("Retry-After").is_some());
    assert_eq!(error_code(response, Status::TooManyRequests).await, "too_many_requests");
    assert_eq!(json_login(&t, &user.email, &user.password, "203.0.113.1").await.status(), Status::TooManyRequests, "and so is the login");
    let stored = recipebox::store::users::find_by_email(&t.app().db, &user.email).await.unwrap().unwrap();
    assert!(bcrypt::verify(&user.password, &stored.password_hash).unwrap(), "the password did not change");
}

#[rocket::async_test]
async fn behind_a_proxy_the_header_named_in_ip_header_gives_the_address() {
    let t = TestApp::spawn_with(&[("ip_header", json!("X-Real-IP")), ("login_max_failures_per_address", json!(2))]).await;
    let (user, _) = t.api_signup().await;
    let attempt = |client_ip: &'static str, password: &'static str| {
        t.client
            .post("/api/v1/auth/login")
            .header(ContentType::JSON)
            .header(Header::new("X-Real-IP", client_ip))
            .remote(from("127.0.0.1"))
            .body(json!({"email": "someone@example.com", "password": password}).to_string())
            .dispatch()
    };
    for _ in 0..2 {
        assert_eq!(attempt("198.51.100.7", WRONG).await.status(), Status::Unauthorized);
    }
    assert_eq!(attempt("198.51.100.7", WRONG).await.status(), Status::TooManyRequests, "the client behind the proxy is throttled");
    let other = json_login(&t, &user.email, &user.password, "127.0.0.1").await;
    assert_eq!(other.status(), Status::Ok, "not the proxy's own address");
}

#[rocket::async_test]
async fn a_burst_of_parallel_guesses_gets_no_more_tries_than_the_limit() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    let guesses = (0..25).map(|n| {
        let body = json!({"email": user.email, "password": format!("guess number {n}")}).to_string();
        let client = &t.client;
        async move { client.post("/api/v1/auth/login").header(ContentType::JSON).body(body).dispatch().await.status() }
    });
    let statuses = rocket::futures::future::join_all(guesses).await;
    let tried = statuses.iter().filter(|s| **s == Status::Unauthorized).count();
    let refused = statuses.iter().filter(|s| **s == Status::TooManyRequests).count();
    assert_eq!((tried, refused), (10, 15), "all at once, still ten guesses: {statuses:?}");
    assert_eq!(json_login(&t, &user.email, &user.password, "203.0.113.1").await.status(), Status::TooManyRequests);
}
