//! A database that is locked or down (SPEC.md §6): 503 pages and JSON
//! errors with `Retry-After`, `/healthz` says 503 when the database is
//! gone (and 200 while it is only write-locked: it takes no write lock),
//! and the app recovers by itself once the database is back.

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

    // `/healthz` takes no write lock (SPEC §6): the database still answers
    // reads, and so does the health check, at once.
    let started = std::time::Instant::now();
    assert_eq!(t.client.get("/healthz").dispatch().await.status(), Status::Ok);
    assert!(started.elapsed() < std::time::Duration::from_millis(150), "no wait for the lock: {:?}", started.elapsed());

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

/// Runs SQL on the PostgreSQL server as its administrator.
async fn on_server(server: &str, sql: &str) {
    let admin = sea_orm::Database::connect(server).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&admin, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    admin.close().await.unwrap();
}

/// Stopping the shared PostgreSQL server would break every other test
/// running on it, so this test takes its own database away instead: no new
/// connections, every open one killed. To recipebox that is the server
/// going down, and allowing connections again is the server coming back.
#[rocket::async_test]
async fn a_postgresql_database_that_goes_away_gives_503_and_is_used_again_when_it_is_back() {
    let t = TestApp::spawn_with(&[("database_acquire_timeout", json!(1)), ("database_connect_timeout", json!(1))]).await;
    let Some((server, name)) = t.database.on_server().filter(|(server, _)| server.starts_with("postgres")) else {
        eprintln!("skipped: needs TEST_DATABASE_URL=postgres://… (this test takes its own PostgreSQL database away)");
        return;
    };
    let (user, tokens) = t.api_signup().await;
    on_server(server, &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    on_server(server, &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")).await;

    let health = t.client.get("/healthz").dispatch().await;
    assert_eq!(health.status(), Status::ServiceUnavailable);
    assert!(health.headers().get_one("Retry-After").is_some());
    let me = t.get_json("/api/v1/me", Some(&tokens.access)).await;
    assert_eq!(me.status(), Status::ServiceUnavailable, "the token cannot be checked: 503, not 401");
    assert_eq!(me.headers().get_one("Retry-After"), Some("5"));
    let page = t.client.get("/recipes").dispatch().await;
    assert_eq!(page.status(), Status::ServiceUnavailable);
    assert!(page.into_string().await.unwrap().contains("briefly unavailable"));

    on_server(server, &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    assert_eq!(t.client.get("/healthz").dispatch().await.status(), Status::Ok, "back without a restart of recipebox");
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok);
    t.api_login(&user).await;
}
