//! Notices by mail (SPEC.md §6): each once, saying what happened, when,
//! from which device and address, and what to do if it was not the owner;
//! never a secret.

use std::net::SocketAddr;
use std::time::Duration;

use rocket::http::{ContentType, Header, Status};
use serde_json::json;

use crate::helpers::{bearer, TestApp, TestUser};
use recipebox::accounts::notices::{NEW_DEVICE, PASSWORD_CHANGED};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
const FIREFOX_NEXT: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

fn from(ip: &str) -> SocketAddr {
    format!("{ip}:50000").parse().unwrap()
}

/// How many messages about `subject` the outbox holds, once delivery of
/// what was queued has had time to happen.
async fn count(t: &TestApp, subject: &str) -> usize {
    rocket::tokio::time::sleep(Duration::from_millis(300)).await;
    let header = format!("Subject: {subject}\r\n");
    std::fs::read_dir(t.dir.path().join("outbox"))
        .map(|files| files.filter_map(|f| std::fs::read_to_string(f.ok()?.path()).ok()).filter(|text| text.contains(&header)).count())
        .unwrap_or(0)
}

async fn login_with(t: &TestApp, user: &TestUser, agent: &'static str, ip: &str) -> String {
    let body = json!({"email": user.email, "password": user.password}).to_string();
    let response = t
        .client
        .post("/api/v1/auth/login")
        .header(ContentType::JSON)
        .header(Header::new("User-Agent", agent))
        .remote(from(ip))
        .body(body)
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    response.into_json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

#[rocket::async_test]
async fn a_login_from_a_device_the_account_has_not_used_is_announced_once_per_device() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    login_with(&t, &user, FIREFOX, "203.0.113.7").await;
    let notice = t.mail(NEW_DEVICE, 1).await.remove(0);
    assert!(notice.contains(&format!("To: {}", user.email)));
    for fact in ["Firefox on Linux", "Firefox 132 on Linux", "203.0.113.7", "UTC", "/forgot-password"] {
        assert!(notice.contains(fact), "the notice says {fact:?}: {notice}");
    }
    assert!(!notice.contains(&user.password) && !notice.contains("token"), "no secret: {notice}");

    login_with(&t, &user, FIREFOX, "203.0.113.8").await;
    login_with(&t, &user, FIREFOX_NEXT, "203.0.113.8").await;
    assert_eq!(count(&t, NEW_DEVICE).await, 1, "the same browser and system again, updated or not, is no new device");
    login_with(&t, &user, CHROME, "198.51.100.4").await;
    assert_eq!(count(&t, NEW_DEVICE).await, 2, "another browser is");
    // Two first logins from one new device at once: one notice.
    const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
    rocket::tokio::join!(login_with(&t, &user, SAFARI, "192.0.2.1"), login_with(&t, &user, SAFARI, "192.0.2.2"));
    assert_eq!(count(&t, NEW_DEVICE).await, 3, "the second login at once sees the first one's session");
    let chrome = t.mail(NEW_DEVICE, 3).await.into_iter().find(|m| m.contains("Chrome")).unwrap();
    assert!(chrome.contains("Windows") && chrome.contains("198.51.100.4"), "{chrome}");
}

#[rocket::async_test]
async fn a_password_change_is_announced_once_with_the_device_and_address_and_no_secret() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    let access = login_with(&t, &user, FIREFOX, "203.0.113.9").await;
    let new_password = "another long secret phrase";
    let body = json!({"current_password": user.password, "new_password": new_password}).to_string();
    let changed = t
        .client
        .post("/api/v1/me/password")
        .header(bearer(&access))
        .header(ContentType::JSON)
        .header(Header::new("User-Agent", CHROME))
        .remote(from("198.51.100.23"))
        .body(body)
        .dispatch()
        .await;
    assert_eq!(changed.status(), Status::NoContent);
    let notice = t.mail(PASSWORD_CHANGED, 1).await.remove(0);
    for fact in ["password of your recipebox account was changed", "Chrome 131 on Windows 10", "198.51.100.23", "/forgot-password"] {
        assert!(notice.contains(fact), "the notice says {fact:?}: {notice}");
    }
    assert!(!notice.contains(new_password) && !notice.contains(&user.password), "no password in it: {notice}");
    assert_eq!(count(&t, PASSWORD_CHANGED).await, 1);
}

/// `count` sessions of `user` that ended long ago, each from a user agent
/// of its own, written straight to the table.
async fn seed_past_sessions(t: &TestApp, user: &TestUser, count: usize) {
    use recipebox::entities::session;
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let db = &t.app().db;
    let user_id = t.user_row(&user.email).await.unwrap().id;
    let long_ago = sea_orm::prelude::TimeUnixTimestamp(time::OffsetDateTime::from_unix_timestamp(crate::helpers::now() - 90 * 86_400).unwrap());
    for batch in 0..count.div_ceil(1000) {
        let rows = (batch * 1000..((batch + 1) * 1000).min(count)).map(|n| session::ActiveModel {
            sid: Set(uuid::Uuid::new_v4()),
            user_id: Set(user_id),
            user_agent: Set(Some(format!("script-{n}/1.0"))),
            ip_address: Set(Some("192.0.2.9".into())),
            created_at: Set(long_ago),
            last_used_at: Set(long_ago),
            expires_at: Set(long_ago),
            revoked_at: Set(Some(long_ago)),
            ..Default::default()
        });
        session::Entity::insert_many(rows).exec_without_returning(db).await.unwrap();
    }
}

/// The median time of a login, over `rounds`.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[rocket::async_test]
async fn a_logins_cost_does_not_grow_with_the_sessions_the_account_has_had() {
    let t = TestApp::spawn().await;
    let (veteran, _) = t.api_signup().await;
    let (newcomer, _) = t.api_signup().await;
    seed_past_sessions(&t, &veteran, 100_000).await;
    // Each account's device is known after its first login.
    login_with(&t, &veteran, FIREFOX, "203.0.113.7").await;
    login_with(&t, &newcomer, FIREFOX, "203.0.113.7").await;
    let (mut with_history, mut without) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        for (user, times) in [(&veteran, &mut with_history), (&newcomer, &mut without)] {
            let started = std::time::Instant::now();
            login_with(&t, user, FIREFOX, "203.0.113.7").await;
            times.push(started.elapsed());
        }
    }
    let (with_history, without) = (median(with_history), median(without));
    // 1.5 times, and a millisecond for the noise of a login of a few.
    assert!(
        with_history <= without * 3 / 2 + Duration::from_millis(1),
        "a login with 100,000 past sessions took {with_history:?}, one with none {without:?}"
    );
}

#[rocket::async_test]
async fn an_account_from_before_known_devices_is_told_only_of_devices_its_old_sessions_never_used() {
    use recipebox::entities::known_device;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    login_with(&t, &user, FIREFOX, "203.0.113.7").await;
    assert_eq!(t.mail(NEW_DEVICE, 1).await.len(), 1);
    // As migration 19 leaves an account that had sessions: its devices
    // unknown to the table, and a mark to read them from its sessions.
    let db = &t.app().db;
    let user_id = t.user_row(&user.email).await.unwrap().id;
    known_device::Entity::delete_many().filter(known_device::Column::UserId.eq(user_id)).exec(db).await.unwrap();
    let mark = known_device::ActiveModel {
        user_id: sea_orm::ActiveValue::Set(user_id),
        family: sea_orm::ActiveValue::Set(String::new()),
        first_seen_at: sea_orm::ActiveValue::Set(sea_orm::prelude::TimeUnixTimestamp(time::OffsetDateTime::UNIX_EPOCH)),
        ..Default::default()
    };
    known_device::Entity::insert(mark).exec_without_returning(db).await.unwrap();

    login_with(&t, &user, FIREFOX_NEXT, "203.0.113.8").await;
    assert_eq!(count(&t, NEW_DEVICE).await, 1, "a device of its old sessions is no new device");
    let families: Vec<String> =
        known_device::Entity::find().filter(known_device::Column::UserId.eq(user_id)).all(db).await.unwrap().into_iter().map(|d| d.family).collect();
    assert!(families.contains(&"Firefox on Linux".to_owned()) && !families.contains(&String::new()), "read once, mark gone: {families:?}");
    login_with(&t, &user, CHROME, "198.51.100.4").await;
    assert_eq!(count(&t, NEW_DEVICE).await, 2, "another browser is");
}
