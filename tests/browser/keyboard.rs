//! The forms with the keyboard alone: Tab reaches every field and button,
//! each with a visible focus ring; every field has a label; typing and
//! Enter submit; an error is announced (a `role=alert` summary) and tied to
//! its field (`aria-invalid`, `aria-describedby` naming the message beside
//! it).

use serde_json::Value;

use crate::harness::{tools, Browser, Server, PASSWORD};

const TAB: &str = "\u{E004}";

/// What has the focus: its tag, name or text, and whether it shows a focus
/// ring (an outline or a box shadow).
async fn focused(browser: &Browser) -> Value {
    browser
        .client
        .execute(
            "const e = document.activeElement;
             const s = getComputedStyle(e);
             const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none';
             return { tag: e.tagName.toLowerCase(), name: e.name || e.textContent.trim().slice(0, 40), ring };",
            vec![],
        )
        .await
        .unwrap()
}

/// Presses Tab until the element named `name` has the focus, checking the
/// focus ring of everything on the way; panics after 40 presses.
async fn tab_to(browser: &Browser, name: &str) {
    for _ in 0..40 {
        browser.client.active_element().await.unwrap().send_keys(TAB).await.unwrap();
        let now = focused(browser).await;
        assert_eq!(now["ring"], true, "no visible focus on {now} at {}", browser.path().await);
        if now["name"] == name {
            return;
        }
    }
    panic!("Tab never reached {name} on {}", browser.path().await);
}

/// Tabs to each field in turn and types its text over what it holds.
async fn type_into(browser: &Browser, fields: &[(&str, &str)]) {
    for (field, text) in fields {
        tab_to(browser, field).await;
        browser.client.execute("document.activeElement.select && document.activeElement.select();", vec![]).await.unwrap();
        type_text(browser, text).await;
    }
}

/// Types into whatever has the focus.
async fn type_text(browser: &Browser, text: &str) {
    browser.client.active_element().await.unwrap().send_keys(text).await.unwrap();
}

/// Starts from the top of the page, as after loading it.
async fn from_the_top(browser: &Browser) {
    browser.client.execute("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);", vec![]).await.unwrap();
}

/// Fields without a label: no `<label for>`, no wrapping label, no
/// `aria-label`.
async fn unlabelled_fields(browser: &Browser) -> Value {
    browser
        .client
        .execute(
            "return [...document.querySelectorAll('input:not([type=hidden]), textarea, select')]
               .filter(f => !(f.labels && f.labels.length) && !f.getAttribute('aria-label'))
               .map(f => f.name || f.id || f.outerHTML);",
            vec![],
        )
        .await
        .unwrap()
}

/// Invalid fields whose message is missing, empty or not beside them.
async fn unannounced_errors(browser: &Browser) -> Value {
    browser
        .client
        .execute(
            "const bad = [];
             const invalid = [...document.querySelectorAll('[aria-invalid=true]')];
             if (invalid.length === 0) bad.push('no field is marked invalid');
             if (!document.querySelector('[role=alert]')) bad.push('no role=alert summary');
             for (const f of invalid) {
               const ids = (f.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean);
               const messages = ids.map(id => document.getElementById(id)).filter(m => m && m.classList.contains('error'));
               if (messages.length === 0) { bad.push(f.name + ': no error message in aria-describedby'); continue; }
               for (const m of messages) {
                 if (!m.textContent.trim()) bad.push(f.name + ': an empty message');
                 if (m.closest('.field') !== f.closest('.field')) bad.push(f.name + ': the message is not beside its field');
               }
             }
             return bad;",
            vec![],
        )
        .await
        .unwrap()
}

#[rocket::async_test]
async fn the_forms_work_with_the_keyboard_alone() {
    let Some(tools) = tools("the_forms_work_with_the_keyboard_alone") else { return };
    let server = Server::start();
    let browser = Browser::start(&tools).await;

    // Every form page: each field labelled.
    for path in ["/signup", "/login", "/forgot-password", "/recipes"] {
        browser.goto(&server.url(path)).await;
        assert_eq!(unlabelled_fields(&browser).await, serde_json::json!([]), "{path}");
    }

    // Sign-up with errors, by keyboard: the errors are announced and tied
    // to their fields; then corrected, by keyboard.
    browser.goto(&server.url("/signup")).await;
    from_the_top(&browser).await;
    type_into(&browser, &[("email", "kim@example"), ("username", "k")]).await;
    browser.press_enter().await;
    assert_eq!(unannounced_errors(&browser).await, serde_json::json!([]));
    from_the_top(&browser).await;
    let corrected = [("email", "kim@example.com"), ("username", "kim"), ("password", PASSWORD), ("password_confirm", PASSWORD)];
    type_into(&browser, &corrected).await;
    tab_to(&browser, "Sign up").await;
    browser.press_enter().await;
    assert_eq!(browser.text("nav .me").await, "kim", "signed up by keyboard");

    // Write a recipe by keyboard, the visibility radio included.
    browser.goto(&server.url("/recipes/new")).await;
    assert_eq!(unlabelled_fields(&browser).await, serde_json::json!([]), "/recipes/new");
    from_the_top(&browser).await;
    let recipe = [("name", "Keyboard kimchi"), ("description", "No mouse needed"), ("cook_time", "30"), ("directions", "Ferment.")];
    type_into(&browser, &recipe).await;
    tab_to(&browser, "visibility").await;
    type_text(&browser, "\u{E015}").await; // Arrow down: "Only me"
    tab_to(&browser, "Publish").await;
    browser.press_enter().await;
    assert_eq!(browser.text("main h1").await, "Keyboard kimchi private", "published, private: the arrow key chose “Only me”");

    // The password form: errors announced beside their fields.
    browser.goto(&server.url("/me/password")).await;
    assert_eq!(unlabelled_fields(&browser).await, serde_json::json!([]), "/me/password");
    from_the_top(&browser).await;
    type_into(&browser, &[("current_password", "not the password")]).await;
    tab_to(&browser, "Change password").await;
    browser.press_enter().await;
    assert_eq!(unannounced_errors(&browser).await, serde_json::json!([]));

    // Log out by keyboard: the button in the navigation.
    from_the_top(&browser).await;
    tab_to(&browser, "Log out").await;
    browser.press_enter().await;
    assert!(browser.find_all("nav .me").await.is_empty(), "logged out by keyboard");

    // And back in: email, password, Enter.
    browser.goto(&server.url("/login")).await;
    from_the_top(&browser).await;
    type_into(&browser, &[("email", "kim@example.com"), ("password", PASSWORD)]).await;
    browser.press_enter().await;
    assert_eq!(browser.text("nav .me").await, "kim", "logged in by keyboard");
    browser.close().await;
}
