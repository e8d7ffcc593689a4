//! The JSON API's accounts and auth endpoints (SPEC.md §5).

use base64::Engine as _;
use rocket::http::{ContentType, Header, Status};
use serde_json::{json, Value};

use crate::helpers::{bearer, error_code, TestApp, TestUser};

#[rocket::async_test]
async fn register_returns_201_with_the_user_and_a_token_pair() {
    let t = TestApp::spawn().await;
    let user = TestUser::random();
    let response = t
        .post_json("/api/v1/users", None, &json!({"email": user.email.to_uppercase(), "username": user.username, "password": user.password}))
        .await;
    assert_eq!(response.status(), Status::Created);
    assert_eq!(response.headers().get_one("Cache-Control"), Some("no-store"));
    let body: Value = response.into_json().await.unwrap();
    let shown = body["user"].as_object().unwrap();
    let mut keys: Vec<&str> = shown.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["created_at", "email", "public_id", "role", "username"], "no hash, no internal id");
    assert_eq!(body["user"]["email"], user.email, "stored lower-case");
    assert_eq!(body["user"]["role"], "user");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
}

#[rocket::async_test]
async fn register_with_bad_fields_returns_422_naming_each_field() {
    let t = TestApp::spawn().await;
    let response = t.post_json("/api/v1/users", None, &json!({"email": "nope", "username": "x", "password": "short"})).await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body["error"]["code"], "validation_failed");
    for field in ["email", "username", "password"] {
        assert!(body["error"]["fields"][field].is_string(), "{field}: {body}");
    }
    let long = t.post_json("/api/v1/users", None, &json!({"email": "a@example.com", "username": "abc", "password": "é".repeat(37)})).await;
    let body: Value = long.into_json().await.unwrap();
    assert!(body["error"]["fields"]["password"].as_str().unwrap().contains("72 bytes"));
}

#[rocket::async_test]
async fn register_with_a_taken_email_returns_409() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    let response = t
        .post_json("/api/v1/users", None, &json!({"email": user.email.to_uppercase(), "username": "another_one", "password": user.password}))
        .await;
    assert_eq!(response.status(), Status::Conflict);
    let body: Value = response.into_json().await.unwrap();
    assert!(body["error"]["fields"]["email"].is_string());
}

#[rocket::async_test]
async fn malformed_json_is_400_and_a_wrong_type_is_422() {
    let t = TestApp::spawn().await;
    let response = t.client.post("/api/v1/users").header(ContentType::JSON).body("{not json").dispatch().await;
    assert_eq!(error_code(response, Status::BadRequest).await, "bad_request");
    let response = t.post_json("/api/v1/users", None, &json!({"email": 5, "username": "abc", "password": "x"})).await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let body: Value = response.into_json().await.unwrap();
    assert!(body["error"]["fields"]["email"].is_string(), "{body}");
}

#[rocket::async_test]
async fn login_works_with_json_and_with_http_basic() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    let tokens = t.api_login(&user).await;
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", user.email, user.password));
    let response = t.client.post("/api/v1/auth/login").header(Header::new("Authorization", format!("Basic {basic}"))).dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.headers().get_one("Cache-Control"), Some("no-store"));
}

#[rocket::async_test]
async fn login_failures_are_401_with_one_message_and_a_bearer_challenge() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    let mut messages = Vec::new();
    for (email, password) in [(user.email.as_str(), "wrong password!"), ("nobody@example.com", user.password.as_str())] {
        let response = t.post_json("/api/v1/auth/login", None, &json!({"email": email, "password": password})).await;
        assert_eq!(response.status(), Status::Unauthorized);
        assert!(response.headers().get_one("WWW-Authenticate").unwrap().starts_with("Bearer"));
        let body: Value = response.into_json().await.unwrap();
        messages.push(body["error"].clone());
    }
    assert_eq!(messages[0], messages[1]);
    assert_eq!(messages[0]["message"], "Invalid email or password");
}

#[rocket::async_test]
async fn me_without_a_token_is_401_token_missing_with_www_authenticate() {
    let t = TestApp::spawn().await;
    let response = t.get_json("/api/v1/me", None).await;
    let challenge = response.headers().get_one("WWW-Authenticate").unwrap().to_owned();
    assert!(challenge.contains(r#"error="invalid_token""#) && challenge.contains("error_description"), "{challenge}");
    assert_eq!(error_code(response, Status::Unauthorized).await, "token_missing");
}

#[rocket::async_test]
async fn the_api_ignores_cookies_and_query_string_tokens() {
    let t = TestApp::spawn().await;
    t.signup().await; // the client now holds access cookies
    let access = t.cookie("access_token").unwrap();
    assert_eq!(error_code(t.get_json("/api/v1/me", None).await, Status::Unauthorized).await, "token_missing");
    let query = t.client.get(format!("/api/v1/me?access_token={access}")).dispatch().await;
    assert_eq!(error_code(query, Status::Unauthorized).await, "token_missing");
}

#[rocket::async_test]
async fn refresh_rotates_the_pair_and_keeps_the_session() {
    let t = TestApp::spawn().await;
    let (_, tokens) = t.api_signup().await;
    let response = t.post_json("/api/v1/auth/refresh", Some(&tokens.refresh), &json!({})).await;
    assert_eq!(response.status(), Status::Ok);
    let next = crate::helpers::tokens_of(response.into_json().await.unwrap());
    let (old, new) = (crate::helpers::claims_of(&tokens.refresh), crate::helpers::claims_of(&next.refresh));
    assert_eq!(old["sid"], new["sid"], "same session");
    assert_ne!(old["jti"], new["jti"]);
    assert_eq!(crate::helpers::claims_of(&next.access)["fresh"], false, "refreshed tokens are not fresh");
    assert_eq!(t.get_json("/api/v1/me", Some(&next.access)).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn logout_with_post_or_delete_revokes_access_and_refresh_tokens() {
    let t = TestApp::spawn().await;
    let (user, _) = t.api_signup().await;
    for method in ["POST", "DELETE"] {
        let tokens = t.api_login(&user).await;
        let body = json!({"refresh_token": tokens.refresh}).to_string();
        let request = match method {
            "POST" => t.client.post("/api/v1/auth/logout"),
            _ => t.client.delete("/api/v1/auth/logout"),
        };
        let response = request.header(bearer(&tokens.access)).header(ContentType::JSON).body(body).dispatch().await;
        assert_eq!(response.status(), Status::NoContent, "{method}");
        assert_eq!(error_code(t.get_json("/api/v1/me", Some(&tokens.access)).await, Status::Unauthorized).await, "token_revoked");
        let refresh = t.post_json("/api/v1/auth/refresh", Some(&tokens.refresh), &json!({})).await;
        assert_eq!(error_code(refresh, Status::Unauthorized).await, "token_revoked", "{method}");
    }
}

#[rocket::async_test]
async fn a_disabled_user_is_locked_out_at_once_and_admins_see_everyone() {
    let t = TestApp::spawn().await;
    let (_, admin) = t.api_admin().await;
    let (_, victim) = t.api_signup().await;
    let path = format!("/api/v1/users/{}", victim.public_id);
    assert_eq!(t.get_json(&path, Some(&victim.access)).await.status(), Status::Ok, "self");
    let response = t.client.patch(path.clone()).header(bearer(&admin.access)).header(ContentType::JSON).body(r#"{"disabled": true}"#).dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(error_code(t.get_json("/api/v1/me", Some(&victim.access)).await, Status::Unauthorized).await, "token_revoked");
    let list = t.get_json("/api/v1/users?per_page=1000", Some(&admin.access)).await;
    let body: Value = list.into_json().await.unwrap();
    assert_eq!(body["total"], 2);
    assert_eq!(body["per_page"], 100, "per_page is capped");
    assert_eq!(error_code(t.get_json("/api/v1/users", Some(&victim.access)).await, Status::Unauthorized).await, "token_revoked");
}

#[rocket::async_test]
async fn a_72_byte_password_signs_up_and_logs_in_but_73_is_refused() {
    let t = TestApp::spawn().await;
    let mut user = TestUser::random();
    user.password = "é".repeat(36); // 72 bytes
    let response = t.post_json("/api/v1/users", None, &json!({"email": user.email, "username": user.username, "password": user.password})).await;
    assert_eq!(response.status(), Status::Created);
    t.api_login(&user).await;
    let mut almost = user.clone();
    almost.password = format!("{}e", "é".repeat(35)); // same prefix, last byte differs
    let wrong = t.post_json("/api/v1/auth/login", None, &json!({"email": almost.email, "password": almost.password})).await;
    assert_eq!(wrong.status(), Status::Unauthorized);
}
