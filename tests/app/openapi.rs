//! The API's description (SPEC.md §5): `/api/v1/openapi.json` is generated
//! from the code and must cover exactly the routes that are mounted; the
//! curl session of docs/api.md may only show routes it lists; `/api/docs` renders
//! it with assets the binary carries, under a policy that is narrower than
//! "anything goes" and used on that path alone.

use std::collections::BTreeSet;

use rocket::http::{ContentType, Status};
use serde_json::Value;

use crate::helpers::TestApp;

async fn document(app: &TestApp) -> Value {
    let response = app.client.get("/api/v1/openapi.json").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::JSON));
    response.into_json().await.expect("the document is JSON")
}

/// `(METHOD, /path/{param})` of every operation in the document.
fn documented(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            operations.insert((method.to_uppercase(), path.clone()));
        }
    }
    operations
}

/// `(METHOD, /path/{param})` of every API route Rocket serves, but the
/// catch-alls that turn unknown paths into 404 and the cross-site refusal.
fn mounted(app: &TestApp) -> BTreeSet<(String, String)> {
    app.client
        .rocket()
        .routes()
        .filter(|route| route.uri.base() == "/api/v1")
        .filter(|route| !route.uri.path().contains("..>") && !route.uri.path().contains("__cross-origin"))
        .map(|route| {
            let path = route.uri.path().replace('<', "{").replace('>', "}");
            (route.method.as_str().to_owned(), path)
        })
        .collect()
}

#[rocket::async_test]
async fn the_document_covers_exactly_the_mounted_api_routes() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    let (documented, mounted) = (documented(&document), mounted(&app));
    assert!(mounted.len() >= 19, "the API routes were not found: {mounted:?}");
    let undocumented: Vec<_> = mounted.difference(&documented).collect();
    assert!(undocumented.is_empty(), "mounted but not in the OpenAPI document: {undocumented:?}");
    let unmounted: Vec<_> = documented.difference(&mounted).collect();
    assert!(unmounted.is_empty(), "in the OpenAPI document but not mounted: {unmounted:?}");
}

#[rocket::async_test]
async fn the_document_is_openapi_3_1_with_schemas_errors_and_security() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["access_token"]["scheme"], "bearer");
    assert_eq!(schemes["refresh_token"]["scheme"], "bearer");
    assert_eq!(schemes["basic"]["scheme"], "basic");
    assert_eq!(schemes["personal_access_token"]["scheme"], "bearer");

    // Which token each route takes, and the scope a personal access token needs.
    let security = |method: &str, path: &str| document["paths"][path][method]["security"].clone();
    let session_or = |scope: &str| serde_json::json!([{ "access_token": [] }, { "personal_access_token": [scope] }]);
    assert_eq!(security("post", "/api/v1/auth/refresh"), serde_json::json!([{ "refresh_token": [] }]));
    assert_eq!(security("get", "/api/v1/me"), session_or("account:read"));
    assert_eq!(security("get", "/api/v1/me/export"), session_or("account:read"));
    assert_eq!(security("post", "/api/v1/recipes"), session_or("recipes:write"));
    assert_eq!(security("get", "/api/v1/users"), session_or("admin"));
    assert_eq!(security("post", "/api/v1/me/password"), serde_json::json!([{ "access_token": [] }]), "never with a personal access token");
    assert_eq!(security("delete", "/api/v1/me"), serde_json::json!([{ "access_token": [] }]), "never with a personal access token");
    assert!(security("post", "/api/v1/users").is_null(), "sign-up needs no token");

    // Request and response bodies.
    let schemas = &document["components"]["schemas"];
    let user = &schemas["UserView"]["properties"];
    for field in ["public_id", "email", "username", "role", "created_at"] {
        assert!(user.get(field).is_some(), "the user object lacks {field}");
    }
    assert!(user.get("password_hash").is_none() && user.get("id").is_none());
    let register = &schemas["RegisterRequest"]["required"];
    assert_eq!(register, &serde_json::json!(["email", "username", "password"]));
    assert_eq!(
        document["paths"]["/api/v1/users"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/TokenResponse"
    );

    // The error envelope, its codes, and the 401 challenge.
    let codes: BTreeSet<&str> = schemas["ErrorCode"]["enum"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for code in ["token_missing", "token_invalid", "token_expired", "token_revoked", "wrong_token_type", "validation_failed", "insufficient_scope"] {
        assert!(codes.contains(code), "{code} is not among the documented error codes");
    }
    let unauthorized = &document["components"]["responses"]["Unauthorized"];
    assert_eq!(unauthorized["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorEnvelope");
    assert!(unauthorized["headers"].get("WWW-Authenticate").is_some());
    assert_eq!(document["paths"]["/api/v1/me"]["get"]["responses"]["401"]["$ref"], "#/components/responses/Unauthorized");
}

#[rocket::async_test]
async fn an_error_the_api_sends_has_a_documented_code() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    let codes = document["components"]["schemas"]["ErrorCode"]["enum"].as_array().unwrap().clone();
    let response = app.client.get("/api/v1/me").dispatch().await;
    assert_eq!(response.status(), Status::Unauthorized);
    let body: Value = response.into_json().await.unwrap();
    assert!(codes.contains(&body["error"]["code"]), "{body} has a code the document does not list");
}

/// `(METHOD, path)` of each request in docs/api.md's "The API in one curl
/// session", including one shown in a comment.
fn readme_requests() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md")).unwrap();
    let section = readme.split("## The API in one curl session").nth(1).expect("docs/api.md has its curl session");
    let block = section.split("```sh").nth(1).and_then(|rest| rest.split("```").next()).expect("a sh block");
    assert!(block.contains("B=http://127.0.0.1:8000/api/v1\n"), "the session's base is the API's");
    let joined = block.replace("\\\n", " ");
    let mut requests = Vec::new();
    for invocation in joined.split("curl ").skip(1) {
        let command = invocation.lines().next().unwrap_or_default().split(')').next().unwrap_or_default();
        let words: Vec<&str> = command.split_whitespace().collect();
        let Some(url) = words.iter().find_map(|w| w.trim_matches('"').strip_prefix("$B")) else { continue };
        let path = format!("/api/v1{}", url.split('?').next().unwrap());
        let explicit = words.windows(2).find(|w| w[0] == "-X").map(|w| w[1].to_owned());
        let has_body = words.iter().any(|w| *w == "-d" || *w == "--data" || *w == "--json");
        let method = explicit.unwrap_or_else(|| if has_body { "POST".into() } else { "GET".into() });
        requests.push((method, path));
    }
    requests
}

#[rocket::async_test]
async fn every_request_of_the_readme_curl_session_is_in_the_document() {
    let app = TestApp::spawn().await;
    let documented = documented(&document(&app).await);
    let requests = readme_requests();
    assert!(requests.len() >= 8, "the curl session was not read: {requests:?}");
    for request in &requests {
        assert!(documented.contains(request), "docs/api.md shows {request:?}, which the OpenAPI document does not have");
    }
}

#[rocket::async_test]
async fn the_docs_page_renders_the_document_with_built_in_assets() {
    let app = TestApp::spawn().await;
    let response = app.client.get("/api/docs").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::HTML));
    let csp = response.headers().get_one("Content-Security-Policy").unwrap().to_owned();
    assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe-"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let page = response.into_string().await.unwrap();

    // Every script and stylesheet the page names is served, from here.
    let mut assets = 0;
    for attribute in ["src=\"", "href=\""] {
        for tail in page.split(attribute).skip(1) {
            let url = tail.split('"').next().unwrap();
            if url.ends_with(".js") || url.ends_with(".css") {
                assert!(url.starts_with('/'), "{url} is not served by this site");
                let asset = app.client.get(url.to_owned()).dispatch().await;
                assert_eq!(asset.status(), Status::Ok, "{url}");
                assets += 1;
            }
        }
    }
    assert!(assets >= 5, "the page loads Swagger UI's scripts and styles: {page}");
    let initializer = app.client.get("/api/docs/swagger-initializer.js").dispatch().await;
    assert_eq!(initializer.content_type(), Some(ContentType::JavaScript));
    let initializer = initializer.into_string().await.unwrap();
    assert!(initializer.contains("\"/api/v1/openapi.json\""), "Swagger UI loads this API's document: {initializer}");
    assert!(initializer.contains("\"validatorUrl\": \"none\""), "no call to an outside validator: {initializer}");

    // Swagger UI's own index page is not a second docs page.
    let index = app.client.get("/api/docs/index.html").dispatch().await;
    assert!(index.status().class().is_redirection());
    assert_eq!(index.headers().get_one("Location"), Some("/api/docs"));
    assert_eq!(app.client.get("/api/docs/nothing.js").dispatch().await.status(), Status::NotFound);
}

#[rocket::async_test]
async fn the_docs_policy_stays_on_the_docs_path_and_the_footer_links_there() {
    let app = TestApp::spawn().await;
    let home = app.client.get("/").dispatch().await;
    let csp = home.headers().get_one("Content-Security-Policy").unwrap().to_owned();
    assert_eq!(csp, recipebox::security::CSP, "the site's own pages keep their policy");
    let page = home.into_string().await.unwrap();
    assert!(page.contains("href=\"/api/docs\""), "the footer links to the API docs");
}
