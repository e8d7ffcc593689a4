//! Signing in with an OpenID Connect provider (SPEC.md §2, §4), against a
//! real one: panva's oidc-provider (`tests/oidc`), started per test on a
//! free port, its development login driven over HTTP. First login and
//! sign-up, the second login, each rule for joining by email, tampered,
//! replayed and foreign answers, the second step after a provider,
//! linking and unlinking (never the last way to log in), a provider that
//! is down or declines, keys rotated at the provider, the email read from
//! userinfo.
//!
//! Three providers are configured on one oidc-provider: `plain` (never
//! joins by email), `trusted` (`email_login = true`) and `impostor`
//! (its discovery names another issuer than its ID tokens carry).

#[path = "../oidc/harness.rs"]
mod harness;

use rocket::http::{Cookie, Status};
use rocket::local::asynchronous::LocalResponse;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::{extract_csrf, location, TestApp, TestUser};
use crate::reset::{ask_for_link, follow, set_new_password, token_in, RESET};
use crate::two_factor::{enable_two_factor, submit_code};
use harness::{Consent, ProviderBrowser, TestProvider, CLIENT_ID, CLIENT_SECRET};
use recipebox::domain::AuditKind;
use recipebox::entities::{audit_event, linked_identity, user};

/// The app's address in tests (its default `public_url`).
const SITE: &str = "http://localhost:8000";
const LINKED: &str = "A sign-in provider was linked to your recipebox account";
const UNLINKED: &str = "A sign-in provider was unlinked from your recipebox account";
const KEYS: [&str; 3] = ["plain", "trusted", "impostor"];

fn redirects() -> Vec<String> {
    KEYS.iter().map(|key| format!("{SITE}/login/oidc/{key}/callback")).collect()
}

fn provider_table(issuer: &str, name: &str, email_login: bool) -> Value {
    json!({ "issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "name": name, "email_login": email_login })
}

/// The app's `oidc_providers` for a provider at `issuer`.
fn providers(issuer: &str) -> Value {
    json!({
        "plain": provider_table(issuer, "Test ID", false),
        "trusted": provider_table(issuer, "Trusted ID", true),
        "impostor": provider_table(&format!("{issuer}/impostor"), "Impostor ID", false),
    })
}

/// A provider and an app that signs in with it; `None` (skipped, with the
/// reason printed) where the provider cannot run.
async fn setup() -> Option<(TestProvider, TestApp)> {
    let provider = TestProvider::start(&redirects())?;
    let app = TestApp::spawn_with(&[("oidc_providers", providers(&provider.issuer))]).await;
    Some((provider, app))
}

/// A login name at the provider no other test uses (the `sub`).
fn person(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// The login page's button for `key`: the provider's URL the app sends
/// the browser to.
async fn begin(t: &TestApp, key: &str) -> String {
    let csrf = t.csrf_from("/login").await;
    let response = t.post_form(&format!("/login/oidc/{key}"), Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::SeeOther, "the button sends the browser to the provider");
    let cookies: Vec<&str> = response.headers().get("Set-Cookie").collect();
    let flow = cookies.iter().find(|c| c.starts_with("oidc_flow=")).expect("the flow's cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/login/oidc", "Max-Age=600"] {
        assert!(flow.contains(flag), "{flag}: {flow}");
    }
    location(&response)
}

/// The provider's redirect back, dispatched to the app.
async fn callback<'a>(t: &'a TestApp, url: &str) -> LocalResponse<'a> {
    let path = url.strip_prefix(SITE).unwrap_or_else(|| panic!("the provider sends the browser back to the site: {url}"));
    t.client.get(path.to_owned()).dispatch().await
}

/// A whole sign-in through `key` as `login`, up to the app's answer.
async fn sign_in<'a>(t: &'a TestApp, key: &str, login: &str) -> LocalResponse<'a> {
    let url = ProviderBrowser::new().sign_in(&begin(t, key).await, login, Consent::Allow).await;
    callback(t, &url).await
}

/// `url` with its query parameter `name` set to `value` (removed for
/// `None`).
fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut url = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().filter(|(k, _)| k != name).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    {
        let mut query = url.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    url.to_string()
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn body(response: LocalResponse<'_>) -> String {
    response.into_string().await.unwrap_or_default()
}

/// The error page's answer: its status and title.
async fn refused(response: LocalResponse<'_>) -> (Status, String) {
    let status = response.status();
    let page = body(response).await;
    let title = page.split("<h1>").nth(1).and_then(|rest| rest.split("</h1>").next()).unwrap_or_default().to_owned();
    (status, title)
}

/// Chooses `username` on the sign-up page that follows a first login.
async fn choose_username<'a>(t: &'a TestApp, username: &str) -> LocalResponse<'a> {
    let page = t.client.get("/signup/oidc").dispatch().await;
    assert_eq!(page.status(), Status::Ok);
    let csrf = extract_csrf(&body(page).await).expect("the form's csrf_token");
    t.post_form("/signup/oidc", Some(&csrf), &[("username", username)]).await
}

/// Signs up through `plain` as a new person; logged in afterwards.
async fn provider_account(t: &TestApp, login: &str) -> user::Model {
    let response = sign_in(t, "plain", login).await;
    assert_eq!(location(&response), "/signup/oidc", "a first login goes on to sign up");
    let username = format!("u_{}", &login[login.len() - 10..]);
    let response = choose_username(t, &username).await;
    assert_eq!(response.status(), Status::SeeOther, "{}", body(response).await);
    t.user_row(&format!("{login}@example.test")).await.expect("the account exists")
}

async fn links_of(t: &TestApp, user_id: i64) -> Vec<linked_identity::Model> {
    linked_identity::Entity::find().filter(linked_identity::Column::UserId.eq(user_id)).all(&t.app().db).await.unwrap()
}

async fn events(t: &TestApp, kind: AuditKind) -> Vec<audit_event::Model> {
    let all = audit_event::Entity::find().all(&t.app().db).await.unwrap();
    all.into_iter().filter(|event| event.kind == kind).collect()
}

/// The email of the account the browser is logged in to, as `/me` shows it.
async fn signed_in_as(t: &TestApp) -> Option<String> {
    let response = t.client.get("/me").dispatch().await;
    if response.status() != Status::Ok {
        return None;
    }
    let page = body(response).await;
    let marker = "<dt>Email</dt><dd>";
    let start = page.find(marker)? + marker.len();
    Some(page[start..].split(['<', ' ']).next()?.to_owned())
}

async fn mark_verified(t: &TestApp, email: &str) {
    user::Entity::update_many()
        .col_expr(user::Column::EmailVerifiedAt, Expr::value(Some(1_700_000_000_i64)))
        .filter(user::Column::Email.eq(email))
        .exec(&t.app().db)
        .await
        .unwrap();
}

#[rocket::async_test]
async fn a_first_login_signs_up_with_a_chosen_username_and_the_next_logs_the_same_account_in() {
    let Some((_provider, t)) = setup().await else { return };
    let login = person("ann");
    let email = format!("{login}@example.test");

    let login_page = body(t.client.get("/login").dispatch().await).await;
    assert!(login_page.contains(r#"action="/login/oidc/plain""#) && login_page.contains("Log in with Test ID"), "{login_page}");
    let signup_page = body(t.client.get("/signup").dispatch().await).await;
    assert!(signup_page.contains("Sign up with Trusted ID"));

    let response = sign_in(&t, "plain", &login).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/signup/oidc");
    assert!(t.cookie("access_token").is_none(), "no account, no session yet");
    let page = body(t.client.get("/signup/oidc").dispatch().await).await;
    assert!(page.contains(&email) && page.contains("Test ID"), "the page says who signed in: {page}");

    // A bad username is refused beside its field and nothing is made.
    let response = choose_username(&t, "x").await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    assert!(body(response).await.contains(r#"id="username-error""#));
    assert!(t.user_row(&email).await.is_none());

    let username = format!("ann_{}", &login[3..]);
    let response = choose_username(&t, &username).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(signed_in_as(&t).await.as_deref(), Some(email.as_str()), "signed up and in");
    let account = t.user_row(&email).await.unwrap();
    assert_eq!(account.username, username);
    assert!(account.password().is_none(), "no password until one is set");
    assert!(account.email_verified_at.is_some(), "the provider said email_verified");
    let links = links_of(&t, account.id).await;
    assert_eq!(links.len(), 1);
    assert_eq!((links[0].issuer.as_str(), links[0].subject.as_str()), (_provider.issuer.as_str(), login.as_str()));
    let signup = events(&t, AuditKind::Signup).await;
    assert!(signup.iter().any(|e| e.detail.contains(r#""provider":"plain""#)), "{signup:?}");

    // The sign-up page is single use: the person is linked now.
    assert_eq!(t.client.get("/signup/oidc").dispatch().await.status(), Status::BadRequest);

    t.logout().await;
    let response = sign_in(&t, "plain", &login).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/", "a known person logs in");
    assert_eq!(signed_in_as(&t).await.as_deref(), Some(email.as_str()));
    let logins = events(&t, AuditKind::Login).await;
    assert!(logins.iter().any(|e| e.detail == r#"{"provider":"plain"}"#), "the login names the provider: {logins:?}");
    assert!(links_of(&t, account.id).await[0].last_used_at.is_some());

    // No password means no password login, whatever is typed.
    t.logout().await;
    assert_eq!(t.login(&email, "").await.status(), Status::Unauthorized);
    assert_eq!(t.login(&email, "anything at all").await.status(), Status::Unauthorized);

    // An unverified email at the provider makes an unverified account,
    // which is sent a link to confirm it.
    let login = person("unverified-bo");
    let response = sign_in(&t, "plain", &login).await;
    assert_eq!(location(&response), "/signup/oidc");
    assert!(body(t.client.get("/signup/oidc").dispatch().await).await.contains("did not say this address is verified"));
    assert_eq!(choose_username(&t, &format!("bo_{}", &login[13..])).await.status(), Status::SeeOther);
    let account = t.user_row(&format!("{login}@example.test")).await.unwrap();
    assert!(account.email_verified_at.is_none());
    assert_eq!(t.mail("Confirm your email address", 1).await.len(), 1, "a verification link");
}

#[rocket::async_test]
async fn an_email_joins_an_account_only_through_a_trusted_provider_when_both_addresses_are_verified() {
    let Some((_provider, t)) = setup().await else { return };
    let local = TestUser::random();
    t.signup_as(&local).await;
    t.logout().await;
    // The provider's person has the local account's address (a login
    // name with `@` is the email, verified).
    let same_email = local.email.clone();

    // Not a trusted provider: never joined, whatever is verified.
    mark_verified(&t, &local.email).await;
    let (status, title) = refused(sign_in(&t, "plain", &same_email).await).await;
    assert_eq!((status, title.as_str()), (Status::Conflict, "An account uses that email"));

    // Trusted, but the local address is not verified.
    user::Entity::update_many()
        .col_expr(user::Column::EmailVerifiedAt, Expr::value(None::<i64>))
        .filter(user::Column::Email.eq(&local.email))
        .exec(&t.app().db)
        .await
        .unwrap();
    let (status, _) = refused(sign_in(&t, "trusted", &same_email).await).await;
    assert_eq!(status, Status::Conflict, "an unverified local address is never joined");

    // Trusted, but the provider's address is not verified.
    let other = person("unverified-cy");
    let other_email = format!("{other}@example.test");
    let mut second = TestUser::random();
    second.email = other_email.clone();
    t.signup_as(&second).await;
    t.logout().await;
    mark_verified(&t, &other_email).await;
    let (status, _) = refused(sign_in(&t, "trusted", &other).await).await;
    assert_eq!(status, Status::Conflict, "an address the provider does not vouch for is never joined");
    assert!(linked_identity::Entity::find().all(&t.app().db).await.unwrap().is_empty(), "nothing was linked");
    assert!(signed_in_as(&t).await.is_none());

    // Trusted, and both verified: joined, announced, logged in.
    mark_verified(&t, &local.email).await;
    let response = sign_in(&t, "trusted", &same_email).await;
    assert_eq!(location(&response), "/");
    assert_eq!(signed_in_as(&t).await.as_deref(), Some(local.email.as_str()));
    let account = t.user_row(&local.email).await.unwrap();
    assert_eq!(links_of(&t, account.id).await.len(), 1);
    let notice = t.mail(LINKED, 1).await.remove(0);
    assert!(notice.contains(&format!("To: {}", local.email)) && notice.contains("Trusted ID"), "{notice}");
    assert_eq!(events(&t, AuditKind::IdentityLinked).await.len(), 1);
}

#[rocket::async_test]
async fn tampered_replayed_and_foreign_answers_are_refused_with_a_page_that_says_so() {
    let Some((_provider, t)) = setup().await else { return };
    let browser = ProviderBrowser::new();

    // A tampered state.
    let url = browser.sign_in(&begin(&t, "plain").await, &person("dee"), Consent::Allow).await;
    let (status, title) = refused(callback(&t, &with_param(&url, "state", Some("forged"))).await).await;
    assert_eq!((status, title.as_str()), (Status::BadRequest, "Sign-in expired"));

    // Another browser's answer: no flow cookie here.
    let url = browser.sign_in(&begin(&t, "plain").await, &person("dee"), Consent::Allow).await;
    let another_browser = t.client.get(url.strip_prefix(SITE).unwrap().to_owned()).cookie(Cookie::new("oidc_flow", "another browser's"));
    let (status, _) = refused(another_browser.dispatch().await).await;
    assert_eq!(status, Status::BadRequest, "an answer without the browser's flow");

    // A replayed answer: the first is taken, the same again is refused.
    let url = browser.sign_in(&begin(&t, "plain").await, &person("eve"), Consent::Allow).await;
    let flow_again = t.cookie("oidc_flow").expect("the flow's cookie");
    assert_eq!(location(&callback(&t, &url).await), "/signup/oidc", "the first answer");
    assert!(t.cookie("oidc_flow").is_none(), "the flow's cookie is gone");
    let replay = t.client.get(url.strip_prefix(SITE).unwrap().to_owned()).cookie(Cookie::new("oidc_flow", flow_again)).dispatch().await;
    let (status, title) = refused(replay).await;
    assert_eq!((status, title.as_str()), (Status::BadRequest, "Sign-in expired"));

    // A nonce other than the flow's: the provider's ID token carries it.
    let auth = begin(&t, "plain").await;
    let url = browser.sign_in(&with_param(&auth, "nonce", Some("not-the-flows-nonce")), &person("fay"), Consent::Allow).await;
    let (status, title) = refused(callback(&t, &url).await).await;
    assert_eq!((status, title.as_str()), (Status::BadRequest, "Sign-in answer refused"));

    // The provider sends `iss` with its answers, so one without is refused.
    let url = browser.sign_in(&begin(&t, "plain").await, &person("gus"), Consent::Allow).await;
    assert_eq!(param(&url, "iss").as_deref(), Some(_provider.issuer.as_str()));
    let (status, _) = refused(callback(&t, &with_param(&url, "iss", None)).await).await;
    assert_eq!(status, Status::BadRequest);

    // An ID token from another issuer than the configured one: refused by
    // the answer's `iss`, and by the ID token's own `iss` without it.
    let url = browser.sign_in(&begin(&t, "impostor").await, &person("hal"), Consent::Allow).await;
    let (status, title) = refused(callback(&t, &url).await).await;
    assert_eq!((status, title.as_str()), (Status::BadRequest, "Sign-in answer refused"));
    let url = browser.sign_in(&begin(&t, "impostor").await, &person("hal"), Consent::Allow).await;
    let (status, title) = refused(callback(&t, &with_param(&url, "iss", None)).await).await;
    assert_eq!((status, title.as_str()), (Status::BadRequest, "Sign-in answer refused"));

    assert!(signed_in_as(&t).await.is_none(), "nobody was signed in");
    assert!(linked_identity::Entity::find().all(&t.app().db).await.unwrap().is_empty(), "nothing was linked");
}

#[rocket::async_test]
async fn an_account_with_a_second_factor_is_asked_for_it_after_the_provider() {
    let Some((_provider, t)) = setup().await else { return };
    let login = person("ida");
    let account = provider_account(&t, &login).await;
    // The provider's login is fresh: two-step login may be turned on.
    let (mut authenticator, _) = enable_two_factor(&t).await;
    t.logout().await;

    let response = sign_in(&t, "plain", &login).await;
    assert_eq!(location(&response), "/login/two-factor", "the second step is still asked for");
    assert!(t.cookie("access_token").is_none(), "no session before it");
    let code = authenticator.next_code().await;
    let response = submit_code(&t, &code, false).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(signed_in_as(&t).await.as_deref(), Some(account.email.as_str()));
    let logins = events(&t, AuditKind::Login).await;
    assert!(
        logins.iter().any(|e| e.detail == r#"{"provider":"plain","second_step":"totp"}"#),
        "the login names the provider and the step: {logins:?}"
    );
}

#[rocket::async_test]
async fn a_password_account_links_and_unlinks_a_provider_from_the_security_page() {
    let Some((provider, t)) = setup().await else { return };
    let user = t.signup().await;
    let page = body(t.client.get("/me/security").dispatch().await).await;
    assert!(page.contains(r#"action="/me/identities/plain/link""#) && page.contains("Link Test ID"), "{page}");
    let csrf = extract_csrf(&page).unwrap();

    let response = t.post_form("/me/identities/plain/link", Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::SeeOther);
    let login = person("jo");
    let url = ProviderBrowser::new().sign_in(&location(&response), &login, Consent::Allow).await;
    let response = callback(&t, &url).await;
    assert_eq!(location(&response), "/me/security");
    let account = t.user_row(&user.email).await.unwrap();
    let links = links_of(&t, account.id).await;
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].issuer, provider.issuer);
    let page = body(t.client.get("/me/security").dispatch().await).await;
    assert!(page.contains(&format!("/me/identities/{}/unlink", links[0].public_id)) && !page.contains("Link Test ID"), "{page}");
    assert!(t.mail(LINKED, 1).await[0].contains("Test ID"));
    let linked = events(&t, AuditKind::IdentityLinked).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].detail, r#"{"provider":"plain"}"#);
    let export: Value = t.client.get("/me/export").dispatch().await.into_json().await.unwrap();
    assert_eq!(export["linked_identities"][0]["subject"], login.as_str(), "the export lists the link");

    // A second person at the same provider is refused.
    let response = t.post_form("/me/identities/plain/link", Some(&csrf), &[]).await;
    let url = ProviderBrowser::new().sign_in(&location(&response), &person("jo"), Consent::Allow).await;
    let (status, title) = refused(callback(&t, &url).await).await;
    assert_eq!((status, title.as_str()), (Status::Conflict, "Already linked"));
    assert_eq!(links_of(&t, account.id).await.len(), 1);

    // The provider now logs the account in.
    t.logout().await;
    assert_eq!(location(&sign_in(&t, "plain", &login).await), "/");
    assert_eq!(signed_in_as(&t).await.as_deref(), Some(user.email.as_str()));

    // Linking the same person to a second account is refused.
    t.logout().await;
    t.signup().await;
    let csrf = t.session_csrf().await;
    let response = t.post_form("/me/identities/plain/link", Some(&csrf), &[]).await;
    let url = ProviderBrowser::new().sign_in(&location(&response), &login, Consent::Allow).await;
    let (status, title) = refused(callback(&t, &url).await).await;
    assert_eq!((status, title.as_str()), (Status::Conflict, "Linked to another account"));

    // Unlinked (the password remains), it no longer logs in.
    t.logout().await;
    t.login(&user.email, &user.password).await;
    let csrf = t.session_csrf().await;
    let response = t.post_form(&format!("/me/identities/{}/unlink", links[0].public_id), Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert!(links_of(&t, account.id).await.is_empty());
    assert!(t.mail(UNLINKED, 1).await[0].contains("Test ID"));
    assert_eq!(events(&t, AuditKind::IdentityUnlinked).await.len(), 1);
    t.logout().await;
    assert_eq!(location(&sign_in(&t, "plain", &login).await), "/signup/oidc", "a person no account knows: a sign-up");
}

#[rocket::async_test]
async fn the_last_way_to_log_in_is_never_unlinked_and_a_provider_account_sets_a_password_by_the_reset_link() {
    let Some((_provider, t)) = setup().await else { return };
    let login = person("kim");
    let account = provider_account(&t, &login).await;
    let link = links_of(&t, account.id).await.remove(0);
    let page = body(t.client.get("/me/password").dispatch().await).await;
    assert!(page.contains("no password yet") && page.contains(r#"href="/forgot-password""#), "{page}");
    assert!(!page.contains(r#"name="current_password""#), "no current password to ask for");
    let csrf = t.session_csrf().await;
    let unlink = format!("/me/identities/{}/unlink", link.public_id);
    let (status, title) = refused(t.post_form(&unlink, Some(&csrf), &[]).await).await;
    assert_eq!((status, title.as_str()), (Status::Conflict, "The last way to log in"));
    assert_eq!(links_of(&t, account.id).await.len(), 1, "still linked");

    // Another's link is not found.
    t.logout().await;
    t.signup().await;
    let csrf = t.session_csrf().await;
    assert_eq!(t.post_form(&unlink, Some(&csrf), &[]).await.status(), Status::NotFound);
    t.logout().await;

    // The reset link sets a first password; then unlinking is allowed.
    ask_for_link(&t, &account.email).await;
    let message = t.mail(RESET, 1).await.remove(0);
    let (_, page) = follow(&t, &token_in(&message)).await;
    let password = "a first password for kim";
    assert_eq!(set_new_password(&t, &page, password).await.status(), Status::SeeOther);
    t.logout().await;
    assert_eq!(t.login(&account.email, password).await.status(), Status::SeeOther, "the password logs in");
    let csrf = t.session_csrf().await;
    assert_eq!(t.post_form(&unlink, Some(&csrf), &[]).await.status(), Status::SeeOther);
    assert!(links_of(&t, account.id).await.is_empty());
}

#[rocket::async_test]
async fn a_provider_that_is_down_or_declines_gets_a_page_that_says_so() {
    let Some((provider, _)) = setup().await else { return };
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // A provider that takes the connection and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let slow = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<_> = silent.incoming().take(4).collect();
        std::thread::sleep(std::time::Duration::from_secs(30));
        drop(held);
    });
    let mut tables = providers(&provider.issuer);
    tables["down"] = provider_table(&format!("http://127.0.0.1:{closed}"), "Down ID", false);
    tables["slow"] = provider_table(&format!("http://127.0.0.1:{slow}"), "Slow ID", false);
    let t = TestApp::spawn_with(&[("oidc_providers", tables)]).await;

    let csrf = t.csrf_from("/login").await;
    let started = std::time::Instant::now();
    let response = t.post_form("/login/oidc/slow", Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::BadGateway);
    assert!(body(response).await.contains("Slow ID did not answer in time"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "given up after its timeout: {:?}", started.elapsed());
    // The next visitor is answered at once, not after a timeout of their own.
    let started = std::time::Instant::now();
    let csrf = t.csrf_from("/login").await;
    assert_eq!(t.post_form("/login/oidc/slow", Some(&csrf), &[]).await.status(), Status::BadGateway);
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "the failure is answered again: {:?}", started.elapsed());

    let csrf = t.csrf_from("/login").await;
    let response = t.post_form("/login/oidc/down", Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::BadGateway);
    let page = body(response).await;
    assert!(page.contains("Down ID did not answer in time"), "{page}");

    let csrf = t.csrf_from("/login").await;
    assert_eq!(t.post_form("/login/oidc/nowhere", Some(&csrf), &[]).await.status(), Status::NotFound);
    assert_eq!(t.post_form("/login/oidc/plain", None, &[]).await.status(), Status::Forbidden, "the button's CSRF token");

    let url = ProviderBrowser::new().sign_in(&begin(&t, "plain").await, &person("lou"), Consent::Deny).await;
    assert_eq!(param(&url, "error").as_deref(), Some("access_denied"));
    let response = callback(&t, &url).await;
    assert_eq!(response.status(), Status::BadRequest);
    assert!(body(response).await.contains("Test ID did not sign you in"));
    assert!(signed_in_as(&t).await.is_none());
}

#[rocket::async_test]
async fn keys_rotated_at_the_provider_are_fetched_again_and_userinfo_gives_a_missing_email() {
    let Some((provider, t)) = setup().await else { return };
    let login = person("max");
    provider_account(&t, &login).await;
    t.logout().await;

    // The same provider, restarted with a new signing key (a new `kid`)
    // and the email only in userinfo: the app's kept keys lack the kid.
    let port = provider.port;
    drop(provider);
    let Some(_rotated) = TestProvider::start_on(port, &redirects(), &[("OIDC_FRESH_KEY", "1"), ("OIDC_EMAIL_IN_USERINFO_ONLY", "1")]) else {
        return;
    };
    let response = sign_in(&t, "plain", &login).await;
    let status = response.status();
    let (to, page) = (location(&response), body(response).await);
    assert_eq!((status, to.as_str()), (Status::SeeOther, "/"), "the new key was fetched and the known person logged in: {page}");

    t.logout().await;
    let newcomer = person("ned");
    assert_eq!(location(&sign_in(&t, "plain", &newcomer).await), "/signup/oidc");
    let page = body(t.client.get("/signup/oidc").dispatch().await).await;
    assert!(page.contains(&format!("{newcomer}@example.test")), "the email came from userinfo: {page}");
}

#[rocket::async_test]
async fn a_disabled_account_is_refused_through_a_provider_too() {
    let Some((_provider, t)) = setup().await else { return };
    let login = person("nat");
    let account = provider_account(&t, &login).await;
    t.logout().await;
    user::Entity::update_many()
        .col_expr(user::Column::DisabledAt, Expr::value(Some(1_700_000_000_i64)))
        .filter(user::Column::Id.eq(account.id))
        .exec(&t.app().db)
        .await
        .unwrap();
    let response = sign_in(&t, "plain", &login).await;
    assert_eq!(response.status(), Status::Forbidden);
    assert!(signed_in_as(&t).await.is_none());
    let failed = events(&t, AuditKind::LoginFailed).await;
    assert!(failed.iter().any(|e| e.detail.contains("disabled")), "{failed:?}");
}

#[rocket::async_test]
async fn two_unlinks_at_once_never_remove_the_last_way_to_log_in() {
    let Some((_provider, t)) = setup().await else { return };
    let account = provider_account(&t, &person("ola")).await;
    let csrf = t.session_csrf().await;
    let response = t.post_form("/me/identities/trusted/link", Some(&csrf), &[]).await;
    let url = ProviderBrowser::new().sign_in(&location(&response), &person("ola"), Consent::Allow).await;
    assert_eq!(location(&callback(&t, &url).await), "/me/security");
    let links = links_of(&t, account.id).await;
    assert_eq!(links.len(), 2, "two providers, no password, no passkey");

    let paths: Vec<String> = links.iter().map(|link| format!("/me/identities/{}/unlink", link.public_id)).collect();
    let (first, second) =
        rocket::tokio::join!(t.post_form(&paths[0], Some(&csrf), &[]), t.post_form(&paths[1], Some(&csrf), &[]));
    let mut statuses = [first.status().code, second.status().code];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 409], "one unlink, and the other refused as the last way");
    assert_eq!(links_of(&t, account.id).await.len(), 1, "one way to log in is left");
}

#[rocket::async_test]
async fn a_stale_session_of_an_account_without_a_password_confirms_through_its_provider() {
    let Some((_provider, t)) = setup().await else { return };
    let login = person("pia");
    let account = provider_account(&t, &login).await;
    // A session whose access token came from a refresh (as in the
    // password tests): the app restarts with a client that holds only the
    // refresh cookie, and the first page load refreshes it.
    let refresh = t.cookie("refresh_token").unwrap();
    let t = t.restart().await;
    assert_eq!(t.client.get("/me").cookie(Cookie::new("refresh_token", refresh)).dispatch().await.status(), Status::Ok);
    assert_eq!(crate::helpers::claims_of(&t.cookie("access_token").unwrap())["fresh"], false);

    let response = t.client.get("/me/password").dispatch().await;
    assert_eq!(location(&response), "/login?next=%2Fme%2Fpassword", "a stale session confirms first");
    let page = body(t.client.get("/login?next=%2Fme%2Fpassword").dispatch().await).await;
    assert!(page.contains("Confirm it is you") && !page.contains(r#"name="password""#), "no password to ask for: {page}");
    assert!(page.contains(r#"action="/login/oidc/plain""#) && page.contains(r#"name="next" value="&#x2F;me&#x2F;password""#), "{page}");

    let csrf = extract_csrf(&page).unwrap();
    let response = t.post_form("/login/oidc/plain", Some(&csrf), &[("next", "/me/password")]).await;
    let url = ProviderBrowser::new().sign_in(&location(&response), &login, Consent::Allow).await;
    let response = callback(&t, &url).await;
    assert_eq!(location(&response), "/me/password", "back where it was going");
    assert_eq!(crate::helpers::claims_of(&t.cookie("access_token").unwrap())["fresh"], true, "fresh again");
    assert_eq!(signed_in_as(&t).await.as_deref(), Some(account.email.as_str()));
}
