//! Recipes, route by route and role by role (SPEC.md §2, §4, §5; issue 4):
//! pages and the JSON API for the owner, another user, an admin and an
//! anonymous visitor; paging; literal search; field bounds; private recipes;
//! escaping; a deleted user's recipes going with them.

use rocket::http::{ContentType, Method, Status};
use rocket::local::asynchronous::LocalResponse;
use serde_json::{json, Value};

use crate::helpers::{bearer, enc, error_code, location, TestApp};

const XSS: &str = r#""><script>alert(1)</script>"#;
const SQLI: &str = "'; DROP TABLE recipes; --";

fn recipe(name: &str) -> Value {
    json!({"name": name, "description": "Tasty.", "cook_time": 30, "directions": "Cook it."})
}

async fn api_create(t: &TestApp, token: &str, body: &Value) -> i64 {
    let response = t.post_json("/api/v1/recipes", Some(token), body).await;
    assert_eq!(response.status(), Status::Created, "create {body}");
    response.into_json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// A page: its status and body.
async fn page(t: &TestApp, path: &str) -> (Status, String) {
    let response = t.client.get(path.to_owned()).dispatch().await;
    (response.status(), response.into_string().await.unwrap_or_default())
}

/// An API GET: its status and JSON body (`null` when there is none).
async fn api_get(t: &TestApp, path: &str, token: Option<&str>) -> (Status, Value) {
    let response = t.get_json(path, token).await;
    (response.status(), response.into_json().await.unwrap_or(Value::Null))
}

/// A PUT (with `body`) or DELETE to the API.
async fn api_send<'a>(t: &'a TestApp, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> LocalResponse<'a> {
    let mut request = t.client.req(method, path.to_owned());
    if let Some(body) = body {
        request = request.header(ContentType::JSON).body(body.to_string());
    }
    if let Some(token) = token {
        request = request.header(bearer(token));
    }
    request.dispatch().await
}

async fn api_put<'a>(t: &'a TestApp, path: &str, token: Option<&str>, body: &Value) -> LocalResponse<'a> {
    api_send(t, Method::Put, path, token, Some(body)).await
}

async fn api_delete(t: &TestApp, path: &str, token: Option<&str>) -> Status {
    api_send(t, Method::Delete, path, token, None).await.status()
}

fn form(name: &str) -> Vec<(&'static str, String)> {
    let fields = [("name", name), ("description", "Spicy."), ("cook_time", "90"), ("directions", "Simmer slowly."), ("visibility", "public")];
    fields.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

async fn post_fields(t: &TestApp, path: &str, csrf: Option<&str>, fields: &[(&'static str, String)]) -> (Status, String, String) {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = t.post_form(path, csrf, &pairs).await;
    let (status, to) = (response.status(), location(&response));
    (status, to, response.into_string().await.unwrap_or_default())
}

/// Creates through the browser form as the logged-in user; returns the id.
async fn form_create(t: &TestApp, fields: &[(&'static str, String)]) -> i64 {
    let csrf = t.session_csrf().await;
    let (status, to, _) = post_fields(t, "/recipes", Some(&csrf), fields).await;
    assert_eq!(status, Status::SeeOther);
    to.strip_prefix("/recipes/").expect("303 to the recipe").parse().unwrap()
}

async fn api_name(t: &TestApp, id: i64) -> String {
    let (status, body) = api_get(t, &format!("/api/v1/recipes/{id}"), None).await;
    assert_eq!(status, Status::Ok);
    body["name"].as_str().unwrap().to_owned()
}

async fn api_total(t: &TestApp, token: Option<&str>, query: &str) -> u64 {
    let (status, body) = api_get(t, &format!("/api/v1/recipes?per_page=100{query}"), token).await;
    assert_eq!(status, Status::Ok, "list {query}");
    body["total"].as_u64().unwrap()
}

// Pages: list, search and paging

#[rocket::async_test]
async fn cook_time_is_shown_in_hours_and_minutes_on_the_list_and_the_recipe() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    for (minutes, shown) in [(1, "1 min"), (45, "45 min"), (60, "1 h"), (90, "1 h 30 min"), (1440, "24 h")] {
        let id = api_create(&t, &owner.access, &json!({"name": format!("Dish {minutes}"), "cook_time": minutes, "directions": "Go."})).await;
        assert!(page(&t, &format!("/recipes/{id}")).await.1.contains(shown), "{minutes} min reads {shown}");
        assert!(page(&t, "/recipes").await.1.contains(shown), "the list shows {shown}");
    }
}

#[rocket::async_test]
async fn lists_hold_twenty_newest_first_the_api_caps_per_page_at_100_and_a_page_past_the_end_is_empty() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    let mut ids = Vec::new();
    for n in 1..=25 {
        ids.push(api_create(&t, &owner.access, &recipe(&format!("Recipe {n:02}"))).await);
    }
    let (status, first) = page(&t, "/recipes").await;
    assert_eq!(status, Status::Ok);
    assert!(page(&t, "/recipes?page=1").await.1.contains("Recipe 25"), "page 1 is the default");
    let positions: Vec<usize> = (6..=25).rev().map(|n| first.find(&format!("Recipe {n:02}")).expect("on page 1")).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "newest first");
    assert!((1..=5).all(|n| !first.contains(&format!("Recipe {n:02}"))), "20 a page");
    assert_eq!(first.matches(r#"class="card""#).count(), 20, "20 cards on page 1");
    assert!(first.contains("Page 1 of 2") && first.contains(r#"href="/recipes?page=2""#));
    let (status, second) = page(&t, "/recipes?page=2").await;
    assert_eq!(status, Status::Ok);
    let positions: Vec<usize> = (1..=5).rev().map(|n| second.find(&format!("Recipe {n:02}")).expect("on page 2")).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "newest first on page 2 too");
    assert_eq!(second.matches(r#"class="card""#).count(), 5, "the last 5 on page 2");
    assert!(!second.contains("Recipe 06") && second.contains("Page 2 of 2") && second.contains(r#"href="/recipes?page=1""#));
    for past in ["3", "1000", "99999999999999999999999"] {
        let (status, html) = page(&t, &format!("/recipes?page={past}")).await;
        assert_eq!(status, Status::Ok, "page={past}");
        assert!(html.contains("No recipes on this page") && !html.contains("Recipe 01"), "page={past}");
    }
    ids.reverse();
    for (query, page, per_page, expected) in [
        ("", 1, 20, &ids[..20]), ("?page=2", 2, 20, &ids[20..]),
        ("?per_page=500", 1, 100, &ids[..]), ("?per_page=10&page=3", 3, 10, &ids[20..]),
        ("?per_page=10&page=4", 4, 10, &ids[25..]), ("?page=1000", 1000, 20, &ids[25..]),
    ] {
        let (status, body) = api_get(&t, &format!("/api/v1/recipes{query}"), None).await;
        assert_eq!(status, Status::Ok, "{query}");
        assert_eq!((body["page"].as_u64(), body["per_page"].as_u64(), body["total"].as_u64()), (Some(page), Some(per_page), Some(25)), "{query}");
        let got: Vec<i64> = body["items"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
        assert_eq!(got, expected, "{query}: newest first");
    }
}

#[rocket::async_test]
async fn a_page_number_that_is_not_a_whole_number_from_one_is_a_400_page() {
    let t = TestApp::spawn().await;
    for bad in ["0", "abc", "-1", "1.5", "%20x"] {
        let (status, html) = page(&t, &format!("/recipes?page={bad}")).await;
        assert_eq!(status, Status::BadRequest, "page={bad}");
        assert!(html.contains("page must be a whole number"), "page={bad} explains itself");
    }
    let (status, _) = page(&t, &format!("/recipes?q={}", "x".repeat(201))).await;
    assert_eq!(status, Status::BadRequest, "an overlong search");
    let (status, html) = page(&t, "/recipes?q=lem%00on").await;
    assert_eq!(status, Status::BadRequest, "a NUL in a search");
    assert!(html.contains("cannot contain a NUL character"));
}

#[rocket::async_test]
async fn the_api_refuses_page_zero_and_non_numeric_paging_with_422_fields() {
    let t = TestApp::spawn().await;
    for (query, field) in [("page=0", "page"), ("page=abc", "page"), ("page=-2", "page"), ("page=1.5", "page"), ("per_page=0", "per_page"), ("per_page=ten", "per_page"), ("q=lem%00on", "q")] {
        let response = t.get_json(&format!("/api/v1/recipes?{query}"), None).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "{query}");
        let body: Value = response.into_json().await.unwrap();
        assert_eq!(body["error"]["code"], "validation_failed", "{query}");
        assert!(body["error"]["fields"][field].is_string(), "{query} names {field}: {body}");
    }
}

#[rocket::async_test]
async fn search_is_a_literal_case_insensitive_substring_without_wildcards_and_the_pager_keeps_the_term() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    let names = ["500 g flour cake", "50% whole wheat", "a_b soup", "axb soup", r#"Grandma's "best" pie"#, "Plain toast", "Wow! bread", "Tea"];
    let mut ids = std::collections::HashMap::new();
    for name in names {
        let description = if name == "Plain toast" { "A pinch of SAFFRON." } else { "Nothing special." };
        let body = json!({"name": name, "description": description, "cook_time": 10, "directions": "Do it."});
        ids.insert(name, api_create(&t, &owner.access, &body).await);
    }
    for (q, expected) in [
        ("50%", vec!["50% whole wheat"]), ("%", vec!["50% whole wheat"]), ("a_b", vec!["a_b soup"]),
        ("_", vec!["a_b soup"]), ("!", vec!["Wow! bread"]), ("saffron", vec!["Plain toast"]),
        ("GRANDMA'S", vec![r#"Grandma's "best" pie"#]), (r#""best""#, vec![r#"Grandma's "best" pie"#]), ("SOUP", vec!["axb soup", "a_b soup"]),
        ("' OR '1'='1", vec![]), (SQLI, vec![]), ("zzz", vec![]),
    ] {
        let (status, body) = api_get(&t, &format!("/api/v1/recipes?q={}", enc(q)), None).await;
        assert_eq!(status, Status::Ok, "q={q}");
        let got: Vec<&str> = body["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(got, expected, "API q={q:?}");
        assert_eq!(body["total"].as_u64(), Some(expected.len() as u64), "q={q:?}");
        let (status, html) = page(&t, &format!("/recipes?q={}", enc(q))).await;
        assert_eq!(status, Status::Ok, "page q={q}");
        for name in names {
            let link = format!(r#"href="/recipes/{}""#, ids[name]);
            assert_eq!(html.contains(&link), expected.contains(&name), "page q={q:?}, recipe {name:?}");
        }
        if expected.is_empty() {
            assert!(html.contains("No recipe matches"), "page q={q:?}");
        }
    }
    assert_eq!(api_total(&t, None, "").await, names.len() as u64, "no payload dropped anything");
    for n in 0..21 {
        api_create(&t, &owner.access, &recipe(&format!("Tofu {n}"))).await;
    }
    let html = page(&t, "/recipes?q=tofu").await.1;
    assert!(html.contains(r#"href="/recipes?page=2&amp;q=tofu""#), "the pager keeps the search");
}

/// SQLite's `LOWER()` folds ASCII only; search matches a `search_text` column
/// lower-cased in Rust, so "CRÈME" finds "crème" too (src/store/recipes.rs).
#[rocket::async_test]
async fn search_is_case_insensitive_for_accented_letters_too() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    api_create(&t, &owner.access, &recipe("CRÈME brûlée")).await;
    for q in ["CRÈME", "crème", "Crème", "BRÛLÉE"] {
        assert_eq!(api_total(&t, None, &format!("&q={}", enc(q))).await, 1, "q={q}");
        assert!(page(&t, &format!("/recipes?q={}", enc(q))).await.1.contains("brûlée"), "page q={q}");
    }
    // Literal on every backend: a letter without its accent is another
    // letter (MySQL's usual collations would say otherwise).
    for q in ["creme", "brulee"] {
        assert_eq!(api_total(&t, None, &format!("&q={}", enc(q))).await, 0, "q={q}");
    }
}

/// Search answers from an index on SQLite (a trigram table that triggers
/// keep in step) and lists are kept in memory until a recipe changes: both
/// follow every edit and delete at once.
#[rocket::async_test]
async fn search_and_lists_follow_every_edit_and_delete_at_once() {
    let t = TestApp::spawn().await;
    let (_, cook) = t.api_signup().await;
    let id = api_create(&t, &cook.access, &recipe("Saffron rice")).await;
    assert_eq!((api_total(&t, None, "&q=saffron").await, api_total(&t, None, "").await), (1, 1));
    let path = format!("/api/v1/recipes/{id}");
    assert_eq!(api_put(&t, &path, Some(&cook.access), &recipe("Lemon rice")).await.status(), Status::Ok);
    assert_eq!(api_total(&t, None, "&q=saffron").await, 0, "the old name is no longer found");
    assert_eq!(api_total(&t, None, "&q=lemon").await, 1, "the new one is");
    let private = json!({"name": "Lemon rice", "cook_time": 5, "directions": "x", "visibility": "private"});
    assert_eq!(api_put(&t, &path, Some(&cook.access), &private).await.status(), Status::Ok);
    assert_eq!(api_total(&t, None, "&q=lemon").await, 0, "private now: gone for visitors");
    assert_eq!(api_total(&t, Some(&cook.access), "&q=lemon").await, 1, "but not for its owner");
    assert_eq!(api_delete(&t, &path, Some(&cook.access)).await, Status::NoContent);
    assert_eq!(api_total(&t, Some(&cook.access), "&q=lemon").await, 0);
    assert_eq!(api_total(&t, Some(&cook.access), "").await, 0);
}

/// A visitor's home page and lists are kept with their list: they follow
/// every change at once, and a flash message (a verification link followed
/// while logged out) shows once.
#[rocket::async_test]
async fn a_visitors_pages_follow_every_change_and_show_a_flash_message_once() {
    let t = TestApp::spawn().await;
    let (cook, tokens) = t.api_signup().await;
    let id = api_create(&t, &tokens.access, &recipe("Saffron rice")).await;
    for path in ["/", "/recipes", "/recipes?q=saffron"] {
        assert!(page(&t, path).await.1.contains("Saffron rice"), "{path}");
    }
    let path = format!("/api/v1/recipes/{id}");
    assert_eq!(api_put(&t, &path, Some(&tokens.access), &recipe("Lemon rice")).await.status(), Status::Ok);
    for path in ["/", "/recipes"] {
        let (_, body) = page(&t, path).await;
        assert!(body.contains("Lemon rice") && !body.contains("Saffron rice"), "{path} follows the edit");
    }
    assert!(page(&t, "/recipes?q=saffron").await.1.contains("No recipe matches"), "and so does search");
    assert_eq!(api_delete(&t, &path, Some(&tokens.access)).await, Status::NoContent);
    assert!(!page(&t, "/").await.1.contains("Lemon rice"), "and the delete");

    let mail = t.mail("Confirm your email address", 1).await.remove(0);
    let link = mail[mail.find("/verify-email?token=").expect("a verification link")..].split_whitespace().next().unwrap();
    assert_eq!(location(&t.client.get(link.to_owned()).dispatch().await), "/");
    let thanks = format!("Thank you: {} is verified.", cook.email);
    assert!(page(&t, "/").await.1.contains(&thanks), "the message shows on the visitor's home page");
    assert!(!page(&t, "/").await.1.contains(&thanks), "once");
}

// Create, edit, delete and ownership

#[rocket::async_test]
async fn anonymous_visitor_cannot_open_the_new_recipe_form_or_write_but_may_read() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    let id = api_create(&t, &owner.access, &recipe("Pancakes")).await;
    for (path, next) in [("/recipes/new".to_owned(), "%2Frecipes%2Fnew".to_owned()), (format!("/recipes/{id}/edit"), format!("%2Frecipes%2F{id}%2Fedit"))] {
        let response = t.client.get(path.clone()).dispatch().await;
        assert_eq!(response.status(), Status::SeeOther, "GET {path}");
        assert_eq!(location(&response), format!("/login?next={next}"), "GET {path}");
    }
    for path in ["/recipes".to_owned(), format!("/recipes/{id}")] {
        let (status, html) = page(&t, &path).await;
        assert_eq!(status, Status::Ok, "GET {path}");
        assert!(html.contains("Pancakes"), "GET {path}");
    }
    for path in ["/recipes".to_owned(), format!("/recipes/{id}"), format!("/recipes/{id}/delete")] {
        let (status, to, _) = post_fields(&t, &path, None, &form("Hijacked")).await;
        assert_eq!(status, Status::SeeOther, "POST {path}");
        assert!(to.starts_with("/login"), "POST {path} goes to {to}");
    }
    assert_eq!(api_get(&t, &format!("/api/v1/recipes/{id}"), None).await.0, Status::Ok);
    assert_eq!(error_code(t.post_json("/api/v1/recipes", None, &recipe("x")).await, Status::Unauthorized).await, "token_missing");
    assert_eq!(api_put(&t, &format!("/api/v1/recipes/{id}"), None, &recipe("x")).await.status(), Status::Unauthorized);
    assert_eq!(api_delete(&t, &format!("/api/v1/recipes/{id}"), None).await, Status::Unauthorized);
    assert_eq!(api_name(&t, id).await, "Pancakes", "nothing changed");
    assert_eq!(api_total(&t, None, "").await, 1);
}

#[rocket::async_test]
async fn a_cook_publishes_a_recipe_from_the_form_and_sees_it_with_author_and_cook_time() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    assert_eq!(page(&t, "/recipes/new").await.0, Status::Ok);
    let id = form_create(&t, &form("Kimchi stew")).await;
    let (status, html) = page(&t, &format!("/recipes/{id}")).await;
    assert_eq!(status, Status::Ok);
    for shown in ["Recipe published.", "Kimchi stew", "Spicy.", "Simmer slowly.", "1 h 30 min", user.username.as_str()] {
        assert!(html.contains(shown), "the recipe page shows {shown:?}");
    }
    let (_, body) = api_get(&t, &format!("/api/v1/recipes/{id}"), None).await;
    assert_eq!(body["cook_time"], 90);
    assert_eq!(body["visibility"], "public");
    assert_eq!(body["author"]["username"], user.username.as_str());
}

#[rocket::async_test]
async fn the_owner_edits_and_deletes_in_the_browser() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let id = form_create(&t, &form("Kimchi stew")).await;
    let (status, html) = page(&t, &format!("/recipes/{id}/edit")).await;
    assert_eq!(status, Status::Ok);
    assert!(html.contains(r#"value="Kimchi stew""#) && html.contains(r#"value="90""#), "the edit form is filled in");
    let csrf = t.session_csrf().await;
    let mut changed = form("Kimchi stew, improved");
    changed[4].1 = "private".into();
    let (status, to, _) = post_fields(&t, &format!("/recipes/{id}"), Some(&csrf), &changed).await;
    assert_eq!((status, to), (Status::SeeOther, format!("/recipes/{id}")));
    let html = page(&t, &format!("/recipes/{id}")).await.1;
    assert!(html.contains("Kimchi stew, improved") && html.contains(r#"class="badge">private"#));
    let (status, to, _) = post_fields(&t, &format!("/recipes/{id}/delete"), Some(&csrf), &[]).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, "/recipes"));
    assert_eq!(page(&t, &format!("/recipes/{id}")).await.0, Status::NotFound);
}

#[rocket::async_test]
async fn recipe_forms_without_the_right_csrf_token_are_refused_with_403() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let id = form_create(&t, &form("Original")).await;
    for csrf in [None, Some("not-the-token")] {
        for path in ["/recipes".to_owned(), format!("/recipes/{id}"), format!("/recipes/{id}/delete")] {
            let (status, _, html) = post_fields(&t, &path, csrf, &form("Forged")).await;
            assert_eq!(status, Status::Forbidden, "POST {path} with {csrf:?}");
            assert!(html.contains("expired"), "the page says the form expired");
        }
    }
    assert_eq!(api_name(&t, id).await, "Original");
    assert_eq!(api_total(&t, None, "").await, 1, "nothing was created");
}

#[rocket::async_test]
async fn form_fields_out_of_bounds_get_422_with_a_message_beside_the_field_and_values_kept() {
    let t = TestApp::spawn().await;
    t.signup().await;
    // (field, value, the message shown beside it; `None` when the value is fine)
    let (range, whole) = (Some("Cook time is 1 to 1440 minutes."), Some("Cook time is a whole number of minutes"));
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        ("name", "n".repeat(100), None), ("name", "🍲".repeat(100), None), ("name", "n".repeat(101), Some("At most 100 characters")),
        ("name", "".into(), Some("Enter a name.")), ("name", "   ".into(), Some("Enter a name.")), ("description", "".into(), None),
        ("description", "d".repeat(1000), None), ("description", "d".repeat(1001), Some("At most 1000 characters")), ("cook_time", "1".into(), None),
        ("cook_time", "1440".into(), None), ("cook_time", "0".into(), range), ("cook_time", "1441".into(), range),
        ("cook_time", "abc".into(), whole), ("cook_time", "2.5".into(), whole), ("cook_time", "-5".into(), range),
        ("cook_time", "".into(), Some("Enter the cook time")), ("directions", "x".repeat(20_000), None), ("directions", "x".repeat(20_001), Some("At most 20000 characters")),
        ("directions", "".into(), Some("Enter the directions.")), ("visibility", "secret".into(), Some("Visibility is public or private.")),
    ];
    let mut created = 0;
    for (field, value, message) in &cases {
        let mut fields = form("Kept name");
        fields[4].1 = "private".into();
        fields.iter_mut().find(|(k, _)| k == field).unwrap().1 = value.clone();
        let csrf = t.session_csrf().await;
        let (status, to, html) = post_fields(&t, "/recipes", Some(&csrf), &fields).await;
        let case = format!("{field} = {:?} ({} chars)", &value[..value.len().min(12)], value.chars().count());
        let Some(message) = message else {
            assert_eq!(status, Status::SeeOther, "{case}");
            assert!(to.starts_with("/recipes/"), "{case}");
            created += 1;
            continue;
        };
        assert_eq!(status, Status::UnprocessableEntity, "{case}");
        let beside = if *field == "visibility" { r#"<p class="error">"#.to_owned() } else { format!(r#"class="error" id="{field}-error">"#) };
        assert!(html.contains(&beside), "{case}: a message beside the field");
        assert!(html.contains(&format!("{beside}{message}")), "{case}: the message says {message:?}");
        assert_eq!(html.matches(r#"class="error""#).count(), 1, "{case}: only that field is marked");
        if *field != "visibility" {
            assert!(html.contains(value.as_str()), "{case}: the value is kept");
        }
        for (other, kept) in [("name", r#"value="Kept name""#), ("cook_time", r#"value="90""#), ("directions", ">Simmer slowly.</textarea>"), ("visibility", r#"value="private" checked"#)] {
            if other != *field {
                assert!(html.contains(kept), "{case}: {other} kept");
            }
        }
    }
    let html = page(&t, "/recipes").await.1;
    assert_eq!(html.matches(r#"class="card""#).count(), created.min(20), "only the good ones were created");
}

#[rocket::async_test]
async fn a_bad_edit_is_shown_again_with_422_and_the_recipe_is_unchanged() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let id = form_create(&t, &form("Before")).await;
    let csrf = t.session_csrf().await;
    let mut fields = form("After");
    fields[2].1 = "1441".into();
    let (status, _, html) = post_fields(&t, &format!("/recipes/{id}"), Some(&csrf), &fields).await;
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(html.contains(r#"id="cook_time-error""#) && html.contains(r#"value="After""#) && html.contains(r#"value="1441""#));
    assert!(html.contains(&format!(r#"action="&#x2F;recipes&#x2F;{id}""#)), "the form still updates this recipe");
    assert_eq!(api_name(&t, id).await, "Before");
}

#[rocket::async_test]
async fn another_user_gets_403_on_edit_update_and_delete_of_a_public_recipe() {
    let t = TestApp::spawn().await;
    let owner = t.signup().await;
    let id = form_create(&t, &form("Mine")).await;
    t.logout().await;
    t.signup().await;
    let html = page(&t, &format!("/recipes/{id}")).await.1;
    assert!(html.contains("Mine") && !html.contains(&format!("/recipes/{id}/edit")), "no edit link for others");
    assert_eq!(page(&t, &format!("/recipes/{id}/edit")).await.0, Status::Forbidden);
    let csrf = t.session_csrf().await;
    for path in [format!("/recipes/{id}"), format!("/recipes/{id}/delete")] {
        assert_eq!(post_fields(&t, &path, Some(&csrf), &form("Stolen")).await.0, Status::Forbidden, "POST {path}");
    }
    assert_eq!(api_name(&t, id).await, "Mine");
    t.logout().await;
    assert_eq!(t.login(&owner.email, &owner.password).await.status(), Status::SeeOther);
    assert_eq!(page(&t, &format!("/recipes/{id}/edit")).await.0, Status::Ok, "the owner still may");
}

#[rocket::async_test]
async fn an_admin_may_delete_but_not_edit_someone_elses_recipe_in_the_browser() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    let public = api_create(&t, &owner.access, &recipe("Public one")).await;
    let private = api_create(&t, &owner.access, &json!({"name": "Secret one", "cook_time": 5, "directions": "x", "visibility": "private"})).await;
    let admin = t.signup().await;
    t.make_admin(&admin.email).await;
    let list = page(&t, "/recipes").await.1;
    assert!(list.contains("Public one") && list.contains("Secret one"), "admins list private recipes");
    assert!(page(&t, "/recipes?q=secret").await.1.contains("Secret one"), "and find them");
    assert_eq!(page(&t, &format!("/recipes/{private}")).await.0, Status::Ok);
    let csrf = t.session_csrf().await;
    for id in [public, private] {
        assert_eq!(page(&t, &format!("/recipes/{id}/edit")).await.0, Status::Forbidden);
        assert_eq!(post_fields(&t, &format!("/recipes/{id}"), Some(&csrf), &form("Admin edit")).await.0, Status::Forbidden);
        let (status, to, _) = post_fields(&t, &format!("/recipes/{id}/delete"), Some(&csrf), &[]).await;
        assert_eq!((status, to.as_str()), (Status::SeeOther, "/recipes"));
        assert_eq!(api_get(&t, &format!("/api/v1/recipes/{id}"), Some(&owner.access)).await.0, Status::NotFound);
    }
    assert_eq!(api_get(&t, &format!("/api/v1/recipes/{public}"), None).await.0, Status::NotFound, "gone for everyone");
}

// Private recipes

#[rocket::async_test]
async fn someone_elses_private_recipe_is_404_in_every_page_and_hidden_from_lists() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    let id = api_create(&t, &owner.access, &json!({"name": "Hidden stew", "cook_time": 5, "directions": "x", "visibility": "private"})).await;
    assert_eq!(page(&t, &format!("/recipes/{id}")).await.0, Status::NotFound, "anonymous");
    for path in ["/recipes", "/recipes?q=hidden", "/"] {
        assert!(!page(&t, path).await.1.contains("Hidden stew"), "{path} hides it from anonymous");
    }
    t.signup().await;
    assert_eq!(page(&t, &format!("/recipes/{id}")).await.0, Status::NotFound);
    assert_eq!(page(&t, &format!("/recipes/{id}/edit")).await.0, Status::NotFound);
    let csrf = t.session_csrf().await;
    for path in [format!("/recipes/{id}"), format!("/recipes/{id}/delete")] {
        assert_eq!(post_fields(&t, &path, Some(&csrf), &form("Found")).await.0, Status::NotFound, "POST {path}");
    }
    for path in ["/recipes", "/recipes?q=hidden", "/"] {
        assert!(!page(&t, path).await.1.contains("Hidden stew"), "{path} hides it from another user");
    }
    let (status, body) = api_get(&t, &format!("/api/v1/recipes/{id}"), Some(&owner.access)).await;
    assert_eq!((status, body["name"].as_str()), (Status::Ok, Some("Hidden stew")), "untouched, and the owner sees it");
}

#[rocket::async_test]
async fn the_owner_sees_and_finds_their_private_recipe_marked_private() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let mut fields = form("My secret sauce");
    fields[4].1 = "private".into();
    let id = form_create(&t, &fields).await;
    for path in ["/recipes".to_owned(), "/recipes?q=SECRET".to_owned(), format!("/recipes/{id}")] {
        let (status, html) = page(&t, &path).await;
        assert_eq!(status, Status::Ok, "{path}");
        assert!(html.contains("My secret sauce") && html.contains(r#"class="badge">private"#), "{path} shows it as private");
    }
    assert!(page(&t, &format!("/recipes/{id}/edit")).await.1.contains(r#"value="private" checked"#));
}

#[rocket::async_test]
async fn api_private_recipes_are_404_for_others_and_seen_by_the_owner_and_admins() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    let (_, other) = t.api_signup().await;
    let (_, admin) = t.api_admin().await;
    api_create(&t, &owner.access, &recipe("Open stew")).await;
    let id = api_create(&t, &owner.access, &json!({"name": "Closed stew", "cook_time": 5, "directions": "x", "visibility": "private"})).await;
    let path = format!("/api/v1/recipes/{id}");
    for token in [None, Some(other.access.as_str())] {
        assert_eq!(error_code(t.get_json(&path, token).await, Status::NotFound).await, "not_found");
        assert_eq!(api_total(&t, token, "").await, 1, "listed for {token:?}? no");
        assert_eq!(api_total(&t, token, "&q=closed").await, 0, "found by search? no");
    }
    assert_eq!(api_put(&t, &path, Some(&other.access), &recipe("Mine now")).await.status(), Status::NotFound);
    assert_eq!(api_delete(&t, &path, Some(&other.access)).await, Status::NotFound);
    t.signup().await;
    assert_eq!(t.get_json(&path, None).await.status(), Status::NotFound, "the API ignores browser cookies");
    for token in [&owner.access, &admin.access] {
        let (status, body) = api_get(&t, &path, Some(token)).await;
        assert_eq!((status, body["visibility"].as_str()), (Status::Ok, Some("private")));
        assert_eq!(api_total(&t, Some(token), "").await, 2);
        assert_eq!(api_total(&t, Some(token), "&q=CLOSED").await, 1);
    }
    assert_eq!(api_put(&t, &path, Some(&owner.access), &json!({"name": "Closed stew", "cook_time": 5, "directions": "x", "visibility": "public"})).await.status(), Status::Ok);
    assert_eq!(api_get(&t, &path, None).await.0, Status::Ok, "made public, everyone sees it");
}

// API

#[rocket::async_test]
async fn the_api_creates_with_201_a_location_and_the_recipe_defaulting_to_public() {
    let t = TestApp::spawn().await;
    let (user, tokens) = t.api_signup().await;
    let response = t.post_json("/api/v1/recipes", Some(&tokens.access), &recipe("Pancakes")).await;
    assert_eq!(response.status(), Status::Created);
    let to = location(&response);
    let body: Value = response.into_json().await.unwrap();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(to, format!("/api/v1/recipes/{id}"));
    assert_eq!((body["name"].as_str(), body["cook_time"].as_i64(), body["visibility"].as_str()), (Some("Pancakes"), Some(30), Some("public")));
    assert_eq!(body["author"]["username"], user.username.as_str());
    assert_eq!(body["author"]["public_id"], tokens.public_id.as_str());
    assert!(body.get("user_id").is_none() && body["author"].get("id").is_none(), "no internal user id");
    let (status, fetched) = api_get(&t, &to, None).await;
    assert_eq!((status, &fetched), (Status::Ok, &body));
}

#[rocket::async_test]
async fn api_fields_out_of_bounds_get_422_naming_the_field() {
    let t = TestApp::spawn().await;
    let (_, tokens) = t.api_signup().await;
    let id = api_create(&t, &tokens.access, &recipe("Original")).await;
    let cases: Vec<(&str, Option<Value>, bool)> = vec![
        ("name", Some(json!("n".repeat(100))), true), ("name", Some(json!("🍲".repeat(100))), true), ("name", Some(json!("n".repeat(101))), false),
        ("name", Some(json!("")), false), ("name", Some(json!("   ")), false), ("name", None, false),
        ("name", Some(json!(42)), false), ("description", None, true), ("description", Some(json!("d".repeat(1000))), true),
        ("description", Some(json!("d".repeat(1001))), false), ("cook_time", Some(json!(1)), true), ("cook_time", Some(json!(1440)), true),
        ("cook_time", Some(json!(0)), false), ("cook_time", Some(json!(1441)), false), ("cook_time", Some(json!(-5)), false),
        ("cook_time", Some(json!("abc")), false), ("cook_time", Some(json!("30")), false), ("cook_time", Some(json!(2.5)), false),
        ("cook_time", Some(Value::Null), false), ("cook_time", None, false), ("directions", Some(json!("x".repeat(20_000))), true),
        ("directions", Some(json!("x".repeat(20_001))), false), ("directions", Some(json!("")), false), ("visibility", Some(json!("private")), true),
        ("visibility", Some(json!("secret")), false),
    ];
    let mut created = 1;
    for (field, value, ok) in cases {
        let mut body = recipe("Good name");
        match &value {
            Some(v) => body[field] = v.clone(),
            None => drop(body.as_object_mut().unwrap().remove(field)),
        }
        let case = format!("{field} = {}", value.as_ref().map_or("missing".into(), |v| v.to_string().chars().take(14).collect::<String>()));
        let response = t.post_json("/api/v1/recipes", Some(&tokens.access), &body).await;
        if ok {
            assert_eq!(response.status(), Status::Created, "{case}");
            created += 1;
            continue;
        }
        assert_eq!(response.status(), Status::UnprocessableEntity, "{case}");
        let error: Value = response.into_json().await.unwrap();
        assert_eq!(error["error"]["code"], "validation_failed", "{case}");
        assert!(error["error"]["fields"][field].is_string(), "{case}: fields.{field} in {error}");
        let response = api_put(&t, &format!("/api/v1/recipes/{id}"), Some(&tokens.access), &body).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "PUT {case}");
    }
    assert_eq!(api_name(&t, id).await, "Original", "no bad PUT changed it");
    assert_eq!(api_total(&t, Some(&tokens.access), "").await, created);
}

#[rocket::async_test]
async fn malformed_json_is_400_and_an_id_that_is_not_a_number_is_404() {
    let t = TestApp::spawn().await;
    let (_, tokens) = t.api_signup().await;
    let id = api_create(&t, &tokens.access, &recipe("Real")).await;
    for raw in ["{not json", r#"{"name": "x","#, "[1, 2]", "\"just a string\""] {
        let response = t.client.post("/api/v1/recipes").header(ContentType::JSON).header(bearer(&tokens.access)).body(raw).dispatch().await;
        assert_eq!(error_code(response, Status::BadRequest).await, "bad_request", "POST {raw}");
        let response = t.client.put(format!("/api/v1/recipes/{id}")).header(ContentType::JSON).header(bearer(&tokens.access)).body(raw).dispatch().await;
        assert_eq!(response.status(), Status::BadRequest, "PUT {raw}");
    }
    for path in ["/api/v1/recipes/abc", "/api/v1/recipes/1.5", "/api/v1/recipes/999999", "/api/v1/recipes/-1"] {
        assert_eq!(error_code(t.get_json(path, None).await, Status::NotFound).await, "not_found", "GET {path}");
        assert_eq!(api_put(&t, path, Some(&tokens.access), &recipe("x")).await.status(), Status::NotFound, "PUT {path}");
        assert_eq!(api_delete(&t, path, Some(&tokens.access)).await, Status::NotFound, "DELETE {path}");
    }
    t.signup().await;
    for path in ["/recipes/abc", "/recipes/999999", "/recipes/abc/edit", "/recipes/999999/edit"] {
        assert_eq!(page(&t, path).await.0, Status::NotFound, "{path}");
    }
    let csrf = t.session_csrf().await;
    for path in ["/recipes/abc", "/recipes/abc/delete", "/recipes/999999/delete"] {
        assert_eq!(post_fields(&t, path, Some(&csrf), &form("x")).await.0, Status::NotFound, "POST {path}");
    }
    assert_eq!(api_name(&t, id).await, "Real");
}

#[rocket::async_test]
async fn api_update_is_for_the_owner_and_delete_for_the_owner_or_an_admin() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    let (_, other) = t.api_signup().await;
    let (_, admin) = t.api_admin().await;
    let first = api_create(&t, &owner.access, &recipe("First")).await;
    let second = api_create(&t, &owner.access, &recipe("Second")).await;
    for token in [&other.access, &admin.access] {
        assert_eq!(api_get(&t, &format!("/api/v1/recipes/{first}"), Some(token)).await.0, Status::Ok);
        let response = api_put(&t, &format!("/api/v1/recipes/{first}"), Some(token), &recipe("Taken over")).await;
        assert_eq!(error_code(response, Status::Forbidden).await, "forbidden");
    }
    assert_eq!(api_delete(&t, &format!("/api/v1/recipes/{first}"), Some(&other.access)).await, Status::Forbidden);
    assert_eq!(api_name(&t, first).await, "First");
    let response = api_put(&t, &format!("/api/v1/recipes/{first}"), Some(&owner.access), &json!({"name": "First, better", "description": "", "cook_time": 61, "directions": "Now."})).await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!((body["id"].as_i64(), body["name"].as_str(), body["cook_time"].as_i64()), (Some(first), Some("First, better"), Some(61)));
    assert_eq!(api_name(&t, first).await, "First, better");
    assert_eq!(api_delete(&t, &format!("/api/v1/recipes/{first}"), Some(&owner.access)).await, Status::NoContent);
    assert_eq!(api_delete(&t, &format!("/api/v1/recipes/{second}"), Some(&admin.access)).await, Status::NoContent);
    for id in [first, second] {
        assert_eq!(api_get(&t, &format!("/api/v1/recipes/{id}"), Some(&owner.access)).await.0, Status::NotFound);
        assert_eq!(api_get(&t, &format!("/api/v1/recipes/{id}"), None).await.0, Status::NotFound);
        assert_eq!(api_delete(&t, &format!("/api/v1/recipes/{id}"), Some(&owner.access)).await, Status::NotFound, "gone");
    }
}

// Escaping

#[rocket::async_test]
async fn hostile_text_round_trips_literally_through_the_api() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    let body = json!({
        "name": XSS,
        "description": format!("{SQLI} \" OR 1=1 -- <b>bold</b> & 🍲"),
        "cook_time": 15,
        "directions": "<img src=x onerror=alert(1)>\n  line two\twith tab  ",
    });
    let id = api_create(&t, &owner.access, &body).await;
    let (status, got) = api_get(&t, &format!("/api/v1/recipes/{id}"), None).await;
    assert_eq!(status, Status::Ok);
    for field in ["name", "description", "directions"] {
        assert_eq!(got[field], body[field], "{field} is stored exactly");
    }
    let (_, list) = api_get(&t, &format!("/api/v1/recipes?q={}", enc("DROP TABLE")), None).await;
    assert_eq!(list["items"][0]["name"], XSS, "search finds it and the table survived");
    let response = api_put(&t, &format!("/api/v1/recipes/{id}"), Some(&owner.access), &json!({"name": SQLI, "cook_time": 1, "directions": XSS})).await;
    assert_eq!(response.status(), Status::Ok);
    let put: Value = response.into_json().await.unwrap();
    assert_eq!((put["name"].as_str(), put["directions"].as_str()), (Some(SQLI), Some(XSS)));
    assert_eq!(api_name(&t, id).await, SQLI);
}

#[rocket::async_test]
async fn hostile_text_renders_escaped_in_the_list_the_recipe_and_the_edit_form() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let mut fields = form(XSS);
    fields[1].1 = "<b>bold</b> & more".into();
    fields[3].1 = format!("<img src=x onerror=alert(1)> {SQLI}");
    let id = form_create(&t, &fields).await;
    let (_, stored) = api_get(&t, &format!("/api/v1/recipes/{id}"), None).await;
    assert_eq!((stored["name"].as_str(), stored["directions"].as_str()), (Some(XSS), Some(fields[3].1.as_str())), "stored exactly");
    let q = enc("<script>");
    for path in ["/recipes".to_owned(), format!("/recipes?q={q}"), format!("/recipes/{id}"), format!("/recipes/{id}/edit"), "/".to_owned()] {
        let (status, html) = page(&t, &path).await;
        assert_eq!(status, Status::Ok, "{path}");
        for raw in ["<script>alert", "\"><script", "<b>bold", "<img src=x"] {
            assert!(!html.contains(raw), "{path} has raw {raw:?}");
        }
        assert!(html.contains("&lt;script&gt;alert(1)"), "{path} shows the name escaped");
    }
    let show = page(&t, &format!("/recipes/{id}")).await.1;
    assert!(show.contains("&lt;img src=x onerror=alert(1)&gt;") && show.contains("&lt;b&gt;bold&lt;"), "escaped, not dropped");
    let (status, html) = page(&t, &format!("/recipes?q={}", enc("<i>nothing</i>"))).await;
    assert_eq!(status, Status::Ok);
    assert!(!html.contains("<i>nothing") && html.contains("&lt;i&gt;nothing"), "the search term is escaped too");
}

// Cascade delete

#[rocket::async_test]
async fn deleting_a_user_through_the_admin_api_removes_their_recipes() {
    let t = TestApp::spawn().await;
    let (_, doomed) = t.api_signup().await;
    let (_, keeper) = t.api_signup().await;
    let (_, admin) = t.api_admin().await;
    let mut gone = Vec::new();
    for (name, visibility) in [("Doomed one", "public"), ("Doomed two", "public"), ("Doomed three", "private")] {
        gone.push(api_create(&t, &doomed.access, &json!({"name": name, "cook_time": 5, "directions": "x", "visibility": visibility})).await);
    }
    let kept = api_create(&t, &keeper.access, &recipe("Kept one")).await;
    let user_path = format!("/api/v1/users/{}", doomed.public_id);
    assert_eq!(api_delete(&t, &user_path, Some(&keeper.access)).await, Status::Forbidden, "not for a plain user");
    assert_eq!(api_total(&t, Some(&admin.access), "").await, 4);
    assert_eq!(api_delete(&t, &user_path, Some(&admin.access)).await, Status::NoContent);
    for id in &gone {
        assert_eq!(api_get(&t, &format!("/api/v1/recipes/{id}"), Some(&admin.access)).await.0, Status::NotFound);
        assert_eq!(page(&t, &format!("/recipes/{id}")).await.0, Status::NotFound);
    }
    assert_eq!(api_total(&t, Some(&admin.access), "").await, 1);
    assert_eq!(api_total(&t, Some(&admin.access), "&q=doomed").await, 0);
    assert_eq!(api_name(&t, kept).await, "Kept one");
    assert!(!page(&t, "/recipes").await.1.contains("Doomed"));
    assert_eq!(error_code(t.get_json("/api/v1/me", Some(&doomed.access)).await, Status::Unauthorized).await, "token_revoked");
}

/// A page's list reads cards (no directions) and the API's reads whole
/// recipes: the two are kept apart, so neither answers for the other.
#[rocket::async_test]
async fn the_apis_list_has_the_directions_also_right_after_a_page_listed_the_same_recipes_as_cards() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    api_create(&t, &owner.access, &json!({"name": "Barley soup", "cook_time": 20, "directions": "Boil the barley."})).await;
    for _ in 0..2 {
        let page = t.client.get("/recipes").dispatch().await;
        assert_eq!(page.status(), Status::Ok);
        assert!(page.into_string().await.unwrap().contains("Barley soup"));
        let (status, list) = api_get(&t, "/api/v1/recipes", None).await;
        assert_eq!(status, Status::Ok);
        assert_eq!(list["items"][0]["directions"], "Boil the barley.", "{list}");
        let (status, list) = api_get(&t, "/api/v1/recipes?q=barley", None).await;
        assert_eq!(status, Status::Ok);
        assert_eq!(list["items"][0]["directions"], "Boil the barley.", "{list}");
        let (status, list) = api_get(&t, "/api/v1/recipes", Some(&owner.access)).await;
        assert_eq!(status, Status::Ok);
        assert_eq!(list["items"][0]["directions"], "Boil the barley.", "{list}");
    }
}

#[rocket::async_test]
async fn an_author_that_cannot_be_a_username_is_refused_not_echoed_in_every_pager_link() {
    let t = TestApp::spawn().await;
    let (cook, tokens) = t.api_signup().await;
    for n in 0..21 {
        let body = json!({"name": format!("Dish {n}"), "cook_time": 5, "directions": "Cook."});
        assert_eq!(t.post_json("/api/v1/recipes", Some(&tokens.access), &body).await.status(), Status::Created);
    }
    // A real author's list pages as before, the name in its links.
    let page = t.client.get(format!("/recipes?author={}", cook.username)).dispatch().await;
    assert_eq!(page.status(), Status::Ok);
    assert!(page.into_string().await.unwrap().contains(&format!("author={}", cook.username)), "the pager keeps the author");

    let long = "x".repeat(63_000);
    for bad in [long.as_str(), "no spaces allowed", "<b>"] {
        let page = t.client.get(format!("/recipes?author={}", enc(bad))).dispatch().await;
        assert_eq!(page.status(), Status::BadRequest, "{bad:.20}");
        let html = page.into_string().await.unwrap();
        assert!(html.len() < 20_000, "the error page is small: {} bytes", html.len());
        assert!(html.contains("author must be a username"), "it says what is wrong");
        let api = t.client.get(format!("/api/v1/recipes?author={}", enc(bad))).dispatch().await;
        assert_eq!(api.status(), Status::UnprocessableEntity, "{bad:.20}");
        let body: Value = api.into_json().await.unwrap();
        assert_eq!(body["error"]["code"], "validation_failed");
        assert!(body["error"]["fields"]["author"].is_string(), "{body}");
    }
    // Blank is no filter at all.
    assert_eq!(t.client.get("/recipes?author=%20").dispatch().await.status(), Status::Ok);
}
