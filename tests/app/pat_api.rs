//! Personal access tokens on the JSON API (SPEC.md §2, §5, §6): each scope
//! allowed and refused route by route, what no token may ever do, hostile
//! and malformed bearers, expiry and revocation (on two instances too),
//! two-step accounts, the resets that revoke every token, "last used" to
//! the minute, the audit trail naming the token, the export, and the
//! notice of a token about to expire.
//!
//! Tokens are made here without the pages: minted and stored as the pages
//! do (`recipebox::pat::mint`, `store::access_tokens::create`).

use std::net::SocketAddr;
use std::time::Duration;

use rocket::http::{ContentType, Header, Method, Status};
use rocket::local::asynchronous::LocalResponse;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::{bearer, extract_csrf, location, now, TestApp, TestUser};
use recipebox::domain::AuditKind;
use recipebox::entities::{access_token, audit_event};

const EVERY_SCOPE: &str = "recipes:read recipes:write account:read admin";
const EXPIRING: &str = "A personal access token of your recipebox account expires soon";
const RESET: &str = "Reset your recipebox password";
const NEW_PASSWORD: &str = "a brand new kitchen secret";
const DAY: i64 = 86_400;

// --- Making tokens ---------------------------------------------------------------

/// A token as a script holds it, and its stored row.
struct Pat {
    token: String,
    row: access_token::Model,
}

/// Mints a token and stores it for `user_id` on `db`, as the pages do.
async fn mint_on<C: ConnectionTrait>(db: &C, user_id: i64, name: &str, scopes: &str, expires_at: i64) -> Pat {
    let minted = recipebox::pat::mint();
    let new = recipebox::store::access_tokens::NewToken { name, scopes, hash: &minted.hash, created_at: recipebox::store::now(), expires_at };
    let row = recipebox::store::access_tokens::create(db, user_id, new).await.expect("the token is stored");
    Pat { token: minted.token, row }
}

/// A token of the user with `email` that expires at `expires_at` (Unix seconds).
async fn pat_until(t: &TestApp, email: &str, name: &str, scopes: &str, expires_at: i64) -> Pat {
    let user = t.user_row(email).await.expect("the owner exists");
    mint_on(&t.app().db, user.id, name, scopes, expires_at).await
}

/// A token of the user with `email` that works for 30 days.
async fn pat(t: &TestApp, email: &str, name: &str, scopes: &str) -> Pat {
    pat_until(t, email, name, scopes, now() + 30 * DAY).await
}

/// The stored row of a token, as it is now.
async fn row_of(t: &TestApp, pat: &Pat) -> access_token::Model {
    access_token::Entity::find_by_id(pat.row.id).one(&t.app().db).await.unwrap().expect("the token's row")
}

/// `text` with the checksum of its random part worked out again, as a
/// forger who knows the format would.
fn with_good_checksum(random: &str) -> String {
    format!("rbx_pat_{random}{:0>6}", base62::encode(crc32fast::hash(random.as_bytes())))
}

/// `c` replaced by another alphanumeric character.
fn other_char(c: char) -> char {
    if c == 'a' {
        'b'
    } else {
        'a'
    }
}

// --- Requests ------------------------------------------------------------------------

async fn call<'a>(t: &'a TestApp, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> LocalResponse<'a> {
    let mut request = t.client.req(method, path.to_owned());
    if let Some(token) = token {
        request = request.header(bearer(token));
    }
    if let Some(body) = body {
        request = request.header(ContentType::JSON).body(body.to_string());
    }
    request.dispatch().await
}

async fn get<'a>(t: &'a TestApp, path: &str, token: Option<&str>) -> LocalResponse<'a> {
    call(t, Method::Get, path, token, None).await
}

/// The status and `error.code` of a response (`""` without one), and its
/// `WWW-Authenticate` header.
async fn outcome(response: LocalResponse<'_>) -> (Status, String, String) {
    let status = response.status();
    let challenge = response.headers().get_one("WWW-Authenticate").unwrap_or_default().to_owned();
    let body = response.into_string().await.unwrap_or_default();
    let code = serde_json::from_str::<Value>(&body).ok().and_then(|v| v["error"]["code"].as_str().map(str::to_owned)).unwrap_or_default();
    (status, code, challenge)
}

/// Asserts a 403 `insufficient_scope` that names `scope` in its challenge.
async fn assert_insufficient(response: LocalResponse<'_>, scope: &str, what: &str) {
    let (status, code, challenge) = outcome(response).await;
    assert_eq!((status, code.as_str()), (Status::Forbidden, "insufficient_scope"), "{what}");
    assert!(challenge.starts_with("Bearer "), "{what}: the challenge names the Bearer scheme: {challenge:?}");
    assert!(challenge.contains(r#"error="insufficient_scope""#), "{what}: {challenge:?}");
    assert!(challenge.contains(&format!(r#"scope="{scope}""#)), "{what}: names the scope {scope}: {challenge:?}");
}

/// Asserts `status` with `error.code` `code`.
async fn assert_code(response: LocalResponse<'_>, status: Status, code: &str, what: &str) {
    let (got, got_code, _) = outcome(response).await;
    assert_eq!((got, got_code.as_str()), (status, code), "{what}");
}

/// Asserts a 401 `code` with an `invalid_token` challenge.
async fn assert_refused(response: LocalResponse<'_>, code: &str, what: &str) {
    let (status, got, challenge) = outcome(response).await;
    assert_eq!((status, got.as_str()), (Status::Unauthorized, code), "{what}");
    assert!(challenge.starts_with("Bearer ") && challenge.contains(r#"error="invalid_token""#), "{what}: {challenge:?}");
}

async fn json_of(response: LocalResponse<'_>, status: Status, what: &str) -> Value {
    assert_eq!(response.status(), status, "{what}");
    response.into_json().await.unwrap_or_else(|| panic!("{what}: a JSON body"))
}

/// Writes a recipe with a session's access token; its id.
async fn write_recipe(t: &TestApp, access: &str, name: &str, visibility: &str) -> i64 {
    let body = json!({"name": name, "description": format!("{name}, described"), "cook_time": 25, "directions": "Stir, then wait.", "visibility": visibility});
    let created = json_of(t.post_json("/api/v1/recipes", Some(access), &body).await, Status::Created, "a session writes a recipe").await;
    created["id"].as_i64().unwrap()
}

fn recipe_body(name: &str) -> Value {
    json!({"name": name, "description": "Written by a script.", "cook_time": 15, "directions": "Mix.", "visibility": "public"})
}

/// The names on a page of `/api/v1/recipes`, and its total.
async fn listed(t: &TestApp, token: Option<&str>, query: &str) -> (Vec<String>, u64) {
    let page = json_of(get(t, &format!("/api/v1/recipes{query}"), token).await, Status::Ok, "the list").await;
    let names = page["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect();
    (names, page["total"].as_u64().unwrap())
}

async fn events(t: &TestApp, kind: AuditKind) -> Vec<audit_event::Model> {
    let all = audit_event::Entity::find().all(&t.app().db).await.unwrap();
    all.into_iter().filter(|event| event.kind == kind).collect()
}

fn detail(event: &audit_event::Model) -> Value {
    serde_json::from_str(&event.detail).expect("an event's detail is JSON")
}

fn from(ip: &str) -> SocketAddr {
    format!("{ip}:40000").parse().unwrap()
}

// --- Two-step login, as tests/app/two_factor.rs turns it on ---------------------------

fn totp_code(secret: &str, unix_seconds: u64) -> String {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("the setup key is base32"))
        .build()
        .expect("RFC 6238 parameters")
        .generate(unix_seconds)
        .to_string()
}

/// Turns two-step login on for the browser's freshly logged-in user, as
/// they would with their phone.
async fn enable_two_factor(t: &TestApp) {
    let response = t.client.get("/me/two-factor").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    let page = response.into_string().await.unwrap();
    let start = page.find(r#"id="totp-secret""#).expect("the setup key is shown");
    let text_start = start + page[start..].find('>').unwrap() + 1;
    let text_end = text_start + page[text_start..].find("</code>").unwrap();
    let secret: String = page[text_start..text_end].chars().filter(|c| !c.is_whitespace()).collect();
    let csrf = extract_csrf(&page).expect("the form has a csrf_token");
    let code = totp_code(&secret, now() as u64);
    let response = t.post_form("/me/two-factor", Some(&csrf), &[("code", &code)]).await;
    assert_eq!(response.status(), Status::Ok, "a right code turns two-step login on");
}

// --- 1. Scopes, route by route ----------------------------------------------------------

#[rocket::async_test]
async fn account_read_opens_me_the_export_and_the_own_user_and_nothing_else_does() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    let (_, other) = t.api_signup().await;
    let reader = pat(&t, &user.email, "reader", "account:read").await;
    let writer = pat(&t, &user.email, "writer", "recipes:read recipes:write").await;
    let own = format!("/api/v1/users/{}", tokens.public_id);

    let me = json_of(get(&t, "/api/v1/me", Some(&reader.token)).await, Status::Ok, "account:read reads /me").await;
    assert_eq!(me["public_id"], tokens.public_id.as_str());
    assert_eq!(me["email"], user.email.as_str());
    let mut keys: Vec<&str> = me.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["created_at", "email", "public_id", "role", "username"], "the user object, no hash, no internal id");
    let export = get(&t, "/api/v1/me/export", Some(&reader.token)).await;
    assert_eq!(export.status(), Status::Ok, "account:read exports");
    let shown = json_of(get(&t, &own, Some(&reader.token)).await, Status::Ok, "account:read reads the own user").await;
    assert_eq!(shown["public_id"], tokens.public_id.as_str());

    assert_insufficient(get(&t, "/api/v1/me", Some(&writer.token)).await, "account:read", "/me without account:read").await;
    assert_insufficient(get(&t, "/api/v1/me/export", Some(&writer.token)).await, "account:read", "the export without account:read").await;
    assert_insufficient(get(&t, &own, Some(&writer.token)).await, "account:read", "the own user without account:read").await;

    let someone = format!("/api/v1/users/{}", other.public_id);
    assert_code(get(&t, &someone, Some(&reader.token)).await, Status::Forbidden, "forbidden", "another user, not an admin").await;
}

#[rocket::async_test]
async fn recipes_read_shows_the_owners_private_recipes_and_without_it_a_token_reads_as_a_visitor() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    let (_, stranger) = t.api_signup().await;
    let public = write_recipe(&t, &tokens.access, "Public pie", "public").await;
    let private = write_recipe(&t, &tokens.access, "Secret stew", "private").await;
    let strangers = write_recipe(&t, &stranger.access, "Stranger soup", "private").await;
    let reader = pat(&t, &user.email, "reader", "recipes:read").await;
    let other = pat(&t, &user.email, "other", "account:read recipes:write").await;

    let (names, total) = listed(&t, Some(&reader.token), "").await;
    assert_eq!(total, 2, "recipes:read lists the owner's private recipe: {names:?}");
    assert!(names.contains(&"Secret stew".to_owned()) && !names.contains(&"Stranger soup".to_owned()), "{names:?}");
    let (names, total) = listed(&t, Some(&reader.token), "?q=stew").await;
    assert_eq!((names, total), (vec!["Secret stew".to_owned()], 1), "and finds it");
    let found = json_of(get(&t, &format!("/api/v1/recipes/{private}"), Some(&reader.token)).await, Status::Ok, "reads it").await;
    assert_eq!((found["name"].as_str(), found["visibility"].as_str()), (Some("Secret stew"), Some("private")));
    assert_eq!(get(&t, &format!("/api/v1/recipes/{strangers}"), Some(&reader.token)).await.status(), Status::NotFound, "another user's private recipe");

    for (who, token) in [("a token without recipes:read", Some(other.token.as_str())), ("a visitor", None)] {
        let (names, total) = listed(&t, token, "").await;
        assert_eq!((names, total), (vec!["Public pie".to_owned()], 1), "{who} lists what a visitor does");
        assert_eq!(listed(&t, token, "?q=stew").await.1, 0, "{who} does not find the private one");
        assert_eq!(get(&t, &format!("/api/v1/recipes/{private}"), token).await.status(), Status::NotFound, "{who}: 404 for the private one");
        assert_eq!(get(&t, &format!("/api/v1/recipes/{public}"), token).await.status(), Status::Ok, "{who} reads a public one");
    }
}

#[rocket::async_test]
async fn recipes_write_creates_edits_and_deletes_and_without_it_each_is_insufficient_scope() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    let (_, stranger) = t.api_signup().await;
    let writer = pat(&t, &user.email, "writer", "recipes:write").await;
    let reader = pat(&t, &user.email, "reader", "recipes:read account:read").await;
    let own = write_recipe(&t, &tokens.access, "Own bread", "private").await;
    let strangers = write_recipe(&t, &stranger.access, "Stranger bread", "public").await;

    // Without recipes:write: nothing is written.
    assert_insufficient(t.post_json("/api/v1/recipes", Some(&reader.token), &recipe_body("Not written")).await, "recipes:write", "POST").await;
    let path = format!("/api/v1/recipes/{own}");
    assert_insufficient(call(&t, Method::Put, &path, Some(&reader.token), Some(&recipe_body("Not edited"))).await, "recipes:write", "PUT").await;
    assert_insufficient(call(&t, Method::Delete, &path, Some(&reader.token), None).await, "recipes:write", "DELETE").await;
    let (names, total) = listed(&t, Some(&reader.token), "").await;
    assert_eq!(total, 2, "nothing was written, edited or deleted: {names:?}");
    assert!(names.contains(&"Own bread".to_owned()) && !names.contains(&"Not written".to_owned()), "{names:?}");

    // With it.
    let created = t.post_json("/api/v1/recipes", Some(&writer.token), &recipe_body("Script cake")).await;
    assert_eq!(created.status(), Status::Created, "recipes:write writes");
    let at = location(&created);
    let body: Value = created.into_json().await.unwrap();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(at, format!("/api/v1/recipes/{id}"));
    assert_eq!(body["author"]["username"], user.username.as_str(), "written as the token's owner");
    let edited = call(&t, Method::Put, &path, Some(&writer.token), Some(&json!({"name": "Own bread, better", "cook_time": 40, "directions": "Knead.", "visibility": "private"}))).await;
    let edited = json_of(edited, Status::Ok, "recipes:write edits the owner's private recipe").await;
    assert_eq!(edited["name"], "Own bread, better");
    assert_eq!(call(&t, Method::Delete, &format!("/api/v1/recipes/{id}"), Some(&writer.token), None).await.status(), Status::NoContent);
    assert_eq!(get(&t, &format!("/api/v1/recipes/{id}"), None).await.status(), Status::NotFound, "deleted");

    // Never someone else's recipe.
    let theirs = format!("/api/v1/recipes/{strangers}");
    assert_code(call(&t, Method::Put, &theirs, Some(&writer.token), Some(&recipe_body("Taken over"))).await, Status::Forbidden, "forbidden", "PUT of another's").await;
    assert_code(call(&t, Method::Delete, &theirs, Some(&writer.token), None).await, Status::Forbidden, "forbidden", "DELETE of another's").await;
    assert_eq!(json_of(get(&t, &theirs, None).await, Status::Ok, "untouched").await["name"], "Stranger bread");
}

#[rocket::async_test]
async fn the_admin_scope_works_only_for_an_admin_and_only_while_they_are_one() {
    let t = TestApp::spawn().await;
    let (admin, admin_tokens) = t.api_admin().await;
    let (_, second_admin) = t.api_admin().await;
    let (cook, cook_tokens) = t.api_signup().await;
    let (_, victim) = t.api_signup().await;
    let with_admin = pat(&t, &admin.email, "ops", "admin").await;
    let without_admin = pat(&t, &admin.email, "no admin", "recipes:read recipes:write account:read").await;
    // Stored directly: the form refuses the admin scope to a non-admin.
    let cooks = pat(&t, &cook.email, "cook's", EVERY_SCOPE).await;
    let cook_path = format!("/api/v1/users/{}", cook_tokens.public_id);
    let victim_path = format!("/api/v1/users/{}", victim.public_id);

    let list = json_of(get(&t, "/api/v1/users", Some(&with_admin.token)).await, Status::Ok, "an admin's admin scope lists users").await;
    assert_eq!(list["total"], 4);
    assert_eq!(json_of(get(&t, &cook_path, Some(&with_admin.token)).await, Status::Ok, "reads a user").await["public_id"], cook_tokens.public_id.as_str());
    let patched = call(&t, Method::Patch, &cook_path, Some(&with_admin.token), Some(&json!({"disabled": true}))).await;
    assert_eq!(patched.status(), Status::Ok, "PATCH");
    assert_eq!(t.get_json("/api/v1/me", Some(&cook_tokens.access)).await.status(), Status::Unauthorized, "the PATCH took effect");
    assert_eq!(call(&t, Method::Patch, &cook_path, Some(&with_admin.token), Some(&json!({"disabled": false}))).await.status(), Status::Ok);

    for (what, token, scope_refusal) in [("an admin's token without admin", &without_admin, true), ("a non-admin's token with admin", &cooks, false)] {
        let requests = [
            get(&t, "/api/v1/users", Some(&token.token)).await,
            get(&t, &victim_path, Some(&token.token)).await,
            call(&t, Method::Patch, &victim_path, Some(&token.token), Some(&json!({"role": "admin"}))).await,
            call(&t, Method::Delete, &victim_path, Some(&token.token), None).await,
        ];
        for (n, response) in requests.into_iter().enumerate() {
            if scope_refusal {
                assert_insufficient(response, "admin", &format!("{what}, request {n}")).await;
            } else {
                assert_code(response, Status::Forbidden, "forbidden", &format!("{what}, request {n}")).await;
            }
        }
    }
    let victim_row = t.client.get(victim_path.clone()).header(bearer(&admin_tokens.access)).dispatch().await;
    assert_eq!(json_of(victim_row, Status::Ok, "the victim is still there").await["role"], "user", "and still a user");

    assert_eq!(call(&t, Method::Delete, &victim_path, Some(&with_admin.token), None).await.status(), Status::NoContent, "DELETE");
    assert_eq!(get(&t, &victim_path, Some(&with_admin.token)).await.status(), Status::NotFound, "deleted");

    // Demoted: the admin scope does nothing any more.
    let demote = call(&t, Method::Patch, &format!("/api/v1/users/{}", admin_tokens.public_id), Some(&second_admin.access), Some(&json!({"role": "user"}))).await;
    assert_eq!(demote.status(), Status::Ok, "the other admin demotes the token's owner");
    assert_code(get(&t, "/api/v1/users", Some(&with_admin.token)).await, Status::Forbidden, "forbidden", "a demoted owner's admin scope").await;
    assert_code(get(&t, &cook_path, Some(&with_admin.token)).await, Status::Forbidden, "forbidden", "reading another user").await;
    assert_code(call(&t, Method::Patch, &cook_path, Some(&with_admin.token), Some(&json!({"role": "admin"}))).await, Status::Forbidden, "forbidden", "PATCH").await;
    assert_eq!(t.user_row(&cook.email).await.unwrap().role, recipebox::domain::Role::User, "the cook was not promoted");
}

// --- 2. What no token may do ---------------------------------------------------------------

#[rocket::async_test]
async fn no_token_logs_out_changes_the_password_or_deletes_the_account_whatever_its_scopes() {
    let t = TestApp::spawn().await;
    let (admin, tokens) = t.api_admin().await;
    t.api_admin().await; // not the last admin: only the token stands in the way
    let all = pat(&t, &admin.email, "everything", EVERY_SCOPE).await;
    let own = format!("/api/v1/users/{}", tokens.public_id);

    let refused = [
        ("POST /api/v1/auth/logout", call(&t, Method::Post, "/api/v1/auth/logout", Some(&all.token), Some(&json!({"refresh_token": tokens.refresh}))).await),
        ("DELETE /api/v1/auth/logout", call(&t, Method::Delete, "/api/v1/auth/logout", Some(&all.token), None).await),
        (
            "POST /api/v1/me/password",
            call(&t, Method::Post, "/api/v1/me/password", Some(&all.token), Some(&json!({"current_password": admin.password, "new_password": NEW_PASSWORD}))).await,
        ),
        ("DELETE /api/v1/me", call(&t, Method::Delete, "/api/v1/me", Some(&all.token), Some(&json!({"current_password": admin.password}))).await),
        ("DELETE /api/v1/users/{own}", call(&t, Method::Delete, &own, Some(&all.token), None).await),
    ];
    for (what, response) in refused {
        assert_code(response, Status::Forbidden, "forbidden", what).await;
    }
    let refresh = t.post_json("/api/v1/auth/refresh", Some(&all.token), &json!({})).await;
    assert_eq!(refresh.status(), Status::Unauthorized, "a token is no refresh token");

    // Nothing happened.
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok, "the session was not logged out");
    assert_eq!(t.post_json("/api/v1/auth/refresh", Some(&tokens.refresh), &json!({})).await.status(), Status::Ok, "nor its refresh token");
    t.api_login(&admin).await; // the old password still works
    assert_eq!(get(&t, "/api/v1/me", Some(&all.token)).await.status(), Status::Ok, "the account and the token are still there");
}

// --- 3. Format and hostile input ----------------------------------------------------------

#[rocket::async_test]
async fn malformed_unknown_and_altered_tokens_are_401_and_never_a_server_error() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    let (other, _) = t.api_signup().await;
    let mine = pat(&t, &user.email, "mine", EVERY_SCOPE).await;
    let theirs = pat(&t, &other.email, "theirs", EVERY_SCOPE).await;
    assert_eq!(get(&t, "/api/v1/me", Some(&mine.token)).await.status(), Status::Ok);
    assert_eq!(get(&t, "/api/v1/me", Some(&theirs.token)).await.status(), Status::Ok);

    let mut wrong_sum = mine.token.clone();
    let last = wrong_sum.pop().unwrap();
    wrong_sum.push(other_char(last));
    let random_of = |token: &str| token["rbx_pat_".len().."rbx_pat_".len() + 30].to_owned();
    // Another user's token with one character changed: as it is (the
    // checksum no longer matches), and with the checksum worked out again.
    let mut changed: Vec<char> = random_of(&theirs.token).chars().collect();
    changed[7] = other_char(changed[7]);
    let changed: String = changed.into_iter().collect();
    let altered = format!("rbx_pat_{changed}{}", &theirs.token[theirs.token.len() - 6..]);
    let forged = with_good_checksum(&changed);
    assert_eq!(forged.len(), theirs.token.len());
    let never_made = recipebox::pat::mint().token;

    for (what, token) in [
        ("a wrong checksum", wrong_sum.as_str()),
        ("a well-formed token that was never made", never_made.as_str()),
        ("another user's token with one character changed", altered.as_str()),
        ("the same with its checksum worked out again", forged.as_str()),
        ("the prefix alone", "rbx_pat_"),
        ("a token with a character too many", &format!("{}0", mine.token)),
        ("a token with a character too few", &mine.token[..mine.token.len() - 1]),
        ("10 kB after the prefix", &format!("rbx_pat_{}", "x".repeat(10_000))),
        ("10 kB of a token repeated", &format!("rbx_pat_{}", mine.token.repeat(250))),
        ("a token and more", &format!("{} {}", mine.token, mine.token)),
    ] {
        assert_refused(get(&t, "/api/v1/me", Some(token)).await, "token_invalid", what).await;
        assert_refused(get(&t, "/api/v1/recipes", Some(token)).await, "token_invalid", &format!("{what}, on a public route")).await;
    }
    let bare = t.client.get("/api/v1/me").header(Header::new("Authorization", "Bearer rbx_pat_")).dispatch().await;
    assert_refused(bare, "token_invalid", "`Bearer rbx_pat_`").await;

    // Nobody was let in as anyone, and the real tokens still work.
    assert_eq!(json_of(get(&t, "/api/v1/me", Some(&theirs.token)).await, Status::Ok, "theirs").await["email"], other.email.as_str());
    assert_eq!(json_of(get(&t, "/api/v1/me", Some(&mine.token)).await, Status::Ok, "mine").await["email"], user.email.as_str());
}

#[rocket::async_test]
async fn a_token_in_the_query_string_or_a_cookie_is_ignored() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    write_recipe(&t, &tokens.access, "Open omelette", "public").await;
    let private = write_recipe(&t, &tokens.access, "Hidden hash", "private").await;
    let token = pat(&t, &user.email, "leaky", EVERY_SCOPE).await.token;

    let list = json_of(get(&t, &format!("/api/v1/recipes?access_token={token}"), None).await, Status::Ok, "the public list works").await;
    assert_eq!(list["total"], 1, "as a visitor: {list}");
    assert_eq!(list["items"][0]["name"], "Open omelette");
    assert_eq!(get(&t, &format!("/api/v1/recipes/{private}?access_token={token}"), None).await.status(), Status::NotFound);
    assert_refused(get(&t, &format!("/api/v1/me?access_token={token}"), None).await, "token_missing", "/me with a query-string token").await;
    let cookie = t.client.get("/api/v1/me").header(Header::new("Cookie", format!("access_token={token}"))).dispatch().await;
    assert_refused(cookie, "token_missing", "/me with the token in a cookie").await;
}

// --- 4. Expiry, revocation, a disabled owner ---------------------------------------------

#[rocket::async_test]
async fn an_expired_token_is_token_expired_and_a_revoked_one_token_revoked() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    let expired = pat_until(&t, &user.email, "expired", "account:read", now() - 5).await;
    assert_refused(get(&t, "/api/v1/me", Some(&expired.token)).await, "token_expired", "made expired").await;

    // A token that worked and then reached its end.
    let ending = pat(&t, &user.email, "ending", "account:read").await;
    assert_eq!(get(&t, "/api/v1/me", Some(&ending.token)).await.status(), Status::Ok);
    access_token::Entity::update_many()
        .col_expr(access_token::Column::ExpiresAt, Expr::value(now() - 1))
        .filter(access_token::Column::Id.eq(ending.row.id))
        .exec(&t.app().db)
        .await
        .unwrap();
    assert_refused(get(&t, "/api/v1/me", Some(&ending.token)).await, "token_expired", "past its end").await;

    // Revoked by its owner.
    let revoked = pat(&t, &user.email, "revoked", "account:read recipes:write").await;
    let kept = pat(&t, &user.email, "kept", "account:read").await;
    assert_eq!(get(&t, "/api/v1/me", Some(&revoked.token)).await.status(), Status::Ok);
    let owner = t.user_row(&user.email).await.unwrap();
    let client = recipebox::client::ClientInfo::default();
    recipebox::accounts::tokens::revoke(t.app(), &owner, revoked.row.public_id, None, &client).await.expect("revoked");
    assert_refused(get(&t, "/api/v1/me", Some(&revoked.token)).await, "token_revoked", "revoked").await;
    assert_refused(t.post_json("/api/v1/recipes", Some(&revoked.token), &recipe_body("Late")).await, "token_revoked", "revoked, a write").await;
    assert!(row_of(&t, &revoked).await.revoked_at.is_some());
    assert_eq!(get(&t, "/api/v1/me", Some(&kept.token)).await.status(), Status::Ok, "the owner's other token goes on");
    let event = events(&t, AuditKind::TokenRevoked).await;
    assert_eq!(event.len(), 1);
    assert_eq!(detail(&event[0])["token"], revoked.row.public_id.to_string(), "the event names the token");
}

#[rocket::async_test]
async fn a_disabled_owners_tokens_are_token_revoked() {
    let t = TestApp::spawn().await;
    let (_, admin) = t.api_admin().await;
    let (user, tokens) = t.api_signup().await;
    let token = pat(&t, &user.email, "script", "account:read recipes:read").await;
    assert_eq!(get(&t, "/api/v1/me", Some(&token.token)).await.status(), Status::Ok);
    let path = format!("/api/v1/users/{}", tokens.public_id);
    let disabled = t.client.patch(path).header(bearer(&admin.access)).header(ContentType::JSON).body(r#"{"disabled": true}"#).dispatch().await;
    assert_eq!(disabled.status(), Status::Ok);
    assert_refused(get(&t, "/api/v1/me", Some(&token.token)).await, "token_revoked", "a disabled owner's token").await;
    assert_refused(get(&t, "/api/v1/recipes", Some(&token.token)).await, "token_revoked", "even on a public route").await;
}

// --- 5. Two instances on one database -----------------------------------------------------

#[test]
fn a_token_works_on_both_instances_and_once_revoked_is_refused_by_the_other_at_once() {
    use crate::instances::{self, Cluster};
    let c = Cluster::start();
    let ann = instances::signup(&c.a, "pat_ann");
    let runtime = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let db = runtime.block_on(sea_orm::Database::connect(c.database.url.as_str())).unwrap();
    let owner = runtime.block_on(recipebox::store::users::find_by_email(&db, "pat_ann@example.com")).unwrap().expect("ann exists");
    let first = runtime.block_on(mint_on(&db, owner.id, "first", "account:read", now() + 30 * DAY));
    let second = runtime.block_on(mint_on(&db, owner.id, "second", "account:read", now() + 30 * DAY));
    let me = |server: &crate::test_server::TestServer, token: &str| server.request("GET", "/api/v1/me", &instances::bearer(token), "");
    for server in [&c.a, &c.b, &c.a, &c.b] {
        for token in [&first.token, &second.token] {
            let (status, body) = me(server, token);
            assert_eq!(status, 200, "{body}");
            assert_eq!(crate::server::json_of(&body)["username"], "pat_ann");
        }
    }

    // Revoked beside both instances, as instance A's token page does: one
    // write to the shared database.
    let revoked = runtime.block_on(recipebox::store::access_tokens::revoke(&db, owner.id, first.row.public_id)).unwrap();
    assert!(revoked.is_some());
    for server in [&c.b, &c.a] {
        let refused = me(server, &first.token);
        assert_eq!((refused.0, instances::error_code(&refused).as_str()), (401, "token_revoked"), "refused at once");
        assert_eq!(me(server, &second.token).0, 200, "the other token goes on");
    }

    // The owner disabled through instance A's admin API.
    let admin = instances::login(&c.a, "admin@example.com");
    let path = format!("/api/v1/users/{}", ann["user"]["public_id"].as_str().unwrap());
    let (status, body) = c.a.request("PATCH", &path, &instances::bearer(instances::token(&admin, "access_token")), r#"{"disabled":true}"#);
    assert_eq!(status, 200, "{body}");
    for server in [&c.b, &c.a] {
        let refused = me(server, &second.token);
        assert_eq!((refused.0, instances::error_code(&refused).as_str()), (401, "token_revoked"), "a disabled owner's token, at once");
    }
    runtime.block_on(db.close()).unwrap();
}

// --- 6. Two-step login -------------------------------------------------------------------

#[rocket::async_test]
async fn a_token_of_a_two_step_account_needs_no_code() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    enable_two_factor(&t).await;
    t.logout().await;
    let login = t.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await;
    assert_code(login, Status::Unauthorized, "second_factor_required", "the password alone does not log in").await;

    let token = pat(&t, &user.email, "script", "account:read recipes:write").await;
    let me = json_of(get(&t, "/api/v1/me", Some(&token.token)).await, Status::Ok, "the token works without a code").await;
    assert_eq!(me["email"], user.email.as_str());
    assert_eq!(t.post_json("/api/v1/recipes", Some(&token.token), &recipe_body("Two-step tart")).await.status(), Status::Created);
}

// --- 7. Resets revoke every token -------------------------------------------------------

#[rocket::async_test]
async fn a_password_reset_through_the_mailed_link_revokes_every_token() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    let first = pat(&t, &user.email, "first", "account:read").await;
    let second = pat(&t, &user.email, "second", "recipes:write account:read").await;
    for token in [&first, &second] {
        assert_eq!(get(&t, "/api/v1/me", Some(&token.token)).await.status(), Status::Ok);
    }

    assert_eq!(t.post_json("/api/v1/auth/forgot-password", None, &json!({"email": user.email})).await.status(), Status::Accepted);
    let message = t.mail(RESET, 1).await.remove(0);
    let start = message.find("/reset-password?token=").expect("a reset link") + "/reset-password?token=".len();
    let link_token = message[start..].split_whitespace().next().unwrap().to_owned();
    let followed = t.client.get(format!("/reset-password?token={link_token}")).dispatch().await;
    assert_eq!((followed.status(), location(&followed)), (Status::SeeOther, "/reset-password".to_owned()));
    drop(followed);
    let form = t.client.get("/reset-password").dispatch().await;
    assert_eq!(form.status(), Status::Ok);
    let csrf = extract_csrf(&form.into_string().await.unwrap()).expect("the form has a csrf_token");
    let done = t.post_form("/reset-password", Some(&csrf), &[("new_password", NEW_PASSWORD), ("new_password_confirm", NEW_PASSWORD)]).await;
    assert_eq!(done.status(), Status::SeeOther, "the new password is set");
    drop(done);

    for token in [&first, &second] {
        assert_refused(get(&t, "/api/v1/me", Some(&token.token)).await, "token_revoked", &token.row.name).await;
        assert!(row_of(&t, token).await.revoked_at.is_some());
    }
    let revoked = events(&t, AuditKind::TokenRevoked).await;
    assert_eq!(revoked.len(), 1, "one event for the tokens revoked");
    assert_eq!((detail(&revoked[0])["tokens"].as_u64(), detail(&revoked[0])["by"].as_str()), (Some(2), Some("password_reset")));

    let after = pat(&t, &user.email, "after", "account:read").await;
    assert_eq!(get(&t, "/api/v1/me", Some(&after.token)).await.status(), Status::Ok, "a token made after the reset works");
    t.api_login(&TestUser { password: NEW_PASSWORD.into(), ..user }).await;
}

#[rocket::async_test]
async fn an_admins_two_step_reset_revokes_every_token() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    enable_two_factor(&t).await;
    t.logout().await;
    let token = pat(&t, &user.email, "script", "account:read").await;
    assert_eq!(get(&t, "/api/v1/me", Some(&token.token)).await.status(), Status::Ok);

    t.browser_admin().await;
    let id = t.user_row(&user.email).await.unwrap().public_id;
    let path = format!("/admin/users/{id}/two-factor/reset");
    let confirm = t.client.get(path.clone()).dispatch().await;
    assert_eq!(confirm.status(), Status::Ok);
    let csrf = extract_csrf(&confirm.into_string().await.unwrap()).expect("the confirmation posts with a csrf_token");
    let done = t.post_form(&path, Some(&csrf), &[]).await;
    assert_eq!(done.status(), Status::SeeOther);
    drop(done);

    assert_refused(get(&t, "/api/v1/me", Some(&token.token)).await, "token_revoked", "after the admin's reset").await;
    assert!(row_of(&t, &token).await.revoked_at.is_some());
    let revoked = events(&t, AuditKind::TokenRevoked).await;
    assert_eq!(revoked.len(), 1);
    assert_eq!((detail(&revoked[0])["tokens"].as_u64(), detail(&revoked[0])["by"].as_str()), (Some(1), Some("two_factor_reset")));
}

// --- 8. Last used, to the minute ---------------------------------------------------------

#[rocket::async_test]
async fn last_used_is_recorded_with_the_address_at_most_once_a_minute() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    let token = pat(&t, &user.email, "script", "account:read").await;
    assert_eq!((token.row.last_used_at, token.row.last_used_ip.as_deref()), (None, None), "never used yet");
    let me_from = |ip: &'static str| t.client.get("/api/v1/me").header(bearer(&token.token)).remote(from(ip)).dispatch();

    let before = now();
    assert_eq!(me_from("203.0.113.9").await.status(), Status::Ok);
    let first = row_of(&t, &token).await;
    let used = first.last_used_at.expect("last_used_at is set").0.unix_timestamp();
    assert!((before..=now()).contains(&used), "{used} is when it was used");
    assert_eq!(first.last_used_ip.as_deref(), Some("203.0.113.9"));

    rocket::tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(me_from("198.51.100.4").await.status(), Status::Ok);
    let second = row_of(&t, &token).await;
    assert_eq!(second.last_used_at, first.last_used_at, "a second use within the minute writes nothing");
    assert_eq!(second.last_used_ip, first.last_used_ip);

    // A minute later (the last use moved back), the next use is recorded.
    access_token::Entity::update_many()
        .col_expr(access_token::Column::LastUsedAt, Expr::value(used - 61))
        .filter(access_token::Column::Id.eq(token.row.id))
        .exec(&t.app().db)
        .await
        .unwrap();
    let before = now();
    assert_eq!(me_from("198.51.100.4").await.status(), Status::Ok);
    let third = row_of(&t, &token).await;
    assert!(third.last_used_at.unwrap().0.unix_timestamp() >= before, "recorded again");
    assert_eq!(third.last_used_ip.as_deref(), Some("198.51.100.4"));
}

// --- 9. The audit trail names the token ---------------------------------------------------

#[rocket::async_test]
async fn writes_made_with_a_token_leave_events_that_name_it() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    let token = pat(&t, &user.email, "backup script", "recipes:write").await;
    let created = json_of(t.post_json("/api/v1/recipes", Some(&token.token), &recipe_body("Logged loaf")).await, Status::Created, "written").await;
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/v1/recipes/{id}");
    assert_eq!(call(&t, Method::Put, &path, Some(&token.token), Some(&recipe_body("Logged loaf 2"))).await.status(), Status::Ok);
    assert_eq!(call(&t, Method::Delete, &path, Some(&token.token), None).await.status(), Status::NoContent);

    for kind in [AuditKind::RecipeCreated, AuditKind::RecipeUpdated, AuditKind::RecipeDeleted] {
        let found = events(&t, kind).await;
        assert_eq!(found.len(), 1, "{kind:?}: {found:?}");
        let event = &found[0];
        let detail = detail(event);
        assert_eq!(detail["token"], token.row.public_id.to_string(), "{kind:?} names the token by its public id: {detail}");
        assert_eq!(detail["token_name"], "backup script", "{kind:?} and its name: {detail}");
        assert_eq!(detail["recipe"], id, "{kind:?}: {detail}");
        assert_eq!(event.actor_public_id.map(|id| id.to_string()), Some(tokens.public_id.clone()), "{kind:?}: by the owner");
        assert!(!event.detail.contains(&token.token) && !event.detail.contains(&token.row.token_hash), "never the token itself");
    }
    assert_eq!(events(&t, AuditKind::RecipeCreated).await.len(), 1);
}

#[rocket::async_test]
async fn an_admins_patch_with_a_token_names_it() {
    let t = TestApp::spawn().await;
    let (admin, admin_tokens) = t.api_admin().await;
    let (_, cook) = t.api_signup().await;
    let token = pat(&t, &admin.email, "ops bot", "admin").await;
    let path = format!("/api/v1/users/{}", cook.public_id);
    let promoted = json_of(call(&t, Method::Patch, &path, Some(&token.token), Some(&json!({"role": "admin"}))).await, Status::Ok, "PATCH").await;
    assert_eq!(promoted["role"], "admin");
    assert_eq!(call(&t, Method::Patch, &path, Some(&token.token), Some(&json!({"disabled": true}))).await.status(), Status::Ok);

    for kind in [AuditKind::RoleChanged, AuditKind::UserDisabled] {
        let found: Vec<_> = events(&t, kind).await.into_iter().filter(|e| e.subject_public_id.map(|id| id.to_string()) == Some(cook.public_id.clone())).collect();
        assert_eq!(found.len(), 1, "{kind:?}: {found:?}");
        let detail = detail(&found[0]);
        assert_eq!(detail["token"], token.row.public_id.to_string(), "{kind:?} names the token: {detail}");
        assert_eq!(detail["token_name"], "ops bot", "{kind:?}: {detail}");
        assert_eq!(found[0].actor_public_id.map(|id| id.to_string()), Some(admin_tokens.public_id.clone()), "{kind:?}: by the admin");
    }
    let role = events(&t, AuditKind::RoleChanged).await.into_iter().find(|e| e.subject_public_id.map(|id| id.to_string()) == Some(cook.public_id.clone())).unwrap();
    assert_eq!((detail(&role)["from"].as_str(), detail(&role)["to"].as_str()), (Some("user"), Some("admin")), "the change itself is kept");
}

// --- 10. The export ---------------------------------------------------------------------

/// Every place in `value` that is a key named `key`, as paths.
fn keys_named(value: &Value, key: &str, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == key {
                    found.push(format!("{path}.{k} = {v}"));
                }
                keys_named(v, key, &format!("{path}.{k}"), found);
            }
        }
        Value::Array(items) => {
            for (n, v) in items.iter().enumerate() {
                keys_named(v, key, &format!("{path}[{n}]"), found);
            }
        }
        _ => {}
    }
}

#[rocket::async_test]
async fn the_export_through_the_api_takes_account_read_or_a_fresh_session_and_holds_no_secret() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    let fresh = t.api_login(&user).await;
    let recipe = json!({
        "name": "Grandmother's secret broth",
        "description": "Never told to anyone.",
        "cook_time": 95,
        "directions": "Simmer the bones.\nSkim.\nWait.",
        "visibility": "private",
    });
    assert_eq!(t.post_json("/api/v1/recipes", Some(&fresh.access), &recipe).await.status(), Status::Created);
    let token = pat(&t, &user.email, "exporter", "account:read").await;
    let row = t.user_row(&user.email).await.unwrap();

    let response = get(&t, "/api/v1/me/export", Some(&token.token)).await;
    assert_eq!(response.status(), Status::Ok);
    let disposition = response.headers().get_one("Content-Disposition").unwrap_or_default().to_owned();
    assert!(disposition.starts_with("attachment"), "{disposition:?}");
    assert_eq!(response.headers().get_one("Cache-Control"), Some("no-store"));
    let text = response.into_string().await.unwrap();
    let export: Value = serde_json::from_str(&text).expect("the export is JSON");

    assert_eq!(export["profile"]["email"], user.email.as_str());
    assert_eq!(export["profile"]["public_id"], fresh.public_id.as_str());
    let recipes = export["recipes"].as_array().expect("recipes");
    assert_eq!(recipes.len(), 1, "{recipes:?}");
    for field in ["name", "description", "cook_time", "directions", "visibility"] {
        assert_eq!(recipes[0][field], recipe[field], "the private recipe's {field}");
    }
    let listed: Vec<&Value> = export["access_tokens"].as_array().expect("access_tokens").iter().filter(|t| t["name"] == "exporter").collect();
    assert_eq!(listed.len(), 1, "the token is listed by name: {}", export["access_tokens"]);
    assert_eq!(listed[0]["scopes"], json!(["account:read"]), "with its scopes");

    for secret in ["password_hash", "token_hash", "rbx_pat_", token.token.as_str(), token.row.token_hash.as_str(), row.password_hash.as_str()] {
        assert!(!text.contains(secret), "the export holds {secret:?}");
    }
    let mut found = Vec::new();
    keys_named(&export, "user_id", "", &mut found);
    assert!(found.is_empty(), "no internal user id: {found:?}");
    let mut ids = Vec::new();
    keys_named(&export, "id", "", &mut ids);
    assert!(ids.iter().all(|id| !id.ends_with(&format!("= {}", row.id))), "the user's numeric id is nowhere: {ids:?}");
    assert!(export["profile"].get("id").is_none(), "{}", export["profile"]);

    // Sessions: a fresh one exports, a refreshed one is asked to log in.
    let refreshed = json_of(t.post_json("/api/v1/auth/refresh", Some(&fresh.refresh), &json!({})).await, Status::Ok, "a refresh").await;
    let stale = refreshed["access_token"].as_str().unwrap();
    assert_refused(get(&t, "/api/v1/me/export", Some(stale)).await, "fresh_token_required", "a refreshed access token").await;
    let again = t.api_login(&user).await;
    let by_session = get(&t, "/api/v1/me/export", Some(&again.access)).await;
    assert_eq!(by_session.status(), Status::Ok, "a fresh access token exports");
    assert!(by_session.headers().get_one("Content-Disposition").unwrap_or_default().starts_with("attachment"));
    let by_session: Value = by_session.into_json().await.unwrap();
    assert_eq!(by_session["recipes"][0]["name"], recipe["name"]);
}

// --- 11. The notice of a token about to expire -----------------------------------------

#[rocket::async_test]
async fn a_token_expiring_within_a_week_is_told_about_once_and_a_later_one_not_at_all() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    let soon = pat_until(&t, &user.email, "nightly-backup", "account:read", now() + 3 * DAY).await;
    let later = pat_until(&t, &user.email, "monthly-report", "account:read", now() + 30 * DAY).await;

    let first = recipebox::accounts::tokens::notify_expiring(&t.app().db, &t.app().mailer).await.expect("the first run");
    let second = recipebox::accounts::tokens::notify_expiring(&t.app().db, &t.app().mailer).await.expect("the second run");
    // The app's own hourly run may have told first, at its start.
    assert!(first <= 1 && second == 0, "queued {first} then {second}");

    let notice = t.mail(EXPIRING, 1).await.remove(0);
    assert!(notice.contains(&format!("To: {}", user.email)), "{notice}");
    assert!(notice.contains("nightly-backup"), "it names the token: {notice}");
    assert!(!notice.contains("monthly-report") && !notice.contains(&soon.token) && !notice.contains("rbx_pat_"), "{notice}");
    rocket::tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(t.mail(EXPIRING, 1).await.len(), 1, "exactly one notice");
    assert!(row_of(&t, &soon).await.expiry_noticed_at.is_some());
    assert!(row_of(&t, &later).await.expiry_noticed_at.is_none(), "a token 30 days from its end is not told about");
}
