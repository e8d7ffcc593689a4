//! A database that is locked or down (SPEC.md §6): 503 pages and JSON
//! errors with `Retry-After`, `/healthz` says 503, and the app recovers by
//! itself once the database is back.

use rocket::http::{ContentType, Status};
use sea_orm::sqlx::{self, Connection, SqliteConnection};
use serde_json::{json, Value};

use crate::helpers::{TestApp, TestUser};

/// Another process's connection holding SQLite's write lock.
async fn lock_database(t: &TestApp) -> SqliteConnection {
    let mut other = SqliteConnection::connect(&t.database.url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut other).await.unwrap();
    other
}

#[rocket::async_test]
async fn a_database_locked_past_the_busy_timeout_gives_503_with_retry_after_and_then_recovers() {
    let t = TestApp::spawn_with(&[("sqlite_busy_timeout_ms", json!(200))]).await;
    if !t.database.is_sqlite() {
        eprintln!("skipped: this test locks an SQLite file; TEST_DATABASE_URL names a server");
        return;
    }
    let (user, tokens) = t.api_signup().await;
    let mut other = lock_database(&t).await;

    let health = t.client.get("/healthz").dispatch().await;
    assert_eq!(health.status(), Status::ServiceUnavailable);
    assert!(health.headers().get_one("Retry-After").is_some());

    let newcomer = TestUser::random();
    let body = json!({"email": newcomer.email, "username": newcomer.username, "password": newcomer.password});
    let api = t.post_json("/api/v1/users", None, &body).await;
    assert_eq!(api.status(), Status::ServiceUnavailable);
    assert_eq!(api.headers().get_one("Retry-After"), Some("5"));
    let error: Value = api.into_json().await.unwrap();
    assert_eq!(error["error"]["code"], "service_unavailable");
    assert!(!error.to_string().contains("locked"), "no database detail for the client: {error}");

    let recipe = json!({"name": "Soup", "description": "", "cook_time": 5, "directions": "Stir."});
    assert_eq!(t.post_json("/api/v1/recipes", Some(&tokens.access), &recipe).await.status(), Status::ServiceUnavailable);

    let csrf = t.csrf_from("/signup").await;
    let fields = [("email", newcomer.email.as_str()), ("username", &newcomer.username), ("password", &newcomer.password), ("password_confirm", &newcomer.password)];
    let page = t.post_form("/signup", Some(&csrf), &fields).await;
    assert_eq!(page.status(), Status::ServiceUnavailable);
    assert_eq!(page.content_type(), Some(ContentType::HTML));
    assert!(page.headers().get_one("Retry-After").is_some());
    assert!(page.into_string().await.unwrap().contains("briefly unavailable"), "a styled page, not a framework default");
    assert_eq!(t.client.get("/recipes").dispatch().await.status(), Status::Ok, "reading goes on meanwhile");

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(t.client.get("/healthz").dispatch().await.status(), Status::Ok, "recovered without a restart");
    assert_eq!(t.post_json("/api/v1/users", None, &body).await.status(), Status::Created, "the write that failed works now");
    assert_eq!(t.post_json("/api/v1/recipes", Some(&tokens.access), &recipe).await.status(), Status::Created);
    t.api_login(&user).await;
}
