//! Passkeys in a real browser, with Chromium's virtual authenticator (a
//! platform authenticator that keeps discoverable credentials and consents
//! without a prompt): added on the security page, then used to sign in
//! with no password (by the button, and by the login form's autofill
//! offer), then as the second step of a password login, then removed,
//! after which it signs in no more and the password alone logs in again.
//! Each page is checked as `pages` checks every page (console, axe-core,
//! no sideways scrolling at 390 px and 1280 px) and photographed.
//!
//! WebAuthn refuses an IP address as relying party, so this server is
//! browsed as `http://localhost:PORT`, its `public_url`.

use std::time::Duration;

use rocket::tokio::time::{sleep, Instant};
use serde_json::Value;

use crate::harness::{axe_script, check_current, tools, Browser, Server, PASSWORD};

const ANN: &str = "ann@example.com";
const KEY_NAME: &str = "Test key";
/// The passkeys section of `/me/security`.
const SECTION: &str = "main section:has(#passkey-add)";
const REMOVE: &str = "form[action^='/me/passkeys/'][action$='/delete']";
/// What `passkeys.js` says while the browser's prompt is up.
const PROMPTING: [&str; 2] = ["Follow your browser's prompt…", "Follow your browser's prompt to make the passkey…"];

/// Makes the autofill offer (`navigator.credentials.get` with
/// `mediation: "conditional"`) wait until it is aborted, as a real
/// browser's waits for the person to pick a passkey in the email field's
/// suggestions, where Chromium's virtual authenticator, which has no such
/// list, answers at once (and, logging out landing on `/login`, would sign
/// straight in again). `window.__passkey_autofill` says "waiting", then
/// "aborted". A modal request goes to the authenticator, and so does the
/// autofill offer on a page whose address ends in [`REAL_AUTOFILL`].
const AUTOFILL_WAITS: &str = "(() => {
  if (!navigator.credentials || location.hash === '#real-autofill') return;
  const get = navigator.credentials.get.bind(navigator.credentials);
  navigator.credentials.get = (options) => {
    if (!options || options.mediation !== 'conditional') return get(options);
    window.__passkey_autofill = 'waiting';
    return new Promise((_, reject) => {
      const signal = options.signal;
      if (!signal) return;
      signal.addEventListener('abort', () => {
        window.__passkey_autofill = 'aborted';
        reject(signal.reason instanceof DOMException ? signal.reason : new DOMException('aborted', 'AbortError'));
      });
    });
  };
})();";

/// See [`AUTOFILL_WAITS`].
const REAL_AUTOFILL: &str = "#real-autofill";

/// Loads the login form with the real autofill offer (from another page:
/// from `/login`, only the fragment would change, with no new document).
async fn real_autofill(browser: &Browser, server: &Server) {
    browser.goto(&server.url("/")).await;
    browser.goto(&server.url(&format!("/login{REAL_AUTOFILL}"))).await;
}

/// What became of the autofill offer under [`AUTOFILL_WAITS`] ("" for
/// none was made).
async fn autofill(browser: &Browser) -> String {
    let state = browser.client.execute("return window.__passkey_autofill || '';", vec![]).await.unwrap();
    state.as_str().unwrap_or_default().to_owned()
}

/// Waits (15 s at most) until the browser is at `path`, the page loaded.
async fn wait_for_path(browser: &Browser, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let loaded = browser.client.execute("return document.readyState;", vec![]).await;
        if matches!(loaded, Ok(Value::String(ref s)) if s == "complete") && browser.path().await == path {
            return;
        }
        sleep(Duration::from_millis(50)).await;
    }
    panic!("not at {path} after 15 s but at {}: {}", browser.path().await, browser.body().await);
}

/// The status line of the passkey box `box_css`.
async fn status(browser: &Browser, box_css: &str) -> String {
    browser.text(&format!("{box_css} [data-passkey-status]")).await
}

/// Presses the button of the passkey box `box_css` (which `passkeys.js`
/// must have shown): the script runs the ceremony with the server and the
/// authenticator, then navigates. Waits (15 s at most) until the document
/// has been replaced; else fails with what the box's status line says.
async fn ceremony(browser: &Browser, box_css: &str) {
    let button = browser.find(&format!("{box_css} [data-passkey-button]")).await;
    assert!(button.is_displayed().await.unwrap(), "passkeys.js shows the button of {box_css} on {}", browser.path().await);
    browser.client.execute("window.__recipebox_old_page = true;", vec![]).await.unwrap();
    button.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut said = String::new();
    while Instant::now() < deadline {
        let state = browser
            .client
            .execute(
                "const s = document.querySelector(arguments[0] + ' [data-passkey-status]');
                 return [document.readyState, window.__recipebox_old_page === true, s ? s.textContent : ''];",
                vec![box_css.into()],
            )
            .await;
        // While the next page loads, a script may find no document.
        if let Ok(Value::Array(state)) = state {
            if state[0] == "complete" && state[1] == false {
                return;
            }
            if state[1] == true {
                said = state[2].as_str().unwrap_or_default().to_owned();
            }
        }
        sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{box_css}: no new page 15 s after the passkey button, at {}; the status line says {said:?}; console: {:?}",
        browser.path().await,
        browser.console().await
    );
}

/// Presses the button of the passkey box `box_css` for a ceremony that
/// must fail: returns what the status line says once it is done.
async fn refused(browser: &Browser, box_css: &str) -> String {
    browser.find(&format!("{box_css} [data-passkey-button]")).await.click().await.unwrap();
    said_in_the_end(browser, box_css).await
}

/// What the status line of the passkey box `box_css` says once a ceremony
/// has failed (neither empty nor the prompt's line; 15 s at most), having
/// checked that the page stayed.
async fn said_in_the_end(browser: &Browser, box_css: &str) -> String {
    let at = browser.path().await;
    for _ in 0..300 {
        let said = status(browser, box_css).await;
        if !said.is_empty() && !PROMPTING.contains(&said.as_str()) {
            assert_eq!(browser.path().await, at, "the page stays");
            return said;
        }
        sleep(Duration::from_millis(50)).await;
    }
    panic!("{box_css}: the status line says nothing after 15 s, at {}", browser.path().await);
}

/// The rows of the passkeys table, as text.
async fn passkey_rows(browser: &Browser) -> Vec<String> {
    let mut rows = Vec::new();
    for row in browser.find_all(&format!("{SECTION} table tbody tr")).await {
        rows.push(row.text().await.unwrap());
    }
    rows
}

async fn log_out(browser: &Browser) {
    browser.click_and_wait("nav form[action='/logout'] button").await;
    assert!(browser.find_all("nav .me").await.is_empty(), "logged out");
}

#[rocket::async_test]
async fn a_passkey_registers_signs_in_and_is_removed_in_a_real_browser() {
    let test = "a_passkey_registers_signs_in_and_is_removed_in_a_real_browser";
    let Some(tools) = tools(test) else { return };
    let axe = axe_script(test);
    let axe = axe.as_deref();
    let server = Server::start_on_localhost();
    assert!(server.url("/").starts_with("http://localhost:"), "{}", server.url("/"));
    let ann = Browser::start(&tools).await;
    let authenticator = ann.add_virtual_authenticator().await;
    ann.before_page_scripts(AUTOFILL_WAITS).await;
    let mut problems = Vec::new();

    // Sign up (a fresh login); the security page has no passkey yet, and
    // passkeys.js shows the button to add one, the name prefilled.
    ann.sign_up(&server, ANN, "ann").await;
    assert_eq!(ann.text("nav .me").await, "ann");
    ann.goto(&server.url("/me/security")).await;
    assert_eq!(ann.path().await, "/me/security");
    assert!(ann.find_all(&format!("{SECTION} table")).await.is_empty(), "no passkey, no table");
    assert_eq!(ann.text(&format!("{SECTION} .empty")).await, "No passkey yet.");
    let default_name = ann.find("#passkey-name").await.prop("value").await.unwrap().unwrap_or_default();
    assert!(!default_name.trim().is_empty(), "the name is prefilled with the device's");
    assert_eq!(status(&ann, "form#passkey-add").await, "", "passkeys.js found WebAuthn and cleared the line");

    // Add a passkey named "Test key": the page comes again, listing it.
    ann.console().await;
    ann.fill("#passkey-name", KEY_NAME).await;
    ceremony(&ann, "form#passkey-add").await;
    assert_eq!(ann.path().await, "/me/security");
    let rows = passkey_rows(&ann).await;
    assert_eq!(rows.len(), 1, "one passkey listed: {rows:?}");
    assert!(rows[0].contains(KEY_NAME), "listed by its name: {rows:?}");
    assert!(rows[0].contains("never"), "not used yet: {rows:?}");
    assert_eq!(ann.find_all(REMOVE).await.len(), 1, "one Remove button");
    assert_eq!(ann.text("main section .badge").await, "On", "a passkey turns two-step login on");
    let held = ann.authenticator_credentials(&authenticator).await;
    assert_eq!(held.len(), 1, "the authenticator holds one credential: {held:?}");
    assert_eq!(held[0]["rpId"], "localhost", "for the relying party localhost: {held:?}");
    assert_eq!(held[0]["isResidentCredential"], true, "a discoverable credential: {held:?}");
    check_current(&ann, axe, "passkeys-security", &mut problems).await;

    // Log out, to the login form: passkeys.js offers passkeys in the email
    // field's autofill, and shows a button. The button aborts the offer
    // and signs in, with no password, to the home page.
    log_out(&ann).await;
    assert_eq!(ann.path().await, "/login");
    let button = ann.find("[data-passkey=login] [data-passkey-button]").await;
    assert!(button.is_displayed().await.unwrap(), "passkeys.js shows the passkey button");
    assert_eq!(button.text().await.unwrap(), "Sign in with a passkey");
    check_current(&ann, axe, "passkey-login", &mut problems).await;
    assert_eq!(autofill(&ann).await, "waiting", "passkeys.js offers passkeys in the autofill");
    assert_eq!(status(&ann, "[data-passkey=login]").await, "", "the waiting offer says nothing");
    ceremony(&ann, "[data-passkey=login]").await;
    assert_eq!(ann.path().await, "/", "{}", ann.body().await);
    assert_eq!(ann.text("nav .me").await, "ann");
    ann.goto(&server.url("/me/security")).await;
    let rows = passkey_rows(&ann).await;
    assert!(rows.len() == 1 && !rows[0].contains("never"), "the passkey's use is recorded: {rows:?}");

    // The autofill offer, taken (the virtual authenticator takes it at
    // once): signed in as well.
    log_out(&ann).await;
    real_autofill(&ann, &server).await;
    wait_for_path(&ann, "/").await;
    assert_eq!(ann.text("nav .me").await, "ann", "signed in through the autofill offer");

    // A password login now takes a second step, which the passkey is.
    log_out(&ann).await;
    ann.console().await;
    ann.log_in(&server, ANN, PASSWORD).await;
    assert_eq!(ann.path().await, "/login/two-factor", "{}", ann.body().await);
    assert!(ann.find_all("nav .me").await.is_empty(), "not logged in by the password alone");
    let button = ann.find("[data-passkey=second-step] [data-passkey-button]").await;
    assert!(button.is_displayed().await.unwrap(), "passkeys.js shows the passkey button");
    assert_eq!(button.text().await.unwrap(), "Use a passkey");
    assert!(ann.find_all("form[action='/login/two-factor'] input[name='code']").await.is_empty(), "no app, no code field");
    check_current(&ann, axe, "passkey-second-step", &mut problems).await;
    ceremony(&ann, "[data-passkey=second-step]").await;
    assert_eq!(ann.path().await, "/", "{}", ann.body().await);
    assert_eq!(ann.text("nav .me").await, "ann");

    // Remove it (that login was fresh: both factors): no table, and
    // two-step login is off again.
    ann.goto(&server.url("/me/security")).await;
    ann.console().await;
    ann.click_and_wait(&format!("{REMOVE} button[type=submit]")).await;
    assert_eq!(ann.path().await, "/me/security", "{}", ann.body().await);
    assert!(ann.body().await.contains("The passkey is removed"), "a flash says so: {}", ann.body().await);
    assert!(ann.find_all(&format!("{SECTION} table")).await.is_empty(), "no table: {:?}", passkey_rows(&ann).await);
    assert!(ann.find_all(REMOVE).await.is_empty(), "nothing to remove");
    assert_eq!(ann.text(&format!("{SECTION} .empty")).await, "No passkey yet.");
    assert_eq!(ann.text("main section .badge").await, "Off", "no second factor left");
    check_current(&ann, axe, "passkeys-removed", &mut problems).await;

    // The authenticator still holds the credential, but the server no
    // longer takes it, by the button or the autofill; the password alone
    // logs in again.
    log_out(&ann).await;
    let by_button = refused(&ann, "[data-passkey=login]").await;
    assert!(ann.find_all("nav .me").await.is_empty(), "a removed passkey does not sign in (it said {by_button:?})");
    real_autofill(&ann, &server).await;
    let by_autofill = said_in_the_end(&ann, "[data-passkey=login]").await;
    assert!(ann.find_all("nav .me").await.is_empty(), "a removed passkey does not sign in (it said {by_autofill:?})");
    ann.console().await;
    ann.log_in(&server, ANN, PASSWORD).await;
    assert_eq!(ann.path().await, "/", "no second step left: {}", ann.body().await);
    assert_eq!(ann.text("nav .me").await, "ann");

    let log = server.log();
    assert!(!log.contains("status=500"), "no server error on the way:\n{log}");
    ann.close().await;
    eprintln!("{test}: a removed passkey, by the button: {by_button:?}; by the autofill: {by_autofill:?}");
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
