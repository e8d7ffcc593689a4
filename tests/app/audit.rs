//! The audit trail (SPEC.md §2, §6) and what `/me` shows of it: every
//! security event written once, where it came from, and never a secret.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use rocket::http::{ContentType, Header, Status};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::json;

use crate::helpers::{bearer, form_body, TestApp, TestUser, SECRET};
use recipebox::domain::AuditKind;
use recipebox::entities::audit_event;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";

fn remote(ip: &str) -> SocketAddr {
    format!("{ip}:40000").parse().unwrap()
}

async fn all_events(t: &TestApp) -> Vec<audit_event::Model> {
    audit_event::Entity::find().all(&t.app().db).await.unwrap()
}

async fn browser_login_as(t: &TestApp, user: &TestUser, user_agent: &str, ip: &str) {
    let csrf = t.csrf_from("/login").await;
    let response = t
        .client
        .post("/login")
        .header(ContentType::Form)
        .header(Header::new("User-Agent", user_agent.to_owned()))
        .remote(remote(ip))
        .body(form_body(&[("email", &user.email), ("password", &user.password), ("csrf_token", &csrf)]))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::SeeOther, "browser login");
}

#[rocket::async_test]
async fn every_security_event_is_written_once_with_its_people_and_no_secret_in_any_row() {
    let t = TestApp::spawn().await;
    let mut secrets: Vec<String> = vec![SECRET.to_owned()];
    let mut remember = |tokens: &crate::helpers::Tokens| secrets.extend([tokens.access.clone(), tokens.refresh.clone()]);

    let (admin, admin_tokens) = t.api_admin().await;
    remember(&admin_tokens);
    let (victim, first) = t.api_signup().await;
    remember(&first);
    let wrong = t.post_json("/api/v1/auth/login", None, &json!({"email": victim.email, "password": "a guessed password"})).await;
    assert_eq!(wrong.status(), Status::Unauthorized);

    let to_log_out = t.api_login(&victim).await;
    remember(&to_log_out);
    assert_eq!(t.post_json("/api/v1/auth/logout", Some(&to_log_out.access), &json!({})).await.status(), Status::NoContent);

    let to_reuse = t.api_login(&victim).await;
    remember(&to_reuse);
    for expected in [Status::Ok, Status::Unauthorized] {
        let response = t.post_json("/api/v1/auth/refresh", Some(&to_reuse.refresh), &json!({})).await;
        assert_eq!(response.status(), expected, "the second use of a refresh token is reuse");
        if expected == Status::Ok {
            remember(&crate::helpers::tokens_of(response.into_json().await.unwrap()));
        }
    }

    let to_end = t.api_login(&victim).await;
    remember(&to_end);
    browser_login_as(&t, &victim, FIREFOX, "203.0.113.7").await;
    let sid = crate::helpers::claims_of(&to_end.access)["sid"].as_str().unwrap().to_owned();
    let csrf = t.session_csrf().await;
    assert_eq!(t.post_form(&format!("/me/sessions/{sid}/revoke"), Some(&csrf), &[]).await.status(), Status::SeeOther);

    let csrf = t.session_csrf().await;
    assert_eq!(t.post_form("/me/logout-everywhere", Some(&csrf), &[]).await.status(), Status::SeeOther);

    let changer = t.api_login(&victim).await;
    remember(&changer);
    let new_password = "a brand new kitchen secret";
    let body = json!({"current_password": victim.password, "new_password": new_password});
    assert_eq!(t.post_json("/api/v1/me/password", Some(&changer.access), &body).await.status(), Status::NoContent);
    secrets.extend([victim.password.clone(), new_password.to_owned(), admin.password.clone()]);

    let victim_path = format!("/api/v1/users/{}", first.public_id);
    for patch in [json!({"role": "admin"}), json!({"disabled": true}), json!({"disabled": false})] {
        let response =
            t.client.patch(victim_path.clone()).header(bearer(&admin_tokens.access)).header(ContentType::JSON).body(patch.to_string()).dispatch().await;
        assert_eq!(response.status(), Status::Ok, "{patch}");
    }
    browser_login_as(&t, &admin, FIREFOX, "198.51.100.2").await;
    let csrf = t.session_csrf().await;
    let admin_page = format!("/admin/users/{}", first.public_id);
    assert_eq!(t.post_form(&format!("{admin_page}/logout"), Some(&csrf), &[]).await.status(), Status::SeeOther);
    let db = &t.app().db;
    for user in [&admin, &victim] {
        secrets.push(recipebox::store::users::find_by_email(db, &user.email).await.unwrap().unwrap().password_hash);
    }
    assert_eq!(t.post_form(&format!("{admin_page}/delete"), Some(&csrf), &[]).await.status(), Status::SeeOther);

    let events = all_events(&t).await;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for event in &events {
        *counts.entry(event.kind.as_str()).or_default() += 1;
    }
    let expected = BTreeMap::from([
        // The site's first signing key, made at its first start.
        ("key_rotated", 1),
        ("signup", 2),
        ("login", 6),
        ("login_failed", 1),
        ("logout", 1),
        ("logout_everywhere", 1),
        ("session_ended", 1),
        ("refresh_reuse_detected", 1),
        ("password_changed", 1),
        ("role_changed", 1),
        ("user_disabled", 1),
        ("user_enabled", 1),
        ("forced_logout", 1),
        ("user_deleted", 1),
    ]);
    assert_eq!(counts, expected, "one event per action, every kind present");

    let admin_id: uuid::Uuid = admin_tokens.public_id.parse().unwrap();
    let victim_id: uuid::Uuid = first.public_id.parse().unwrap();
    let one = |kind: AuditKind| events.iter().find(|e| e.kind == kind).unwrap();
    for kind in [AuditKind::RoleChanged, AuditKind::UserDisabled, AuditKind::UserEnabled, AuditKind::ForcedLogout, AuditKind::UserDeleted] {
        let event = one(kind);
        assert_eq!((event.actor_public_id, event.subject_public_id), (Some(admin_id), Some(victim_id)), "{kind:?}: the admin did it to the victim");
    }
    let failed = one(AuditKind::LoginFailed);
    assert_eq!((failed.actor_public_id, failed.subject_public_id), (None, Some(victim_id)), "a failure has no known actor");
    assert_eq!(one(AuditKind::RoleChanged).detail, r#"{"from":"user","to":"admin"}"#);
    assert!(one(AuditKind::UserDeleted).detail.contains(&victim.username), "the deletion names whom it removed");
    let browser_login = events.iter().find(|e| e.kind == AuditKind::Login && e.user_agent.is_some()).unwrap();
    assert_eq!(browser_login.subject_public_id, Some(victim_id));
    assert_eq!(browser_login.ip_address.as_deref(), Some("203.0.113.7"), "the client address is recorded");
    assert_eq!(browser_login.user_agent.as_deref(), Some(FIREFOX), "and the user agent");

    for event in &events {
        let row = format!("{:?} {:?} {:?} {}", event.ip_address, event.user_agent, event.kind, event.detail);
        for secret in &secrets {
            assert!(!row.contains(secret.as_str()), "{:?} holds a secret: {row}", event.kind);
        }
        assert!(!row.contains("$2b$") && !row.contains("eyJ"), "{:?} holds a hash or a token: {row}", event.kind);
    }
}

#[rocket::async_test]
async fn me_shows_readable_devices_addresses_and_recent_security_activity() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    t.logout().await;
    browser_login_as(&t, &user, FIREFOX, "203.0.113.9").await;
    let wrong = t.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": "a guessed password"})).await;
    assert_eq!(wrong.status(), Status::Unauthorized);

    let page = t.client.get("/me").dispatch().await.into_string().await.unwrap();
    assert!(page.contains("Firefox 132 on Linux"), "a device in words");
    assert!(!page.contains("Gecko/20100101"), "not the raw user agent");
    assert!(page.contains("203.0.113.9"), "the login's client address");
    assert!(page.contains("Recent security activity"));
    for label in ["Logged in", "Failed login", "Logged out", "Account created"] {
        assert!(page.contains(label), "activity shows {label:?}");
    }
}

#[rocket::async_test]
async fn me_lists_at_most_ten_events_newest_first() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    for _ in 0..12 {
        t.api_login(&user).await;
    }
    browser_login_as(&t, &user, FIREFOX, "203.0.113.10").await;
    let page = t.client.get("/me").dispatch().await.into_string().await.unwrap();
    let activity = &page[page.find("Recent security activity").unwrap()..];
    assert_eq!(activity.matches("<li>").count(), 10);
    assert!(!activity.contains("Account created"), "the oldest events are not shown");
}

#[rocket::async_test]
async fn events_older_than_the_retention_are_purged_and_newer_ones_kept() {
    let t = TestApp::spawn().await;
    t.api_signup().await;
    let db = &t.app().db;
    let old = recipebox::store::ts(recipebox::store::now().unix_timestamp() - 91 * 86_400);
    audit_event::ActiveModel {
        created_at: Set(old),
        kind: Set(AuditKind::Login),
        detail: Set("{}".into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    // The app's own clean-up, started with it, may purge the old event
    // first: then this purge finds nothing left to delete.
    assert!(recipebox::store::audit::purge_older_than(db, 90).await.unwrap() <= 1);
    let left: Vec<_> = all_events(&t).await.into_iter().filter(|e| e.kind != AuditKind::KeyRotated).collect();
    assert_eq!(left.len(), 1, "the first key's event aside: {left:?}");
    assert_eq!(left[0].kind, AuditKind::Signup, "the recent event stays");
}
