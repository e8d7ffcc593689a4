//! A person's whole visit, in a real browser: sign up, log in through a
//! `next` link, write, edit, search, page through and delete recipes, end
//! another session on `/me`, change the password, act as an admin, log out,
//! then press Back and resubmit a form (nothing shown, nothing written).

use crate::harness::{tools, Browser, Server, PASSWORD};

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";
const NEW_PASSWORD: &str = "another long phrase 42";

/// The number the recipe list states ("N recipes").
async fn recipe_total(browser: &Browser, server: &Server) -> u64 {
    browser.goto(&server.url("/recipes")).await;
    let meta = browser.text("main p.meta").await;
    meta.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no total in {meta:?}"))
}

#[rocket::async_test]
async fn a_whole_visit_from_sign_up_to_log_out() {
    let Some(tools) = tools("a_whole_visit_from_sign_up_to_log_out") else { return };
    let server = Server::start();
    let ann = Browser::start(&tools).await;

    // Sign up: logged in at once, named in the navigation.
    ann.sign_up(&server, ANN, "ann").await;
    assert_eq!(ann.text("nav .me").await, "ann");

    // Log out, then a page that needs a login: to the login form and, once
    // logged in, back to that page (`next`).
    ann.click_and_wait("nav form[action='/logout'] button").await;
    assert!(ann.find_all("nav .me").await.is_empty(), "logged out");
    ann.goto(&server.url("/recipes/new")).await;
    let login = ann.path().await;
    assert!(login.starts_with("/login?next="), "{login}");
    ann.submit("form[action='/login']", &[("email", ANN), ("password", PASSWORD)]).await;
    assert_eq!(ann.path().await, "/recipes/new", "the login went back where it was asked to");

    // Write, then edit.
    let first = ann.write_recipe(&server, "Saffron rice", "Golden & fragrant <b>rice</b>").await;
    assert_eq!(ann.text("main h1").await, "Saffron rice");
    assert!(ann.body().await.contains("Golden & fragrant <b>rice</b>"), "markup is shown as text");
    ann.click_and_wait(&format!("a[href='{first}/edit']")).await;
    ann.submit(&format!("form[action='{first}']"), &[("name", "Saffron rice with peas")]).await;
    assert_eq!(ann.path().await, first);
    assert_eq!(ann.text("main h1").await, "Saffron rice with peas");

    // Enough recipes for two pages (20 a page).
    for n in 1..=21 {
        ann.write_recipe(&server, &format!("Stew number {n}"), "Warm").await;
    }
    assert_eq!(recipe_total(&ann, &server).await, 22);

    // Search: literal, case-insensitive.
    ann.goto(&server.url("/recipes")).await;
    ann.submit("form.search", &[("q", "SAFFRON")]).await;
    let cards: Vec<String> = {
        let mut names = Vec::new();
        for card in ann.find_all(".card-title").await {
            names.push(card.text().await.unwrap());
        }
        names
    };
    assert_eq!(cards, ["Saffron rice with peas"]);

    // Paginate: newest first, the oldest on page 2.
    ann.goto(&server.url("/recipes")).await;
    assert_eq!(ann.find_all(".card").await.len(), 20);
    assert!(ann.text("nav.pager").await.contains("Page 1 of 2"));
    ann.click_and_wait("nav.pager a[rel='next']").await;
    assert_eq!(ann.path().await, "/recipes?page=2");
    assert_eq!(ann.find_all(".card").await.len(), 2);
    assert!(ann.body().await.contains("Saffron rice with peas"));
    ann.click_and_wait("nav.pager a[rel='prev']").await;
    assert_eq!(ann.find_all(".card").await.len(), 20);

    // Delete the first recipe: gone from the list and its page is a 404.
    ann.goto(&server.url(&first)).await;
    ann.click_and_wait(&format!("form[action='{first}/delete'] button")).await;
    assert!(ann.body().await.to_lowercase().contains("deleted"), "a flash says so");
    assert_eq!(recipe_total(&ann, &server).await, 21);
    ann.goto(&server.url(&first)).await;
    assert!(ann.text("main h1").await.contains("404") || ann.body().await.contains("nothing here"), "{}", ann.body().await);

    // A second browser: Bob signs up (for the admin part), then logs in as
    // Ann. Ann ends that session from /me; its next page is logged out.
    let other = Browser::start(&tools).await;
    other.sign_up(&server, BOB, "bob").await;
    other.click_and_wait("nav form[action='/logout'] button").await;
    other.log_in(&server, ANN, PASSWORD).await;
    assert_eq!(other.text("nav .me").await, "ann");
    ann.goto(&server.url("/me")).await;
    let sessions = ann.find_all("form[action$='/revoke'] button").await;
    assert_eq!(sessions.len(), 2, "this browser and the other");
    let mut ended = false;
    for form in ann.find_all("form[action$='/revoke']").await {
        let row = form.find(fantoccini::Locator::XPath("ancestor::tr")).await.unwrap().text().await.unwrap();
        if !row.contains("this browser") {
            let end = form.find(fantoccini::Locator::Css("button")).await.unwrap();
            ann.navigating(end.click()).await;
            ended = true;
            break;
        }
    }
    assert!(ended, "the other session was listed");
    assert_eq!(ann.find_all("form[action$='/revoke']").await.len(), 1);
    other.goto(&server.url("/me")).await;
    assert!(other.path().await.starts_with("/login"), "the ended session is logged out: {}", other.path().await);

    // Change the password: the old one stops working, the new one works.
    ann.goto(&server.url("/me/password")).await;
    ann.submit(
        "form[action='/me/password']",
        &[("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("new_password_confirm", NEW_PASSWORD)],
    )
    .await;
    assert!(ann.body().await.to_lowercase().contains("password"), "a confirmation: {}", ann.body().await);
    other.log_in(&server, ANN, PASSWORD).await;
    assert!(other.find_all("nav .me").await.is_empty(), "the old password no longer logs in");
    other.log_in(&server, ANN, NEW_PASSWORD).await;
    assert_eq!(other.text("nav .me").await, "ann");
    other.close().await;

    // Admin: Ann is made an admin; she disables Bob through the
    // confirmation page.
    server.promote(ANN);
    ann.goto(&server.url("/admin/users")).await;
    assert!(ann.body().await.contains("bob"), "the user list shows Bob");
    ann.submit("form.search", &[("q", "bob")]).await;
    ann.click_and_wait("main table a[href^='/admin/users/']").await;
    let bob_page = ann.path().await;
    ann.click_and_wait(&format!("a[href='{bob_page}/disable']")).await;
    assert!(ann.body().await.contains(BOB), "the confirmation page names the account");
    ann.click_and_wait("form[action$='/disable'] button[type=submit]").await;
    assert_eq!(ann.path().await, bob_page);
    assert!(ann.body().await.to_lowercase().contains("disabled"), "{}", ann.body().await);

    // A form left open while the session ends elsewhere (another tab):
    // submitting it is refused and writes nothing.
    let before = recipe_total(&ann, &server).await;
    ann.goto(&server.url("/recipes/new")).await;
    ann.fill("form[action='/recipes'] [name='name']", "Written after logout").await;
    ann.fill("form[action='/recipes'] [name='cook_time']", "5").await;
    ann.fill("form[action='/recipes'] [name='directions']", "Should never be saved.").await;
    let status = ann
        .client
        .execute(
            "const form = document.querySelector(\"nav form[action='/logout']\"); \
             return fetch('/logout', {method: 'POST', body: new URLSearchParams(new FormData(form))}).then(r => r.status);",
            vec![],
        )
        .await
        .unwrap();
    assert!(status.as_u64().is_some_and(|s| s < 400), "the other tab logged out: {status}");
    ann.click_and_wait("form[action='/recipes'] [type=submit]").await;
    assert!(ann.path().await.starts_with("/login"), "sent to log in: {}", ann.path().await);
    assert!(!ann.body().await.contains("Should never be saved."), "nothing of the form is shown");
    assert_eq!(recipe_total(&ann, &server).await, before, "nothing was written");

    // Log out with the button, then press Back: the account page is asked
    // for again (it is never cached) and is not shown.
    ann.log_in(&server, ANN, NEW_PASSWORD).await;
    ann.goto(&server.url("/me")).await;
    assert!(ann.body().await.contains(ANN));
    ann.click_and_wait("nav form[action='/logout'] button").await;
    ann.back().await;
    let back = ann.body().await;
    assert!(!back.contains(ANN) && !back.contains("End session"), "Back after logout shows no account page: {back}");
    assert!(ann.path().await.starts_with("/login"), "{}", ann.path().await);
    assert!(!server.log().contains("status=500"), "no server error on the way");
    ann.close().await;
}
