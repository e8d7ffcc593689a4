//! Token revocation (SPEC.md §3): the `tokens_valid_after` cut-off,
//! revocations that survive a restart, and the blocklist purge. Forged,
//! tampered and misplaced tokens are the attacker's view, in `security.rs`.

use jsonwebtoken::Algorithm;
use rocket::http::Status;
use serde_json::{json, Value};

use crate::helpers::{claims_of, error_code, now, TestApp};

fn spoiled(claims: &Value, key: &str, value: Value) -> Value {
    let mut claims = claims.clone();
    claims[key] = value;
    claims
}

#[rocket::async_test]
async fn a_token_issued_before_tokens_valid_after_is_revoked_but_a_new_login_works() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    // A token of this session minted a minute ago, before the cutoff below.
    let old = t.signer().sign(&spoiled(&claims_of(&tokens.access), "iat", json!(now() - 60)), Algorithm::HS256);
    let stored = recipebox::store::users::find_by_email(&t.app().db, &user.email).await.unwrap().unwrap();
    recipebox::store::users::bump_tokens_valid_after(&t.app().db, stored.id).await.unwrap();
    assert_eq!(error_code(t.get_json("/api/v1/me", Some(&old)).await, Status::Unauthorized).await, "token_revoked");
    // A token of this session minted in the very second of the cut-off
    // (read back, so the test does not depend on when the second turns).
    let cutoff = recipebox::store::users::find_by_email(&t.app().db, &user.email).await.unwrap().unwrap().tokens_valid_after.0.unix_timestamp();
    let same_second = t.signer().sign(&spoiled(&claims_of(&tokens.access), "iat", json!(cutoff)), Algorithm::HS256);
    assert_eq!(t.get_json("/api/v1/me", Some(&same_second)).await.status(), Status::Ok, "same-second token, live session");
    let fresh = t.api_login(&user).await;
    assert_eq!(t.get_json("/api/v1/me", Some(&fresh.access)).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn tokens_and_revocations_survive_a_restart() {
    let t = TestApp::spawn().await;
    let (user, kept) = t.api_signup().await;
    let revoked = t.api_login(&user).await;
    let status = t.post_json("/api/v1/auth/logout", Some(&revoked.access), &json!({"refresh_token": revoked.refresh})).await.status();
    assert_eq!(status, Status::NoContent);

    let t = t.restart().await;
    assert_eq!(t.get_json("/api/v1/me", Some(&kept.access)).await.status(), Status::Ok);
    assert_eq!(error_code(t.get_json("/api/v1/me", Some(&revoked.access)).await, Status::Unauthorized).await, "token_revoked");
    let refresh = t.post_json("/api/v1/auth/refresh", Some(&revoked.refresh), &json!({})).await;
    assert_eq!(error_code(refresh, Status::Unauthorized).await, "token_revoked");
}

#[rocket::async_test]
async fn expired_blocklist_rows_are_purged_and_live_ones_kept() {
    let t = TestApp::spawn().await;
    let db = &t.app().db;
    let _ = &t;
    let (user, expired, live) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    assert!(recipebox::store::tokens::revoke(db, expired, "access", user, now() - 3600).await.unwrap());
    assert!(recipebox::store::tokens::revoke(db, live, "refresh", user, now() + 3600).await.unwrap());
    // (The app's own purge task may run first; either way the row must go.)
    recipebox::store::tokens::purge_expired(db).await.unwrap();
    assert!(recipebox::store::tokens::revoke(db, expired, "access", user, now() - 3600).await.unwrap(), "expired row purged");
    assert!(!recipebox::store::tokens::revoke(db, live, "refresh", user, now() + 3600).await.unwrap(), "live row kept");
}
