//! Every way a token can be wrong (SPEC.md §3), through `GET /api/v1/me`,
//! and revocation that survives a restart.

use jsonwebtoken::Algorithm;
use rocket::http::Status;
use serde_json::{json, Value};

use crate::helpers::{claims_of, error_code, now, sign, TestApp, SECRET};

/// A valid access token's claims, ready to be spoiled one way.
async fn valid_claims(t: &TestApp) -> Value {
    let (_, tokens) = t.api_signup().await;
    claims_of(&tokens.access)
}

fn spoiled(claims: &Value, key: &str, value: Value) -> Value {
    let mut claims = claims.clone();
    claims[key] = value;
    claims
}

fn without(claims: &Value, key: &str) -> Value {
    let mut claims = claims.clone();
    claims.as_object_mut().unwrap().remove(key);
    claims
}

#[rocket::async_test]
async fn a_correctly_signed_token_with_valid_claims_is_accepted() {
    let t = TestApp::spawn().await;
    let claims = valid_claims(&t).await;
    let token = sign(&claims, Algorithm::HS256, SECRET);
    assert_eq!(t.get_json("/api/v1/me", Some(&token)).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn forged_or_malformed_tokens_are_refused_with_their_reason() {
    let t = TestApp::spawn().await;
    let c = valid_claims(&t).await;
    let other_key = "another-secret-another-secret-another-secret";
    let mut cases = vec![
        ("signed with another key", sign(&c, Algorithm::HS256, other_key), "token_invalid"),
        ("HS512", sign(&c, Algorithm::HS512, SECRET), "token_invalid"),
        ("wrong iss", sign(&spoiled(&c, "iss", json!("someone-else")), Algorithm::HS256, SECRET), "token_invalid"),
        ("expired", sign(&spoiled(&c, "exp", json!(now() - 60)), Algorithm::HS256, SECRET), "token_expired"),
        ("nbf in the future", sign(&spoiled(&c, "nbf", json!(now() + 120)), Algorithm::HS256, SECRET), "token_invalid"),
        ("refresh type", sign(&spoiled(&c, "type", json!("refresh")), Algorithm::HS256, SECRET), "wrong_token_type"),
        ("unknown session", sign(&spoiled(&c, "sid", json!(uuid::Uuid::new_v4())), Algorithm::HS256, SECRET), "token_revoked"),
        ("garbage", "a.b.c".to_owned(), "token_invalid"),
    ];
    for claim in ["iss", "sub", "iat", "nbf", "exp", "jti", "type", "role", "csrf", "sid", "fresh"] {
        cases.push(("missing claim", sign(&without(&c, claim), Algorithm::HS256, SECRET), "token_invalid"));
    }
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none_header = base64::Engine::encode(&engine, br#"{"alg":"none","typ":"JWT"}"#);
    let payload = base64::Engine::encode(&engine, c.to_string());
    cases.push(("alg none", format!("{none_header}.{payload}."), "token_invalid"));
    for (case, token, expected) in cases {
        let response = t.get_json("/api/v1/me", Some(&token)).await;
        assert!(response.headers().get_one("WWW-Authenticate").is_some(), "{case}");
        assert_eq!(error_code(response, Status::Unauthorized).await, expected, "case {case}");
    }
}

#[rocket::async_test]
async fn access_and_refresh_tokens_only_work_where_they_belong() {
    let t = TestApp::spawn().await;
    let (_, tokens) = t.api_signup().await;
    let as_access = t.get_json("/api/v1/me", Some(&tokens.refresh)).await;
    assert_eq!(error_code(as_access, Status::Unauthorized).await, "wrong_token_type");
    let as_refresh = t.post_json("/api/v1/auth/refresh", Some(&tokens.access), &json!({})).await;
    assert_eq!(error_code(as_refresh, Status::Unauthorized).await, "wrong_token_type");
}

#[rocket::async_test]
async fn a_token_issued_before_tokens_valid_after_is_revoked_but_a_new_login_works() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    // A token of this session minted a minute ago, before the cutoff below.
    let old = sign(&spoiled(&claims_of(&tokens.access), "iat", json!(now() - 60)), Algorithm::HS256, SECRET);
    let stored = recipebox::store::users::find_by_email(&t.app().db, &user.email).await.unwrap().unwrap();
    recipebox::store::users::bump_tokens_valid_after(&t.app().db, stored.id).await.unwrap();
    assert_eq!(error_code(t.get_json("/api/v1/me", Some(&old)).await, Status::Unauthorized).await, "token_revoked");
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok, "same-second token, live session");
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
