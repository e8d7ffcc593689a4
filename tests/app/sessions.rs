//! The sessions an account may hold (SPEC.md §3) and the purge that keeps
//! every table the size of what is live (§2).

use rocket::http::Status;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::{error_code, now, TestApp, TestUser};
use recipebox::client::ClientInfo;
use recipebox::domain::AuditKind;
use recipebox::entities::{audit_event, login_ticket, passkey_ceremony, remembered_browser, session};

async fn login<'a>(t: &'a TestApp, user: &TestUser) -> rocket::local::asynchronous::LocalResponse<'a> {
    t.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await
}

async fn live_sessions(t: &TestApp, user: &TestUser) -> u64 {
    let id = t.user_row(&user.email).await.unwrap().id;
    recipebox::store::sessions::count_active(&t.app().db, id).await.unwrap()
}

/// Makes the session of `access` look unused for `seconds`.
async fn idle_for(t: &TestApp, access: &str, seconds: i64) {
    let sid: uuid::Uuid = crate::helpers::claims_of(access)["sid"].as_str().unwrap().parse().unwrap();
    session::Entity::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(recipebox::store::ts(now() - seconds)))
        .filter(session::Column::Sid.eq(sid))
        .exec(&t.app().db)
        .await
        .unwrap();
}

#[rocket::async_test]
async fn a_login_never_ends_a_session_in_use_and_says_why_with_429() {
    let t = TestApp::spawn_with(&[("sessions_per_account", json!(3))]).await;
    let (user, browser) = t.api_signup().await;
    let mut others = Vec::new();
    for _ in 0..2 {
        others.push(t.api_login(&user).await);
    }
    // Every session is in use (each used a moment ago): a fourth login ends none.
    for _ in 0..5 {
        let refused = login(&t, &user).await;
        let retry_after: u64 = refused.headers().get_one("Retry-After").expect("Retry-After").parse().unwrap();
        assert!(retry_after > 0 && retry_after <= 900 + 60, "{retry_after}");
        let body: Value = refused.into_json().await.unwrap();
        assert_eq!(body["error"]["code"], "too_many_sessions");
        assert!(body["error"]["message"].as_str().unwrap().contains("3 sessions in use"), "{body}");
    }
    assert_eq!(t.get_json("/api/v1/me", Some(&browser.access)).await.status(), Status::Ok, "the session in use goes on");
    assert_eq!(live_sessions(&t, &user).await, 3);

    // One session unused for longer than an access token lives: the next
    // login ends it, and the trail says so.
    idle_for(&t, &others[0].access, 900 + 61).await;
    let admitted = t.api_login(&user).await;
    assert_eq!(t.get_json("/api/v1/me", Some(&admitted.access)).await.status(), Status::Ok);
    assert_eq!(error_code(t.get_json("/api/v1/me", Some(&others[0].access)).await, Status::Unauthorized).await, "token_revoked");
    for tokens in [&browser, &others[1]] {
        assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok, "the sessions in use stay");
    }
    let ended = audit_event::Entity::find().filter(audit_event::Column::Kind.eq(AuditKind::SessionEnded)).all(&t.app().db).await.unwrap();
    assert_eq!(ended.len(), 1);
    assert!(ended[0].detail.contains("\"sessions_per_account\":3"), "{}", ended[0].detail);
}

#[rocket::async_test]
async fn a_session_used_a_moment_ago_is_in_use_whatever_its_last_recorded_use() {
    // The guard records a use at most once a minute: a session whose record
    // is 14 minutes old may have been used a second ago, and is not ended.
    let t = TestApp::spawn_with(&[("sessions_per_account", json!(1))]).await;
    let (user, tokens) = t.api_signup().await;
    idle_for(&t, &tokens.access, 900 - 60).await;
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok);
    assert_eq!(error_code(login(&t, &user).await, Status::TooManyRequests).await, "too_many_sessions");
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn logins_at_once_never_leave_more_live_sessions_than_the_limit() {
    let t = TestApp::spawn_with(&[("sessions_per_account", json!(5))]).await;
    let (user, _) = t.api_signup().await;
    let attempts: Vec<_> = (0..30).map(|_| login(&t, &user)).collect();
    let statuses: Vec<Status> = rocket::futures::future::join_all(attempts).await.into_iter().map(|r| r.status()).collect();
    let admitted = statuses.iter().filter(|s| **s == Status::Ok).count();
    assert!(statuses.iter().all(|s| *s == Status::Ok || *s == Status::TooManyRequests), "{statuses:?}");
    assert_eq!(admitted, 4, "the sign-up's session and four more: {statuses:?}");
    assert_eq!(live_sessions(&t, &user).await, 5);
}

#[rocket::async_test]
async fn after_ten_thousand_logins_and_logouts_one_purge_leaves_each_table_at_what_is_live() {
    let t = TestApp::spawn_with(&[("sessions_per_account", json!(100_000))]).await;
    let (user, tokens) = t.api_signup().await;
    let row = t.user_row(&user.email).await.unwrap();
    let app = t.app();
    let client = ClientInfo::default();
    // Logins through the store, not bcrypt; each ended as a logout ends it.
    for _ in 0..10_000 {
        let pair = recipebox::auth::session::start(app, &row, &client, None, true).await.unwrap();
        let sid: uuid::Uuid = crate::helpers::claims_of(&pair.access_token)["sid"].as_str().unwrap().parse().unwrap();
        recipebox::store::sessions::revoke(&app.db, sid, None).await.unwrap();
    }
    let db = &app.db;
    // Half-done logins, ceremonies and remembered browsers past their time.
    let long_ago = recipebox::store::ts(now() - 86_400);
    for n in 0..50 {
        recipebox::store::factors::issue_ticket(db, row.id, "api", format!("{n:064}"), (None, None), now() - 60).await.unwrap();
        recipebox::store::passkeys::begin(db, "register", Some(row.id), format!("c{n:063}"), "{}".into(), now() - 60).await.unwrap();
    }
    remembered_browser::Entity::insert_many((0..50).map(|n| remembered_browser::ActiveModel {
        public_id: sea_orm::ActiveValue::Set(uuid::Uuid::new_v4()),
        user_id: sea_orm::ActiveValue::Set(row.id),
        token_hash: sea_orm::ActiveValue::Set(format!("b{n:063}")),
        device: sea_orm::ActiveValue::Set("Firefox on Linux".into()),
        created_at: sea_orm::ActiveValue::Set(long_ago),
        expires_at: sea_orm::ActiveValue::Set(long_ago),
        ..Default::default()
    }))
    .exec_without_returning(db)
    .await
    .unwrap();
    // The app's own hourly purge starts with it and may have run meanwhile:
    // the rows are counted after this test's purge, not before.

    let keep = recipebox::store::purge::Keep { audit_days: 90, login_window: 900 };
    for (what, result) in recipebox::store::purge::run(db, keep).await {
        result.unwrap_or_else(|e| panic!("purging {what}: {e}"));
    }
    assert_eq!(session::Entity::find().count(db).await.unwrap(), 1, "the sign-up's session, live, and nothing else");
    assert_eq!(login_ticket::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(passkey_ceremony::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(remembered_browser::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok, "the live session goes on");
}
