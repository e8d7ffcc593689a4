//! The keyring (SPEC.md §2, §3): every token names its key in `kid`; keys
//! rotate without logging anyone out, a revoked key is refused by every
//! instance at once, EdDSA keys are published as a JWKS another program
//! can check tokens with, and a `jwt_secret` that cannot open the keyring
//! stops an instance from starting.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rocket::http::Status;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::{claims_of, error_code, now, TestApp, SECRET};
use crate::instances::{bearer, error_code as code_of, login, me, signup, token, Cluster};
use crate::server::json_of;
use crate::test_server::TestServer;
use recipebox::entities::{keyring, signing_key};

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.expect("every token names its key")
}

/// The keys as the database holds them, oldest first.
fn keys(c: &Cluster) -> Vec<signing_key::Model> {
    let runtime = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let db = sea_orm::Database::connect(&c.database.url).await.unwrap();
        recipebox::store::keys::all(&db).await.unwrap()
    })
}

fn kid_in(c: &Cluster, state: &str) -> String {
    let keys = keys(c);
    keys.iter().find(|key| key.state == state).unwrap_or_else(|| panic!("a key is {state}: {keys:?}")).kid.clone()
}

/// `/api/v1/me` with the pair's access token: the status and error code.
fn me_code(server: &TestServer, pair: &Value) -> (u16, String) {
    let answer = me(server, pair);
    (answer.0, code_of(&answer))
}

fn refresh(server: &TestServer, pair: &Value) -> (u16, Value) {
    let (status, body) = server.request("POST", "/api/v1/auth/refresh", &bearer(token(pair, "refresh_token")), "");
    (status, json_of(&body))
}

#[test]
fn a_rotation_under_two_live_instances_logs_nobody_out_and_new_tokens_carry_the_new_kid() {
    let p = Cluster::start();
    let ann = signup(&p.a, "ann");
    let first = kid_in(&p, "active");
    assert_eq!(kid_of(token(&ann, "access_token")), first);
    for server in [&p.a, &p.b] {
        assert_eq!(me_code(server, &ann).0, 200);
    }

    // A next key: every instance verifies it, none signs with it yet.
    assert!(p.cli(&["keys", "rotate"]).contains("signs from"));
    let next = kid_in(&p, "next");
    let said = p.cli_refused(&["keys", "rotate"]);
    assert!(said.contains(&next) && said.contains("--now"), "one next key at a time: {said}");
    let bob = signup(&p.b, "bob");
    assert_eq!(kid_of(token(&bob, "access_token")), first, "the next key does not sign before its minute");

    // --now: the next key signs, the old one retires; nobody is logged out.
    assert!(p.cli(&["keys", "rotate", "--now"]).contains(&format!("key {next} signs from now on")));
    assert_eq!(kid_in(&p, "retired"), first);
    for server in [&p.a, &p.b] {
        assert_eq!(me_code(server, &ann).0, 200, "a token of the retired key still works");
        assert_eq!(me_code(server, &bob).0, 200);
    }
    let (status, renewed) = refresh(&p.b, &ann);
    assert_eq!(status, 200, "a refresh token of the retired key still works: {renewed}");
    assert_eq!(kid_of(token(&renewed, "access_token")), next, "and the new pair carries the new kid");
    assert_eq!(kid_of(token(&login(&p.a, "bob@example.com"), "access_token")), next, "so does a new login on the other instance");

    // `keys list` shows every key with its state, and never a key.
    let list = p.cli(&["keys", "list"]);
    assert!(list.contains(&first) && list.contains("retired") && list.contains(&next) && list.contains("active"), "{list}");
    for key in keys(&p) {
        use base64::Engine as _;
        let material = base64::engine::general_purpose::STANDARD.encode(&key.material);
        assert!(!list.contains(&material[..16]), "no material in the list");
    }
}

#[test]
fn a_revoked_key_is_refused_by_every_instance_from_its_next_request_and_a_new_key_signs() {
    let p = Cluster::start();
    let cyd = signup(&p.a, "cyd");
    let old = kid_in(&p, "active");
    for server in [&p.a, &p.b] {
        assert_eq!(me_code(server, &cyd).0, 200, "each instance has used the key");
    }
    let said = p.cli(&["keys", "revoke", &old]);
    assert!(said.contains("revoked") && said.contains("signs from now on"), "revoking the active key makes a new one: {said}");
    let new = kid_in(&p, "active");
    assert_ne!(new, old);
    for server in [&p.a, &p.b] {
        assert_eq!(me_code(server, &cyd), (401, "token_revoked".to_owned()), "refused at once");
        assert_eq!(refresh(server, &cyd).0, 401, "its refresh tokens too");
    }
    assert_eq!(kid_of(token(&login(&p.b, "cyd@example.com"), "access_token")), new, "a new login works, under the new key");

    // Bad input: an unknown kid, a key revoked already.
    let said = p.cli_refused(&["keys", "revoke", "no-such-key"]);
    assert!(said.contains("no signing key has the kid no-such-key"), "{said}");
    let said = p.cli_refused(&["keys", "revoke", &old]);
    assert!(said.contains("revoked already"), "{said}");
    let said = p.cli_refused(&["keys", "revoke"]);
    assert!(said.contains("KID"), "clap asks for the kid: {said}");
}

#[test]
fn an_instance_whose_jwt_secret_cannot_open_the_keyring_refuses_to_start() {
    let p = Cluster::start();
    let other = "another-secret-of-at-least-thirty-two-bytes-0123";
    let refused = TestServer::start_on(Some(&p.database.url), &[("ROCKET_JWT_SECRET", other)]).err().expect("it must not start");
    assert!(refused.contains("jwt_secret does not open the keyring"), "it says why: {refused}");
    assert!(!refused.contains(other), "and never the secret");
}

#[rocket::async_test]
async fn a_token_naming_an_unknown_key_is_refused_whatever_signed_it() {
    let t = TestApp::spawn().await;
    let (_, tokens) = t.api_signup().await;
    let claims = claims_of(&tokens.access);
    let key = t.signer();
    for (case, kid) in [("a made-up kid", "made-up"), ("an empty kid", "")] {
        let forged = key.sign_as(&claims, Algorithm::HS256, Some(kid));
        assert_eq!(error_code(t.get_json("/api/v1/me", Some(&forged)).await, Status::Unauthorized).await, "token_invalid", "{case}");
    }
    let with_secret = crate::helpers::sign(&claims, Algorithm::HS256, SECRET);
    let response = t.get_json("/api/v1/me", Some(&with_secret)).await;
    assert_eq!(error_code(response, Status::Unauthorized).await, "token_invalid", "no kid, on a site born with keys");
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok);
}

/// Sets when the keyring was made for sessions before it (as migration 20
/// records on a site that had sessions), then starts the app again, which
/// reads it.
async fn keyring_made_at(t: TestApp, at: i64) -> TestApp {
    let row = keyring::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(1),
        legacy_sessions_before: sea_orm::ActiveValue::Set(Some(recipebox::store::ts(at))),
        ..Default::default()
    };
    keyring::Entity::update(row).exec(&t.app().db).await.unwrap();
    t.restart().await
}

#[rocket::async_test]
async fn a_token_without_kid_is_taken_only_for_a_session_from_before_the_keyring_within_its_window() {
    let t = TestApp::spawn().await;
    let (_, tokens) = t.api_signup().await;
    let legacy = crate::helpers::sign(&claims_of(&tokens.access), Algorithm::HS256, SECRET);

    let t = keyring_made_at(t, now() + 5).await;
    assert_eq!(t.get_json("/api/v1/me", Some(&legacy)).await.status(), Status::Ok, "an old session's token without kid");
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok, "and its tokens with kid");

    let t = keyring_made_at(t, now() - 60).await;
    let response = t.get_json("/api/v1/me", Some(&legacy)).await;
    assert_eq!(error_code(response, Status::Unauthorized).await, "token_invalid", "a session that began after the keyring");

    let ttl = t.app().config.refresh_token_ttl;
    let t = keyring_made_at(t, now() - ttl - 1).await;
    let response = t.get_json("/api/v1/me", Some(&legacy)).await;
    assert_eq!(error_code(response, Status::Unauthorized).await, "token_invalid", "refresh_token_ttl after the keyring, none at all");
}

#[rocket::async_test]
async fn with_eddsa_the_jwks_lets_another_program_check_recipeboxs_tokens() {
    let t = TestApp::spawn_with(&[("jwt_algorithm", json!("EdDSA"))]).await;
    let (user, tokens) = t.api_signup().await;
    let header = jsonwebtoken::decode_header(&tokens.access).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let response = t.client.get("/.well-known/jwks.json").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    let text = response.into_string().await.unwrap();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&text).unwrap();
    let raw: Value = serde_json::from_str(&text).unwrap();
    for key in raw["keys"].as_array().unwrap() {
        assert_eq!((key["kty"].as_str(), key["crv"].as_str(), key["use"].as_str(), key["alg"].as_str()), (Some("OKP"), Some("Ed25519"), Some("sig"), Some("EdDSA")));
        assert!(key.get("d").is_none() && key.get("k").is_none(), "public keys only: {key}");
    }
    // The check a resource server makes, with nothing of recipebox's.
    let jwk = set.find(header.kid.as_deref().unwrap()).expect("the token's key is published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["recipebox"]);
    let checked = jsonwebtoken::decode::<Value>(&tokens.access, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap();
    assert_eq!(checked.claims["sub"], user_public_id(&t, &user.email).await.to_string());

    // A rotation publishes the next key before it signs; a revoked key leaves.
    let rotated = recipebox::keys::rotate(t.app().into(), false, recipebox::keys::Why::Operator, &Default::default()).await.unwrap();
    let recipebox::keys::Rotated::Next { kid: next, .. } = rotated else { panic!("a next key") };
    let published = |text: String| serde_json::from_str::<jsonwebtoken::jwk::JwkSet>(&text).unwrap();
    let set = published(t.client.get("/.well-known/jwks.json").dispatch().await.into_string().await.unwrap());
    assert!(set.find(&next).is_some(), "the next key is published");
    recipebox::keys::revoke(t.app().into(), header.kid.as_deref().unwrap(), &Default::default()).await.unwrap();
    let set = published(t.client.get("/.well-known/jwks.json").dispatch().await.into_string().await.unwrap());
    assert!(set.find(header.kid.as_deref().unwrap()).is_none(), "a revoked key is not");
}

async fn user_public_id(t: &TestApp, email: &str) -> uuid::Uuid {
    t.user_row(email).await.unwrap().public_id
}

#[rocket::async_test]
async fn with_hs256_no_key_is_ever_published() {
    let t = TestApp::spawn().await;
    let response = t.client.get("/.well-known/jwks.json").dispatch().await;
    assert_eq!(response.status(), Status::NotFound);
    assert!(!response.into_string().await.unwrap().contains("\"k\""));
}

#[rocket::async_test]
async fn a_site_that_moves_to_eddsa_keeps_its_sessions_and_signs_with_a_new_key() {
    let t = TestApp::spawn().await;
    let (_, tokens) = t.api_signup().await;
    let old = kid_of(&tokens.access);
    let (dir, database) = (t.dir, t.database.clone());
    drop(t.client);
    let figment = crate::helpers::figment(&database.url, dir.path()).merge(("jwt_algorithm", "EdDSA"));
    let client = rocket::local::asynchronous::Client::tracked(recipebox::rocket(figment)).await.unwrap();
    let me = client.get("/api/v1/me").header(crate::helpers::bearer(&tokens.access)).dispatch().await;
    assert_eq!(me.status(), Status::Ok, "the HS256 key retired, and its tokens still work");
    let app = client.rocket().state::<recipebox::app::App>().unwrap();
    let keys = signing_key::Entity::find().filter(signing_key::Column::Kid.eq(&old)).one(&app.db).await.unwrap().unwrap();
    assert_eq!(keys.state, "retired");
    let active = app.keys.ring().active().unwrap().clone();
    assert_eq!((active.algorithm, active.kid != old), (Algorithm::EdDSA, true));
}

/// Moves a date of the key `kid` back by `seconds`.
async fn key_dated(t: &TestApp, kid: &str, column: signing_key::Column, seconds: i64) {
    signing_key::Entity::update_many()
        .col_expr(column, sea_orm::sea_query::Expr::value(Some(recipebox::store::ts(now() - seconds))))
        .filter(signing_key::Column::Kid.eq(kid))
        .exec(&t.app().db)
        .await
        .unwrap();
}

#[rocket::async_test]
async fn the_timer_makes_a_next_key_lets_it_sign_after_its_minute_and_deletes_keys_whose_tokens_expired() {
    let t = TestApp::spawn_with(&[("jwt_key_rotation_days", json!(1))]).await;
    let (_, tokens) = t.api_signup().await;
    let first = kid_of(&tokens.access);
    let tick = || recipebox::keys::tick(t.app().into());

    tick().await.unwrap();
    assert!(t.app().keys.ring().next().is_none(), "a day has not passed");
    key_dated(&t, &first, signing_key::Column::ActivatedAt, 86_400 + 1).await;
    tick().await.unwrap();
    let next = t.app().keys.ring().next().expect("a day on, the timer made a next key").kid.clone();
    let rotated = audit_event_details(&t, recipebox::domain::AuditKind::KeyRotated).await;
    assert!(rotated.iter().any(|detail| detail.contains(&next) && detail.contains("timer")), "{rotated:?}");
    tick().await.unwrap();
    assert_eq!(t.app().keys.ring().active().unwrap().kid, first, "not before its minute");

    key_dated(&t, &next, signing_key::Column::ActivatesAt, 1).await;
    tick().await.unwrap();
    assert_eq!(t.app().keys.ring().active().unwrap().kid, next, "its minute is up: it signs");
    assert_eq!(kid_of(&t.api_login(&t.api_signup().await.0).await.access), next);
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok, "the retired key's token works");

    // Once every token the retired key signed has expired, it goes.
    let outlived = t.app().config.refresh_token_ttl + 30 + 60 + 1;
    key_dated(&t, &first, signing_key::Column::RetiredAt, outlived).await;
    tick().await.unwrap();
    assert!(!keys_in(&t).await.contains(&first), "deleted");
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Unauthorized, "and its kid is no key");
}

async fn keys_in(t: &TestApp) -> Vec<String> {
    recipebox::store::keys::all(&t.app().db).await.unwrap().into_iter().map(|key| key.kid).collect()
}

async fn audit_event_details(t: &TestApp, kind: recipebox::domain::AuditKind) -> Vec<String> {
    use recipebox::entities::audit_event;
    audit_event::Entity::find().filter(audit_event::Column::Kind.eq(kind)).all(&t.app().db).await.unwrap().into_iter().map(|e| e.detail).collect()
}

#[rocket::async_test]
async fn a_token_of_a_key_made_on_another_instance_is_taken_before_this_one_heard_of_it() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_on(tempfile::tempdir().unwrap(), a.database.clone()).await;
    let (_, tokens) = a.api_signup().await;
    // A key made by A, made active at once; B has not read it.
    recipebox::keys::rotate(a.app().into(), true, recipebox::keys::Why::Operator, &Default::default()).await.unwrap();
    let fresh = a.post_json("/api/v1/auth/refresh", Some(&tokens.refresh), &json!({})).await;
    assert_eq!(fresh.status(), Status::Ok);
    let access = crate::helpers::tokens_of(fresh.into_json().await.unwrap()).access;
    assert_ne!(kid_of(&access), kid_of(&tokens.access), "A signs with its new key");
    assert!(!b.app().keys.ring().keys.contains_key(&kid_of(&access)), "B has not read it yet");
    assert_eq!(b.get_json("/api/v1/me", Some(&access)).await.status(), Status::Ok, "B reads the keyring for the new kid");
}
