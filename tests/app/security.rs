//! The attacker's view of recipebox, in one place (SPEC.md §3, §4, §5):
//! forged, tampered, expired, revoked and misplaced JWTs against the API
//! (401 with its reason and a Bearer challenge) and against the browser
//! (the visitor is anonymous and the token cookies are cleared); cross-site
//! request forgery on every kind of state-changing form, and the `Origin`
//! check; open redirects through `next`; markup and template syntax in every
//! field a user can write, on every page that shows it; SQL-looking text and
//! LIKE wildcards; bodies over the limit; racing sign-ups and refreshes; and
//! ids that are not ids. Every test starts its own app, and a refused attack
//! must leave the database as it was.

use std::collections::BTreeSet;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use rocket::futures::future::join_all;
use rocket::http::{ContentType, Cookie, Header, Method, Status};
use rocket::local::asynchronous::LocalResponse;
use serde_json::{json, Value};

use crate::helpers::{bearer, claims_of, enc, form_body, location, now, tokens_of, Signer, PASSWORD, TestApp, TestUser, Tokens};

// Helpers: forging tokens

const OTHER_KEY: &str = "another-secret-another-secret-another-secret";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn with(claims: &Value, key: &str, value: Value) -> Value {
    let mut claims = claims.clone();
    claims[key] = value;
    claims
}

fn without(claims: &Value, key: &str) -> Value {
    let mut claims = claims.clone();
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// `token` with its payload replaced by `claims`; header and signature kept.
fn tampered(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], b64(claims.to_string()), parts[2])
}

/// Unsigned tokens: `alg` none (in three spellings), with and without the
/// trailing dot of an empty signature.
fn alg_none(claims: &Value) -> Vec<(String, String)> {
    let mut tokens = Vec::new();
    for alg in ["none", "None", "NONE"] {
        let unsigned = format!("{}.{}", b64(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#)), b64(claims.to_string()));
        tokens.push((format!("alg {alg}, trailing dot"), format!("{unsigned}.")));
        tokens.push((format!("alg {alg}, no trailing dot"), unsigned));
    }
    tokens
}

/// An RS256 header over an HMAC-SHA256 signature keyed with the server's
/// secret: the key-confusion attack on a verifier that takes the algorithm
/// from the token (and would use its HMAC key as the "public key").
fn key_confusion(signer: &Signer, claims: &Value) -> String {
    let header = format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#, signer.kid);
    let signing_input = format!("{}.{}", b64(header), b64(claims.to_string()));
    let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), &signer.key, Algorithm::HS256).unwrap();
    format!("{signing_input}.{signature}")
}

/// The server's kid over a key that is not the server's.
fn other_key(m: &Mark) -> Signer {
    Signer { kid: m.signer.kid.clone(), key: EncodingKey::from_secret(OTHER_KEY.as_bytes()) }
}

/// A token that must be refused, and the API's `error.code` for it.
struct Forgery {
    case: String,
    token: String,
    code: &'static str,
}

fn forgery(case: impl Into<String>, token: String, code: &'static str) -> Forgery {
    Forgery { case: case.into(), token, code }
}

/// The user whose tokens are forged from, with a live API session.
struct Mark {
    user: TestUser,
    tokens: Tokens,
    claims: Value,
    /// The server's signing key, for forgeries wrong in one other way.
    signer: Signer,
}

async fn mark(t: &TestApp) -> Mark {
    let (user, tokens) = t.api_signup().await;
    let claims = claims_of(&tokens.access);
    Mark { user, tokens, claims, signer: t.signer() }
}

fn wrong_algorithms(m: &Mark) -> Vec<Forgery> {
    let mut cases: Vec<Forgery> =
        alg_none(&m.claims).into_iter().map(|(case, token)| forgery(case, token, "token_invalid")).collect();
    cases.push(forgery("HS512 with the right secret", m.signer.sign(&m.claims, Algorithm::HS512), "token_invalid"));
    cases.push(forgery("HS384 with the right secret", m.signer.sign(&m.claims, Algorithm::HS384), "token_invalid"));
    cases.push(forgery("RS256 header, HMAC signature (key confusion)", key_confusion(&m.signer, &m.claims), "token_invalid"));
    cases
}

fn wrong_signatures(m: &Mark, someone_else: &str) -> Vec<Forgery> {
    let parts: Vec<&str> = m.tokens.access.split('.').collect();
    vec![
        forgery("signed with another key", other_key(m).sign(&m.claims, Algorithm::HS256), "token_invalid"),
        forgery("signature stripped (header.payload.)", format!("{}.{}.", parts[0], parts[1]), "token_invalid"),
        forgery("signature part missing (header.payload)", format!("{}.{}", parts[0], parts[1]), "token_invalid"),
        forgery(
            "role changed to admin, old signature",
            tampered(&m.tokens.access, &with(&m.claims, "role", json!("admin"))),
            "token_invalid",
        ),
        forgery(
            "sub changed to another user, old signature",
            tampered(&m.tokens.access, &with(&m.claims, "sub", json!(someone_else))),
            "token_invalid",
        ),
        forgery("garbage", "a.b.c".to_owned(), "token_invalid"),
    ]
}

const REQUIRED_CLAIMS: [&str; 11] = ["iss", "sub", "iat", "nbf", "exp", "jti", "type", "role", "csrf", "sid", "fresh"];

fn missing_claims(m: &Mark) -> Vec<Forgery> {
    REQUIRED_CLAIMS
        .iter()
        .map(|claim| forgery(format!("no {claim} claim"), m.signer.sign(&without(&m.claims, claim), Algorithm::HS256), "token_invalid"))
        .collect()
}

/// Wrong issuer and times beyond the 30 s leeway (expiry is kept apart: an
/// expired access cookie is not an attack, see the browser tests).
fn wrong_issuer_or_not_yet_valid(m: &Mark) -> Vec<Forgery> {
    vec![
        forgery("wrong iss", m.signer.sign(&with(&m.claims, "iss", json!("someone-else")), Algorithm::HS256), "token_invalid"),
        forgery("nbf 60 s ahead", m.signer.sign(&with(&m.claims, "nbf", json!(now() + 60)), Algorithm::HS256), "token_invalid"),
        forgery("nbf 120 s ahead", m.signer.sign(&with(&m.claims, "nbf", json!(now() + 120)), Algorithm::HS256), "token_invalid"),
    ]
}

fn expired(m: &Mark) -> Forgery {
    forgery("exp 60 s ago", m.signer.sign(&with(&m.claims, "exp", json!(now() - 60)), Algorithm::HS256), "token_expired")
}

/// Tokens that are well signed but must not open this door: the refresh
/// token, a token of a session that logged out, a session that never was.
async fn misplaced_or_revoked(t: &TestApp, m: &Mark) -> Vec<Forgery> {
    let ended = t.api_login(&m.user).await;
    let logout = t.post_json("/api/v1/auth/logout", Some(&ended.access), &json!({"refresh_token": ended.refresh})).await;
    assert_eq!(logout.status(), Status::NoContent);
    vec![
        forgery("the refresh token", m.tokens.refresh.clone(), "wrong_token_type"),
        forgery("type forged to refresh", m.signer.sign(&with(&m.claims, "type", json!("refresh")), Algorithm::HS256), "wrong_token_type"),
        forgery("a logged-out session's access token", ended.access, "token_revoked"),
        forgery(
            "an unknown session",
            m.signer.sign(&with(&m.claims, "sid", json!(uuid::Uuid::new_v4())), Algorithm::HS256),
            "token_revoked",
        ),
    ]
}

// Helpers: answers

/// A 401 with `code` and a Bearer challenge that says `invalid_token`.
async fn assert_unauthorized(response: LocalResponse<'_>, code: &str, case: &str) {
    assert_eq!(response.status(), Status::Unauthorized, "{case}");
    let challenge = response.headers().get_one("WWW-Authenticate").unwrap_or_default().to_owned();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains(r#"error="invalid_token""#),
        "{case}: WWW-Authenticate {challenge:?}"
    );
    let body: Value = response.into_json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], code, "{case}: {body}");
}

async fn assert_api_refuses(t: &TestApp, forgeries: &[Forgery]) {
    for f in forgeries {
        assert_unauthorized(t.get_json("/api/v1/me", Some(&f.token)).await, f.code, &f.case).await;
    }
}

/// `GET /me` carrying exactly these cookies (the client holds no others: the
/// tests that use this log in over the API only).
async fn me_with_cookies<'a>(t: &'a TestApp, cookies: &[(&'static str, &str)]) -> LocalResponse<'a> {
    let mut request = t.client.get("/me");
    for (name, value) in cookies {
        request = request.cookie(Cookie::new(*name, value.to_string()));
    }
    request.dispatch().await
}

fn clears_cookie(response: &LocalResponse<'_>, name: &str) -> bool {
    response.headers().get("Set-Cookie").any(|c| c.starts_with(&format!("{name}=")) && c.contains("Max-Age=0"))
}

/// The visitor was taken for anonymous: sent to log in and shown nothing of
/// the account; each token cookie in `cleared` (those the browser presented)
/// is removed.
async fn assert_anonymous(response: LocalResponse<'_>, case: &str, cleared: &[&str], email: &str) {
    assert_eq!(response.status(), Status::SeeOther, "{case}");
    assert_eq!(response.headers().get_one("Location"), Some("/login?next=%2Fme"), "{case}");
    let set_cookies: Vec<String> = response.headers().get("Set-Cookie").map(str::to_owned).collect();
    for name in cleared {
        assert!(clears_cookie(&response, name), "{case}: {name} is cleared; Set-Cookie: {set_cookies:?}");
    }
    assert!(!response.into_string().await.unwrap_or_default().contains(email), "{case}: nothing of the account is shown");
}



/// Borrowed pairs of owned form fields, for `post_form`.
fn pairs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn recipe_fields(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_owned()),
        ("description", "A test recipe.".to_owned()),
        ("cook_time", "30".to_owned()),
        ("directions", "Simmer.".to_owned()),
        ("visibility", "public".to_owned()),
    ]
}

/// Creates a recipe through the browser form and returns its id.
async fn browser_recipe(t: &TestApp, fields: &[(&'static str, String)]) -> i64 {
    let csrf = t.session_csrf().await;
    let response = t.post_form("/recipes", Some(&csrf), &pairs(fields)).await;
    assert_eq!(response.status(), Status::SeeOther, "the recipe is created");
    location(&response).strip_prefix("/recipes/").and_then(|id| id.parse().ok()).expect("a recipe's path")
}

async fn api_recipe(t: &TestApp, token: &str, body: &Value) -> i64 {
    let response = t.post_json("/api/v1/recipes", Some(token), body).await;
    assert_eq!(response.status(), Status::Created, "{body}");
    response.into_json::<Value>().await.unwrap()["id"].as_i64().expect("the recipe's id")
}

// JWT attacks on the API (`GET /api/v1/me`, Bearer)

#[rocket::async_test]
async fn a_correctly_signed_token_with_valid_claims_is_accepted() {
    let t = TestApp::spawn().await;
    let m = mark(&t).await;
    let token = m.signer.sign(&m.claims, Algorithm::HS256);
    assert_eq!(t.get_json("/api/v1/me", Some(&token)).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn tokens_with_alg_none_another_hmac_or_an_rs256_header_are_token_invalid() {
    let t = TestApp::spawn().await;
    let m = mark(&t).await;
    assert_api_refuses(&t, &wrong_algorithms(&m)).await;
}

#[rocket::async_test]
async fn tokens_with_a_wrong_missing_or_stale_signature_are_token_invalid() {
    let t = TestApp::spawn().await;
    let m = mark(&t).await;
    let (_, someone_else) = t.api_signup().await;
    assert_api_refuses(&t, &wrong_signatures(&m, &someone_else.public_id)).await;
}

#[rocket::async_test]
async fn a_token_missing_any_required_claim_is_token_invalid() {
    let t = TestApp::spawn().await;
    let m = mark(&t).await;
    assert_api_refuses(&t, &missing_claims(&m)).await;
}

#[rocket::async_test]
async fn a_token_from_another_issuer_expired_or_not_yet_valid_is_refused_beyond_the_leeway() {
    let t = TestApp::spawn().await;
    let m = mark(&t).await;
    let mut cases = wrong_issuer_or_not_yet_valid(&m);
    cases.push(expired(&m));
    assert_api_refuses(&t, &cases).await;
}

#[rocket::async_test]
async fn a_refresh_token_is_no_access_token_and_an_access_token_is_no_refresh_token() {
    let t = TestApp::spawn().await;
    let m = mark(&t).await;
    let as_access = t.get_json("/api/v1/me", Some(&m.tokens.refresh)).await;
    assert_unauthorized(as_access, "wrong_token_type", "refresh token at /api/v1/me").await;
    let forged = m.signer.sign(&with(&m.claims, "type", json!("refresh")), Algorithm::HS256);
    assert_unauthorized(t.get_json("/api/v1/me", Some(&forged)).await, "wrong_token_type", "type forged to refresh").await;
    let as_refresh = t.post_json("/api/v1/auth/refresh", Some(&m.tokens.access), &json!({})).await;
    assert_unauthorized(as_refresh, "wrong_token_type", "access token at /api/v1/auth/refresh").await;
    // Neither misuse cost the session anything.
    assert_eq!(t.get_json("/api/v1/me", Some(&m.tokens.access)).await.status(), Status::Ok);
    assert_eq!(t.post_json("/api/v1/auth/refresh", Some(&m.tokens.refresh), &json!({})).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn a_token_of_a_logged_out_or_unknown_session_is_token_revoked() {
    let t = TestApp::spawn().await;
    let m = mark(&t).await;
    let cases: Vec<Forgery> = misplaced_or_revoked(&t, &m).await.into_iter().filter(|f| f.code == "token_revoked").collect();
    assert_eq!(cases.len(), 2);
    assert_api_refuses(&t, &cases).await;
    assert_eq!(t.get_json("/api/v1/me", Some(&m.tokens.access)).await.status(), Status::Ok, "the other session lives on");
}

#[rocket::async_test]
async fn a_reused_refresh_token_is_refused_and_revokes_its_whole_session_but_no_other() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    let elsewhere = t.api_login(&user).await;
    let first = t.post_json("/api/v1/auth/refresh", Some(&tokens.refresh), &json!({})).await;
    assert_eq!(first.status(), Status::Ok);
    let rotated = tokens_of(first.into_json().await.unwrap());
    let reuse = t.post_json("/api/v1/auth/refresh", Some(&tokens.refresh), &json!({})).await;
    assert_unauthorized(reuse, "token_revoked", "second use of a refresh token").await;
    for (case, token) in [("the rotated access token", &rotated.access), ("the first access token", &tokens.access)] {
        assert_unauthorized(t.get_json("/api/v1/me", Some(token)).await, "token_revoked", case).await;
    }
    let again = t.post_json("/api/v1/auth/refresh", Some(&rotated.refresh), &json!({})).await;
    assert_unauthorized(again, "token_revoked", "the rotated refresh token").await;
    assert_eq!(t.get_json("/api/v1/me", Some(&elsewhere.access)).await.status(), Status::Ok, "another session is untouched");
}

#[rocket::async_test]
async fn a_token_signed_with_the_right_key_still_cannot_claim_another_user_or_the_admin_role() {
    let t = TestApp::spawn().await;
    let m = mark(&t).await;
    let (_, someone_else) = t.api_signup().await;
    // Someone else's `sub` with this user's session: the session is not theirs.
    let other_sub = m.signer.sign(&with(&m.claims, "sub", json!(someone_else.public_id)), Algorithm::HS256);
    assert_unauthorized(t.get_json("/api/v1/me", Some(&other_sub)).await, "token_invalid", "another user's sub").await;
    // The role comes from the database, not from the token.
    let admin_claim = m.signer.sign(&with(&m.claims, "role", json!("admin")), Algorithm::HS256);
    let me: Value = t.get_json("/api/v1/me", Some(&admin_claim)).await.into_json().await.unwrap();
    assert_eq!(me["role"], "user");
    assert_eq!(t.get_json("/api/v1/users", Some(&admin_claim)).await.status(), Status::Forbidden);
    let admin_page = t.client.get("/admin/users").cookie(Cookie::new("access_token", admin_claim)).dispatch().await;
    assert_eq!(admin_page.status(), Status::Forbidden);
}

// JWT attacks on the browser (cookie `access_token` on `GET /me`)

#[rocket::async_test]
async fn every_forged_or_misplaced_access_cookie_leaves_the_browser_anonymous_and_clears_the_cookies() {
    let t = TestApp::spawn().await;
    let m = mark(&t).await;
    let (_, someone_else) = t.api_signup().await;
    let mut cases = wrong_algorithms(&m);
    cases.extend(wrong_signatures(&m, &someone_else.public_id));
    cases.extend(missing_claims(&m));
    cases.extend(wrong_issuer_or_not_yet_valid(&m));
    cases.extend(misplaced_or_revoked(&t, &m).await);
    // Control: the genuine cookie opens the page.
    assert_eq!(me_with_cookies(&t, &[("access_token", &m.tokens.access)]).await.status(), Status::Ok);
    for f in &cases {
        let response = me_with_cookies(&t, &[("access_token", &f.token)]).await;
        assert_anonymous(response, &f.case, &["access_token"], &m.user.email).await;
        // A valid refresh cookie beside it does not rescue a forged access cookie.
        let response = me_with_cookies(&t, &[("access_token", &f.token), ("refresh_token", &m.tokens.refresh)]).await;
        let case = format!("{} + a valid refresh cookie", f.case);
        assert_anonymous(response, &case, &["access_token", "refresh_token"], &m.user.email).await;
    }
    assert_eq!(t.get_json("/api/v1/me", Some(&m.tokens.access)).await.status(), Status::Ok, "the real session is unharmed");
}

#[rocket::async_test]
async fn an_expired_access_cookie_without_a_refresh_cookie_is_anonymous() {
    let t = TestApp::spawn().await;
    let m = mark(&t).await;
    let response = me_with_cookies(&t, &[("access_token", &expired(&m).token)]).await;
    // Not an attack (a browser drops it at its Max-Age anyway): no clearing required.
    assert_anonymous(response, "exp 60 s ago", &[], &m.user.email).await;
}

#[rocket::async_test]
async fn a_forged_or_misplaced_refresh_cookie_leaves_the_browser_anonymous_and_clears_the_cookies() {
    let t = TestApp::spawn().await;
    let m = mark(&t).await;
    let (_, someone_else) = t.api_signup().await;
    let refresh = claims_of(&m.tokens.refresh);
    let mut cases: Vec<(String, String)> = alg_none(&refresh);
    cases.extend([
        ("HS512".to_owned(), m.signer.sign(&refresh, Algorithm::HS512)),
        ("RS256 key confusion".to_owned(), key_confusion(&m.signer, &refresh)),
        ("another key".to_owned(), other_key(&m).sign(&refresh, Algorithm::HS256)),
        ("stale signature, another sub".to_owned(), tampered(&m.tokens.refresh, &with(&refresh, "sub", json!(someone_else.public_id)))),
        ("exp 60 s ago".to_owned(), m.signer.sign(&with(&refresh, "exp", json!(now() - 60)), Algorithm::HS256)),
        ("an access token".to_owned(), m.tokens.access.clone()),
    ]);
    for (case, token) in &cases {
        let response = me_with_cookies(&t, &[("refresh_token", token)]).await;
        assert_anonymous(response, case, &["refresh_token"], &m.user.email).await;
    }
    let rotated = t.post_json("/api/v1/auth/refresh", Some(&m.tokens.refresh), &json!({})).await;
    assert_eq!(rotated.status(), Status::Ok, "the forgeries did not spend or revoke the real refresh token");
}

#[rocket::async_test]
async fn a_reused_refresh_cookie_leaves_the_browser_anonymous_and_revokes_the_session() {
    let t = TestApp::spawn().await;
    let m = mark(&t).await;
    let first = t.post_json("/api/v1/auth/refresh", Some(&m.tokens.refresh), &json!({})).await;
    assert_eq!(first.status(), Status::Ok);
    let rotated = tokens_of(first.into_json().await.unwrap());
    let response = me_with_cookies(&t, &[("refresh_token", &m.tokens.refresh)]).await;
    assert_anonymous(response, "a spent refresh cookie", &["refresh_token"], &m.user.email).await;
    assert_unauthorized(t.get_json("/api/v1/me", Some(&rotated.access)).await, "token_revoked", "the session is revoked").await;
}

// CSRF on the pages

/// An admin logged in in the browser, with a recipe and a second (API)
/// session, and another user to act on: a target for every kind of form.
struct World {
    admin: TestUser,
    victim: TestUser,
    victim_id: String,
    recipe: i64,
    other_sid: String,
}

async fn world(t: &TestApp) -> World {
    let (victim, victim_tokens) = t.api_signup().await;
    let admin = t.browser_admin().await;
    let recipe = browser_recipe(t, &recipe_fields("Lentil soup")).await;
    let other = t.api_login(&admin).await;
    let other_sid = claims_of(&other.access)["sid"].as_str().unwrap().to_owned();
    World { admin, victim, victim_id: victim_tokens.public_id, recipe, other_sid }
}

/// One state-changing form of each kind, with fields that would work.
fn targets(w: &World) -> Vec<(String, Vec<(&'static str, String)>)> {
    let new_password = "a brand new pass phrase";
    vec![
        ("/logout".to_owned(), vec![]),
        ("/recipes".to_owned(), recipe_fields("Forged stew")),
        (format!("/recipes/{}", w.recipe), recipe_fields("Forged name")),
        (format!("/recipes/{}/delete", w.recipe), vec![]),
        ("/me/logout-everywhere".to_owned(), vec![]),
        (format!("/me/sessions/{}/revoke", w.other_sid), vec![]),
        (
            "/me/password".to_owned(),
            vec![
                ("current_password", PASSWORD.to_owned()),
                ("new_password", new_password.to_owned()),
                ("new_password_confirm", new_password.to_owned()),
            ],
        ),
        (format!("/admin/users/{}/disable", w.victim_id), vec![]),
    ]
}

/// Everything the targets could change: both accounts, their sessions, the
/// recipe, the number of recipes, and whether the browser is logged in.
async fn state(t: &TestApp, w: &World) -> String {
    let db = &t.app().db;
    let admin = t.user_row(&w.admin.email).await.expect("the admin exists");
    let victim = t.user_row(&w.victim.email).await.expect("the victim exists");
    let sessions = (
        recipebox::store::sessions::count_active(db, admin.id).await.unwrap(),
        recipebox::store::sessions::count_active(db, victim.id).await.unwrap(),
    );
    let recipe = t.get_json(&format!("/api/v1/recipes/{}", w.recipe), None).await;
    let recipe = format!("{} {}", recipe.status(), recipe.into_string().await.unwrap_or_default());
    let list: Value = t.get_json("/api/v1/recipes", None).await.into_json().await.unwrap();
    let me = t.client.get("/me").dispatch().await.status();
    format!("{admin:?}\n{victim:?}\nsessions {sessions:?}\nrecipe {recipe}\nrecipes {}\n/me {me}", list["total"])
}

/// How a forged or broken form is sent.
enum How {
    /// A urlencoded form with this `csrf_token` (none: no such field).
    Form(Option<String>),
    /// No body at all, with this Content-Type (or none).
    Empty(Option<ContentType>),
    /// `Content-Type: application/json`, the fields and the token as JSON.
    Json(String),
    /// A urlencoded body with the token, but no Content-Type.
    Untyped(String),
    /// A proper form with the right token, from a page of `origin`.
    CrossSite(&'static str, String),
}

const HOST: &str = "localhost:8000";

async fn send<'a>(t: &'a TestApp, path: &str, fields: &[(&'static str, String)], how: &How) -> LocalResponse<'a> {
    let mut fields = pairs(fields);
    let request = t.client.post(path.to_owned());
    let request = match how {
        How::Form(csrf) => {
            if let Some(csrf) = csrf {
                fields.push(("csrf_token", csrf.as_str()));
            }
            request.header(ContentType::Form).body(form_body(&fields))
        }
        How::Empty(Some(content_type)) => request.header(content_type.clone()),
        How::Empty(None) => request,
        How::Json(csrf) => {
            let mut object: serde_json::Map<String, Value> = fields.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            object.insert("csrf_token".into(), json!(csrf));
            request.header(ContentType::JSON).body(Value::Object(object).to_string())
        }
        How::Untyped(csrf) => {
            fields.push(("csrf_token", csrf.as_str()));
            request.body(form_body(&fields))
        }
        How::CrossSite(origin, csrf) => {
            fields.push(("csrf_token", csrf.as_str()));
            request
                .header(ContentType::Form)
                .header(Header::new("Origin", *origin))
                .header(Header::new("Host", HOST))
                .body(form_body(&fields))
        }
    };
    request.dispatch().await
}

/// Sends every target `how`; each must be a 403 page saying `words` and
/// change nothing.
async fn refused_everywhere(t: &TestApp, w: &World, case: &str, how: How, words: &str) {
    let before = state(t, w).await;
    assert!(before.ends_with("/me 200 OK"), "the admin is logged in: {before}");
    for (path, fields) in targets(w) {
        let response = send(t, &path, &fields, &how).await;
        let status = response.status();
        let html = response.content_type() == Some(ContentType::HTML);
        let body = response.into_string().await.unwrap_or_default();
        assert_eq!(status, Status::Forbidden, "{case}: POST {path}");
        assert!(html && body.contains(words), "{case}: POST {path} answers a page saying {words:?}");
        assert_eq!(state(t, w).await, before, "{case}: POST {path} changed nothing");
    }
}

const FORM_EXPIRED: &str = "Form expired";

#[rocket::async_test]
async fn every_state_changing_form_without_a_csrf_token_is_403_form_expired_and_changes_nothing() {
    let t = TestApp::spawn().await;
    let w = world(&t).await;
    refused_everywhere(&t, &w, "no csrf_token", How::Form(None), FORM_EXPIRED).await;
}

#[rocket::async_test]
async fn every_state_changing_form_with_a_wrong_csrf_token_is_403_form_expired_and_changes_nothing() {
    let t = TestApp::spawn().await;
    let w = world(&t).await;
    let real = t.session_csrf().await;
    let mut one_off = real.clone();
    let last = one_off.pop().unwrap();
    one_off.push(if last == 'A' { 'B' } else { 'A' });
    // The csrf claim of the same user's other (API) session is not this session's.
    let other_session = t.api_login(&w.admin).await;
    let other_session = claims_of(&other_session.access)["csrf"].as_str().unwrap().to_owned();
    assert_ne!(other_session, real);
    for (case, wrong) in [
        ("a made-up token", "wrong-token-wrong-token-wrong-token".to_owned()),
        ("an empty token", String::new()),
        ("the right token but its last character", one_off),
        ("another session's token", other_session),
        ("the right token twice", format!("{real}{real}")),
    ] {
        refused_everywhere(&t, &w, case, How::Form(Some(wrong)), FORM_EXPIRED).await;
    }
}

#[rocket::async_test]
async fn every_state_changing_form_with_another_logged_in_users_csrf_token_is_403_form_expired() {
    let t = TestApp::spawn().await;
    let w = world(&t).await;
    // User B logs in in this browser, their token is read, B leaves, A returns.
    t.logout().await;
    t.signup().await;
    let theirs = t.session_csrf().await;
    t.logout().await;
    assert_eq!(t.login(&w.admin.email, &w.admin.password).await.status(), Status::SeeOther);
    assert_ne!(t.session_csrf().await, theirs);
    refused_everywhere(&t, &w, "another user's csrf", How::Form(Some(theirs)), FORM_EXPIRED).await;
}

#[rocket::async_test]
async fn every_state_changing_form_with_the_anonymous_csrf_cookie_value_is_403_form_expired() {
    let t = TestApp::spawn().await;
    let w = world(&t).await;
    let anonymous = t.cookie("csrf").expect("the sign-up page set a csrf cookie");
    assert_ne!(t.session_csrf().await, anonymous);
    refused_everywhere(&t, &w, "the anonymous csrf cookie", How::Form(Some(anonymous)), FORM_EXPIRED).await;
}

#[rocket::async_test]
async fn the_anonymous_forms_without_the_right_csrf_token_are_403_form_expired() {
    let t = TestApp::spawn().await;
    let user = TestUser::random();
    let signup = [("email", user.email.as_str()), ("username", &user.username), ("password", &user.password), ("password_confirm", &user.password)];
    t.csrf_from("/signup").await;
    for csrf in [None, Some("wrong-token-wrong-token-wrong-token"), Some("")] {
        let response = t.post_form("/signup", csrf, &signup).await;
        assert_eq!(response.status(), Status::Forbidden, "sign-up, csrf {csrf:?}");
        assert!(response.into_string().await.unwrap().contains(FORM_EXPIRED));
    }
    assert!(t.user_row(&user.email).await.is_none(), "no account was made");
    let (known, _) = t.api_signup().await;
    t.csrf_from("/login").await;
    for csrf in [None, Some("wrong-token-wrong-token-wrong-token"), Some("")] {
        let response = t.post_form("/login", csrf, &[("email", &known.email), ("password", &known.password)]).await;
        assert_eq!(response.status(), Status::Forbidden, "login, csrf {csrf:?}");
        assert!(response.into_string().await.unwrap().contains(FORM_EXPIRED));
    }
    assert!(t.cookie("access_token").is_none(), "not logged in");
}

// Fails until src/auth/csrf.rs answers a body that is not a form with 403
// (today: 400 "Expected a submitted HTML form").
#[rocket::async_test]
async fn an_empty_post_body_is_403_form_expired_and_changes_nothing() {
    let t = TestApp::spawn().await;
    let w = world(&t).await;
    refused_everywhere(&t, &w, "empty form body", How::Empty(Some(ContentType::Form)), FORM_EXPIRED).await;
    refused_everywhere(&t, &w, "empty body, no Content-Type", How::Empty(None), FORM_EXPIRED).await;
}

// Fails until src/auth/csrf.rs answers a body that is not a form with 403.
#[rocket::async_test]
async fn a_json_post_to_a_page_is_403_form_expired_even_with_the_right_token() {
    let t = TestApp::spawn().await;
    let w = world(&t).await;
    let csrf = t.session_csrf().await;
    refused_everywhere(&t, &w, "JSON body", How::Json(csrf), FORM_EXPIRED).await;
}

// Fails until src/auth/csrf.rs answers a body that is not a form with 403.
#[rocket::async_test]
async fn a_post_without_a_content_type_is_403_form_expired_even_with_the_right_token() {
    let t = TestApp::spawn().await;
    let w = world(&t).await;
    let csrf = t.session_csrf().await;
    refused_everywhere(&t, &w, "no Content-Type", How::Untyped(csrf), FORM_EXPIRED).await;
}

// The Origin check

const CROSS_SITE: &str = "Requests from other sites are refused";

#[rocket::async_test]
async fn a_cross_site_origin_is_refused_on_every_page_form_even_with_the_right_csrf_token() {
    let t = TestApp::spawn().await;
    let w = world(&t).await;
    let csrf = t.session_csrf().await;
    for origin in ["https://evil.example", "null", "http://localhost:8000.evil.example", "http://localhost:8001"] {
        refused_everywhere(&t, &w, origin, How::CrossSite(origin, csrf.clone()), CROSS_SITE).await;
    }
    // The anonymous login form too, with its right token.
    t.logout().await;
    let csrf = t.csrf_from("/login").await;
    let fields = [("email", w.admin.email.clone()), ("password", w.admin.password.clone())];
    let response = send(&t, "/login", &fields, &How::CrossSite("https://evil.example", csrf)).await;
    assert_eq!(response.status(), Status::Forbidden);
    assert!(t.cookie("access_token").is_none(), "not logged in");
}

#[rocket::async_test]
async fn a_cross_site_origin_is_refused_by_the_api_with_a_json_403() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_admin().await;
    let recipe = api_recipe(&t, &tokens.access, &json!({"name": "Kept", "cook_time": 5, "directions": "Keep."})).await;
    let (_, other) = t.api_signup().await;
    let login = json!({"email": user.email, "password": user.password}).to_string();
    let new_recipe = json!({"name": "Forged", "cook_time": 5, "directions": "x"}).to_string();
    let recipe_path = format!("/api/v1/recipes/{recipe}");
    let user_path = format!("/api/v1/users/{}", other.public_id);
    for origin in ["https://evil.example", "null"] {
        let requests = [
            (Method::Post, "/api/v1/auth/login", None, login.clone()),
            (Method::Post, "/api/v1/users", None, json!({"email": "x@example.com", "username": "xavier", "password": PASSWORD}).to_string()),
            (Method::Post, "/api/v1/recipes", Some(&tokens.access), new_recipe.clone()),
            (Method::Put, recipe_path.as_str(), Some(&tokens.access), new_recipe.clone()),
            (Method::Delete, recipe_path.as_str(), Some(&tokens.access), String::new()),
            (Method::Patch, user_path.as_str(), Some(&tokens.access), json!({"disabled": true}).to_string()),
            (Method::Post, "/api/v1/auth/logout", Some(&tokens.access), String::new()),
        ];
        for (method, path, token, body) in requests {
            let mut request = t.client.req(method, path).header(ContentType::JSON).header(Header::new("Origin", origin)).header(Header::new("Host", HOST));
            if let Some(token) = token {
                request = request.header(bearer(token));
            }
            let response = request.body(body).dispatch().await;
            assert_eq!(response.status(), Status::Forbidden, "{origin}: {method} {path}");
            assert_eq!(response.content_type(), Some(ContentType::JSON), "{origin}: {method} {path}");
            let body: Value = response.into_json().await.unwrap();
            assert_eq!(body["error"]["code"], "cross_origin", "{origin}: {method} {path}");
        }
    }
    let kept: Value = t.get_json(&recipe_path, None).await.into_json().await.unwrap();
    assert_eq!(kept["name"], "Kept");
    let list: Value = t.get_json("/api/v1/recipes", None).await.into_json().await.unwrap();
    assert_eq!(list["total"], 1, "nothing created");
    assert!(t.user_row("x@example.com").await.is_none(), "no account made");
    assert_eq!(t.get_json("/api/v1/me", Some(&other.access)).await.status(), Status::Ok, "not disabled");
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok, "not logged out");
}

#[rocket::async_test]
async fn a_same_origin_request_passes_the_origin_check() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let csrf = t.session_csrf().await;
    let origin = format!("http://{HOST}");
    let page = t
        .client
        .post("/recipes")
        .header(ContentType::Form)
        .header(Header::new("Origin", origin.clone()))
        .header(Header::new("Host", HOST))
        .body(form_body(&[("name", "Same site"), ("cook_time", "5"), ("directions", "Fine."), ("csrf_token", &csrf)]))
        .dispatch()
        .await;
    assert_eq!(page.status(), Status::SeeOther);
    let (_, tokens) = t.api_signup().await;
    let api = t
        .client
        .post("/api/v1/recipes")
        .header(ContentType::JSON)
        .header(bearer(&tokens.access))
        .header(Header::new("Origin", origin))
        .header(Header::new("Host", HOST))
        .body(json!({"name": "Same site", "cook_time": 5, "directions": "Fine."}).to_string())
        .dispatch()
        .await;
    assert_eq!(api.status(), Status::Created);
}

// Open redirects through `next`

/// A `Location` a browser resolves to a page of this site.
fn is_local(location: &str) -> bool {
    location.starts_with('/')
        && !location.starts_with("//")
        && !location.contains('\\')
        && !location.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// `next` values that name another site, or no path at all: refused, so
/// the login goes home.
const FOREIGN_NEXTS: &[&str] = &[
    "//evil.example",
    "//evil.example/x",
    "///evil.example",
    "https://evil.example",
    "HTTPS://evil.example",
    "http:evil.example",
    "/\\evil.example",
    "/\\\\evil.example",
    "\\\\evil.example",
    "%2F%2Fevil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    " //evil.example",
    "\t//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/me\r\nLocation: https://evil.example",
    "evil.example",
    "",
];

/// Local paths whose percent-encoded slashes a browser does not decode:
/// following them or not, the `Location` must stay on this site.
const ENCODED_NEXTS: &[&str] = &["/%2F%2Fevil.example", "/%5Cevil.example", "/%5C%5Cevil.example", "/%09/evil.example"];

#[rocket::async_test]
async fn login_follows_a_local_next_and_never_redirects_off_site() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    t.logout().await;
    let redirect = t.client.get("/me").dispatch().await;
    assert_eq!(redirect.status(), Status::SeeOther);
    assert_eq!(redirect.headers().get_one("Location"), Some("/login?next=%2Fme"));

    let cases = [("/me", Some("/me")), ("/recipes?page=2", Some("/recipes?page=2"))]
        .into_iter()
        .chain(FOREIGN_NEXTS.iter().map(|next| (*next, Some("/"))))
        .chain(ENCODED_NEXTS.iter().map(|next| (*next, None)));
    for (next, expected) in cases {
        let csrf = t.csrf_from("/login").await;
        let response = t.post_form("/login", Some(&csrf), &[("email", &user.email), ("password", &user.password), ("next", next)]).await;
        assert_eq!(response.status(), Status::SeeOther, "next {next:?}");
        let to = location(&response);
        assert!(is_local(&to), "next {next:?} led to {to:?}");
        if let Some(expected) = expected {
            assert_eq!(to, expected, "next {next:?}");
        }
        t.logout().await;
    }
}

#[rocket::async_test]
async fn the_login_page_never_redirects_a_logged_in_user_off_site() {
    let t = TestApp::spawn().await;
    t.signup().await;
    for next in FOREIGN_NEXTS.iter().chain(ENCODED_NEXTS) {
        let response = t.client.get(format!("/login?next={}", enc(next))).dispatch().await;
        assert_eq!(response.status(), Status::SeeOther, "next {next:?}");
        let to = location(&response);
        assert!(is_local(&to), "next {next:?} led to {to:?}");
        if FOREIGN_NEXTS.contains(next) {
            assert_eq!(to, "/", "next {next:?}");
        }
    }
}

#[rocket::async_test]
async fn the_login_form_does_not_carry_a_foreign_next() {
    let t = TestApp::spawn().await;
    for next in FOREIGN_NEXTS.iter().filter(|next| !next.is_empty()) {
        let response = t.client.get(format!("/login?next={}", enc(next))).dispatch().await;
        assert_eq!(response.status(), Status::Ok, "next {next:?}");
        let body = response.into_string().await.unwrap();
        assert!(!body.contains(r#"name="next""#), "next {next:?} is dropped from the form");
        // Nor a form shown again after a wrong password (another account
        // each time, so the login limit is not what answers).
        let (user, _) = t.api_signup().await;
        let csrf = t.csrf_from("/login").await;
        let response = t.post_form("/login", Some(&csrf), &[("email", &user.email), ("password", "wrong password"), ("next", *next)]).await;
        assert_eq!(response.status(), Status::Unauthorized);
        assert!(!response.into_string().await.unwrap().contains(r#"name="next""#), "next {next:?} after a failed login");
    }
}

// Markup and template syntax in what users write

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = r#""><img src=x onerror=alert(1)>"#;

/// Every payload at once, after a tag that says which field it came from.
fn payload(tag: &str) -> String {
    format!("{tag} {SCRIPT} {IMG} {{{{ 7*7 }}}} javascript:alert(1)")
}

/// Text as Tera's HTML escaping writes it.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2F;")
}

fn assert_strict_csp(response: &LocalResponse<'_>, page: &str) {
    let csp = response.headers().get_one("Content-Security-Policy").unwrap_or_default();
    assert!(
        csp.contains("default-src 'self'") && !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{page}: Content-Security-Policy {csp:?}"
    );
}

/// No payload became markup (the site's own pages have no `<script>` but
/// its own static scripts, and no `<img>` but the logo) or a `javascript:`
/// link.
fn assert_no_markup_injected(body: &str, page: &str) {
    let lower = body
        .to_lowercase()
        .replace(r#"<img src="/static/favicon.svg" alt="" width="22" height="22">"#, "")
        .replace(r#"<script src="/static/passkeys.js" defer></script>"#, "")
        .replace(r#"<script src="/static/copy.js" defer></script>"#, "");
    for raw in ["<script", "<img", "href=\"javascript:", "src=\"javascript:", "action=\"javascript:"] {
        assert!(!lower.contains(raw), "{page}: {raw} is in the page unescaped");
    }
}

/// GETs a page: its status, a strict CSP, nothing injected, and each tagged
/// payload shown escaped.
async fn assert_page_escapes(t: &TestApp, path: &str, status: Status, tags: &[&str]) {
    let response = t.client.get(path.to_owned()).dispatch().await;
    assert_eq!(response.status(), status, "GET {path}");
    assert_strict_csp(&response, path);
    let body = response.into_string().await.unwrap();
    assert_no_markup_injected(&body, path);
    for tag in tags {
        assert!(body.contains(&escaped(&payload(tag))), "GET {path}: the {tag} text is shown, escaped");
    }
}

/// A POST answered with a page: status, CSP, nothing injected, tags escaped.
async fn assert_reply_escapes(response: LocalResponse<'_>, case: &str, status: Status, tags: &[&str]) {
    assert_eq!(response.status(), status, "{case}");
    assert_strict_csp(&response, case);
    let body = response.into_string().await.unwrap();
    assert_no_markup_injected(&body, case);
    for tag in tags {
        assert!(body.contains(&escaped(&payload(tag))), "{case}: the {tag} text is shown, escaped");
    }
}

#[rocket::async_test]
async fn recipe_text_is_escaped_on_every_page_that_shows_it() {
    let t = TestApp::spawn().await;
    let admin = t.browser_admin().await;
    let fields = vec![
        ("name", payload("N1")),
        ("description", payload("D1")),
        ("cook_time", "20".to_owned()),
        ("directions", payload("S1")),
        ("visibility", "public".to_owned()),
    ];
    let id = browser_recipe(&t, &fields).await;
    let public_id = t.user_row(&admin.email).await.unwrap().public_id;
    let cards: &[&str] = &["N1", "D1"];
    let whole: &[&str] = &["N1", "D1", "S1"];
    let none: &[&str] = &[];
    let pages = [
        ("/".to_owned(), cards),
        ("/recipes".to_owned(), cards),
        (format!("/recipes/{id}"), whole),
        (format!("/recipes/{id}/edit"), whole),
        ("/me".to_owned(), cards),
        (format!("/recipes?q={}", enc(SCRIPT)), cards),
        (format!("/recipes?author={}", enc(&admin.username)), cards),
        (format!("/admin/users/{public_id}"), cards),
        (format!("/admin/users/{public_id}/logout"), none),
        ("/admin/users".to_owned(), none),
    ];
    for (path, tags) in &pages {
        assert_page_escapes(&t, path, Status::Ok, tags).await;
    }
    t.logout().await;
    for path in ["/".to_owned(), "/recipes".to_owned(), format!("/recipes/{id}")] {
        let tags = if path.starts_with("/recipes/") { whole } else { cards };
        assert_page_escapes(&t, &path, Status::Ok, tags).await;
    }
}

#[rocket::async_test]
async fn a_recipe_form_shown_again_keeps_hostile_values_escaped() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let id = browser_recipe(&t, &recipe_fields("Plain")).await;
    let csrf = t.session_csrf().await;
    let fields = vec![
        ("name", payload("N2")),
        ("description", payload("D2")),
        ("cook_time", payload("C2")),
        ("directions", payload("S2")),
        ("visibility", payload("V2")),
    ];
    for path in ["/recipes".to_owned(), format!("/recipes/{id}")] {
        let response = t.post_form(&path, Some(&csrf), &pairs(&fields)).await;
        assert_reply_escapes(response, &format!("POST {path}"), Status::UnprocessableEntity, &["N2", "D2", "C2", "S2"]).await;
    }
}

#[rocket::async_test]
async fn search_and_author_terms_are_escaped_wherever_they_are_echoed() {
    let t = TestApp::spawn().await;
    t.browser_admin().await;
    let (_, tokens) = t.api_signup().await;
    // Enough matches for a pager, whose links carry `q` again.
    for n in 0..21 {
        api_recipe(&t, &tokens.access, &json!({"name": format!("{n} {SCRIPT}"), "cook_time": 5, "directions": "x"})).await;
    }
    for page in [1, 2] {
        let path = format!("/recipes?q={}&page={page}", enc(SCRIPT));
        assert_page_escapes(&t, &path, Status::Ok, &[]).await;
        let body = t.client.get(path).dispatch().await.into_string().await.unwrap();
        assert!(body.contains("q=%3Cscript%3Ealert%281%29%3C%2Fscript%3E"), "page {page}: the pager's link encodes q");
    }
    assert_page_escapes(&t, &format!("/recipes?q={}", enc(&payload("Q1"))), Status::Ok, &["Q1"]).await;
    // An author no user could be is refused, and not echoed at all.
    assert_page_escapes(&t, &format!("/recipes?author={}", enc(&payload("A1"))), Status::BadRequest, &[]).await;
    assert_page_escapes(&t, &format!("/admin/users?q={}", enc(&payload("Q2"))), Status::Ok, &["Q2"]).await;
}

#[rocket::async_test]
async fn the_login_and_signup_forms_echo_hostile_values_escaped() {
    let t = TestApp::spawn().await;
    let csrf = t.csrf_from("/login").await;
    let next = format!("/recipes?q={}", payload("X1"));
    let response = t.post_form("/login", Some(&csrf), &[("email", &payload("E1")), ("password", "wrong password"), ("next", &next)]).await;
    assert_reply_escapes(response, "POST /login", Status::Unauthorized, &["E1"]).await;
    for next in [next.as_str(), "/\"><script>alert(1)</script>", "/recipes?q=\"><img src=x onerror=alert(1)>"] {
        assert_page_escapes(&t, &format!("/login?next={}", enc(next)), Status::Ok, &[]).await;
    }
    let csrf = t.csrf_from("/signup").await;
    let fields = [("email", payload("E2")), ("username", payload("U2")), ("password", PASSWORD.to_owned()), ("password_confirm", PASSWORD.to_owned())];
    let response = t.post_form("/signup", Some(&csrf), &pairs(&fields)).await;
    assert_reply_escapes(response, "POST /signup", Status::UnprocessableEntity, &["E2", "U2"]).await;
}

#[rocket::async_test]
async fn a_hostile_user_agent_is_escaped_on_the_session_and_audit_pages() {
    let t = TestApp::spawn().await;
    let agent = format!("{SCRIPT}{IMG}");
    let user = TestUser::random();
    let signup = json!({"email": user.email, "username": user.username, "password": user.password}).to_string();
    let response = t.client.post("/api/v1/users").header(ContentType::JSON).header(Header::new("User-Agent", agent.clone())).body(signup).dispatch().await;
    assert_eq!(response.status(), Status::Created);
    let csrf = t.csrf_from("/login").await;
    let login = t
        .client
        .post("/login")
        .header(ContentType::Form)
        .header(Header::new("User-Agent", agent))
        .body(form_body(&[("email", &user.email), ("password", &user.password), ("csrf_token", &csrf)]))
        .dispatch()
        .await;
    assert_eq!(login.status(), Status::SeeOther);
    t.make_admin(&user.email).await;
    let public_id = t.user_row(&user.email).await.unwrap().public_id;
    for path in ["/me".to_owned(), "/admin/audit".to_owned(), format!("/admin/users/{public_id}")] {
        let response = t.client.get(path.clone()).dispatch().await;
        assert_eq!(response.status(), Status::Ok, "GET {path}");
        let body = response.into_string().await.unwrap();
        assert_no_markup_injected(&body, &path);
        assert!(body.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"), "GET {path}: the device is shown, escaped");
    }
}

#[rocket::async_test]
async fn hostile_text_in_a_path_or_a_bad_query_is_never_echoed_raw() {
    let t = TestApp::spawn().await;
    let admin = t.browser_admin().await;
    let public_id = t.user_row(&admin.email).await.unwrap().public_id;
    let hostile = enc(&payload("P1"));
    for (path, status) in [
        (format!("/{hostile}"), Status::NotFound),
        (format!("/recipes/{hostile}"), Status::NotFound),
        (format!("/recipes?page={hostile}"), Status::BadRequest),
        (format!("/admin/users?page={hostile}"), Status::BadRequest),
        (format!("/admin/audit?kind={hostile}"), Status::BadRequest),
        (format!("/admin/audit?user={hostile}"), Status::BadRequest),
        (format!("/admin/users/{public_id}/role?role={hostile}"), Status::BadRequest),
    ] {
        assert_page_escapes(&t, &path, status, &[]).await;
    }
}

// SQL-looking text and LIKE wildcards

const SQL_QUOTE: &str = "' OR '1'='1";
const SQL_DROP: &str = "\"; DROP TABLE users; --";

#[rocket::async_test]
async fn sql_looking_text_round_trips_literally_through_the_api() {
    let t = TestApp::spawn().await;
    let (_, tokens) = t.api_signup().await;
    let text = json!({
        "name": SQL_QUOTE,
        "description": SQL_DROP,
        "cook_time": 10,
        "directions": "100% _done_ !bang! back\\slash \\\\ %_ '; DELETE FROM recipes; --",
    });
    let id = api_recipe(&t, &tokens.access, &text).await;
    let stored: Value = t.get_json(&format!("/api/v1/recipes/{id}"), None).await.into_json().await.unwrap();
    for field in ["name", "description", "directions"] {
        assert_eq!(stored[field], text[field], "{field} is stored as written");
    }
    let page = t.client.get(format!("/recipes/{id}")).dispatch().await;
    assert_eq!(page.status(), Status::Ok);
    assert!(page.into_string().await.unwrap().contains(&escaped(SQL_DROP)));
    let list: Value = t.get_json("/api/v1/recipes", None).await.into_json().await.unwrap();
    assert_eq!(list["total"], 1, "the recipes table is intact");
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok, "the users table is intact");
}

/// The recipe names each search must find, on the API and on the page.
fn recipe_searches() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("%", vec!["Percent 100%"]),
        ("100%", vec!["Percent 100%"]),
        ("_", vec!["Under_score"]),
        ("!", vec!["Bang!"]),
        ("\\", vec!["Back\\slash"]),
        ("'", vec![SQL_QUOTE]),
        (SQL_QUOTE, vec![SQL_QUOTE]),
        (SQL_DROP, vec!["Drop"]),
        ("%%", vec![]),
        ("_nder", vec![]),
        ("p%n", vec![]),
        ("!%", vec![]),
        ("\\%", vec![]),
        ("[a-z]", vec![]),
        ("*", vec![]),
    ]
}

#[rocket::async_test]
async fn percent_underscore_and_escape_characters_match_only_literally_in_recipe_search() {
    let t = TestApp::spawn().await;
    let (_, tokens) = t.api_signup().await;
    let mut ids = std::collections::BTreeMap::new();
    for (name, description) in [
        (SQL_QUOTE, "quotes"),
        ("Drop", SQL_DROP),
        ("Percent 100%", "p"),
        ("Under_score", "u"),
        ("Bang!", "b"),
        ("Back\\slash", "s"),
        ("Plain", "nothing special here"),
    ] {
        let id = api_recipe(&t, &tokens.access, &json!({"name": name, "description": description, "cook_time": 5, "directions": "Stir."})).await;
        ids.insert(name, id);
    }
    for (q, expected) in recipe_searches() {
        let expected: BTreeSet<&str> = expected.into_iter().collect();
        let response = t.get_json(&format!("/api/v1/recipes?per_page=100&q={}", enc(q)), None).await;
        assert_eq!(response.status(), Status::Ok, "API q={q:?}");
        let body: Value = response.into_json().await.unwrap();
        let found: BTreeSet<&str> = body["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(found, expected, "API q={q:?}");

        let page = t.client.get(format!("/recipes?q={}", enc(q))).dispatch().await;
        assert_eq!(page.status(), Status::Ok, "page q={q:?}");
        let page = page.into_string().await.unwrap();
        let shown: BTreeSet<&str> = ids.iter().filter(|(_, id)| page.contains(&format!("href=\"/recipes/{id}\""))).map(|(name, _)| *name).collect();
        assert_eq!(shown, expected, "page q={q:?}");
    }
    let list: Value = t.get_json("/api/v1/recipes", None).await.into_json().await.unwrap();
    assert_eq!(list["total"], 7, "the recipes table is intact");
}

#[rocket::async_test]
async fn percent_underscore_and_quotes_match_only_literally_in_user_search() {
    let t = TestApp::spawn().await;
    let chief = TestUser { email: "chief@example.com".into(), username: "chief".into(), password: PASSWORD.into() };
    let others = [
        ("per%cent@example.com", "percent"),
        ("under_score@example.com", "underscore"),
        ("bang!@example.com", "bang"),
        ("o'reilly@example.com", "oreilly"),
        ("plain@example.com", "plainuser"),
    ];
    for (email, username) in [(chief.email.as_str(), chief.username.as_str())].into_iter().chain(others) {
        let response = t.post_json("/api/v1/users", None, &json!({"email": email, "username": username, "password": PASSWORD})).await;
        assert_eq!(response.status(), Status::Created, "sign-up of {email}");
    }
    t.make_admin(&chief.email).await;
    let tokens = t.api_login(&chief).await;
    assert_eq!(t.login(&chief.email, &chief.password).await.status(), Status::SeeOther);
    let all: Vec<&str> = [chief.email.as_str()].into_iter().chain(others.iter().map(|(email, _)| *email)).collect();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("%", vec!["per%cent@example.com"]),
        ("per%", vec!["per%cent@example.com"]),
        ("_", vec!["under_score@example.com"]),
        ("!", vec!["bang!@example.com"]),
        ("'", vec!["o'reilly@example.com"]),
        (".", all.clone()),
        (SQL_QUOTE, vec![]),
        (SQL_DROP, vec![]),
        ("\\", vec![]),
        ("_nder", vec![]),
        ("p%n", vec![]),
        ("!%", vec![]),
        ("%%", vec![]),
    ];
    for (q, expected) in cases {
        let expected: BTreeSet<&str> = expected.into_iter().collect();
        let response = t.get_json(&format!("/api/v1/users?per_page=100&q={}", enc(q)), Some(&tokens.access)).await;
        assert_eq!(response.status(), Status::Ok, "API q={q:?}");
        let body: Value = response.into_json().await.unwrap();
        let found: BTreeSet<String> = body["items"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_owned()).collect();
        assert_eq!(found, expected.iter().map(|e| e.to_string()).collect(), "API q={q:?}");

        let page = t.client.get(format!("/admin/users?q={}", enc(q))).dispatch().await;
        assert_eq!(page.status(), Status::Ok, "page q={q:?}");
        let page = page.into_string().await.unwrap();
        let shown: BTreeSet<&str> = all.iter().copied().filter(|email| page.contains(&format!(r#"<td data-label="Email">{}</td>"#, escaped(email)))).collect();
        assert_eq!(shown, expected, "page q={q:?}");
    }
    let list: Value = t.get_json("/api/v1/users", Some(&tokens.access)).await.into_json().await.unwrap();
    assert_eq!(list["total"], 6, "the users table is intact");
}

#[rocket::async_test]
async fn sql_looking_credentials_are_only_wrong_credentials() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    for (email, password) in [
        (format!("{}' --", user.email), "anything".to_owned()),
        (SQL_QUOTE.to_owned(), SQL_QUOTE.to_owned()),
        (user.email.clone(), SQL_QUOTE.to_owned()),
        (SQL_DROP.to_owned(), "x".to_owned()),
    ] {
        let api = t.post_json("/api/v1/auth/login", None, &json!({"email": email, "password": password})).await;
        assert_unauthorized(api, "invalid_credentials", &format!("API login as {email:?}")).await;
        let page = t.login(&email, &password).await;
        assert_eq!(page.status(), Status::Unauthorized, "login as {email:?}");
    }
    t.api_login(&user).await;
}

// Bodies over the limit

#[rocket::async_test]
async fn json_bodies_over_512_kib_are_413_with_the_json_error_envelope() {
    let t = TestApp::spawn().await;
    let (_, tokens) = t.api_signup().await;
    let recipe = api_recipe(&t, &tokens.access, &json!({"name": "Small", "cook_time": 5, "directions": "x"})).await;
    let huge = "a".repeat(600 * 1024);
    let recipe_path = format!("/api/v1/recipes/{recipe}");
    let requests = [
        (Method::Post, "/api/v1/recipes", Some(&tokens.access), json!({"name": "Big", "cook_time": 5, "directions": huge})),
        (Method::Put, recipe_path.as_str(), Some(&tokens.access), json!({"name": "Big", "cook_time": 5, "directions": huge})),
        (Method::Post, "/api/v1/users", None, json!({"email": huge, "username": "big", "password": PASSWORD})),
        (Method::Post, "/api/v1/auth/login", None, json!({"email": huge, "password": PASSWORD})),
    ];
    for (method, path, token, body) in requests {
        let mut request = t.client.req(method, path).header(ContentType::JSON).body(body.to_string());
        if let Some(token) = token {
            request = request.header(bearer(token));
        }
        let response = request.dispatch().await;
        assert_eq!(response.status(), Status::PayloadTooLarge, "{method} {path}");
        assert_eq!(response.content_type(), Some(ContentType::JSON), "{method} {path}");
        let body: Value = response.into_json().await.unwrap();
        assert_eq!(body["error"]["code"], "payload_too_large", "{method} {path}");
        assert!(body["error"]["message"].is_string(), "{method} {path}: {body}");
    }
    let kept: Value = t.get_json(&recipe_path, None).await.into_json().await.unwrap();
    assert_eq!(kept["name"], "Small");
    let list: Value = t.get_json("/api/v1/recipes", None).await.into_json().await.unwrap();
    assert_eq!(list["total"], 1);
}

#[rocket::async_test]
async fn a_form_body_over_512_kib_is_a_413_page_but_the_largest_valid_recipe_fits() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let csrf = t.session_csrf().await;
    let huge = "a".repeat(600 * 1024);
    let response = t.post_form("/recipes", Some(&csrf), &[("name", "Big"), ("cook_time", "5"), ("directions", &huge)]).await;
    assert_eq!(response.status(), Status::PayloadTooLarge);
    assert_eq!(response.content_type(), Some(ContentType::HTML));
    assert!(response.into_string().await.unwrap().contains("The request is too large."));
    let response = t.post_form("/login", Some(&csrf), &[("email", &huge), ("password", "x")]).await;
    assert_eq!(response.status(), Status::PayloadTooLarge, "an anonymous form too");
    let list: Value = t.get_json("/api/v1/recipes", None).await.into_json().await.unwrap();
    assert_eq!(list["total"], 0, "nothing created");
    // Every field at its longest, in 4-byte characters (12 bytes percent-encoded).
    let (name, description, directions) = ("🍲".repeat(100), "🍲".repeat(1000), "🍲".repeat(20_000));
    let fields = [("name", name.as_str()), ("description", &description), ("cook_time", "1440"), ("directions", &directions)];
    assert_eq!(t.post_form("/recipes", Some(&csrf), &fields).await.status(), Status::SeeOther);
}

// Races

/// Sends 20 API sign-ups at once; returns each status and error body.
async fn racing_signups(t: &TestApp, who: impl Fn(usize) -> (String, String)) -> Vec<(Status, Value)> {
    let attempts = (0..20).map(|n| {
        let (email, username) = who(n);
        async move {
            let body = json!({"email": email, "username": username, "password": PASSWORD});
            let response = t.post_json("/api/v1/users", None, &body).await;
            let status = response.status();
            (status, response.into_json::<Value>().await.unwrap_or(Value::Null))
        }
    });
    join_all(attempts).await
}

fn assert_one_winner(results: &[(Status, Value)], field: &str) {
    let statuses: Vec<u16> = results.iter().map(|(s, _)| s.code).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "exactly one 201: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "the others are 409: {statuses:?}");
    for (status, body) in results.iter().filter(|(s, _)| s.code == 409) {
        assert_eq!(body["error"]["code"], "conflict", "{status}: {body}");
        assert!(body["error"]["fields"][field].is_string(), "the 409 names the {field}: {body}");
    }
}

#[rocket::async_test]
async fn twenty_concurrent_signups_with_one_email_make_exactly_one_account() {
    let t = TestApp::spawn().await;
    let results = racing_signups(&t, |n| ("racer@example.com".into(), format!("racer{n}"))).await;
    assert_one_winner(&results, "email");
    let users = recipebox::store::users::list(&t.app().db, None, 1, 100).await.unwrap();
    assert_eq!(users.total, 1);
}

#[rocket::async_test]
async fn twenty_concurrent_signups_with_one_username_make_exactly_one_account() {
    let t = TestApp::spawn().await;
    let results = racing_signups(&t, |n| {
        let username = if n % 2 == 0 { "Racer" } else { "racer" };
        (format!("racer{n}@example.com"), username.into())
    })
    .await;
    assert_one_winner(&results, "username");
    let users = recipebox::store::users::list(&t.app().db, None, 1, 100).await.unwrap();
    assert_eq!(users.total, 1);
}

#[rocket::async_test]
async fn ten_concurrent_uses_of_one_refresh_token_yield_one_new_pair_and_revoke_the_session() {
    let t = TestApp::spawn().await;
    let m = mark(&t).await;
    let t = &t;
    let uses = (0..10).map(|_| {
        let refresh = m.tokens.refresh.clone();
        async move {
            let response = t.post_json("/api/v1/auth/refresh", Some(&refresh), &json!({})).await;
            let status = response.status();
            (status, response.into_json::<Value>().await.unwrap_or(Value::Null))
        }
    });
    let results = join_all(uses).await;
    let statuses: Vec<u16> = results.iter().map(|(s, _)| s.code).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "one use wins: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 9, "the others are refused: {statuses:?}");
    for (_, body) in results.iter().filter(|(s, _)| s.code == 401) {
        assert_eq!(body["error"]["code"], "token_revoked", "{body}");
    }
    // The copies were a reuse: the session is gone, the winner's pair with it.
    let (_, winner) = results.into_iter().find(|(s, _)| *s == Status::Ok).unwrap();
    let winner = tokens_of(winner);
    assert_unauthorized(t.get_json("/api/v1/me", Some(&winner.access)).await, "token_revoked", "the winner's access token").await;
    assert_unauthorized(t.get_json("/api/v1/me", Some(&m.tokens.access)).await, "token_revoked", "the first access token").await;
}

// Unknown paths and ids that are not ids

#[rocket::async_test]
async fn an_unknown_path_of_any_shape_is_the_404_page() {
    let t = TestApp::spawn().await;
    // Scanners' favourites, and segments Rocket's `PathBuf` refuses to parse.
    let odd = ["/.env", "/.git/config", "/static/..%2F..%2FCargo.toml", "/%3Cscript%3E", "/a%2Fb", "/x:", "/*", "/recipes/%2E%2E%2Fme"];
    for path in odd {
        for method in [Method::Get, Method::Post] {
            let response = t.client.req(method, path).header(ContentType::Form).dispatch().await;
            assert_eq!(response.status(), Status::NotFound, "{method} {path}");
            assert_eq!(response.content_type(), Some(ContentType::HTML), "{method} {path}");
            assert!(response.into_string().await.unwrap().contains("There is nothing here"), "{method} {path}");
        }
    }
    for path in ["/api/v1/.env", "/api/v1/%3Cscript%3E", "/api/v1/x:", "/api/v1/a%2Fb"] {
        for method in [Method::Get, Method::Post, Method::Put, Method::Patch, Method::Delete] {
            let response = t.client.req(method, path).header(ContentType::JSON).dispatch().await;
            assert_eq!(response.status(), Status::NotFound, "{method} {path}");
            let body: Value = response.into_json().await.expect("a JSON error");
            assert_eq!(body["error"]["code"], "not_found", "{method} {path}");
        }
    }
}

#[rocket::async_test]
async fn an_id_that_is_not_an_id_is_404_before_any_login_check() {
    let t = TestApp::spawn().await;
    let pages: &[(Method, &str)] = &[
        (Method::Get, "/recipes/abc/edit"),
        (Method::Post, "/recipes/abc"),
        (Method::Post, "/recipes/abc/delete"),
        (Method::Get, "/recipes/99999999999999999999/edit"),
        (Method::Post, "/me/sessions/not-a-uuid/revoke"),
        (Method::Get, "/admin/users/not-a-uuid"),
    ];
    let api: &[(Method, &str)] = &[
        (Method::Get, "/api/v1/recipes/abc"),
        (Method::Put, "/api/v1/recipes/abc"),
        (Method::Delete, "/api/v1/recipes/abc"),
        (Method::Get, "/api/v1/users/not-a-uuid"),
        (Method::Patch, "/api/v1/users/not-a-uuid"),
        (Method::Delete, "/api/v1/users/not-a-uuid"),
    ];
    let (_, tokens) = t.api_signup().await;
    for who in ["anonymous", "a plain user"] {
        if who != "anonymous" {
            t.signup().await;
        }
        let csrf = if who == "anonymous" { None } else { Some(t.session_csrf().await) };
        for (method, path) in pages {
            let mut request = t.client.req(*method, *path);
            if *method == Method::Post {
                let fields: Vec<(&str, &str)> = csrf.iter().map(|c| ("csrf_token", c.as_str())).collect();
                request = request.header(ContentType::Form).body(form_body(&fields));
            }
            let response = request.dispatch().await;
            assert_eq!(response.status(), Status::NotFound, "{who}: {method} {path}");
            assert_eq!(response.content_type(), Some(ContentType::HTML), "{who}: {method} {path}");
            assert!(response.into_string().await.unwrap().contains("There is nothing here"), "{who}: {method} {path}");
        }
        for (method, path) in api {
            let mut request = t.client.req(*method, *path).header(ContentType::JSON).body("{}");
            if who != "anonymous" {
                request = request.header(bearer(&tokens.access));
            }
            let response = request.dispatch().await;
            assert_eq!(response.status(), Status::NotFound, "{who}: {method} {path}");
            let body: Value = response.into_json().await.expect("a JSON error");
            assert_eq!(body["error"]["code"], "not_found", "{who}: {method} {path}");
        }
    }
}
