//! Signing in with an OpenID Connect provider in a real browser: the
//! button on the login page, the provider's own pages (oidc-provider's
//! development login, on another address), back to choose a username,
//! the link listed on the security page, the refusal to unlink the last
//! way to log in, and a second login through the provider. Each page of
//! ours is checked as `pages` checks every page (console, axe-core, no
//! sideways scrolling at 390 px and 1280 px) and photographed.

#[path = "../oidc/harness.rs"]
mod provider;

use crate::harness::{axe_script, check_current, free_port, tools, Browser, Server};
use provider::{TestProvider, CLIENT_ID, CLIENT_SECRET};

/// Logs in at the provider's development pages as `login` and consents,
/// until the browser is back on `server`.
async fn through_provider(browser: &Browser, server: &Server, login: &str) {
    for _ in 0..4 {
        if browser.client_url().await.starts_with(&server.base) {
            break;
        }
        if !browser.find_all("input[name='login']").await.is_empty() {
            browser.submit("form", &[("login", login), ("password", "any")]).await;
        } else {
            browser.click_and_wait("form [type=submit]").await;
        }
    }
    assert!(browser.client_url().await.starts_with(&server.base), "back on the site: {}", browser.body().await);
    // The provider's own pages log their misses (web fonts it cannot
    // reach, its favicon); reading the log empties it, so that the checks
    // of our pages see only theirs.
    browser.console().await;
}

#[rocket::async_test]
async fn a_visitor_signs_up_and_back_in_through_a_provider_in_the_browser() {
    let test = "a_visitor_signs_up_and_back_in_through_a_provider_in_the_browser";
    let Some(tools) = tools(test) else { return };
    let port = free_port();
    let Some(provider) = TestProvider::start(&[format!("http://localhost:{port}/login/oidc/test/callback")]) else { return };
    let axe = axe_script(test);
    let axe = axe.as_deref();
    let table = format!(
        r#"{{test={{issuer="{}",client_id="{CLIENT_ID}",client_secret="{CLIENT_SECRET}",name="Test ID"}}}}"#,
        provider.issuer
    );
    let server = Server::start_on(port, &[("ROCKET_OIDC_PROVIDERS", table)]);
    let ann = Browser::start(&tools).await;
    let mut problems = Vec::new();

    ann.goto(&server.url("/login")).await;
    check_current(&ann, axe, "login-providers", &mut problems).await;
    ann.click_and_wait("form[action='/login/oidc/test'] [type=submit]").await;
    assert!(ann.client_url().await.starts_with(&provider.issuer), "at the provider: {}", ann.client_url().await);
    through_provider(&ann, &server, "ann").await;

    assert_eq!(ann.path().await, "/signup/oidc");
    assert!(ann.text("main").await.contains("ann@example.test"), "{}", ann.body().await);
    assert_eq!(ann.find("#username").await.prop("value").await.unwrap().as_deref(), Some("ann"), "suggested from the email");
    check_current(&ann, axe, "signup-oidc", &mut problems).await;
    ann.submit("form[action='/signup/oidc']", &[("username", "ann_cooks")]).await;
    assert_eq!(ann.path().await, "/");
    assert!(ann.body().await.contains("Welcome to recipebox, ann_cooks!"), "{}", ann.body().await);

    ann.goto(&server.url("/me/security")).await;
    let listed = ann.text("main").await;
    assert!(listed.contains("Test ID") && listed.contains("ann@example.test"), "{listed}");
    check_current(&ann, axe, "security-linked", &mut problems).await;
    ann.click_and_wait("main form[action$='/unlink'] [type=submit]").await;
    assert!(ann.body().await.contains("last way left to log in"), "{}", ann.body().await);
    check_current(&ann, axe, "unlink-last-way", &mut problems).await;

    // Logged out, the provider logs Ann in again.
    ann.goto(&server.url("/me")).await;
    ann.click_and_wait("form[action='/logout'] [type=submit]").await;
    ann.goto(&server.url("/login")).await;
    ann.click_and_wait("form[action='/login/oidc/test'] [type=submit]").await;
    through_provider(&ann, &server, "ann").await;
    assert_eq!(ann.path().await, "/");
    assert!(ann.body().await.contains("Logged in as ann_cooks."), "{}", ann.body().await);

    assert!(!server.log().contains("status=500"), "no server error on the way");
    ann.close().await;
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
