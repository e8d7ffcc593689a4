//! Personal access tokens in a real browser: from the account page to the
//! token form, the new token shown once and used by a script, revoked with
//! its button, and an admin's view of the user's tokens. Each page is
//! checked as `pages` checks every page (console, axe-core, no sideways
//! scrolling at 390 px and 1280 px) and photographed.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::harness::{axe_script, check_current, tools, Browser, Server};

const ANN: &str = "ann@example.com";

/// What a script gets from `GET path` with `token`: the status code.
fn script_status(server: &Server, path: &str, token: &str) -> u16 {
    let address = server.url("").trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("a status line: {response}"))
}

#[rocket::async_test]
async fn a_token_is_made_shown_once_used_and_revoked_in_the_browser() {
    let test = "a_token_is_made_shown_once_used_and_revoked_in_the_browser";
    let Some(tools) = tools(test) else { return };
    let axe = axe_script(test);
    let axe = axe.as_deref();
    let server = Server::start();
    let ann = Browser::start(&tools).await;
    let mut problems = Vec::new();

    ann.sign_up(&server, ANN, "ann").await;
    ann.goto(&server.url("/me")).await;
    ann.click_and_wait("main a[href='/me/tokens']").await;
    assert_eq!(ann.path().await, "/me/tokens");
    check_current(&ann, axe, "tokens", &mut problems).await;

    // A form without a scope is refused beside the boxes, with the name kept.
    ann.submit("form[action='/me/tokens']", &[("name", "nightly backup")]).await;
    assert!(ann.text("#scopes-error").await.contains("scope"), "{}", ann.body().await);
    assert_eq!(ann.find("#name").await.prop("value").await.unwrap().as_deref(), Some("nightly backup"));
    check_current(&ann, axe, "tokens-error", &mut problems).await;

    ann.find("input[name='scopes'][value='account:read']").await.click().await.unwrap();
    ann.find("input[name='scopes'][value='recipes:read']").await.click().await.unwrap();
    ann.find("#expires_in_days option[value='7']").await.click().await.unwrap();
    ann.click_and_wait("form[action='/me/tokens'] [type=submit]").await;
    let token = ann.text("#new-token").await;
    assert!(token.starts_with("rbx_pat_") && token.len() == 44, "the token is shown: {token:?}");
    check_current(&ann, axe, "token-made", &mut problems).await;
    let listed = ann.text("main table").await;
    assert!(listed.contains("nightly backup") && listed.contains("account:read") && listed.contains("never"), "{listed}");

    // A script uses it; the page, loaded again, no longer shows it.
    assert_eq!(script_status(&server, "/api/v1/me", &token), 200);
    assert_eq!(script_status(&server, "/api/v1/me/export", &token), 200);
    ann.goto(&server.url("/me/tokens")).await;
    assert!(ann.find_all("#new-token").await.is_empty(), "shown once");
    assert!(!ann.body().await.contains(&token));
    let listed = ann.text("main table").await;
    assert!(!listed.contains("never"), "last used is shown: {listed}");

    // An admin sees it on Ann's page.
    let admin = Browser::start(&tools).await;
    admin.sign_up(&server, "root@example.com", "root").await;
    server.promote("root@example.com");
    admin.goto(&server.url("/admin/users?q=ann")).await;
    admin.click_and_wait("main td a[href^='/admin/users/']").await;
    assert!(admin.text("main").await.contains("nightly backup"), "{}", admin.body().await);
    check_current(&admin, axe, "admin-user-tokens", &mut problems).await;
    admin.close().await;

    // Revoked with its button: the script is refused from its next request.
    ann.click_and_wait("main form[action$='/revoke'] [type=submit]").await;
    assert_eq!(ann.path().await, "/me/tokens");
    assert!(ann.text("main").await.contains("revoked"));
    assert_eq!(script_status(&server, "/api/v1/me", &token), 401);
    check_current(&ann, axe, "token-revoked", &mut problems).await;

    assert!(!server.log().contains("status=500"), "no server error on the way");
    ann.close().await;
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
