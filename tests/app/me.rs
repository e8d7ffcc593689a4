//! `/me` stays light: the 20 newest own recipes and a link to the rest,
//! which is the recipe list filtered by author (pages and API). It is drawn
//! once per session and kept until something on it changes.

use std::time::Duration;

use rocket::http::{Cookie, Status};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{claims_of, extract_csrf, location, TestApp};
use recipebox::entities::session;

async fn write_recipes(t: &TestApp, token: &str, prefix: &str, count: usize) {
    for n in 1..=count {
        let body = json!({"name": format!("{prefix} {n:02}"), "description": "", "cook_time": 10, "directions": "Cook."});
        assert_eq!(t.post_json("/api/v1/recipes", Some(token), &body).await.status(), Status::Created);
    }
}

#[rocket::async_test]
async fn me_shows_the_twenty_newest_recipes_and_links_to_all_of_them() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let tokens = t.api_login(&user).await;
    write_recipes(&t, &tokens.access, "Stew", 21).await;

    let page = t.client.get("/me").dispatch().await.into_string().await.unwrap();
    assert_eq!(page.matches(r#"class="card""#).count(), 20, "twenty cards, not every recipe");
    assert!(page.contains("Stew 21") && !page.contains("Stew 01"), "the newest ones");
    assert!(page.contains("Your recipes (21)"), "the count covers all of them");
    let link = format!("/recipes?author={}", user.username);
    assert!(page.contains(&link), "a link to all of them: {link}");

    let all = t.client.get(format!("{link}&page=2")).dispatch().await;
    assert_eq!(all.status(), Status::Ok);
    let all = all.into_string().await.unwrap();
    assert!(all.contains(&format!("Recipes by {}", user.username)));
    assert!(all.contains("Stew 01"), "the oldest recipe is on page 2 of the author's list");
    assert!(all.contains(&format!("author={}", user.username)), "the pager keeps the author");
}

#[rocket::async_test]
async fn a_user_with_few_recipes_gets_no_see_all_link() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let tokens = t.api_login(&user).await;
    write_recipes(&t, &tokens.access, "Soup", 2).await;
    let page = t.client.get("/me").dispatch().await.into_string().await.unwrap();
    assert_eq!(page.matches(r#"class="card""#).count(), 2);
    assert!(!page.contains("/recipes?author="));
}

#[rocket::async_test]
async fn the_author_filter_lists_one_cooks_recipes_case_insensitively_in_pages_and_api() {
    let t = TestApp::spawn().await;
    let (ann, ann_tokens) = t.api_signup().await;
    let (_, bob_tokens) = t.api_signup().await;
    write_recipes(&t, &ann_tokens.access, "Ann's pie", 3).await;
    write_recipes(&t, &bob_tokens.access, "Bob's bread", 2).await;
    let private = json!({"name": "Ann's secret", "description": "", "cook_time": 5, "directions": "Hush.", "visibility": "private"});
    assert_eq!(t.post_json("/api/v1/recipes", Some(&ann_tokens.access), &private).await.status(), Status::Created);

    let upper = ann.username.to_uppercase();
    let api: Value = t.get_json(&format!("/api/v1/recipes?author={upper}"), None).await.into_json().await.unwrap();
    assert_eq!(api["total"], 3, "Ann's public recipes only: {api}");
    assert!(api["items"].as_array().unwrap().iter().all(|r| r["author"]["username"] == ann.username.as_str()));
    let own: Value = t.get_json(&format!("/api/v1/recipes?author={}", ann.username), Some(&ann_tokens.access)).await.into_json().await.unwrap();
    assert_eq!(own["total"], 4, "the owner also sees her private recipe");
    let searched: Value = t.get_json(&format!("/api/v1/recipes?author={}&q=pie%2003", ann.username), None).await.into_json().await.unwrap();
    assert_eq!(searched["total"], 1, "author and search combine");

    let page = t.client.get(format!("/recipes?author={upper}")).dispatch().await.into_string().await.unwrap();
    assert_eq!(page.matches(r#"class="card""#).count(), 3);
    assert!(!page.contains("Bob&#x27;s bread") && !page.contains("Ann&#x27;s secret"));
    let nobody = t.client.get("/recipes?author=nobody_here").dispatch().await;
    assert_eq!(nobody.status(), Status::Ok, "an unknown author is an empty list, not an error");
    assert!(nobody.into_string().await.unwrap().contains("No recipes by nobody_here"));
    for path in ["/recipes?author=ann%00x", "/recipes?author=ann%20pie", "/recipes?author=%3Cscript%3E"] {
        let odd = t.client.get(path).dispatch().await;
        assert_eq!(odd.status(), Status::BadRequest, "{path}: no user could have this name");
        let html = odd.into_string().await.unwrap();
        assert!(html.contains("author must be a username") && !html.contains("<script>"), "{path}: says why, echoes nothing");
    }
    let api = t.get_json("/api/v1/recipes?author=ann%00x", None).await;
    assert_eq!(api.status(), Status::UnprocessableEntity);
}

/// `/me` as the browser's session sees it, or as the session of `access`.
async fn me_page(t: &TestApp, access: Option<&str>) -> String {
    let mut request = t.client.get("/me");
    if let Some(access) = access {
        request = request.cookie(Cookie::new("access_token", access.to_owned()));
    }
    let response = request.dispatch().await;
    assert_eq!(response.status(), Status::Ok, "GET /me");
    response.into_string().await.unwrap()
}

/// The session a page marks as "this browser" (the form to end it follows
/// the mark in its row).
fn marked_session(page: &str) -> String {
    let marked = page.split(r#"<span class="badge">this browser</span>"#).nth(1).expect("a session marked as this browser");
    let sid = marked.split("/me/sessions/").nth(1).expect("the form to end it");
    sid[..36].to_owned()
}

fn sid_of(access: &str) -> String {
    claims_of(access)["sid"].as_str().unwrap().to_owned()
}

#[rocket::async_test]
async fn me_is_drawn_for_each_session_and_follows_every_change_at_once() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let browser = sid_of(&t.cookie("access_token").unwrap());
    let other = t.api_login(&user).await;
    let page = me_page(&t, None).await;
    let other_page = me_page(&t, Some(&other.access)).await;
    assert_eq!((marked_session(&page), marked_session(&other_page)), (browser.clone(), sid_of(&other.access)));
    let csrf = extract_csrf(&page).unwrap();
    assert_ne!(csrf, extract_csrf(&other_page).unwrap(), "each session's page carries its own CSRF value");
    assert_eq!(extract_csrf(&me_page(&t, None).await).unwrap(), csrf, "and keeps it");

    write_recipes(&t, &other.access, "Broth", 1).await;
    assert!(me_page(&t, None).await.contains("Broth 01"), "a new recipe shows at once");

    let ended = t.post_form(&format!("/me/sessions/{}/revoke", sid_of(&other.access)), Some(&csrf), &[]).await;
    assert_eq!((ended.status(), location(&ended)), (Status::SeeOther, "/me".to_owned()));
    let page = me_page(&t, None).await;
    assert!(page.contains("The session has ended."), "the flash message shows");
    assert!(!page.contains(&sid_of(&other.access)), "and the ended session is gone");
    let page = me_page(&t, None).await;
    assert!(!page.contains("The session has ended.") && page.contains(&browser), "the message shows once");
    let revoked = t.client.get("/me").cookie(Cookie::new("access_token", other.access.clone())).dispatch().await;
    assert_eq!(revoked.status(), Status::SeeOther, "the ended session's page is gone with it");
}

/// Time alone ends a session: no write tells anyone, and `/me` drops it
/// when it expires.
#[rocket::async_test]
async fn a_session_leaves_me_when_it_expires() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let other = t.api_login(&user).await;
    let sid: Uuid = sid_of(&other.access).parse().unwrap();
    // A few seconds ahead, counted from now rather than from the login, so
    // a slow machine still shows it before it expires.
    let expires = recipebox::store::now().unix_timestamp() + 3;
    session::Entity::update_many()
        .col_expr(session::Column::ExpiresAt, Expr::value(recipebox::store::ts(expires)))
        .filter(session::Column::Sid.eq(sid))
        .exec(&t.app().db)
        .await
        .unwrap();
    assert!(me_page(&t, None).await.contains(&sid.to_string()), "listed while it lives");
    while recipebox::store::now().unix_timestamp() <= expires {
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!me_page(&t, None).await.contains(&sid.to_string()), "gone once it expired");
}
