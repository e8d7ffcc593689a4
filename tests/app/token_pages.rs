//! Personal access tokens and the copy of one's data in the browser
//! (SPEC.md §4 `/me/tokens`, `/me/export`, the admin's revoke): made with a
//! fresh session and shown once, only a hash kept, the form's refusals,
//! revoking one or all, the admin's view of a user's tokens, the export
//! file, and a token that never opens a page.

use rocket::http::{Cookie, Header, Status};
use serde_json::Value;

use crate::helpers::{bearer, claims_of, error_code, extract_csrf, location, TestApp};
use recipebox::accounts::notices::TOKEN_CREATED;
use recipebox::domain::AuditKind;
use recipebox::entities::access_token;
use recipebox::store::audit::EventFilter;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// The text of the new token on a page, from `id="new-token"`.
fn new_token_of(html: &str) -> Option<String> {
    let start = html.find(r#"id="new-token""#)?;
    let rest = &html[start..];
    let text = &rest[rest.find('>')? + 1..];
    Some(text[..text.find('<')?].trim().to_owned())
}

/// GET a page: its status and body.
async fn page(t: &TestApp, path: &str) -> (Status, String) {
    let response = t.client.get(path.to_owned()).dispatch().await;
    (response.status(), response.into_string().await.unwrap_or_default())
}

/// Submits the token form; the status and the page.
async fn make(t: &TestApp, fields: &[(&str, &str)]) -> (Status, String) {
    let csrf = t.csrf_from("/me/tokens").await;
    let response = t.post_form("/me/tokens", Some(&csrf), fields).await;
    (response.status(), response.into_string().await.unwrap_or_default())
}

/// Makes a token through the form; its text.
async fn make_token(t: &TestApp, name: &str, scopes: &[&str]) -> String {
    let mut fields = vec![("name", name), ("expires_in_days", "30")];
    fields.extend(scopes.iter().map(|scope| ("scopes", *scope)));
    let (status, html) = make(t, &fields).await;
    assert_eq!(status, Status::Ok, "{html}");
    new_token_of(&html).unwrap_or_else(|| panic!("the new token is shown: {html}"))
}

async fn rows_of(t: &TestApp, email: &str) -> Vec<access_token::Model> {
    let owner = t.user_row(email).await.unwrap();
    access_token::Entity::find().filter(access_token::Column::UserId.eq(owner.id)).all(&t.app().db).await.unwrap()
}

/// `/api/v1/me` with `token`: the status and `error.code` (or the email).
async fn me_with(t: &TestApp, token: &str) -> (Status, String) {
    let response = t.get_json("/api/v1/me", Some(token)).await;
    let status = response.status();
    let body: Value = response.into_json().await.unwrap_or_default();
    let said = body["email"].as_str().or(body["error"]["code"].as_str()).unwrap_or_default().to_owned();
    (status, said)
}

#[rocket::async_test]
async fn a_token_made_on_the_page_is_shown_once_works_on_the_api_and_only_its_hash_is_kept() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;

    let (status, html) = page(&t, "/me").await;
    assert_eq!(status, Status::Ok);
    assert!(html.contains(r#"href="/me/tokens""#) && html.contains(r#"href="/me/export""#), "/me links to both: {html}");

    let (status, form) = page(&t, "/me/tokens").await;
    assert_eq!(status, Status::Ok);
    assert!(form.contains("You have no access token."), "{form}");
    for scope in ["recipes:read", "recipes:write", "account:read"] {
        assert!(form.contains(&format!(r#"name="scopes" value="{scope}""#)), "a box for {scope}");
    }
    assert!(!form.contains(r#"value="admin""#), "a user is never offered the admin scope");

    let token = make_token(&t, "backup <script>", &["account:read", "recipes:read"]).await;
    assert!(token.starts_with("rbx_pat_") && token.len() == 44, "{token}");
    assert!(recipebox::pat::check(&token).is_ok(), "its checksum holds");
    assert_eq!(me_with(&t, &token).await, (Status::Ok, user.email.clone()));

    let rows = rows_of(&t, &user.email).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].token_hash, recipebox::pat::hash(&token), "a SHA-256 of the token is kept");
    assert!(!rows[0].token_hash.contains(&token[8..]), "never the token itself");
    assert_eq!(rows[0].scopes, "recipes:read account:read");
    let days = (rows[0].expires_at.0 - rows[0].created_at.0).whole_days();
    assert_eq!(days, 30, "the chosen lifetime");

    let (_, list) = page(&t, "/me/tokens").await;
    assert!(!list.contains(&token) && new_token_of(&list).is_none(), "shown once only");
    assert!(list.contains("backup &lt;script&gt;") && !list.contains("backup <script>"), "the name is escaped");
    assert!(list.contains("<code>account:read</code>") && list.contains("never"), "scopes and 'never used': {list}");

    let notice = t.mail(TOKEN_CREATED, 1).await.remove(0);
    assert!(notice.contains(&format!("To: {}", user.email)) && notice.contains("backup"), "{notice}");
    assert!(!notice.contains(&token) && !notice.contains("rbx_pat_"), "the notice never holds the token");
}

#[rocket::async_test]
async fn the_form_refuses_what_is_wrong_field_by_field_and_makes_nothing() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let long_name = "n".repeat(101);
    let too_late = (time::OffsetDateTime::now_utc().date() + time::Duration::days(400)).to_string();
    let cases: Vec<(&str, Vec<(&str, &str)>, &str)> = vec![
        ("no name", vec![("name", " "), ("scopes", "account:read"), ("expires_in_days", "30")], "name"),
        ("a name too long", vec![("name", &long_name), ("scopes", "account:read"), ("expires_in_days", "30")], "name"),
        ("no scope", vec![("name", "cron"), ("expires_in_days", "30")], "scopes"),
        ("an unknown scope", vec![("name", "cron"), ("scopes", "everything"), ("expires_in_days", "30")], "scopes"),
        ("the admin scope for a user", vec![("name", "cron"), ("scopes", "admin"), ("expires_in_days", "30")], "scopes"),
        ("no expiry", vec![("name", "cron"), ("scopes", "account:read"), ("expires_in_days", "")], "expires_in_days"),
        ("a lifetime not offered", vec![("name", "cron"), ("scopes", "account:read"), ("expires_in_days", "10000")], "expires_in_days"),
        ("a date past the longest life", vec![("name", "cron"), ("scopes", "account:read"), ("expires_on", &too_late)], "expires_in_days"),
        ("a date in the past", vec![("name", "cron"), ("scopes", "account:read"), ("expires_on", "2020-01-01")], "expires_in_days"),
        ("not a date", vec![("name", "cron"), ("scopes", "account:read"), ("expires_on", "someday")], "expires_in_days"),
    ];
    for (what, fields, field) in cases {
        let (status, html) = make(&t, &fields).await;
        assert_eq!(status, Status::UnprocessableEntity, "{what}: {html}");
        assert!(html.contains(&format!(r#"id="{field}-error""#)), "{what}: the error is beside {field}: {html}");
        assert!(new_token_of(&html).is_none(), "{what}");
    }
    assert!(rows_of(&t, &user.email).await.is_empty(), "nothing was made");

    // A date, in its own field or as `expires_in_days`, sets the end to that day's start.
    let date = (time::OffsetDateTime::now_utc().date() + time::Duration::days(10)).to_string();
    for fields in [vec![("name", "dated"), ("scopes", "account:read"), ("expires_on", &date)], vec![
        ("name", "dated too"),
        ("scopes", "account:read"),
        ("expires_in_days", &date),
    ]] {
        let (status, html) = make(&t, &fields).await;
        assert_eq!(status, Status::Ok, "{html}");
        assert!(new_token_of(&html).is_some());
    }
    for row in rows_of(&t, &user.email).await {
        assert_eq!(row.expires_at.0.date().to_string(), date);
        assert_eq!(row.expires_at.0.time(), time::Time::MIDNIGHT);
    }

    // Without the CSRF token: 403 and nothing made.
    let response = t.post_form("/me/tokens", None, &[("name", "forged"), ("scopes", "account:read"), ("expires_in_days", "7")]).await;
    assert_eq!(response.status(), Status::Forbidden);
    assert_eq!(rows_of(&t, &user.email).await.len(), 2);
}

#[rocket::async_test]
async fn a_stale_session_confirms_its_password_before_making_a_token_or_downloading_the_export() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let refresh = t.cookie("refresh_token").unwrap();
    let t = t.restart().await;
    let status = t.client.get("/me").cookie(Cookie::new("refresh_token", refresh)).dispatch().await.status();
    assert_eq!(status, Status::Ok);
    assert_eq!(claims_of(&t.cookie("access_token").unwrap())["fresh"], false);

    let (status, list) = page(&t, "/me/tokens").await;
    assert_eq!(status, Status::Ok, "a stale session still sees its tokens");
    assert!(list.contains("you will be asked for your password first"), "{list}");
    let csrf = extract_csrf(&list).unwrap();
    let response = t.post_form("/me/tokens", Some(&csrf), &[("name", "cron"), ("scopes", "account:read"), ("expires_in_days", "7")]).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/login?next=%2Fme%2Ftokens");
    drop(response);
    assert!(rows_of(&t, &user.email).await.is_empty());

    let export = t.client.get("/me/export").dispatch().await;
    assert_eq!(export.status(), Status::SeeOther);
    assert_eq!(location(&export), "/login?next=%2Fme%2Fexport");
}

#[rocket::async_test]
async fn revoking_one_token_or_all_stops_them_at_once_and_another_users_token_is_not_found() {
    let t = TestApp::spawn().await;
    let other = t.signup().await;
    let theirs = make_token(&t, "theirs", &["account:read"]).await;
    let their_id = rows_of(&t, &other.email).await[0].public_id;
    t.logout().await;

    let user = t.signup().await;
    let first = make_token(&t, "first", &["account:read"]).await;
    let second = make_token(&t, "second", &["account:read"]).await;
    let third = make_token(&t, "third", &["account:read"]).await;
    let id_of = |rows: &[access_token::Model], name: &str| rows.iter().find(|r| r.name == name).unwrap().public_id;
    let rows = rows_of(&t, &user.email).await;

    // Someone else's token, by its id: 404, and it keeps working.
    let csrf = t.session_csrf().await;
    let response = t.post_form(&format!("/me/tokens/{their_id}/revoke"), Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::NotFound);
    drop(response);
    assert_eq!(me_with(&t, &theirs).await.0, Status::Ok);
    let response = t.post_form("/me/tokens/not-an-id/revoke", Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::NotFound, "an id that is not one");
    drop(response);

    let response = t.post_form(&format!("/me/tokens/{}/revoke", id_of(&rows, "first")), Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/me/tokens");
    drop(response);
    assert_eq!(me_with(&t, &first).await, (Status::Unauthorized, "token_revoked".into()));
    assert_eq!(me_with(&t, &second).await.0, Status::Ok);
    let (_, list) = page(&t, "/me/tokens").await;
    assert!(list.contains("The token is revoked"), "the flash says so: {list}");
    assert!(list.contains("badge-danger\">revoked"), "the list shows it revoked: {list}");

    // Revoking it again: it is no longer live, so 404.
    let response = t.post_form(&format!("/me/tokens/{}/revoke", id_of(&rows, "first")), Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::NotFound);
    drop(response);

    let response = t.post_form("/me/tokens/revoke-all", Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    for token in [&second, &third] {
        assert_eq!(me_with(&t, token).await, (Status::Unauthorized, "token_revoked".into()));
    }
    let (_, list) = page(&t, "/me/tokens").await;
    assert!(list.contains("All 2 of your tokens are revoked"), "{list}");
    assert!(!list.contains("/me/tokens/revoke-all"), "no revoke-all button without a live token");
    assert_eq!(me_with(&t, &theirs).await.0, Status::Ok, "another user's token is untouched");

    let filter = EventFilter { kind: Some(AuditKind::TokenRevoked), subject: None };
    let revocations = recipebox::store::audit::list(&t.app().db, filter, 1, 50).await.unwrap().items;
    assert_eq!(revocations.len(), 2, "one event for the one, one for all: {revocations:?}");
}

#[rocket::async_test]
async fn an_admin_sees_a_users_tokens_and_revokes_one_after_confirming() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let token = make_token(&t, "nightly export", &["account:read"]).await;
    let row = rows_of(&t, &user.email).await.remove(0);
    let public_id = t.user_row(&user.email).await.unwrap().public_id;
    t.logout().await;

    // A user who is not an admin cannot.
    let _snoop = t.signup().await;
    let csrf = t.session_csrf().await;
    let revoke = format!("/admin/users/{public_id}/tokens/{}/revoke", row.public_id);
    let response = t.post_form(&revoke, Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::Forbidden);
    drop(response);
    assert_eq!(me_with(&t, &token).await.0, Status::Ok);
    t.logout().await;

    let admin = t.browser_admin().await;
    let admin_id = t.user_row(&admin.email).await.unwrap().public_id;
    let (status, html) = page(&t, &format!("/admin/users/{public_id}")).await;
    assert_eq!(status, Status::Ok);
    assert!(html.contains("Access tokens") && html.contains("nightly export"), "{html}");
    assert!(html.contains(&format!(r#"href="{revoke}""#)), "a link to confirm: {html}");

    let (status, confirm) = page(&t, &revoke).await;
    assert_eq!(status, Status::Ok);
    assert!(confirm.contains("nightly export"), "{confirm}");
    let csrf = extract_csrf(&confirm).unwrap();
    let response = t.post_form(&revoke, Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), format!("/admin/users/{public_id}"));
    drop(response);
    assert_eq!(me_with(&t, &token).await, (Status::Unauthorized, "token_revoked".into()));

    // Once ended, its confirmation page and the revoke are 404.
    assert_eq!(page(&t, &revoke).await.0, Status::NotFound);
    let response = t.post_form(&revoke, Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::NotFound);
    drop(response);

    let filter = EventFilter { kind: Some(AuditKind::TokenRevoked), subject: Some(public_id) };
    let events = recipebox::store::audit::list(&t.app().db, filter, 1, 50).await.unwrap().items;
    let [revoked] = events.as_slice() else { panic!("one event: {events:?}") };
    assert_eq!(revoked.actor_public_id, Some(admin_id), "the admin is the actor");
    assert!(revoked.detail.contains("nightly export"), "{:?}", revoked.detail);
}

/// Where `value` holds a numeric `id` or any `user_id`, as paths.
fn internal_ids(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![(String::new(), value)];
    while let Some((path, value)) = stack.pop() {
        match value {
            Value::Object(fields) => {
                for (key, inner) in fields {
                    if (key == "id" && inner.is_number()) || key == "user_id" {
                        found.push(format!("{path}.{key}"));
                    }
                    stack.push((format!("{path}.{key}"), inner));
                }
            }
            Value::Array(items) => stack.extend(items.iter().enumerate().map(|(i, inner)| (format!("{path}[{i}]"), inner))),
            _ => {}
        }
    }
    found
}

#[rocket::async_test]
async fn the_export_is_an_attachment_with_the_private_recipes_and_no_secret() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let token = make_token(&t, "exporter", &["recipes:write"]).await;
    let body = serde_json::json!({"name": "Grandma's secret stew", "description": "Only for me.", "cook_time": 90, "directions": "Simmer for hours.", "visibility": "private"});
    assert_eq!(t.post_json("/api/v1/recipes", Some(&token), &body).await.status(), Status::Created);

    let response = t.client.get("/me/export").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    let disposition = response.headers().get_one("Content-Disposition").unwrap_or_default().to_owned();
    assert!(disposition.starts_with("attachment") && disposition.contains(".json"), "{disposition}");
    assert_eq!(response.headers().get_one("Cache-Control"), Some("no-store"));
    let text = response.into_string().await.unwrap();
    let export: Value = serde_json::from_str(&text).expect("one JSON document");
    assert_eq!(export["profile"]["email"], user.email.as_str());
    let recipe = &export["recipes"][0];
    assert_eq!(recipe["name"], "Grandma's secret stew");
    assert_eq!(recipe["visibility"], "private");
    assert_eq!(recipe["directions"], "Simmer for hours.");
    assert_eq!(recipe["cook_time"], 90);
    assert_eq!(export["access_tokens"][0]["name"], "exporter");
    assert!(!export["sessions"].as_array().unwrap().is_empty(), "this session is listed");
    let stored = t.user_row(&user.email).await.unwrap();
    for secret in [token.as_str(), &token[8..], stored.password_hash.as_str(), "password_hash", "token_hash", "totp"] {
        assert!(!text.contains(secret), "the export never holds {secret:?}");
    }
    assert_eq!(internal_ids(&export), Vec::<String>::new(), "no internal (numeric) id, no user_id");
}

#[rocket::async_test]
async fn a_token_never_opens_a_page_nor_works_as_a_cookie() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let token = make_token(&t, "scripted", &["account:read", "recipes:read", "recipes:write"]).await;
    t.logout().await;

    for path in ["/me", "/me/tokens", "/recipes/new"] {
        let response = t.client.get(path).header(bearer(&token)).dispatch().await;
        assert_eq!(response.status(), Status::SeeOther, "{path}: a bearer does not log a browser in");
        assert!(location(&response).starts_with("/login"));
    }
    let response = t.client.get("/me").cookie(Cookie::new("access_token", token.clone())).dispatch().await;
    assert_eq!(response.status(), Status::SeeOther, "nor a cookie");
    drop(response);
    let response = t.client.get("/api/v1/me").cookie(Cookie::new("access_token", token.clone())).dispatch().await;
    assert_eq!(error_code(response, Status::Unauthorized).await, "token_missing", "the API takes no cookie");
    let response = t.client.get(format!("/api/v1/me?access_token={token}")).dispatch().await;
    assert_eq!(error_code(response, Status::Unauthorized).await, "token_missing", "nor a query string");
    let response = t.client.get("/api/v1/me").header(Header::new("Authorization", format!("Basic {token}"))).dispatch().await;
    assert_eq!(response.status(), Status::Unauthorized, "nor another scheme");
    drop(response);
    assert_eq!(me_with(&t, &token).await, (Status::Ok, user.email));
}
