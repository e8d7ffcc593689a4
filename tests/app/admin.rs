//! The admin pages and the admin API (SPEC.md §4 admin rows, §5, §6): who may
//! use them, the user list, a user's page, the confirmation steps, the
//! last-active-admin rule, disable / enable / force logout / delete, role
//! changes, and the audit trail.

use rocket::http::{ContentType, Method, Status};
use rocket::local::asynchronous::LocalResponse;
use serde_json::{json, Value};
use uuid::Uuid;

use recipebox::domain::{AuditKind, Role};
use recipebox::store::audit::{EventFilter, EventRow};

use crate::helpers::{bearer, enc, error_code, extract_csrf, location, TestApp, TestUser, Tokens};

// Helpers

/// Undoes Tera's HTML escaping (it writes `/` as `&#x2F;`), so that paths in
/// attributes and apostrophes in messages can be looked for as written.
fn unescape(html: &str) -> String {
    html.replace("&#x2F;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}



/// A GET: status, `Location` and the body, unescaped.
async fn get(t: &TestApp, path: &str) -> (Status, String, String) {
    let response = t.client.get(path.to_owned()).dispatch().await;
    let (status, to) = (response.status(), location(&response));
    (status, to, unescape(&response.into_string().await.unwrap_or_default()))
}

/// A page that must answer 200: its body, unescaped.
async fn page(t: &TestApp, path: &str) -> String {
    let (status, _, body) = get(t, path).await;
    assert_eq!(status, Status::Ok, "GET {path}");
    body
}

/// A form POST: status, `Location` and the body, unescaped.
async fn post(t: &TestApp, path: &str, csrf: Option<&str>, fields: &[(&str, &str)]) -> (Status, String, String) {
    let response = t.post_form(path, csrf, fields).await;
    let (status, to) = (response.status(), location(&response));
    (status, to, unescape(&response.into_string().await.unwrap_or_default()))
}

/// A PATCH or DELETE to the API.
async fn api_send<'a>(t: &'a TestApp, method: Method, path: &str, token: &str, body: Option<&Value>) -> LocalResponse<'a> {
    let mut request = t.client.req(method, path.to_owned()).header(bearer(token));
    if let Some(body) = body {
        request = request.header(ContentType::JSON).body(body.to_string());
    }
    request.dispatch().await
}

async fn api_patch_user<'a>(t: &'a TestApp, token: &str, public_id: &str, body: Value) -> LocalResponse<'a> {
    api_send(t, Method::Patch, &format!("/api/v1/users/{public_id}"), token, Some(&body)).await
}

/// Registers `user` over the API.
async fn api_signup_as(t: &TestApp, user: &TestUser) -> Tokens {
    let response = t
        .post_json("/api/v1/users", None, &json!({"email": user.email, "username": user.username, "password": user.password}))
        .await;
    assert_eq!(response.status(), Status::Created, "API sign-up of {}", user.username);
    crate::helpers::tokens_of(response.into_json().await.unwrap())
}

async fn api_create_recipe(t: &TestApp, token: &str, name: &str) -> i64 {
    let body = json!({"name": name, "description": "Tasty.", "cook_time": 20, "directions": "Cook it."});
    let response = t.post_json("/api/v1/recipes", Some(token), &body).await;
    assert_eq!(response.status(), Status::Created, "create {name}");
    response.into_json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// The public id of the user with `email`.
async fn public_id(t: &TestApp, email: &str) -> String {
    t.user_row(email).await.expect("the user exists").public_id.to_string()
}

/// The stored user with this public id, if any.
async fn user_by_id(t: &TestApp, public_id: &str) -> Option<recipebox::entities::user::Model> {
    let id = Uuid::parse_str(public_id).unwrap();
    recipebox::store::users::find_by_public_id(&t.app().db, id).await.unwrap()
}

async fn active_sessions(t: &TestApp, public_id: &str) -> u64 {
    let user = user_by_id(t, public_id).await.expect("the user exists");
    recipebox::store::sessions::count_active(&t.app().db, user.id).await.unwrap()
}

/// Audit events of `kind` (about `subject`, when given), newest first.
async fn events(t: &TestApp, kind: AuditKind, subject: Option<&str>) -> Vec<EventRow> {
    let filter = EventFilter { kind: Some(kind), subject: subject.map(|s| Uuid::parse_str(s).unwrap()) };
    recipebox::store::audit::list(&t.app().db, filter, 1, 100).await.unwrap().items
}

/// How many rows the body of the page's (first) table holds.
fn table_rows(html: &str) -> usize {
    table(html).matches("<tr").count()
}

/// The body of the page's (first) table: its rows, without the flash message.
fn table(html: &str) -> &str {
    match (html.find("<tbody>"), html.find("</tbody>")) {
        (Some(start), Some(end)) => &html[start..end],
        _ => "",
    }
}

/// The form that posts to `action`, from its opening tag to `</form>`.
fn form_posting_to<'a>(html: &'a str, action: &str) -> Option<&'a str> {
    let start = html.find(&format!(r#"<form method="post" action="{action}""#))?;
    let end = html[start..].find("</form>")?;
    Some(&html[start..start + end])
}

/// The "Active sessions" figure on a user's admin page.
fn sessions_shown(html: &str) -> u64 {
    let marker = "<dt>Active sessions</dt><dd>";
    let start = html.find(marker).expect("the page shows the active sessions") + marker.len();
    let end = html[start..].find('<').unwrap();
    html[start..start + end].trim().parse().unwrap()
}

/// The admin routes about one user: GET paths of pages and POST actions.
fn user_routes(id: &str) -> (Vec<String>, Vec<(String, Vec<(&'static str, &'static str)>)>) {
    let gets = [
        "/admin".to_owned(),
        "/admin/users".to_owned(),
        format!("/admin/users/{id}"),
        format!("/admin/users/{id}/role?role=admin"),
        format!("/admin/users/{id}/role"),
        format!("/admin/users/{id}/disable"),
        format!("/admin/users/{id}/enable"),
        format!("/admin/users/{id}/logout"),
        format!("/admin/users/{id}/delete"),
        "/admin/audit".to_owned(),
    ];
    let posts = vec![
        (format!("/admin/users/{id}/role"), vec![("role", "admin")]),
        (format!("/admin/users/{id}/disable"), vec![]),
        (format!("/admin/users/{id}/enable"), vec![]),
        (format!("/admin/users/{id}/logout"), vec![]),
        (format!("/admin/users/{id}/delete"), vec![]),
    ];
    (gets.to_vec(), posts)
}

// Who may use the admin pages

#[rocket::async_test]
async fn every_admin_page_answers_an_admin_with_200_and_every_action_with_303() {
    let t = TestApp::spawn().await;
    let (_, target) = t.api_signup().await;
    t.browser_admin().await;
    let id = target.public_id.as_str();
    let (gets, posts) = user_routes(id);
    for path in &gets {
        let (status, to, body) = get(&t, path).await;
        if path == "/admin" {
            assert_eq!((status, to.as_str()), (Status::SeeOther, "/admin/users"), "GET /admin");
        } else {
            assert_eq!(status, Status::Ok, "GET {path}");
            assert!(body.contains(r#"aria-label="Admin""#), "{path} has the admin navigation");
        }
    }
    let csrf = t.session_csrf().await;
    for (path, fields) in &posts {
        let (status, to, _) = post(&t, path, Some(&csrf), fields).await;
        assert_eq!(status, Status::SeeOther, "POST {path}");
        let expected = if path.ends_with("/delete") { "/admin/users".to_owned() } else { format!("/admin/users/{id}") };
        assert_eq!(to, expected, "POST {path}");
    }
}

#[rocket::async_test]
async fn a_plain_user_gets_the_403_page_on_every_admin_route_even_with_their_own_csrf_token() {
    let t = TestApp::spawn().await;
    let (_, target) = t.api_signup().await;
    t.signup().await;
    let (gets, posts) = user_routes(&target.public_id);
    for path in &gets {
        let response = t.client.get(path.clone()).dispatch().await;
        assert_eq!(response.status(), Status::Forbidden, "GET {path}");
        assert_eq!(response.content_type(), Some(ContentType::HTML), "GET {path}");
        let body = response.into_string().await.unwrap();
        assert!(body.contains("You are not allowed to do that.") && body.contains("site-header"), "GET {path}: the styled 403 page");
    }
    let own_csrf = t.session_csrf().await;
    for (path, fields) in &posts {
        let (status, _, body) = post(&t, path, Some(&own_csrf), fields).await;
        assert_eq!(status, Status::Forbidden, "POST {path}");
        assert!(body.contains("You are not allowed to do that."), "POST {path}");
    }
    let row = user_by_id(&t, &target.public_id).await.expect("not deleted");
    assert_eq!((row.role, row.disabled_at), (Role::User, None), "nothing changed");
    assert_eq!(t.get_json("/api/v1/me", Some(&target.access)).await.status(), Status::Ok, "not logged out");
}

#[rocket::async_test]
async fn an_anonymous_visitor_is_sent_to_log_in_from_every_admin_route() {
    let t = TestApp::spawn().await;
    let (_, target) = t.api_signup().await;
    let (gets, posts) = user_routes(&target.public_id);
    for path in &gets {
        let (status, to, _) = get(&t, path).await;
        assert_eq!(status, Status::SeeOther, "GET {path}");
        assert_eq!(to, format!("/login?next={}", enc(path)), "GET {path}");
    }
    for (path, fields) in &posts {
        let (status, to, _) = post(&t, path, Some("no-session-no-token"), fields).await;
        assert_eq!((status, to.as_str()), (Status::SeeOther, "/login"), "POST {path}");
    }
    let row = user_by_id(&t, &target.public_id).await.expect("not deleted");
    assert_eq!((row.role, row.disabled_at), (Role::User, None), "nothing changed");
}

#[rocket::async_test]
async fn a_public_id_that_is_not_a_uuid_is_404_for_admin_user_and_anonymous_alike() {
    let t = TestApp::spawn().await;
    let paths = ["/admin/users/not-a-uuid", "/admin/users/not-a-uuid/disable", "/admin/users/not-a-uuid/role", "/admin/users/12/delete"];
    let check = |who: &'static str| {
        let t = &t;
        async move {
            for path in paths {
                let (status, _, body) = get(t, path).await;
                assert_eq!(status, Status::NotFound, "{who}: GET {path}");
                assert!(body.contains("There is nothing here"), "{who}: GET {path}");
                if path != "/admin/users/not-a-uuid" {
                    let csrf = if who == "anonymous" { None } else { Some(t.session_csrf().await) };
                    let (status, _, _) = post(t, path, csrf.as_deref(), &[("role", "admin")]).await;
                    assert_eq!(status, Status::NotFound, "{who}: POST {path}");
                }
            }
        }
    };
    check("anonymous").await;
    let user = t.signup().await;
    check("user").await;
    t.make_admin(&user.email).await;
    check("admin").await;
    // A well-formed id of nobody is 404 for the admin too.
    let nobody = Uuid::new_v4();
    for path in [format!("/admin/users/{nobody}"), format!("/admin/users/{nobody}/disable"), format!("/admin/users/{nobody}/role")] {
        assert_eq!(get(&t, &path).await.0, Status::NotFound, "GET {path}");
    }
    let csrf = t.session_csrf().await;
    assert_eq!(post(&t, &format!("/admin/users/{nobody}/disable"), Some(&csrf), &[]).await.0, Status::NotFound);
}

#[rocket::async_test]
async fn an_unknown_action_is_404_for_admin_user_and_anonymous_alike() {
    let t = TestApp::spawn().await;
    let (_, target) = t.api_signup().await;
    let path = format!("/admin/users/{}/explode", target.public_id);
    assert_eq!(get(&t, &path).await.0, Status::NotFound, "anonymous: GET {path}");
    let user = t.signup().await;
    assert_eq!(get(&t, &path).await.0, Status::NotFound, "user: GET {path}");
    let csrf = t.session_csrf().await;
    assert_eq!(post(&t, &path, Some(&csrf), &[]).await.0, Status::NotFound, "user: POST {path}");
    t.make_admin(&user.email).await;
    let (status, _, body) = get(&t, &path).await;
    assert_eq!(status, Status::NotFound, "admin: GET {path}");
    assert!(body.contains("There is nothing here"));
    assert_eq!(post(&t, &path, Some(&csrf), &[]).await.0, Status::NotFound, "admin: POST {path}");
}

#[rocket::async_test]
async fn admin_actions_without_the_admins_csrf_token_are_refused_with_403_and_change_nothing() {
    let t = TestApp::spawn().await;
    let (_, target) = t.api_signup().await;
    t.browser_admin().await;
    let (_, posts) = user_routes(&target.public_id);
    for csrf in [None, Some("wrong-token-wrong-token-wrong-token")] {
        for (path, fields) in &posts {
            let (status, _, body) = post(&t, path, csrf, fields).await;
            assert_eq!(status, Status::Forbidden, "POST {path} with csrf {csrf:?}");
            assert!(body.contains("Form expired"), "POST {path}");
        }
    }
    let row = user_by_id(&t, &target.public_id).await.expect("not deleted");
    assert_eq!((row.role, row.disabled_at), (Role::User, None), "nothing changed");
    assert_eq!(t.get_json("/api/v1/me", Some(&target.access)).await.status(), Status::Ok, "not logged out");
}

/// A plain user whose access cookie has expired is refreshed by the guard
/// (the refresh token rotates) before the admin guard refuses them; the 403
/// page must still hand the browser the new cookies, or its next request
/// presents the spent refresh token and is taken for token theft.
#[rocket::async_test]
async fn a_plain_user_with_an_expired_access_cookie_stays_logged_in_after_the_403_page() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let old_refresh = t.cookie("refresh_token").unwrap();
    let mut claims = crate::helpers::claims_of(&t.cookie("access_token").unwrap());
    claims["exp"] = json!(crate::helpers::now() - 60);
    let expired = t.signer().sign(&claims, jsonwebtoken::Algorithm::HS256);
    // A browser that holds just these two cookies.
    let t = t.restart().await;
    let response = t
        .client
        .get("/admin/users")
        .cookie(rocket::http::Cookie::new("access_token", expired.clone()))
        .cookie(rocket::http::Cookie::new("refresh_token", old_refresh.clone()))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Forbidden);
    drop(response);
    // The browser keeps what it was given, or else its old cookies.
    let access = t.cookie("access_token").unwrap_or(expired);
    let refresh = t.cookie("refresh_token").unwrap_or(old_refresh);
    let me = t
        .client
        .get("/me")
        .cookie(rocket::http::Cookie::new("access_token", access))
        .cookie(rocket::http::Cookie::new("refresh_token", refresh))
        .dispatch()
        .await;
    assert_eq!(me.status(), Status::Ok, "still logged in after the 403 page");
    assert!(events(&t, AuditKind::RefreshReuseDetected, None).await.is_empty(), "not taken for token theft");
}

#[rocket::async_test]
async fn the_admin_link_is_in_the_navigation_for_admins_only() {
    let t = TestApp::spawn().await;
    let link = r#"<a href="/admin/users">Admin</a>"#;
    assert!(!page(&t, "/").await.contains(link), "anonymous");
    let user = t.signup().await;
    assert!(!page(&t, "/").await.contains(link), "plain user");
    t.make_admin(&user.email).await;
    assert!(page(&t, "/").await.contains(link), "admin");
    assert!(page(&t, "/recipes").await.contains(link), "admin, on every page");
}

// The user list

#[rocket::async_test]
async fn the_user_list_shows_twenty_a_page_newest_first_with_every_column() {
    let t = TestApp::spawn().await;
    let admin = t.browser_admin().await;
    let mut users = Vec::new();
    for _ in 0..21 {
        let (user, tokens) = t.api_signup().await;
        users.push((user, tokens.public_id));
    }
    t.make_admin(&users[3].0.email).await;
    let first = page(&t, "/admin/users").await;
    for column in ["Username", "Email", "Role", "Status", "Created", "Last login", "Public id"] {
        assert!(first.contains(&format!("<th>{column}</th>")), "column {column}");
    }
    assert!(first.contains("22 users"));
    assert_eq!(table_rows(&first), 20);
    // Newest first: the last 20 sign-ups, latest at the top.
    let positions: Vec<usize> = users[1..].iter().rev().map(|(u, _)| first.find(&u.username).expect("on page 1")).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "newest first");
    let (newest, newest_id) = &users[20];
    for cell in [newest.username.as_str(), &newest.email, newest_id, r#"<td data-label="Role">user</td>"#, r#"<td data-label="Status">active</td>"#, r#"<span class="badge">admin</span>"#] {
        assert!(first.contains(cell), "page 1 shows {cell}");
    }
    assert!(first.contains(r#"rel="next" href="/admin/users?page=2""#));
    let second = page(&t, "/admin/users?page=2").await;
    assert_eq!(table_rows(&second), 2, "page 2 holds the rest");
    let rest = table(&second);
    assert!(rest.contains(&users[0].0.username) && rest.contains(&admin.username));
    assert!(rest.find(&users[0].0.username) < rest.find(&admin.username), "newest first on page 2 too");
    assert!(!rest.contains(&users[1].0.username));
    let past = page(&t, "/admin/users?page=3").await;
    assert_eq!(table_rows(&past), 0, "a page past the end has no rows");
    assert!(past.contains("No users on this page"));
}

#[rocket::async_test]
async fn the_user_list_search_is_a_literal_case_insensitive_substring_of_email_and_username() {
    let t = TestApp::spawn().await;
    t.browser_admin().await;
    let underscore = TestUser { email: "marta.lopez@example.com".into(), username: "Marta_Lopez".into(), password: crate::helpers::PASSWORD.into() };
    let plain = TestUser { email: "mx@example.org".into(), username: "martaxlopez".into(), password: crate::helpers::PASSWORD.into() };
    api_signup_as(&t, &underscore).await;
    api_signup_as(&t, &plain).await;
    for (q, expected) in [
        ("MARTA_LOPEZ", vec!["Marta_Lopez"]),
        ("a_l", vec!["Marta_Lopez"]),
        ("TA.LO", vec!["Marta_Lopez"]),
        ("EXAMPLE.ORG", vec!["martaxlopez"]),
        ("MARTA", vec!["Marta_Lopez", "martaxlopez"]),
        ("a%l", vec![]),
        ("%", vec![]),
        ("_lopez_", vec![]),
        ("nobody-here", vec![]),
    ] {
        let body = page(&t, &format!("/admin/users?q={}", enc(q))).await;
        assert_eq!(table_rows(&body), expected.len(), "q={q}");
        for name in ["Marta_Lopez", "martaxlopez"] {
            let link = format!(">{name}</a>");
            assert_eq!(body.contains(&link), expected.contains(&name), "q={q}: {name}");
        }
        if expected.is_empty() {
            assert!(body.contains(&format!("No user matches “{q}”")), "q={q}: the empty state");
        }
    }
}

#[rocket::async_test]
async fn the_user_list_refuses_bad_page_numbers_and_overlong_searches_with_400() {
    let t = TestApp::spawn().await;
    t.browser_admin().await;
    for query in ["page=0", "page=abc", "page=-1", "page=1.5"] {
        let (status, _, body) = get(&t, &format!("/admin/users?{query}")).await;
        assert_eq!(status, Status::BadRequest, "{query}");
        assert!(body.contains("page must be a whole number"), "{query}: the page says why");
    }
    let (status, _, body) = get(&t, &format!("/admin/users?q={}", "a".repeat(201))).await;
    assert_eq!(status, Status::BadRequest, "q of 201 characters");
    assert!(body.contains("at most 200 characters"));
    assert_eq!(get(&t, &format!("/admin/users?q={}", "a".repeat(200))).await.0, Status::Ok, "q of 200 characters");
}

// One user's page

#[rocket::async_test]
async fn the_user_page_shows_the_profile_active_sessions_paginated_recipes_and_audit_events() {
    let t = TestApp::spawn().await;
    let (cook, tokens) = t.api_signup().await;
    t.api_login(&cook).await;
    for n in 1..=21 {
        api_create_recipe(&t, &tokens.access, &format!("Stew number {n:02}")).await;
    }
    t.browser_admin().await;
    let path = format!("/admin/users/{}", tokens.public_id);
    let body = page(&t, &path).await;
    for text in [cook.username.as_str(), &cook.email, &tokens.public_id, "<dd>user</dd>", "<dd>active</dd>", "Recipes (21)"] {
        assert!(body.contains(text), "the page shows {text}");
    }
    assert_eq!(sessions_shown(&body), 2, "the sign-up's and the login's sessions");
    assert_eq!(body.matches(r#"<li class="card">"#).count(), 20, "20 recipes a page");
    assert!(body.contains("Stew number 21") && !body.contains("Stew number 01"), "newest first");
    assert!(body.contains(&format!(r#"rel="next" href="{path}?page=2""#)));
    // The audit events about them.
    assert!(body.contains("Security events") && body.contains("Account created") && body.contains("Logged in"));
    assert!(body.contains(&format!(r#"href="/admin/audit?user={}""#, tokens.public_id)));
    let second = page(&t, &format!("{path}?page=2")).await;
    assert_eq!(second.matches(r#"<li class="card">"#).count(), 1);
    assert!(second.contains("Stew number 01"));
    assert_eq!(get(&t, &format!("{path}?page=0")).await.0, Status::BadRequest);
}

// Confirmation steps

#[rocket::async_test]
async fn a_get_of_each_action_shows_a_confirmation_form_posting_to_the_same_path_and_changes_nothing() {
    let t = TestApp::spawn().await;
    let (_, target) = t.api_signup().await;
    let recipe = api_create_recipe(&t, &target.access, "Kept soup").await;
    t.browser_admin().await;
    let csrf = t.session_csrf().await;
    let id = target.public_id.as_str();
    for (path, question, role) in [
        (format!("/admin/users/{id}/role?role=admin"), "an admin?", Some("admin")),
        (format!("/admin/users/{id}/role"), "an admin?", Some("admin")),
        (format!("/admin/users/{id}/role?role=user"), "a plain user?", Some("user")),
        (format!("/admin/users/{id}/disable"), "Disable", None),
        (format!("/admin/users/{id}/enable"), "Enable", None),
        (format!("/admin/users/{id}/logout"), "out everywhere?", None),
        (format!("/admin/users/{id}/delete"), "account and their recipe?", None),
    ] {
        let body = page(&t, &path).await;
        let action = path.split('?').next().unwrap();
        let form = form_posting_to(&body, action).unwrap_or_else(|| panic!("{path}: a form that posts to {action}"));
        assert_eq!(extract_csrf(form).as_deref(), Some(csrf.as_str()), "{path}: the form carries the admin's csrf_token");
        assert!(body.contains(question), "{path} asks {question}");
        match role {
            Some(role) => assert!(form.contains(&format!(r#"<input type="hidden" name="role" value="{role}">"#)), "{path}: the hidden role field"),
            None => assert!(!form.contains(r#"name="role""#), "{path}: no role field"),
        }
    }
    assert_eq!(get(&t, &format!("/admin/users/{id}/role?role=king")).await.0, Status::BadRequest);
    let row = user_by_id(&t, id).await.expect("not deleted");
    assert_eq!((row.role, row.disabled_at), (Role::User, None), "nothing changed");
    assert_eq!(active_sessions(&t, id).await, 1, "still logged in");
    assert_eq!(t.get_json("/api/v1/me", Some(&target.access)).await.status(), Status::Ok);
    assert_eq!(t.get_json(&format!("/api/v1/recipes/{recipe}"), None).await.status(), Status::Ok);
    for kind in [AuditKind::RoleChanged, AuditKind::UserDisabled, AuditKind::UserEnabled, AuditKind::ForcedLogout, AuditKind::UserDeleted] {
        assert!(events(&t, kind, None).await.is_empty(), "no {kind:?} event");
    }
}

#[rocket::async_test]
async fn a_post_of_each_action_performs_it_and_redirects_with_a_flash_message() {
    let t = TestApp::spawn().await;
    let (cook, target) = t.api_signup().await;
    t.browser_admin().await;
    let csrf = t.session_csrf().await;
    let id = target.public_id.as_str();
    let user_page = format!("/admin/users/{id}");
    let name = &cook.username;

    let (status, to, _) = post(&t, &format!("{user_page}/role"), Some(&csrf), &[("role", "admin")]).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, user_page.as_str()));
    assert!(page(&t, &to).await.contains(&format!("{name} is now an admin.")));
    assert_eq!(user_by_id(&t, id).await.unwrap().role, Role::Admin);

    let (status, to, _) = post(&t, &format!("{user_page}/role"), Some(&csrf), &[("role", "user")]).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, user_page.as_str()));
    assert!(page(&t, &to).await.contains(&format!("{name} is now a plain user.")));
    assert_eq!(user_by_id(&t, id).await.unwrap().role, Role::User);

    let (status, to, _) = post(&t, &format!("{user_page}/disable"), Some(&csrf), &[]).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, user_page.as_str()));
    let shown = page(&t, &to).await;
    assert!(shown.contains(&format!("{name}'s account is disabled")) && shown.contains("<dd>disabled</dd>"));
    assert!(user_by_id(&t, id).await.unwrap().disabled_at.is_some());

    let (status, to, _) = post(&t, &format!("{user_page}/enable"), Some(&csrf), &[]).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, user_page.as_str()));
    let shown = page(&t, &to).await;
    assert!(shown.contains(&format!("{name}'s account is enabled.")) && shown.contains("<dd>active</dd>"));
    assert!(user_by_id(&t, id).await.unwrap().disabled_at.is_none());

    t.api_login(&cook).await;
    let (status, to, _) = post(&t, &format!("{user_page}/logout"), Some(&csrf), &[]).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, user_page.as_str()));
    assert!(page(&t, &to).await.contains(&format!("{name} has been logged out everywhere.")));
    assert_eq!(active_sessions(&t, id).await, 0);

    let (status, to, _) = post(&t, &format!("{user_page}/delete"), Some(&csrf), &[]).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, "/admin/users"));
    assert!(page(&t, &to).await.contains(&format!("{name}'s account and recipes are deleted.")));
    assert!(user_by_id(&t, id).await.is_none());
    // A role that is neither `user` nor `admin` is a bad field.
    let (_, other) = t.api_signup().await;
    let (status, _, _) = post(&t, &format!("/admin/users/{}/role", other.public_id), Some(&csrf), &[("role", "king")]).await;
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(user_by_id(&t, &other.public_id).await.unwrap().role, Role::User);
}

// The last active admin

#[rocket::async_test]
async fn the_last_active_admin_cannot_be_demoted_disabled_or_deleted_even_by_themselves() {
    let t = TestApp::spawn().await;
    let admin = t.browser_admin().await;
    let id = public_id(&t, &admin.email).await;
    let csrf = t.session_csrf().await;
    for (action, fields) in [("role", vec![("role", "user")]), ("disable", vec![]), ("delete", vec![])] {
        let path = format!("/admin/users/{id}/{action}");
        let (status, _, body) = post(&t, &path, Some(&csrf), &fields).await;
        assert_eq!(status, Status::Conflict, "POST {path}");
        assert!(body.contains("This is the last active admin"), "POST {path}: the page says why");
    }
    for path in [format!("/admin/users/{id}/role?role=user"), format!("/admin/users/{id}/role"), format!("/admin/users/{id}/disable"), format!("/admin/users/{id}/delete")] {
        let (status, _, body) = get(&t, &path).await;
        assert_eq!(status, Status::Conflict, "GET {path}");
        assert!(body.contains("This is the last active admin"), "GET {path}");
    }
    let row = t.user_row(&admin.email).await.expect("not deleted");
    assert_eq!((row.role, row.disabled_at), (Role::Admin, None), "nothing changed");
    assert!(table(&page(&t, "/admin/users").await).contains(&admin.username), "still an admin, still logged in");
    for kind in [AuditKind::RoleChanged, AuditKind::UserDisabled, AuditKind::UserDeleted] {
        assert!(events(&t, kind, None).await.is_empty(), "no {kind:?} event");
    }
    // What does not take the role away is still offered.
    assert_eq!(get(&t, &format!("/admin/users/{id}/logout")).await.0, Status::Ok);
}

#[rocket::async_test]
async fn with_two_admins_one_may_demote_the_other_and_then_the_remaining_one_is_protected() {
    let t = TestApp::spawn().await;
    let (other, other_tokens) = t.api_admin().await;
    let me = t.browser_admin().await;
    let my_id = public_id(&t, &me.email).await;
    let csrf = t.session_csrf().await;
    let other_path = format!("/admin/users/{}", other_tokens.public_id);
    assert_eq!(get(&t, &format!("{other_path}/role?role=user")).await.0, Status::Ok, "the confirmation is offered");
    let (status, to, _) = post(&t, &format!("{other_path}/role"), Some(&csrf), &[("role", "user")]).await;
    assert_eq!((status, to), (Status::SeeOther, other_path.clone()));
    assert_eq!(t.user_row(&other.email).await.unwrap().role, Role::User);
    // Now I am the last one.
    let (status, _, body) = post(&t, &format!("/admin/users/{my_id}/role"), Some(&csrf), &[("role", "user")]).await;
    assert_eq!(status, Status::Conflict);
    assert!(body.contains("This is the last active admin"));
    assert_eq!(get(&t, &format!("/admin/users/{my_id}/disable")).await.0, Status::Conflict);
    let response = api_patch_user(&t, &other_tokens.access, &my_id, json!({"role": "user"})).await;
    assert_eq!(response.status(), Status::Forbidden, "the demoted admin has no admin API either");
    assert_eq!(t.user_row(&me.email).await.unwrap().role, Role::Admin);
}

#[rocket::async_test]
async fn an_admin_may_step_down_while_another_admin_remains() {
    let t = TestApp::spawn().await;
    let (other, _) = t.api_admin().await;
    let me = t.browser_admin().await;
    let my_id = public_id(&t, &me.email).await;
    let csrf = t.session_csrf().await;
    let (status, to, _) = post(&t, &format!("/admin/users/{my_id}/role"), Some(&csrf), &[("role", "user")]).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, "/me"), "off to their own page: the admin pages are closed now");
    assert_eq!(get(&t, "/admin/users").await.0, Status::Forbidden);
    assert_eq!(t.user_row(&other.email).await.unwrap().role, Role::Admin);
}

#[rocket::async_test]
async fn the_api_refuses_to_demote_disable_or_delete_the_last_active_admin_with_409_last_admin() {
    let t = TestApp::spawn().await;
    let (admin, tokens) = t.api_admin().await;
    let id = tokens.public_id.as_str();
    for body in [json!({"role": "user"}), json!({"disabled": true})] {
        let response = api_patch_user(&t, &tokens.access, id, body.clone()).await;
        assert_eq!(error_code(response, Status::Conflict).await, "last_admin", "PATCH {body}");
    }
    let response = api_send(&t, Method::Delete, &format!("/api/v1/users/{id}"), &tokens.access, None).await;
    assert_eq!(error_code(response, Status::Conflict).await, "last_admin", "DELETE");
    let row = t.user_row(&admin.email).await.expect("not deleted");
    assert_eq!((row.role, row.disabled_at), (Role::Admin, None), "nothing changed");
    assert_eq!(t.get_json("/api/v1/users", Some(&tokens.access)).await.status(), Status::Ok, "still an admin");
    // Promoting the last admin to admin again changes nothing and is fine.
    assert_eq!(api_patch_user(&t, &tokens.access, id, json!({"role": "admin"})).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn a_disabled_admin_does_not_count_as_an_active_admin() {
    let t = TestApp::spawn().await;
    let (second, second_tokens) = t.api_admin().await;
    let (first, first_tokens) = t.api_admin().await;
    let response = api_patch_user(&t, &first_tokens.access, &second_tokens.public_id, json!({"disabled": true})).await;
    assert_eq!(response.status(), Status::Ok, "two active admins: one may disable the other");
    assert!(t.user_row(&second.email).await.unwrap().disabled_at.is_some());
    // `second` is still an admin by role, but disabled: `first` is the last active admin.
    for body in [json!({"role": "user"}), json!({"disabled": true})] {
        let response = api_patch_user(&t, &first_tokens.access, &first_tokens.public_id, body.clone()).await;
        assert_eq!(error_code(response, Status::Conflict).await, "last_admin", "PATCH {body}");
    }
    // In the pages too.
    assert_eq!(t.login(&first.email, &first.password).await.status(), Status::SeeOther);
    let first_path = format!("/admin/users/{}", first_tokens.public_id);
    assert_eq!(get(&t, &format!("{first_path}/delete")).await.0, Status::Conflict);
    let csrf = t.session_csrf().await;
    assert_eq!(post(&t, &format!("{first_path}/delete"), Some(&csrf), &[]).await.0, Status::Conflict);
    // The disabled admin itself may be deleted.
    let (status, to, _) = post(&t, &format!("/admin/users/{}/delete", second_tokens.public_id), Some(&csrf), &[]).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, "/admin/users"));
    assert!(t.user_row(&second.email).await.is_none());
    assert_eq!(t.user_row(&first.email).await.unwrap().role, Role::Admin);
}

// Disable, enable, force logout, delete

#[rocket::async_test]
async fn disabling_revokes_issued_api_tokens_at_once_and_blocks_login_until_enabled() {
    let t = TestApp::spawn().await;
    let (cook, tokens) = t.api_signup().await;
    t.browser_admin().await;
    let csrf = t.session_csrf().await;
    let user_page = format!("/admin/users/{}", tokens.public_id);
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok);
    assert_eq!(post(&t, &format!("{user_page}/disable"), Some(&csrf), &[]).await.0, Status::SeeOther);
    let me = t.get_json("/api/v1/me", Some(&tokens.access)).await;
    assert_eq!(error_code(me, Status::Unauthorized).await, "token_revoked");
    let refreshed = t.post_json("/api/v1/auth/refresh", Some(&tokens.refresh), &json!({})).await;
    assert_eq!(refreshed.status(), Status::Unauthorized);
    assert_eq!(sessions_shown(&page(&t, &user_page).await), 0);
    let login = json!({"email": cook.email, "password": cook.password});
    assert_eq!(t.post_json("/api/v1/auth/login", None, &login).await.status(), Status::Forbidden, "the right password, but disabled");
    let wrong = json!({"email": cook.email, "password": "not the password at all"});
    assert_eq!(t.post_json("/api/v1/auth/login", None, &wrong).await.status(), Status::Unauthorized, "a wrong password reveals nothing");
    assert_eq!(post(&t, &format!("{user_page}/enable"), Some(&csrf), &[]).await.0, Status::SeeOther);
    let fresh = t.api_login(&cook).await;
    assert_eq!(t.get_json("/api/v1/me", Some(&fresh.access)).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn disabling_logs_the_users_browser_out_on_its_next_request() {
    let t = TestApp::spawn().await;
    let (_, admin) = t.api_admin().await;
    let cook = t.signup().await;
    let id = public_id(&t, &cook.email).await;
    assert_eq!(get(&t, "/me").await.0, Status::Ok);
    assert_eq!(api_patch_user(&t, &admin.access, &id, json!({"disabled": true})).await.status(), Status::Ok);
    let (status, to, _) = get(&t, "/me").await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, "/login?next=%2Fme"), "logged out at once");
    assert!(t.cookie("access_token").is_none(), "the refused cookies are cleared");
    assert_eq!(t.login(&cook.email, &cook.password).await.status(), Status::Forbidden, "no browser login while disabled");
    assert!(t.cookie("access_token").is_none());
    assert_eq!(api_patch_user(&t, &admin.access, &id, json!({"disabled": false})).await.status(), Status::Ok);
    assert_eq!(t.login(&cook.email, &cook.password).await.status(), Status::SeeOther);
    assert_eq!(get(&t, "/me").await.0, Status::Ok);
}

#[rocket::async_test]
async fn force_logout_ends_every_session_and_token_of_the_user() {
    let t = TestApp::spawn().await;
    let (cook, first) = t.api_signup().await;
    let second = t.api_login(&cook).await;
    t.browser_admin().await;
    let user_page = format!("/admin/users/{}", first.public_id);
    assert_eq!(sessions_shown(&page(&t, &user_page).await), 2);
    let csrf = t.csrf_from(&format!("{user_page}/logout")).await;
    let (status, to, _) = post(&t, &format!("{user_page}/logout"), Some(&csrf), &[]).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, user_page.as_str()));
    for tokens in [&first, &second] {
        let me = t.get_json("/api/v1/me", Some(&tokens.access)).await;
        assert_eq!(error_code(me, Status::Unauthorized).await, "token_revoked", "access token");
        let refreshed = t.post_json("/api/v1/auth/refresh", Some(&tokens.refresh), &json!({})).await;
        assert_eq!(refreshed.status(), Status::Unauthorized, "refresh token");
    }
    assert_eq!(sessions_shown(&page(&t, &user_page).await), 0);
    assert!(user_by_id(&t, &first.public_id).await.unwrap().disabled_at.is_none(), "not disabled");
    let again = t.api_login(&cook).await;
    assert_eq!(t.get_json("/api/v1/me", Some(&again.access)).await.status(), Status::Ok, "a login right after works");
}

#[rocket::async_test]
async fn deleting_a_user_removes_them_and_their_recipes_but_the_audit_trail_keeps_the_deletion() {
    let t = TestApp::spawn().await;
    let (doomed, doomed_tokens) = t.api_signup().await;
    let (_, keeper) = t.api_signup().await;
    let gone = [
        api_create_recipe(&t, &doomed_tokens.access, "Doomed pie").await,
        api_create_recipe(&t, &doomed_tokens.access, "Doomed tart").await,
    ];
    let kept = api_create_recipe(&t, &keeper.access, "Kept cake").await;
    let admin = t.browser_admin().await;
    let path = format!("/admin/users/{}/delete", doomed_tokens.public_id);
    assert!(page(&t, &path).await.contains("and their 2 recipes?"));
    let csrf = t.session_csrf().await;
    let (status, to, _) = post(&t, &path, Some(&csrf), &[]).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, "/admin/users"));
    assert!(t.user_row(&doomed.email).await.is_none());
    for id in gone {
        assert_eq!(t.get_json(&format!("/api/v1/recipes/{id}"), None).await.status(), Status::NotFound, "recipe {id}");
    }
    assert_eq!(t.get_json(&format!("/api/v1/recipes/{kept}"), None).await.status(), Status::Ok, "others' recipes stay");
    let list = page(&t, "/admin/users").await;
    assert!(list.contains(&format!("{}'s account and recipes are deleted.", doomed.username)), "the flash message");
    assert!(table(&list).contains(&admin.username), "the list is there");
    assert!(!table(&list).contains(&doomed.username) && !table(&list).contains(&doomed.email), "gone from the list");
    assert!(page(&t, &format!("/admin/users?q={}", enc(&doomed.email))).await.contains("No user matches"));
    assert_eq!(get(&t, &format!("/admin/users/{}", doomed_tokens.public_id)).await.0, Status::NotFound);
    let me = t.get_json("/api/v1/me", Some(&doomed_tokens.access)).await;
    assert_eq!(me.status(), Status::Unauthorized, "their token is dead");
    // The audit trail still names them.
    let deleted = events(&t, AuditKind::UserDeleted, Some(&doomed_tokens.public_id)).await;
    assert_eq!(deleted.len(), 1);
    assert!(deleted[0].detail.contains(&doomed.username) && deleted[0].detail.contains(&doomed.email));
    let trail = page(&t, "/admin/audit?kind=user_deleted").await;
    assert!(trail.contains(&format!("{} ({})", doomed.username, doomed.email)), "the event names them");
    assert!(trail.contains("deleted account") && trail.contains(&admin.username));
}

// Role changes

#[rocket::async_test]
async fn a_promoted_user_gets_the_admin_pages_on_their_next_request_and_a_demoted_one_gets_403() {
    let t = TestApp::spawn().await;
    let (_, admin) = t.api_admin().await;
    let cook = t.signup().await;
    let id = public_id(&t, &cook.email).await;
    assert_eq!(get(&t, "/admin/users").await.0, Status::Forbidden);
    assert_eq!(api_patch_user(&t, &admin.access, &id, json!({"role": "admin"})).await.status(), Status::Ok);
    assert_eq!(get(&t, "/admin/users").await.0, Status::Ok, "the same browser session, no new login");
    assert!(page(&t, "/").await.contains(r#"<a href="/admin/users">Admin</a>"#));
    assert_eq!(api_patch_user(&t, &admin.access, &id, json!({"role": "user"})).await.status(), Status::Ok);
    assert_eq!(get(&t, "/admin/users").await.0, Status::Forbidden, "demoted at once");
    assert_eq!(get(&t, "/me").await.0, Status::Ok, "still logged in");
}

#[rocket::async_test]
async fn a_role_change_in_the_pages_applies_to_the_users_existing_token_at_once() {
    let t = TestApp::spawn().await;
    let (_, cook) = t.api_signup().await;
    t.browser_admin().await;
    let csrf = t.session_csrf().await;
    let role_path = format!("/admin/users/{}/role", cook.public_id);
    assert_eq!(t.get_json("/api/v1/users", Some(&cook.access)).await.status(), Status::Forbidden);
    assert_eq!(post(&t, &role_path, Some(&csrf), &[("role", "admin")]).await.0, Status::SeeOther);
    assert_eq!(t.get_json("/api/v1/users", Some(&cook.access)).await.status(), Status::Ok, "the token issued before is now an admin's");
    assert_eq!(post(&t, &role_path, Some(&csrf), &[("role", "user")]).await.0, Status::SeeOther);
    assert_eq!(t.get_json("/api/v1/users", Some(&cook.access)).await.status(), Status::Forbidden);
    assert_eq!(t.get_json("/api/v1/me", Some(&cook.access)).await.status(), Status::Ok, "still logged in");
}

// The audit trail

#[rocket::async_test]
async fn every_admin_action_writes_exactly_one_audit_event_of_its_kind_with_the_admin_as_actor() {
    let t = TestApp::spawn().await;
    let (cook, target) = t.api_signup().await;
    let admin = t.browser_admin().await;
    let admin_id = public_id(&t, &admin.email).await;
    let csrf = t.session_csrf().await;
    let id = target.public_id.as_str();
    for (action, fields, kind, summary) in [
        ("role", vec![("role", "admin")], AuditKind::RoleChanged, "(from user to admin)"),
        ("disable", vec![], AuditKind::UserDisabled, "(1 session ended)"),
        ("enable", vec![], AuditKind::UserEnabled, ""),
        ("logout", vec![], AuditKind::ForcedLogout, "(0 sessions ended)"),
        ("delete", vec![], AuditKind::UserDeleted, ""),
    ] {
        let (status, _, _) = post(&t, &format!("/admin/users/{id}/{action}"), Some(&csrf), &fields).await;
        assert_eq!(status, Status::SeeOther, "POST {action}");
        let written = events(&t, kind, None).await;
        assert_eq!(written.len(), 1, "{action}: one {kind:?} event");
        assert_eq!(written[0].actor_public_id.map(|u| u.to_string()).as_deref(), Some(admin_id.as_str()), "{action}: the admin did it");
        assert_eq!(written[0].subject_public_id.map(|u| u.to_string()).as_deref(), Some(id), "{action}: about the user");
        let trail = page(&t, &format!("/admin/audit?kind={}", kind.as_str())).await;
        assert!(trail.contains("1 event") && trail.contains(kind.label()) && trail.contains(summary), "{action}: on the page");
        assert_eq!(table_rows(&trail), 1, "{action}");
        assert!(trail.contains(&format!(r#"<td data-label="By">{}</td>"#, admin.username)), "{action}: the admin is shown as actor");
    }
    // The events made before the deletion stay, about a deleted account.
    let trail = page(&t, "/admin/audit?kind=role_changed").await;
    assert!(trail.contains("deleted account") && trail.contains("(from user to admin)"));
    assert!(page(&t, "/admin/audit?kind=user_deleted").await.contains(&format!("{} ({})", cook.username, cook.email)));
}

#[rocket::async_test]
async fn the_audit_trail_is_paged_twenty_at_a_time_and_filtered_by_kind_and_by_user() {
    let t = TestApp::spawn().await;
    let mut signups = Vec::new();
    for _ in 0..21 {
        signups.push(t.api_signup().await);
    }
    let (cook, cook_tokens) = &signups[0];
    t.api_login(cook).await;
    t.browser_admin().await;
    let total = recipebox::store::audit::list(&t.app().db, EventFilter::default(), 1, 1).await.unwrap().total as usize;
    assert!((21..=40).contains(&total), "22 sign-ups and a login: {total}");
    let first = page(&t, "/admin/audit").await;
    assert_eq!(table_rows(&first), 20);
    assert!(first.contains(&format!("{total} events")));
    assert!(first.contains(r#"rel="next" href="/admin/audit?page=2""#));
    let second = page(&t, "/admin/audit?page=2").await;
    assert_eq!(table_rows(&second), total - 20);
    assert!(!second.contains(r#"rel="next""#), "the last page");
    assert_eq!(table_rows(&page(&t, "/admin/audit?page=99").await), 0, "past the end: no rows");
    // ?kind= filters: 22 sign-ups (the admin's too).
    let kind = page(&t, "/admin/audit?kind=signup").await;
    assert!(kind.contains("22 events"));
    assert_eq!(table_rows(&kind), 20);
    assert!(kind.contains(r#"rel="next" href="/admin/audit?page=2&kind=signup""#), "the pager keeps the filter");
    let kind2 = page(&t, "/admin/audit?kind=signup&page=2").await;
    assert_eq!(table_rows(&kind2), 2);
    assert!(!table(&kind2).contains("Logged in"));
    // ?user= narrows to one user: their sign-up and their login.
    let about = page(&t, &format!("/admin/audit?user={}", cook_tokens.public_id)).await;
    assert_eq!(table_rows(&about), 2);
    assert!(about.contains("Account created") && about.contains("Logged in") && about.contains(&format!("Audit trail: {}", cook.username)));
    assert!(!about.contains(&signups[1].0.username));
    let both = page(&t, &format!("/admin/audit?user={}&kind=login", cook_tokens.public_id)).await;
    assert_eq!(table_rows(&both), 1);
    for query in ["kind=explosion", "kind=SIGNUP%3B", "user=not-a-uuid", "page=0"] {
        let (status, _, body) = get(&t, &format!("/admin/audit?{query}")).await;
        assert_eq!(status, Status::BadRequest, "{query}");
        assert!(body.contains("site-header"), "{query}: the styled error page");
    }
}
