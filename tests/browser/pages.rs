//! Every page of the site, as a visitor, a user and an admin see it: no
//! Content-Security-Policy violation or other console error, no token that
//! page script can read, no serious or critical axe-core violation, nothing
//! wider than the window (no sideways scrolling) at 390 px or 1280 px, and a
//! screenshot at each width in `target/screenshots/`.

use serde_json::Value;

use crate::harness::{axe_script, tools, Browser, Server, PASSWORD};

/// What axe-core finds on the current page: serious and critical
/// violations only, one line each with the elements involved.
async fn axe_violations(browser: &Browser, axe: &str) -> Vec<String> {
    browser.client.execute(&format!("{axe}\nreturn true;"), vec![]).await.expect("axe-core loads");
    let found = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(r.violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(', ')}`)))
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    found.as_array().unwrap().iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect()
}

/// Page script must not be able to read a token: not in `document.cookie`
/// (the token cookies are HttpOnly), not in web storage.
async fn readable_tokens(browser: &Browser) -> Value {
    browser
        .client
        .execute(
            "const found = [];
             for (const c of document.cookie.split(';')) {
               const name = c.split('=')[0].trim();
               if (['access_token', 'refresh_token', 'reset_token'].includes(name)) found.push('cookie ' + name);
             }
             for (const store of [localStorage, sessionStorage]) {
               for (let i = 0; i < store.length; i++) found.push('storage ' + store.key(i));
             }
             if (/eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{10,}\\./.test(document.documentElement.outerHTML)) found.push('a JWT in the page');
             return found;",
            vec![],
        )
        .await
        .unwrap()
}

/// Visits `path` and checks it; `name` is the screenshot's.
async fn check_page(browser: &Browser, server: &Server, axe: Option<&str>, name: &str, path: &str, problems: &mut Vec<String>) {
    browser.console().await; // what came before is not this page's
    browser.goto(&server.url(path)).await;
    check_current(browser, axe, name, problems).await;
}

/// Checks the page the browser is on.
async fn check_current(browser: &Browser, axe: Option<&str>, name: &str, problems: &mut Vec<String>) {
    let at = browser.path().await;
    // An error page's own status (a 404, a form's 422) is what it should
    // be, though Chromium logs it as a failed load; any other is a problem.
    let url = browser.client.current_url().await.unwrap().to_string();
    let own_status = format!("SEVERE: {url} - Failed to load resource: the server responded with a status of 4");
    for message in browser.console_problems().await {
        if !message.starts_with(&own_status) {
            problems.push(format!("{name} ({at}): console {message}"));
        }
    }
    let tokens = readable_tokens(browser).await;
    if tokens != serde_json::json!([]) {
        problems.push(format!("{name} ({at}): page script can read {tokens}"));
    }
    if let Some(axe) = axe {
        for violation in axe_violations(browser, axe).await {
            problems.push(format!("{name} ({at}): axe {violation}"));
        }
    }
    // Nothing may scroll sideways, on a phone least of all.
    for width in [390, 1280] {
        if let Err(overflow) = browser.screenshot(name, width).await {
            problems.push(overflow);
        }
    }
    for width in [390, 1280] {
        let shot = crate::harness::screenshot_dir().join(format!("{name}-{width}.png"));
        if !std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000) {
            problems.push(format!("{name}: no screenshot at {}", shot.display()));
        }
    }
    for message in browser.console_problems().await {
        problems.push(format!("{name} ({at}) at 390 px or 1280 px: console {message}"));
    }
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
