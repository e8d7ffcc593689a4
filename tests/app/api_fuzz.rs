//! What schemathesis found (`tests/api-fuzz/run`), kept so that it stays
//! fixed. Each test names the request the fuzzer sent.

use rocket::http::Status;
use serde_json::Value;

use crate::helpers::TestApp;

/// `GET /api/v1/users?per_page=1596&page=135963666789254368` was a 500: the
/// offset (page − 1) × per_page overflowed the database's 64-bit integer.
/// Any page past the end is an empty page, on every list.
#[rocket::async_test]
async fn a_page_far_past_the_end_is_empty_on_every_list() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.api_admin().await;
    let huge = "page=135963666789254368&per_page=1596";
    for path in [format!("/api/v1/users?{huge}"), format!("/api/v1/recipes?{huge}")] {
        let response = app.get_json(&path, Some(&admin.access)).await;
        assert_eq!(response.status(), Status::Ok, "{path}");
        let body: Value = response.into_json().await.unwrap();
        assert_eq!(body["items"], serde_json::json!([]), "{path}");
        assert_eq!(body["per_page"], 100, "{path}");
    }
    app.browser_admin().await;
    for path in [format!("/recipes?{huge}"), format!("/admin/users?{huge}"), format!("/admin/audit?{huge}")] {
        let response = app.client.get(path.clone()).dispatch().await;
        assert_eq!(response.status(), Status::Ok, "{path}");
    }
}
