//! Every page of the site, as a visitor, a user and an admin see it: no
//! Content-Security-Policy violation or other console error, no token that
//! page script can read, no serious or critical axe-core violation, nothing
//! wider than the window (no sideways scrolling) at 390 px or 1280 px, and a
//! screenshot at each width in `target/screenshots/`.

use crate::harness::{axe_script, check_current, tools, Browser, Server, PASSWORD};

/// Visits `path` and checks it; `name` is the screenshot's.
async fn check_page(browser: &Browser, server: &Server, axe: Option<&str>, name: &str, path: &str, problems: &mut Vec<String>) {
    browser.console().await; // what came before is not this page's
    browser.goto(&server.url(path)).await;
    check_current(browser, axe, name, problems).await;
}

#[rocket::async_test]
async fn every_page_is_clean_accessible_and_photographed() {
    let test = "every_page_is_clean_accessible_and_photographed";
    let Some(tools) = tools(test) else { return };
    let axe = axe_script(test);
    let axe = axe.as_deref();
    let server = Server::start();
    let browser = Browser::start(&tools).await;
    let mut problems = Vec::new();

    // A visitor.
    for (name, path) in [
        ("home-empty", "/"),
        ("signup", "/signup"),
        ("login", "/login"),
        ("forgot-password", "/forgot-password"),
        ("reset-password-bad-link", "/reset-password?token=not-a-token"),
        ("recipes-empty", "/recipes"),
        ("not-found", "/no/such/page"),
        ("api-docs", "/api/docs"),
    ] {
        check_page(&browser, &server, axe, name, path, &mut problems).await;
    }
    browser.goto(&server.url("/signup")).await;
    browser
        .submit("form[action='/signup']", &[("email", "not an email"), ("username", "a"), ("password", "short")])
        .await;
    check_current(&browser, axe, "signup-errors", &mut problems).await;
    browser.goto(&server.url("/login")).await;
    browser.submit("form[action='/login']", &[("email", "nobody@example.com"), ("password", "wrong password")]).await;
    check_current(&browser, axe, "login-failed", &mut problems).await;

    // Bob, then Ann, who becomes an admin; a few recipes.
    browser.sign_up(&server, "bob@example.com", "bob").await;
    browser.click_and_wait("nav form[action='/logout'] button").await;
    browser.sign_up(&server, "ann@example.com", "ann").await;
    server.promote("ann@example.com");
    let mut recipe = String::new();
    for (name, description) in [("Kimchi stew", "Spicy & warm"), ("Bibimbap", "Rice, vegetables, an egg"), ("Japchae", "")] {
        recipe = browser.write_recipe(&server, name, description).await;
    }
    browser.goto(&server.url("/recipes/new")).await;
    browser.submit("form[action='/recipes']", &[("name", " "), ("cook_time", "forever")]).await;
    check_current(&browser, axe, "recipe-form-errors", &mut problems).await;

    // A user's pages, and an admin's.
    browser.goto(&server.url("/admin/users?q=bob")).await;
    let bob = browser.find("main table a[href^='/admin/users/']").await.attr("href").await.unwrap().unwrap();
    for (name, path) in [
        ("home", "/".to_owned()),
        ("recipes", "/recipes".to_owned()),
        ("recipes-search", "/recipes?q=kimchi".to_owned()),
        ("recipe", recipe.clone()),
        ("recipe-new", "/recipes/new".to_owned()),
        ("recipe-edit", format!("{recipe}/edit")),
        ("me", "/me".to_owned()),
        ("me-password", "/me/password".to_owned()),
        ("me-email", "/me/email".to_owned()),
        ("admin", "/admin".to_owned()),
        ("admin-users", "/admin/users".to_owned()),
        ("admin-user", bob.clone()),
        ("admin-confirm-role", format!("{bob}/role?role=admin")),
        ("admin-confirm-disable", format!("{bob}/disable")),
        ("admin-confirm-delete", format!("{bob}/delete")),
        ("admin-audit", "/admin/audit".to_owned()),
        ("admin-mail", "/admin/mail".to_owned()),
    ] {
        check_page(&browser, &server, axe, name, &path, &mut problems).await;
    }
    browser.goto(&server.url("/me/password")).await;
    browser
        .submit(
            "form[action='/me/password']",
            &[("current_password", "not my password"), ("new_password", PASSWORD), ("new_password_confirm", "different")],
        )
        .await;
    check_current(&browser, axe, "me-password-errors", &mut problems).await;

    browser.close().await;
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
