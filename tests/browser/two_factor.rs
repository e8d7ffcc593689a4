//! Two-step login in a real browser, from turning it on to a login that
//! takes a code: the enrolment page (QR code, setup key), the recovery
//! codes shown once, the second step after the password (a wrong code, then
//! a right one, remembering the browser), and the security page after. Each
//! page is checked as `pages` checks every page (console, axe-core, no
//! sideways scrolling at 390 px and 1280 px) and photographed.
//!
//! Codes come from the setup key on the page, computed here as an
//! authenticator app would. The server takes each 30-second step's code at
//! most once and only a step later than the last one it took, a step either
//! side of its own clock: the enrolment uses this step's code and the login
//! the next step's, or this step's once the clock has moved past the
//! enrolment's, so the test never sleeps and never races a step's end.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::harness::{axe_script, check_current, tools, Browser, Server, PASSWORD};

const ANN: &str = "ann@example.com";
const STEP: u64 = 30;

/// The authenticator app: the 6-digit code of time step `step` for the
/// setup key `secret` (base32, spaces allowed).
fn code(secret: &str, step: u64) -> String {
    let secret: String = secret.split_whitespace().collect();
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP)
        .with_secret(totp_rs::Secret::try_from_base32(&secret).unwrap_or_else(|e| panic!("setup key {secret:?}: {e:?}")))
        .build()
        .unwrap()
        .generate(step * STEP)
        .to_string()
}

/// This moment's time step.
fn step_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() / STEP
}

#[rocket::async_test]
async fn two_step_login_from_enrolment_to_a_login_with_a_code() {
    let test = "two_step_login_from_enrolment_to_a_login_with_a_code";
    let Some(tools) = tools(test) else { return };
    let axe = axe_script(test);
    let axe = axe.as_deref();
    let server = Server::start();
    let ann = Browser::start(&tools).await;
    let mut problems = Vec::new();

    // Sign up (a fresh login), then from the account page to the security
    // page: two-step login is off, with a link to turn it on.
    ann.sign_up(&server, ANN, "ann").await;
    assert_eq!(ann.text("nav .me").await, "ann");
    ann.goto(&server.url("/me")).await;
    ann.click_and_wait("main a[href='/me/security']").await;
    assert_eq!(ann.path().await, "/me/security");
    assert!(ann.find_all("form[action='/me/two-factor/disable']").await.is_empty(), "off: nothing to turn off");
    ann.console().await;
    ann.click_and_wait("main a[href='/me/two-factor']").await;

    // The enrolment page: a QR code drawn inline, and the setup key as text
    // in groups of four.
    assert_eq!(ann.path().await, "/me/two-factor");
    let qr = ann.find("figure.qr-code svg").await;
    let (_, _, qr_width, qr_height) = qr.rectangle().await.unwrap();
    assert!(qr_width >= 100.0 && qr_height >= 100.0, "the QR code is {qr_width}×{qr_height} px");
    let secret = ann.text("code#totp-secret").await;
    let groups: Vec<&str> = secret.split_whitespace().collect();
    assert!(groups.len() >= 4, "the setup key {secret:?} is in groups");
    assert!(
        groups.iter().all(|g| (1..=4).contains(&g.len()) && g.chars().all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))),
        "the setup key {secret:?} is base32 in groups of 4"
    );
    assert!(groups[..groups.len() - 1].iter().all(|g| g.len() == 4), "groups of 4: {secret:?}");
    check_current(&ann, axe, "two-factor-enrol", &mut problems).await;

    // The app's code of this step turns it on: ten recovery codes, shown
    // once, to download or copy.
    let enrolled = step_now();
    ann.console().await;
    ann.submit("form[action='/me/two-factor']", &[("code", &code(&secret, enrolled))]).await;
    let codes: Vec<String> = {
        let mut codes = Vec::new();
        for li in ann.find_all("ul#recovery-codes li").await {
            codes.push(li.text().await.unwrap().trim().to_owned());
        }
        codes
    };
    assert_eq!(codes.len(), 10, "ten recovery codes on {}: {codes:?}\n{}", ann.path().await, ann.body().await);
    assert!(codes.iter().all(|c| c.len() >= 8 && !c.contains(char::is_whitespace)), "{codes:?}");
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "ten different codes: {codes:?}");
    let download = ann.find("a[download]").await.attr("href").await.unwrap().unwrap_or_default();
    let file = ann
        .client
        .execute("return decodeURIComponent(arguments[0].slice(arguments[0].indexOf(',') + 1));", vec![download.clone().into()])
        .await
        .unwrap();
    let file = file.as_str().unwrap_or_default();
    assert!(download.starts_with("data:text/plain"), "the download is a text file: {download:.60}");
    assert!(codes.iter().all(|c| file.contains(c.as_str())), "the downloaded file holds every code: {file}");
    assert!(ann.find("button#copy-codes").await.is_displayed().await.unwrap(), "copy.js shows the Copy button");
    check_current(&ann, axe, "recovery-codes", &mut problems).await;

    // Log out; the password alone now leads to the second step.
    ann.click_and_wait("nav form[action='/logout'] button").await;
    assert!(ann.find_all("nav .me").await.is_empty(), "logged out");
    ann.log_in(&server, ANN, PASSWORD).await;
    assert_eq!(ann.path().await, "/login/two-factor");
    assert!(ann.find_all("nav .me").await.is_empty(), "not logged in by the password alone");
    ann.find("form[action='/login/two-factor'] input[name='code']").await;
    ann.find("input[type=checkbox][name='remember'][form='code-form']").await;
    check_current(&ann, axe, "second-step", &mut problems).await;

    // A wrong code: the step again, with an error announced. "Wrong" is
    // none of the codes the server could take now.
    let now = step_now();
    let near: Vec<String> = (now.saturating_sub(2)..=now + 2).map(|s| code(&secret, s)).collect();
    let wrong = ["000000", "111111", "222222", "333333", "444444", "555555"]
        .into_iter()
        .find(|w| !near.iter().any(|c| c == w))
        .unwrap();
    ann.console().await;
    ann.submit("form[action='/login/two-factor']", &[("code", wrong)]).await;
    assert_eq!(ann.path().await, "/login/two-factor", "still the second step");
    assert!(ann.find_all("nav .me").await.is_empty(), "a wrong code does not log in");
    let alert = ann.text("main [role=alert]").await;
    assert!(!alert.trim().is_empty(), "the wrong code is announced");
    assert_eq!(
        ann.find("form[action='/login/two-factor'] input[name='code']").await.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true"),
        "the field is marked invalid"
    );
    check_current(&ann, axe, "second-step-error", &mut problems).await;

    // A right code of a step after the enrolment's, remembering this
    // browser: logged in, on the home page.
    let login_step = step_now().max(enrolled + 1);
    ann.find("input[name='remember'][form='code-form']").await.click().await.unwrap();
    ann.submit("form[action='/login/two-factor']", &[("code", &code(&secret, login_step))]).await;
    assert_eq!(ann.path().await, "/", "{}", ann.body().await);
    assert_eq!(ann.text("nav .me").await, "ann");

    // The security page: on, ten codes left, the actions, and this browser
    // remembered.
    ann.goto(&server.url("/me")).await;
    ann.console().await;
    ann.click_and_wait("main a[href='/me/security']").await;
    let section = ann.text("main section").await;
    assert_eq!(ann.text("main section .badge").await, "On", "two-step login is on: {section}");
    assert!(section.contains("Recovery codes left: 10 of 10"), "ten codes left: {section}");
    assert!(ann.find_all("main a[href='/me/two-factor']").await.is_empty(), "no link to turn it on again");
    ann.find("form[action='/me/recovery-codes'] button[type=submit]").await;
    ann.find("form[action='/me/two-factor/disable'] button[type=submit]").await;
    assert_eq!(ann.find_all("form[action$='/forget']").await.len(), 1, "this browser is remembered");
    check_current(&ann, axe, "security", &mut problems).await;

    assert!(!server.log().contains("status=500"), "no server error on the way");
    ann.close().await;
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
