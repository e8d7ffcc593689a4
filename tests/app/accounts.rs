//! Sign-up, login and logout in the browser (SPEC.md §4). CSRF, the origin
//! check and `next` redirects are the attacker's view, in `security.rs`.

use rocket::http::{ContentType, Status};

use crate::helpers::{TestApp, TestUser};

#[rocket::async_test]
async fn signup_sets_http_only_cookies_and_redirects_home() {
    let t = TestApp::spawn().await;
    let user = TestUser::random();
    let response = t.signup_as(&user).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Location"), Some("/"));
    let set_cookies: Vec<&str> = response.headers().get("Set-Cookie").collect();
    for name in ["access_token", "refresh_token"] {
        let cookie = set_cookies.iter().find(|c| c.starts_with(name)).unwrap_or_else(|| panic!("{name} cookie"));
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
            assert!(cookie.contains(flag), "{name} lacks {flag}: {cookie}");
        }
        assert!(!cookie.contains("Secure"), "cookie_secure = false in tests: {cookie}");
    }
    assert_eq!(response.headers().get_one("Cache-Control"), Some("no-store"));
    let home = t.client.get("/").dispatch().await.into_string().await.unwrap();
    assert!(home.contains(&user.username), "the home page names the user");
    assert!(home.contains("Log out"));
}

#[rocket::async_test]
async fn signup_with_bad_fields_returns_422_with_messages_and_keeps_values_but_not_passwords() {
    let t = TestApp::spawn().await;
    let csrf = t.csrf_from("/signup").await;
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("email", &[("email", "not-an-email"), ("username", "good_name"), ("password", "a long secret pw"), ("password_confirm", "a long secret pw")]),
        ("username", &[("email", "a@example.com"), ("username", "no spaces!"), ("password", "a long secret pw"), ("password_confirm", "a long secret pw")]),
        ("username", &[("email", "a@example.com"), ("username", "ab"), ("password", "a long secret pw"), ("password_confirm", "a long secret pw")]),
        ("password", &[("email", "a@example.com"), ("username", "good_name"), ("password", "short1"), ("password_confirm", "short1")]),
        ("password", &[("email", "a@example.com"), ("username", "good_name"), ("password", "password123"), ("password_confirm", "password123")]),
        ("password", &[("email", "a@example.com"), ("username", "good_name"), ("password", &"x".repeat(73)), ("password_confirm", &"x".repeat(73))]),
        ("password_confirm", &[("email", "a@example.com"), ("username", "good_name"), ("password", "a long secret pw"), ("password_confirm", "another secret")]),
    ];
    for (field, fields) in cases {
        let response = t.post_form("/signup", Some(&csrf), fields).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "case {field}: {fields:?}");
        let body = response.into_string().await.unwrap();
        assert!(body.contains(&format!(r#"id="{field}-error""#)), "case {field}: message beside the field");
        let username = fields.iter().find(|(k, _)| *k == "username").unwrap().1;
        assert!(body.contains(&format!(r#"value="{}""#, username.replace('!', "&#x21;"))) || body.contains(username), "case {field}: username kept");
        let password = fields.iter().find(|(k, _)| *k == "password").unwrap().1;
        assert!(!body.contains(password), "case {field}: the password is never echoed");
    }
    assert!(t.cookie("access_token").is_none(), "no account was made");
}

#[rocket::async_test]
async fn duplicate_email_or_username_returns_409_whatever_the_case() {
    let t = TestApp::spawn().await;
    let first = t.signup().await;
    t.logout().await;
    let mut again = TestUser::random();
    again.email = first.email.to_uppercase();
    let response = t.signup_as(&again).await;
    assert_eq!(response.status(), Status::Conflict);
    assert!(response.into_string().await.unwrap().contains("already exists"));

    let mut same_name = TestUser::random();
    same_name.username = first.username.to_uppercase();
    let response = t.signup_as(&same_name).await;
    assert_eq!(response.status(), Status::Conflict);
    assert!(response.into_string().await.unwrap().contains("username is taken"));
}

#[rocket::async_test]
async fn login_with_wrong_password_or_unknown_email_returns_401_with_one_message() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    t.logout().await;
    let mut bodies = Vec::new();
    for (email, password) in [(user.email.as_str(), "wrong password here"), ("nobody@example.com", user.password.as_str())] {
        let response = t.login(email, password).await;
        assert_eq!(response.status(), Status::Unauthorized);
        let body = response.into_string().await.unwrap();
        assert!(body.contains("Invalid email or password"));
        assert!(!body.contains(password), "the password is not echoed");
        assert!(body.contains(&format!(r#"value="{email}""#)), "the email is kept");
        bodies.push(body.replace(email, "EMAIL"));
    }
    assert_eq!(bodies[0], bodies[1], "both failures read the same");
    assert!(t.cookie("access_token").is_none());
}

#[rocket::async_test]
async fn logout_revokes_both_tokens_and_clears_the_cookies() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let access = t.cookie("access_token").unwrap();
    let refresh = t.cookie("refresh_token").unwrap();
    let csrf = t.session_csrf().await;
    let response = t.post_form("/logout", Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Location"), Some("/login"));
    assert!(t.cookie("access_token").is_none() && t.cookie("refresh_token").is_none());
    let me = t.get_json("/api/v1/me", Some(&access)).await;
    assert_eq!(crate::helpers::error_code(me, Status::Unauthorized).await, "token_revoked");
    let rotated = t.post_json("/api/v1/auth/refresh", Some(&refresh), &serde_json::json!({})).await;
    assert_eq!(crate::helpers::error_code(rotated, Status::Unauthorized).await, "token_revoked");
}

#[rocket::async_test]
async fn an_expired_access_cookie_is_refreshed_transparently() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let old_refresh = t.cookie("refresh_token").unwrap();
    // An access cookie whose token expired a minute ago (past the leeway).
    let mut claims = crate::helpers::claims_of(&t.cookie("access_token").unwrap());
    claims["exp"] = serde_json::json!(crate::helpers::now() - 60);
    let expired = t.signer().sign(&claims, jsonwebtoken::Algorithm::HS256);
    // A new client (same database) that holds just these two cookies.
    let t = t.restart().await;
    let me = t
        .client
        .get("/me")
        .cookie(rocket::http::Cookie::new("access_token", expired.clone()))
        .cookie(rocket::http::Cookie::new("refresh_token", old_refresh.clone()))
        .dispatch()
        .await;
    assert_eq!(me.status(), Status::Ok);
    assert_eq!(me.headers().get_one("Cache-Control"), Some("no-store"));
    assert!(me.into_string().await.unwrap().contains(&user.email));
    let new_refresh = t.cookie("refresh_token").unwrap();
    assert_ne!(old_refresh, new_refresh, "the refresh token was rotated");
    assert_ne!(t.cookie("access_token").unwrap(), expired, "a new access cookie was set");
}

#[rocket::async_test]
async fn security_headers_are_on_every_page() {
    let t = TestApp::spawn().await;
    for path in ["/", "/login", "/signup", "/no-such-page"] {
        let response = t.client.get(path).dispatch().await;
        let headers = response.headers();
        let csp = headers.get_one("Content-Security-Policy").unwrap_or_default();
        assert!(csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(headers.get_one("X-Content-Type-Options"), Some("nosniff"), "{path}");
        assert_eq!(headers.get_one("X-Frame-Options"), Some("DENY"), "{path}");
        assert_eq!(headers.get_one("Referrer-Policy"), Some("same-origin"), "{path}");
    }
}

#[rocket::async_test]
async fn unknown_paths_get_the_styled_404_page() {
    let t = TestApp::spawn().await;
    for path in ["/no-such-page", "/recipes/abc", "/admin/users/not-a-uuid"] {
        let response = t.client.get(path).dispatch().await;
        assert_eq!(response.status(), Status::NotFound, "{path}");
        assert_eq!(response.content_type(), Some(ContentType::HTML));
        assert!(response.into_string().await.unwrap().contains("There is nothing here"), "{path}");
    }
}

#[rocket::async_test]
async fn healthz_reports_ok_when_the_database_answers() {
    let t = TestApp::spawn().await;
    let response = t.client.get("/healthz").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.into_json::<serde_json::Value>().await.unwrap()["status"], "ok");
}

#[rocket::async_test]
async fn logging_out_everywhere_ends_every_session() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let api = t.api_login(&user).await;
    let csrf = t.session_csrf().await;
    let response = t.post_form("/me/logout-everywhere", Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::SeeOther);
    let me = t.get_json("/api/v1/me", Some(&api.access)).await;
    assert_eq!(crate::helpers::error_code(me, Status::Unauthorized).await, "token_revoked");
    // A login made right after works.
    let fresh = t.api_login(&user).await;
    assert_eq!(t.get_json("/api/v1/me", Some(&fresh.access)).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn emails_that_differ_by_an_accent_are_two_accounts() {
    let t = TestApp::spawn().await;
    for (email, username) in [("jose@example.com", "jose_plain"), ("josé@example.com", "jose_accent")] {
        let body = serde_json::json!({"email": email, "username": username, "password": crate::helpers::PASSWORD});
        let response = t.post_json("/api/v1/users", None, &body).await;
        assert_eq!(response.status(), Status::Created, "{email}: {}", response.into_string().await.unwrap_or_default());
    }
}
