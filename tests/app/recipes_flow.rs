//! Recipes in pages and in the API (SPEC.md §2, §4, §5; issue 4): who may do
//! what, validation, private recipes, paging, search, escaping.

use rocket::http::{ContentType, Status};
use serde_json::{json, Value};

use crate::helpers::{bearer, error_code, TestApp, Tokens};

fn recipe(name: &str) -> Value {
    json!({"name": name, "description": "Tasty.", "cook_time": 30, "directions": "Cook it."})
}

async fn api_create(t: &TestApp, token: &str, body: &Value) -> i64 {
    let response = t.post_json("/api/v1/recipes", Some(token), body).await;
    assert_eq!(response.status(), Status::Created, "create {body}");
    let id = response.into_json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    id
}

/// Creates through the browser form; returns the new recipe's id.
async fn form_create(t: &TestApp, fields: &[(&str, &str)]) -> i64 {
    let csrf = t.session_csrf().await;
    let response = t.post_form("/recipes", Some(&csrf), fields).await;
    assert_eq!(response.status(), Status::SeeOther);
    let location = response.headers().get_one("Location").unwrap().to_owned();
    location.strip_prefix("/recipes/").unwrap().parse().unwrap()
}

const GOOD: [(&str, &str); 5] = [
    ("name", "Kimchi stew"),
    ("description", "Spicy."),
    ("cook_time", "90"),
    ("directions", "Simmer."),
    ("visibility", "public"),
];

#[rocket::async_test]
async fn an_owner_writes_edits_and_deletes_a_recipe_in_the_browser() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let id = form_create(&t, &GOOD).await;
    let page = t.client.get(format!("/recipes/{id}")).dispatch().await;
    assert_eq!(page.status(), Status::Ok);
    let html = page.into_string().await.unwrap();
    for shown in ["Kimchi stew", "1 h 30 min", user.username.as_str(), "Recipe published."] {
        assert!(html.contains(shown), "the recipe page shows {shown:?}");
    }
    assert_eq!(t.client.get(format!("/recipes/{id}/edit")).dispatch().await.status(), Status::Ok);
    let csrf = t.session_csrf().await;
    let mut changed = GOOD;
    changed[0] = ("name", "Kimchi stew, improved");
    let response = t.post_form(&format!("/recipes/{id}"), Some(&csrf), &changed).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Location"), Some(format!("/recipes/{id}").as_str()));
    assert!(t.client.get(format!("/recipes/{id}")).dispatch().await.into_string().await.unwrap().contains("improved"));
    let response = t.post_form(&format!("/recipes/{id}/delete"), Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Location"), Some("/recipes"));
    assert_eq!(t.client.get(format!("/recipes/{id}")).dispatch().await.status(), Status::NotFound);
}

#[rocket::async_test]
async fn anonymous_visitors_read_but_are_sent_to_login_to_write() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    let id = api_create(&t, &owner.access, &recipe("Pancakes")).await;
    assert_eq!(t.client.get("/recipes").dispatch().await.status(), Status::Ok);
    assert_eq!(t.client.get(format!("/recipes/{id}")).dispatch().await.status(), Status::Ok);
    for path in ["/recipes/new".to_owned(), format!("/recipes/{id}/edit")] {
        let response = t.client.get(path.clone()).dispatch().await;
        assert_eq!(response.status(), Status::SeeOther, "{path}");
        assert!(response.headers().get_one("Location").unwrap().starts_with("/login?next=%2Frecipes%2F"), "{path}");
    }
    for path in ["/recipes".to_owned(), format!("/recipes/{id}"), format!("/recipes/{id}/delete")] {
        let response = t.post_form(&path, None, &GOOD).await;
        assert_eq!(response.status(), Status::SeeOther, "POST {path}");
        assert!(response.headers().get_one("Location").unwrap().starts_with("/login"), "POST {path}");
    }
    assert_eq!(t.get_json(&format!("/api/v1/recipes/{id}"), None).await.status(), Status::Ok);
    let create = t.post_json("/api/v1/recipes", None, &recipe("x")).await;
    assert_eq!(error_code(create, Status::Unauthorized).await, "token_missing");
}

#[rocket::async_test]
async fn another_user_gets_403_and_an_admin_may_delete_but_not_edit() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    let id = api_create(&t, &owner.access, &recipe("Owner's bread")).await;
    let other = t.signup().await;
    let csrf = t.session_csrf().await;
    assert_eq!(t.client.get(format!("/recipes/{id}/edit")).dispatch().await.status(), Status::Forbidden);
    assert_eq!(t.post_form(&format!("/recipes/{id}"), Some(&csrf), &GOOD).await.status(), Status::Forbidden);
    assert_eq!(t.post_form(&format!("/recipes/{id}/delete"), Some(&csrf), &[]).await.status(), Status::Forbidden);
    let (_, stranger) = t.api_signup().await;
    let put = t.client.put(format!("/api/v1/recipes/{id}")).header(bearer(&stranger.access)).header(ContentType::JSON).body(recipe("mine now").to_string()).dispatch().await;
    assert_eq!(error_code(put, Status::Forbidden).await, "forbidden");
    let delete = t.client.delete(format!("/api/v1/recipes/{id}")).header(bearer(&stranger.access)).dispatch().await;
    assert_eq!(delete.status(), Status::Forbidden);

    t.make_admin(&other.email).await;
    assert_eq!(t.client.get(format!("/recipes/{id}/edit")).dispatch().await.status(), Status::Forbidden, "admins do not edit others' recipes");
    assert_eq!(t.post_form(&format!("/recipes/{id}/delete"), Some(&csrf), &[]).await.status(), Status::SeeOther);
    assert_eq!(t.get_json(&format!("/api/v1/recipes/{id}"), None).await.status(), Status::NotFound);
}

#[rocket::async_test]
async fn private_recipes_exist_only_for_their_owner_and_admins() {
    let t = TestApp::spawn().await;
    let (owner_user, owner) = t.api_signup().await;
    let mut secret = recipe("Secret sauce");
    secret["visibility"] = json!("private");
    let id = api_create(&t, &owner.access, &secret).await;
    let path = format!("/api/v1/recipes/{id}");
    assert_eq!(t.get_json(&path, Some(&owner.access)).await.status(), Status::Ok);
    assert_eq!(t.get_json(&path, None).await.status(), Status::NotFound);
    let (_, other) = t.api_signup().await;
    assert_eq!(t.get_json(&path, Some(&other.access)).await.status(), Status::NotFound);
    let listed = |tokens: Option<Tokens>| {
        let t = &t;
        async move {
            let body: Value = t.get_json("/api/v1/recipes?q=secret", tokens.as_ref().map(|x| x.access.as_str())).await.into_json().await.unwrap();
            body["total"].as_u64().unwrap()
        }
    };
    assert_eq!(listed(None).await, 0);
    assert_eq!(listed(Some(other.clone())).await, 0);
    assert_eq!(listed(Some(owner.clone())).await, 1);
    let (_, admin) = t.api_admin().await;
    assert_eq!(listed(Some(admin.clone())).await, 1);
    assert_eq!(t.get_json(&path, Some(&admin.access)).await.status(), Status::Ok);
    // Pages: 404 for anyone else.
    assert_eq!(t.client.get(format!("/recipes/{id}")).dispatch().await.status(), Status::NotFound);
    assert!(!t.client.get("/recipes").dispatch().await.into_string().await.unwrap().contains("Secret sauce"));
    let _ = owner_user;
}

#[rocket::async_test]
async fn bad_form_fields_return_422_with_a_message_beside_each_and_values_kept() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let csrf = t.session_csrf().await;
    let long_name = "n".repeat(101);
    let long_description = "d".repeat(1001);
    let long_directions = "x".repeat(20_001);
    let cases: Vec<(&str, &str, &str)> = vec![
        ("name", "", "Enter a name"),
        ("name", "   ", "Enter a name"),
        ("name", &long_name, "At most 100"),
        ("description", &long_description, "At most 1000"),
        ("cook_time", "0", "1 to 1440"),
        ("cook_time", "1441", "1 to 1440"),
        ("cook_time", "abc", "whole number"),
        ("cook_time", "2.5", "whole number"),
        ("directions", "", "Enter the directions"),
        ("directions", &long_directions, "At most 20000"),
        ("visibility", "everyone", "public or private"),
    ];
    for (field, value, message) in cases {
        let mut fields = GOOD.to_vec();
        fields.retain(|(k, _)| *k != field);
        fields.push((field, value));
        let response = t.post_form("/recipes", Some(&csrf), &fields).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "{field}={value:.20}");
        let html = response.into_string().await.unwrap();
        assert!(html.contains(message), "{field}: message {message:?}");
        if field != "name" {
            assert!(html.contains(r#"value="Kimchi stew""#), "{field}: the name is kept");
        }
    }
    let recipes: Value = t.get_json("/api/v1/recipes", None).await.into_json().await.unwrap();
    assert_eq!(recipes["total"], 0, "nothing was stored");
}

#[rocket::async_test]
async fn the_api_creates_with_201_and_location_and_refuses_bad_fields_with_422() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    let response = t.post_json("/api/v1/recipes", Some(&owner.access), &recipe("Soup")).await;
    assert_eq!(response.status(), Status::Created);
    let location = response.headers().get_one("Location").unwrap().to_owned();
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(location, format!("/api/v1/recipes/{}", body["id"]));
    assert_eq!(body["visibility"], "public");
    assert_eq!(t.get_json(&location, None).await.status(), Status::Ok);

    for (patch, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "n".repeat(101)}), "name"),
        (json!({"cook_time": 0}), "cook_time"),
        (json!({"cook_time": "abc"}), "cook_time"),
        (json!({"cook_time": 2.5}), "cook_time"),
        (json!({"directions": "x".repeat(20_001)}), "directions"),
        (json!({"visibility": "friends"}), "visibility"),
    ] {
        let mut body = recipe("Soup");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let response = t.post_json("/api/v1/recipes", Some(&owner.access), &body).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "{patch}");
        let error: Value = response.into_json().await.unwrap();
        assert!(error["error"]["fields"][field].is_string(), "{patch}: {error}");
    }
    let id = body["id"].as_i64().unwrap();
    let put = t.client.put(format!("/api/v1/recipes/{id}")).header(bearer(&owner.access)).header(ContentType::JSON).body(recipe("Better soup").to_string()).dispatch().await;
    assert_eq!(put.status(), Status::Ok);
    assert_eq!(put.into_json::<Value>().await.unwrap()["name"], "Better soup");
    assert_eq!(t.get_json("/api/v1/recipes/abc", None).await.status(), Status::NotFound);
    let delete = t.client.delete(format!("/api/v1/recipes/{id}")).header(bearer(&owner.access)).dispatch().await;
    assert_eq!(delete.status(), Status::NoContent);
    assert_eq!(t.get_json(&location, None).await.status(), Status::NotFound);
}

#[rocket::async_test]
async fn lists_are_newest_first_twenty_a_page_with_clear_errors_for_bad_pages() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    let mut ids = Vec::new();
    for n in 0..25 {
        ids.push(api_create(&t, &owner.access, &recipe(&format!("Dish number {n:02}"))).await);
    }
    let first: Value = t.get_json("/api/v1/recipes", None).await.into_json().await.unwrap();
    assert_eq!((first["total"].as_u64(), first["per_page"].as_u64(), first["page"].as_u64()), (Some(25), Some(20), Some(1)));
    let listed: Vec<i64> = first["items"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
    let newest: Vec<i64> = ids.iter().rev().take(20).copied().collect();
    assert_eq!(listed, newest, "newest first");
    let second: Value = t.get_json("/api/v1/recipes?page=2", None).await.into_json().await.unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 5);
    let past: Value = t.get_json("/api/v1/recipes?page=9", None).await.into_json().await.unwrap();
    assert_eq!(past["items"].as_array().unwrap().len(), 0);
    let capped: Value = t.get_json("/api/v1/recipes?per_page=500", None).await.into_json().await.unwrap();
    assert_eq!(capped["per_page"], 100);
    for bad in ["page=0", "page=abc", "per_page=0", "page=-1"] {
        let response = t.get_json(&format!("/api/v1/recipes?{bad}"), None).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "{bad}");
    }

    let page1 = t.client.get("/recipes").dispatch().await.into_string().await.unwrap();
    assert_eq!(page1.matches(r#"class="card""#).count(), 20);
    assert!(page1.contains("Dish number 24") && !page1.contains("Dish number 04"));
    assert!(page1.contains(r#"href="/recipes?page=2""#), "a link to the next page");
    let page2 = t.client.get("/recipes?page=2").dispatch().await.into_string().await.unwrap();
    assert_eq!(page2.matches(r#"class="card""#).count(), 5);
    let past = t.client.get("/recipes?page=7").dispatch().await;
    assert_eq!(past.status(), Status::Ok);
    assert!(past.into_string().await.unwrap().contains("No recipes on this page"));
    for bad in ["0", "abc", "-3"] {
        let response = t.client.get(format!("/recipes?page={bad}")).dispatch().await;
        assert_eq!(response.status(), Status::BadRequest, "page={bad}");
        assert!(response.into_string().await.unwrap().contains("whole number"));
    }
}

#[rocket::async_test]
async fn search_matches_literal_case_insensitive_substrings_and_keeps_the_term_in_links() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    for name in ["50% off cake", "500 g flour bread", "a_b pie", "axb pie", "O'Brien's \"stew\""] {
        api_create(&t, &owner.access, &recipe(name)).await;
    }
    let mut described = recipe("Plain");
    described["description"] = json!("Has HIDDEN words");
    api_create(&t, &owner.access, &described).await;
    for (q, expected) in [
        ("50%25", vec!["50% off cake"]),
        ("a_b", vec!["a_b pie"]),
        ("CAKE", vec!["50% off cake"]),
        ("o%27brien%27s%20%22stew%22", vec!["O'Brien's \"stew\""]),
        ("hidden", vec!["Plain"]),
        ("%25", vec!["50% off cake"]),
        ("nothing-like-this", vec![]),
    ] {
        let body: Value = t.get_json(&format!("/api/v1/recipes?q={q}"), None).await.into_json().await.unwrap();
        let names: Vec<&str> = body["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, expected, "q={q}");
    }
    for n in 0..21 {
        api_create(&t, &owner.access, &recipe(&format!("Tofu {n}"))).await;
    }
    let html = t.client.get("/recipes?q=tofu").dispatch().await.into_string().await.unwrap();
    assert!(html.contains("href=\"/recipes?page=2&amp;q=tofu\""), "the pager keeps the search");
    let none = t.client.get("/recipes?q=zzz").dispatch().await.into_string().await.unwrap();
    assert!(none.contains("No recipe matches"));
}

#[rocket::async_test]
async fn hostile_text_round_trips_literally_and_renders_escaped() {
    let t = TestApp::spawn().await;
    let (_, owner) = t.api_signup().await;
    let xss = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    let sql = "'; DROP TABLE recipes; -- \" OR 1=1 🍲";
    let body = json!({"name": xss, "description": sql, "cook_time": 5, "directions": format!("{xss}\n{sql}")});
    let id = api_create(&t, &owner.access, &body).await;
    let stored: Value = t.get_json(&format!("/api/v1/recipes/{id}"), None).await.into_json().await.unwrap();
    assert_eq!(stored["name"], xss);
    assert_eq!(stored["description"], sql);
    for path in ["/".to_owned(), "/recipes".to_owned(), format!("/recipes/{id}")] {
        let html = t.client.get(path.clone()).dispatch().await.into_string().await.unwrap();
        assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "{path} renders raw HTML");
        assert!(html.contains("&lt;script&gt;"), "{path} shows the text escaped");
    }
    let all: Value = t.get_json("/api/v1/recipes", None).await.into_json().await.unwrap();
    assert_eq!(all["total"], 1, "the table survived");
}

#[rocket::async_test]
async fn deleting_a_user_removes_their_recipes() {
    let t = TestApp::spawn().await;
    let (_, admin) = t.api_admin().await;
    let (_, cook) = t.api_signup().await;
    let id = api_create(&t, &cook.access, &recipe("Soon gone")).await;
    let response = t.client.delete(format!("/api/v1/users/{}", cook.public_id)).header(bearer(&admin.access)).dispatch().await;
    assert_eq!(response.status(), Status::NoContent);
    assert_eq!(t.get_json(&format!("/api/v1/recipes/{id}"), Some(&admin.access)).await.status(), Status::NotFound);
    let me = t.get_json("/api/v1/me", Some(&cook.access)).await;
    assert_eq!(error_code(me, Status::Unauthorized).await, "token_revoked");
}

#[rocket::async_test]
async fn creating_a_recipe_without_the_csrf_token_is_refused() {
    let t = TestApp::spawn().await;
    t.signup().await;
    assert_eq!(t.post_form("/recipes", None, &GOOD).await.status(), Status::Forbidden);
    assert_eq!(t.post_form("/recipes", Some("forged"), &GOOD).await.status(), Status::Forbidden);
    let all: Value = t.get_json("/api/v1/recipes", None).await.into_json().await.unwrap();
    assert_eq!(all["total"], 0);
}
