//! Two-step login (SPEC.md §2, §4, §5, §6): turning a TOTP app on from
//! `/me/two-factor`, the second step of a login in pages and over the API,
//! codes accepted once (on every instance), single-use recovery codes,
//! throttled wrong codes, remembered browsers and freshness, the reset
//! rule, an admin's reset, turning it off and renewing the codes, and the
//! half-done login that grants nothing.
//!
//! The tests play the authenticator app with `totp_rs`. The server takes a
//! code of the step before, at or after its clock's, and each step once, so
//! a test gets three codes without waiting: [`Authenticator::next_code`]
//! hands them out in order and waits for the next step only when all three
//! are used. Further logins use recovery codes.

use std::time::Duration;

use rocket::http::{ContentType, Cookie, Header, Status};
use rocket::local::asynchronous::LocalResponse;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::EntityTrait;
use serde_json::{json, Value};

use crate::helpers::{claims_of, error_code, extract_csrf, location, tokens_of, TestApp, TestUser, Tokens};
use recipebox::domain::AuditKind;
use recipebox::entities::{audit_event, login_ticket};

const TWO_FACTOR_ON: &str = "Two-step login is on for your recipebox account";
const TWO_FACTOR_OFF: &str = "Two-step login is off for your recipebox account";
const TWO_FACTOR_RESET: &str = "An admin reset the two-step login of your recipebox account";
const CODES_RENEWED: &str = "New recovery codes for your recipebox account";
const CODE_USED: &str = "A recovery code of your recipebox account was used";
const NEW_PASSWORD: &str = "a brand new kitchen secret";
/// Seconds of a TOTP time step (RFC 6238's default, SPEC §2).
const STEP: u64 = 30;

// --- The authenticator app ---------------------------------------------------

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("a clock after 1970").as_secs()
}

/// The code an authenticator app shows for `secret` at `unix_seconds`.
fn code_at(secret: &str, unix_seconds: u64) -> String {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP)
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("the setup key is base32"))
        .build()
        .expect("RFC 6238 parameters")
        .generate(unix_seconds)
        .to_string()
}

/// A six-digit code that is no code of `secret` near now.
fn wrong_code(secret: &str) -> String {
    let now = unix_now();
    let near: Vec<String> = (0..=6).map(|k| code_at(secret, now + k * STEP - 3 * STEP)).collect();
    ["123456", "654321", "000000", "999999"]
        .into_iter()
        .find(|candidate| !near.iter().any(|code| code == candidate))
        .expect("one of four fixed codes is wrong")
        .to_owned()
}

/// The test's authenticator app: hands out codes of later and later time
/// steps, as the server accepts each step once.
pub(crate) struct Authenticator {
    secret: String,
    last_step: Option<u64>,
}

impl Authenticator {
    fn new(secret: String) -> Self {
        Self { secret, last_step: None }
    }

    /// The code of the earliest step the server takes now that comes after
    /// every code handed out before.
    pub(crate) async fn next_code(&mut self) -> String {
        loop {
            let now = unix_now();
            let current = now / STEP;
            // The step before the current one, unless it is about to leave
            // the server's window before the request arrives.
            let earliest = if now % STEP < 25 { current - 1 } else { current };
            let step = self.last_step.map_or(earliest, |last| Ord::max(earliest, last + 1));
            if step <= current + 1 {
                self.last_step = Some(step);
                return code_at(&self.secret, step * STEP);
            }
            // Every step the server takes now is used: wait for the next
            // one, as a person with the app would (a few seconds at most in
            // practice, as it happens only when a test started late in a step).
            rocket::tokio::time::sleep(Duration::from_secs(STEP - now % STEP)).await;
        }
    }
}

// --- Reading pages -----------------------------------------------------------

/// The setup key shown as text in `id="totp-secret"`, without the spaces
/// that group it.
fn secret_of(page: &str) -> String {
    let start = page.find(r#"id="totp-secret""#).expect("the page shows the setup key in id=\"totp-secret\"");
    let text_start = start + page[start..].find('>').unwrap() + 1;
    let text_end = text_start + page[text_start..].find("</code>").expect("the key is in a <code>");
    page[text_start..text_end].chars().filter(|c| !c.is_whitespace()).collect()
}

/// The codes of `<ul id="recovery-codes">`, one per `<li><code>`.
fn recovery_codes_of(page: &str) -> Vec<String> {
    let start = page.find(r#"id="recovery-codes""#).expect("the page lists the codes in id=\"recovery-codes\"");
    let list = &page[start..start + page[start..].find("</ul>").expect("the list ends")];
    list.split("<li><code>").skip(1).map(|item| item[..item.find("</code>").expect("a code ends")].to_owned()).collect()
}

/// The ids in the forget forms of `/me/security` (`/me/browsers/{id}/forget`).
fn remembered_browser_ids(page: &str) -> Vec<String> {
    page.match_indices(r#"action="/me/browsers/"#)
        .map(|(at, marker)| {
            let rest = &page[at + marker.len()..];
            rest[..rest.find("/forget\"").expect("a forget action")].to_owned()
        })
        .collect()
}

fn set_cookies<'a>(response: &'a LocalResponse<'_>) -> Vec<&'a str> {
    response.headers().get("Set-Cookie").collect()
}

/// Whether the response gives the browser a non-empty cookie `name`.
fn sets_cookie(response: &LocalResponse<'_>, name: &str) -> bool {
    let prefix = format!("{name}=");
    set_cookies(response).iter().any(|c| c.starts_with(&prefix) && !c[prefix.len()..].starts_with(';') && !c.contains("Max-Age=0"))
}

async fn page(t: &TestApp, path: &str) -> String {
    let response = t.client.get(path.to_owned()).dispatch().await;
    assert_eq!(response.status(), Status::Ok, "GET {path}");
    response.into_string().await.unwrap()
}

async fn security_page(t: &TestApp) -> String {
    page(t, "/me/security").await
}

async fn events(t: &TestApp, kind: AuditKind) -> Vec<audit_event::Model> {
    let all = audit_event::Entity::find().all(&t.app().db).await.unwrap();
    all.into_iter().filter(|event| event.kind == kind).collect()
}

async fn public_id(t: &TestApp, user: &TestUser) -> uuid::Uuid {
    t.user_row(&user.email).await.expect("the user exists").public_id
}

// --- Turning it on -----------------------------------------------------------

/// Turns two-step login on for the browser's (freshly logged-in) user, as
/// they would with their phone: reads the setup key, sends the app's code.
/// Returns the app and the ten recovery codes shown once.
pub(crate) async fn enable_two_factor(t: &TestApp) -> (Authenticator, Vec<String>) {
    let enrol = page(t, "/me/two-factor").await;
    let mut app = Authenticator::new(secret_of(&enrol));
    let csrf = extract_csrf(&enrol).expect("the enrolment form has a csrf_token");
    let code = app.next_code().await;
    let response = t.post_form("/me/two-factor", Some(&csrf), &[("code", &code)]).await;
    assert_eq!(response.status(), Status::Ok, "a right code turns two-step login on and shows the recovery codes");
    let codes = recovery_codes_of(&response.into_string().await.unwrap());
    assert_eq!(codes.len(), 10, "ten recovery codes: {codes:?}");
    (app, codes)
}

/// A new user, signed up in the browser, with two-step login on; the browser
/// is logged out afterwards.
async fn two_factor_user(t: &TestApp) -> (TestUser, Authenticator, Vec<String>) {
    let user = t.signup().await;
    let (app, codes) = enable_two_factor(t).await;
    t.logout().await;
    (user, app, codes)
}

// --- Logging in, in pages -------------------------------------------------------

/// The login form with the right password: for an account with two-step
/// login, the browser is sent on to the second step, not logged in.
async fn password_step(t: &TestApp, user: &TestUser) {
    let response = t.login(&user.email, &user.password).await;
    assert_eq!(response.status(), Status::SeeOther, "a right password");
    assert_eq!(location(&response), "/login/two-factor", "a right password is half a login for a two-step account");
    assert!(!sets_cookie(&response, "access_token"), "no session before the second step: {:?}", set_cookies(&response));
}

/// Sends `code` from the second step's form.
pub(crate) async fn submit_code<'a>(t: &'a TestApp, code: &str, remember: bool) -> LocalResponse<'a> {
    let csrf = t.csrf_from("/login/two-factor").await;
    let mut fields = vec![("code", code)];
    if remember {
        fields.push(("remember", "true"));
    }
    t.post_form("/login/two-factor", Some(&csrf), &fields).await
}

/// A whole login in the browser: the password, then `code`.
async fn login_with_code(t: &TestApp, user: &TestUser, code: &str) {
    password_step(t, user).await;
    let response = submit_code(t, code, false).await;
    assert_eq!(response.status(), Status::SeeOther, "a right code logs in");
    assert_eq!(location(&response), "/");
    assert!(t.cookie("access_token").is_some(), "the access cookie is set");
}

/// Posts the second step with the anonymous CSRF value, without fetching
/// the form (which an expired ticket no longer shows).
async fn submit_code_without_form<'a>(t: &'a TestApp, code: &str) -> LocalResponse<'a> {
    let csrf = t.cookie("csrf").expect("the login form set the csrf cookie");
    t.post_form("/login/two-factor", Some(&csrf), &[("code", code)]).await
}

fn browser_claims(t: &TestApp) -> Value {
    claims_of(&t.cookie("access_token").expect("the browser is logged in"))
}

// --- Logging in, over the API ---------------------------------------------------

/// The API login with the right password of a two-step account: 401
/// `second_factor_required` and the token of the second step.
async fn api_password_step(t: &TestApp, user: &TestUser) -> String {
    let response = t.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await;
    second_factor_token_of(response).await
}

async fn second_factor_token_of(response: LocalResponse<'_>) -> String {
    assert_eq!(response.status(), Status::Unauthorized, "a right password is half a login for a two-step account");
    let body: Value = response.into_json().await.expect("a JSON body");
    assert_eq!(body["error"]["code"], "second_factor_required", "{body}");
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none(), "no tokens yet: {body}");
    body["second_factor_token"].as_str().filter(|t| !t.is_empty()).unwrap_or_else(|| panic!("a second_factor_token: {body}")).to_owned()
}

async fn api_code<'a>(t: &'a TestApp, token: &str, code: &str) -> LocalResponse<'a> {
    t.post_json("/api/v1/auth/second-factor", None, &json!({"second_factor_token": token, "code": code})).await
}

/// The second step over the API with a right code: the login's body.
async fn api_login_with_code(t: &TestApp, token: &str, code: &str) -> Tokens {
    let response = api_code(t, token, code).await;
    assert_eq!(response.status(), Status::Ok, "a right code with a live token logs in");
    tokens_of(response.into_json().await.unwrap())
}

// --- Tests -----------------------------------------------------------------------

#[rocket::async_test]
async fn turning_two_step_login_on_shows_a_qr_code_and_the_key_and_takes_a_right_code() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let elsewhere = t.api_login(&user).await;
    let security = security_page(&t).await;
    assert!(security.contains(">Off<") && security.contains(r#"href="/me/two-factor""#), "off, with a way to turn it on: {security}");

    let enrol = page(&t, "/me/two-factor").await;
    let shown = {
        let start = enrol.find(r#"id="totp-secret""#).unwrap();
        let text = &enrol[start + enrol[start..].find('>').unwrap() + 1..];
        text[..text.find("</code>").unwrap()].to_owned()
    };
    assert!(shown.split(' ').all(|group| group.len() <= 4) && shown.contains(' '), "the key is grouped by four: {shown:?}");
    let secret = secret_of(&enrol);
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    assert!(totp_rs::Secret::try_from_base32(&secret).is_ok(), "an app can take the key: {secret}");
    let svg_start = enrol.find("<svg").expect("an inline SVG QR code");
    let svg = &enrol[svg_start..svg_start + enrol[svg_start..].find("</svg>").expect("the SVG ends")];
    assert!(svg.contains("QR code"), "the QR code has a name for screen readers: {}", &svg[..svg.len().min(200)]);
    assert!(!svg.contains("href") && !svg.contains("<image") && !svg.contains("<script"), "the QR code is drawn here, no outside request");
    assert!(!enrol.contains(r#"src="http"#), "nothing in the page comes from elsewhere");
    assert_eq!(secret_of(&page(&t, "/me/two-factor").await), secret, "opening the page again shows the same key");

    // A wrong code: the form again, and nothing changes.
    let csrf = extract_csrf(&enrol).unwrap();
    let wrong = t.post_form("/me/two-factor", Some(&csrf), &[("code", &wrong_code(&secret))]).await;
    assert_eq!(wrong.status(), Status::UnprocessableEntity, "a wrong code is a field error");
    let again = wrong.into_string().await.unwrap();
    assert_eq!(secret_of(&again), secret, "the form is shown again with the same key");
    assert!(security_page(&t).await.contains(">Off<"), "still off after a wrong code");
    let missing = t.post_form("/me/two-factor", None, &[("code", &code_at(&secret, unix_now()))]).await;
    assert_eq!(missing.status(), Status::Forbidden, "no csrf_token, no change");

    // The right code.
    let mut app = Authenticator::new(secret.clone());
    let code = app.next_code().await;
    let done = t.post_form("/me/two-factor", Some(&csrf), &[("code", &code)]).await;
    assert_eq!(done.status(), Status::Ok);
    let codes = recovery_codes_of(&done.into_string().await.unwrap());
    assert_eq!(codes.len(), 10);
    let distinct: std::collections::HashSet<&String> = codes.iter().collect();
    assert_eq!(distinct.len(), 10, "ten different codes: {codes:?}");
    for code in &codes {
        let (left, right) = code.split_once('-').unwrap_or_else(|| panic!("xxxxx-xxxxx: {code}"));
        assert!(left.len() == 5 && right.len() == 5 && code.chars().all(|c| c == '-' || c.is_ascii_alphanumeric()), "{code}");
    }

    let security = security_page(&t).await;
    assert!(security.contains(">On<") && security.contains("Recovery codes left: <strong>10</strong>"), "{security}");
    let revisit = t.client.get("/me/two-factor").dispatch().await;
    assert_eq!(revisit.status(), Status::SeeOther, "no second secret once it is on");
    assert_eq!(location(&revisit), "/me/security");

    let notice = t.mail(TWO_FACTOR_ON, 1).await.remove(0);
    assert!(notice.contains(&format!("To: {}", user.email)), "the notice goes to the account: {notice}");
    assert!(!notice.contains(&secret) && !codes.iter().any(|c| notice.contains(c.as_str())), "no secret in the notice: {notice}");
    let enabled = events(&t, AuditKind::TwoFactorEnabled).await;
    assert_eq!(enabled.len(), 1, "one two_factor_enabled event");
    let audit = audit_event::Entity::find().all(&t.app().db).await.unwrap();
    assert!(audit.iter().all(|e| !e.detail.contains(&secret)), "no secret in the audit trail");
    assert_eq!(
        error_code(t.get_json("/api/v1/me", Some(&elsewhere.access)).await, Status::Unauthorized).await,
        "token_revoked",
        "a session that passed the password alone ends when two-step login comes on"
    );
    assert_eq!(t.client.get("/me").dispatch().await.status(), Status::Ok, "the browser that turned it on stays logged in");
}

#[rocket::async_test]
async fn a_right_password_leads_to_the_second_step_and_a_right_code_logs_in_where_the_user_was_going() {
    let t = TestApp::spawn().await;
    let (user, mut app, _) = two_factor_user(&t).await;

    let csrf = t.csrf_from("/login?next=%2Frecipes%2Fnew").await;
    let response = t
        .post_form("/login", Some(&csrf), &[("email", &user.email), ("password", &user.password), ("next", "/recipes/new")])
        .await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/login/two-factor");
    let ticket = set_cookies(&response).into_iter().find(|c| c.starts_with("login_ticket=")).expect("a login_ticket cookie").to_owned();
    for flag in ["HttpOnly", "Path=/login", "SameSite=Lax", "Max-Age=300"] {
        assert!(ticket.contains(flag), "the ticket cookie has {flag}: {ticket}");
    }
    assert!(t.cookie("access_token").is_none(), "no session before the second step");

    let form = page(&t, "/login/two-factor").await;
    assert!(form.contains(r#"name="code""#) && form.contains(r#"name="remember""#), "a code field and a remember box: {form}");
    let ticket = t.cookie("login_ticket").unwrap();
    let code = app.next_code().await;
    let forged = t.post_form("/login/two-factor", Some("not-the-csrf-token"), &[("code", &code)]).await;
    assert_eq!(forged.status(), Status::Forbidden, "the second step's form needs its csrf_token");
    let response = submit_code(&t, &code, false).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/recipes/new", "on to where the login was going");
    assert!(sets_cookie(&response, "access_token"), "logged in");
    assert!(t.cookie("login_ticket").is_none(), "the ticket is cleared");
    let copy = rocket::local::asynchronous::Client::untracked(recipebox::rocket(t.figment())).await.unwrap();
    let replay = copy.get("/login/two-factor").cookie(rocket::http::Cookie::new("login_ticket", ticket)).dispatch().await;
    assert_eq!(replay.status(), Status::SeeOther, "a copy of the used ticket opens nothing");
    assert!(location(&replay).starts_with("/login"), "{}", location(&replay));
    assert_eq!(browser_claims(&t)["fresh"], true, "a login with both factors is fresh");
    assert!(page(&t, "/me/password").await.contains("current_password"), "a fresh session may change the password");
    let logins = events(&t, AuditKind::Login).await;
    assert!(logins.iter().any(|e| e.detail.contains("totp")), "the login's audit event says a TOTP code passed it: {logins:?}");
}

#[rocket::async_test]
async fn a_code_is_accepted_once_and_the_code_that_turned_it_on_logs_nobody_in() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let enrol = page(&t, "/me/two-factor").await;
    let mut app = Authenticator::new(secret_of(&enrol));
    let first = app.next_code().await;
    let done = t.post_form("/me/two-factor", Some(&extract_csrf(&enrol).unwrap()), &[("code", &first)]).await;
    assert_eq!(done.status(), Status::Ok);
    t.logout().await;

    password_step(&t, &user).await;
    let replay = submit_code(&t, &first, false).await;
    assert_eq!(replay.status(), Status::Unauthorized, "the code that turned two-step login on is used");
    assert!(replay.into_string().await.unwrap().contains("That code is not right"), "the form says why");

    let second = app.next_code().await;
    let response = submit_code(&t, &second, false).await;
    assert_eq!(response.status(), Status::SeeOther, "a wrong code leaves the ticket for another try");
    t.logout().await;

    password_step(&t, &user).await;
    let replay = submit_code(&t, &second, false).await;
    assert_eq!(replay.status(), Status::Unauthorized, "the same code a second time is refused");
    assert!(t.cookie("access_token").is_none());
    let token = api_password_step(&t, &user).await;
    assert_eq!(error_code(api_code(&t, &token, &second).await, Status::Unauthorized).await, "second_factor_invalid", "over the API too");

    let third = app.next_code().await;
    let response = submit_code(&t, &third, false).await;
    assert_eq!(response.status(), Status::SeeOther, "a code of a later step logs in");
    let wrong = events(&t, AuditKind::LoginFailed).await;
    assert!(wrong.iter().filter(|e| e.detail.contains("wrong_code")).count() >= 3, "each refused code is a failed login: {wrong:?}");
}

#[rocket::async_test]
async fn a_code_accepted_on_one_instance_is_refused_on_another_sharing_the_database() {
    let a = TestApp::spawn().await;
    let (user, mut app, _) = two_factor_user(&a).await;
    let b = TestApp::spawn_on(tempfile::tempdir().unwrap(), a.database.clone()).await;

    let code = app.next_code().await;
    let on_a = api_password_step(&a, &user).await;
    let on_b = api_password_step(&b, &user).await;
    api_login_with_code(&a, &on_a, &code).await;
    assert_eq!(
        error_code(api_code(&b, &on_b, &code).await, Status::Unauthorized).await,
        "second_factor_invalid",
        "instance B refuses the code instance A took"
    );
    let later = app.next_code().await;
    let tokens = api_login_with_code(&b, &on_b, &later).await;
    assert_eq!(b.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok, "B's token of the later code works");
    assert_eq!(a.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok, "on A too");
    assert_eq!(error_code(api_code(&a, &on_b, &later).await, Status::Unauthorized).await, "second_factor_invalid", "B's ticket is used up on A");
}

#[rocket::async_test]
async fn the_api_answers_a_right_password_with_second_factor_required_and_a_single_use_token() {
    let t = TestApp::spawn().await;
    let (user, mut app, _) = two_factor_user(&t).await;

    // JSON.
    let response = t.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await;
    let www = response.headers().get_one("WWW-Authenticate").unwrap_or_default().to_owned();
    assert!(www.starts_with("Bearer"), "a 401 names the Bearer scheme: {www:?}");
    let json_token = second_factor_token_of(response).await;
    // HTTP Basic.
    let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{}:{}", user.email, user.password));
    let response = t.client.post("/api/v1/auth/login").header(Header::new("Authorization", format!("Basic {basic}"))).dispatch().await;
    let basic_token = second_factor_token_of(response).await;
    assert_ne!(json_token, basic_token, "each login has its own token");
    // A wrong password is the usual answer, with no token.
    let wrong = t.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": "not the password"})).await;
    assert_eq!(wrong.status(), Status::Unauthorized);
    let body: Value = wrong.into_json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_credentials");
    assert!(body.get("second_factor_token").is_none(), "a wrong password gets no second_factor_token: {body}");

    // The token is no access token.
    assert_eq!(t.get_json("/api/v1/me", Some(&json_token)).await.status(), Status::Unauthorized, "a second_factor_token is no Bearer token");
    let refresh = t.post_json("/api/v1/auth/refresh", Some(&json_token), &json!({})).await;
    assert_eq!(refresh.status(), Status::Unauthorized, "nor a refresh token");

    // A wrong code leaves the token usable; a right one uses it up.
    let wrong = api_code(&t, &json_token, &wrong_code(&app.secret)).await;
    assert_eq!(wrong.headers().get_one("WWW-Authenticate").map(|h| h.starts_with("Bearer")), Some(true));
    assert_eq!(error_code(wrong, Status::Unauthorized).await, "second_factor_invalid");
    let code = app.next_code().await;
    let response = api_code(&t, &json_token, &code).await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.headers().get_one("Cache-Control"), Some("no-store"));
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body["user"]["email"], user.email.as_str(), "the login's body: {body}");
    assert!(body["user"].get("password_hash").is_none() && body["user"].get("id").is_none());
    let tokens = tokens_of(body);
    assert_eq!(claims_of(&tokens.access)["fresh"], true, "a login with both factors is fresh");
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok);

    // Used, unknown and empty tokens, with a code that is right.
    let later = app.next_code().await;
    assert_eq!(error_code(api_code(&t, &json_token, &later).await, Status::Unauthorized).await, "second_factor_invalid", "a used token");
    assert_eq!(error_code(api_code(&t, "not-a-token", &later).await, Status::Unauthorized).await, "second_factor_invalid");
    assert_eq!(error_code(api_code(&t, "", &later).await, Status::Unauthorized).await, "second_factor_invalid");
    // The refused attempts did not use the code up: the Basic login's token takes it.
    let basic_tokens = api_login_with_code(&t, &basic_token, &later).await;
    assert_eq!(t.get_json("/api/v1/me", Some(&basic_tokens.access)).await.status(), Status::Ok);
    let change = json!({"current_password": user.password, "new_password": NEW_PASSWORD});
    let changed = t.post_json("/api/v1/me/password", Some(&tokens.access), &change).await;
    assert_eq!(changed.status(), Status::NoContent, "the token is fresh enough to change the password");
}

#[rocket::async_test]
async fn the_answers_that_carry_a_second_step_token_are_not_cached() {
    let t = TestApp::spawn().await;
    let (user, _, _) = two_factor_user(&t).await;
    // SPEC §4: every response that carries a token sends no-store. These
    // carry the token that finishes a login with a code.
    let mut cached = Vec::new();
    let api = t.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await;
    if api.headers().get_one("Cache-Control") != Some("no-store") {
        cached.push(format!("POST /api/v1/auth/login (JSON), 401 with a second_factor_token: Cache-Control {:?}", api.headers().get_one("Cache-Control")));
    }
    second_factor_token_of(api).await;
    let csrf = t.csrf_from("/login").await;
    let form = t.post_form("/login", Some(&csrf), &[("email", &user.email), ("password", &user.password)]).await;
    assert_eq!(location(&form), "/login/two-factor");
    if form.headers().get_one("Cache-Control") != Some("no-store") {
        cached.push(format!("POST /login, 303 setting the login_ticket cookie: Cache-Control {:?}", form.headers().get_one("Cache-Control")));
    }
    assert!(cached.is_empty(), "responses carrying a second-step token without Cache-Control: no-store: {cached:#?}");
}

#[rocket::async_test]
async fn a_recovery_code_logs_in_once_in_pages_and_over_the_api_and_is_announced() {
    let t = TestApp::spawn().await;
    let (user, _app, codes) = two_factor_user(&t).await;

    // Pages, typed in capitals.
    password_step(&t, &user).await;
    let response = submit_code(&t, &codes[0].to_uppercase(), false).await;
    assert_eq!(response.status(), Status::SeeOther, "a recovery code stands in for the app's code");
    assert_eq!(location(&response), "/");
    assert_eq!(browser_claims(&t)["fresh"], true, "a recovery code is a whole second step");
    assert!(security_page(&t).await.contains("Recovery codes left: <strong>9</strong>"));
    let notice = t.mail(CODE_USED, 1).await.remove(0);
    assert!(notice.contains(&format!("To: {}", user.email)), "{notice}");
    assert!(notice.contains("9 of them are left"), "the notice says how many are left: {notice}");
    assert!(!notice.contains(&codes[0]), "the code is not in the notice");
    let used = events(&t, AuditKind::RecoveryCodeUsed).await;
    assert_eq!(used.len(), 1);
    assert!(used[0].detail.contains("\"codes_left\":9"), "{:?}", used[0].detail);
    t.logout().await;

    // The same code again: refused. The next one, without its dash and in mixed case.
    password_step(&t, &user).await;
    let again = submit_code(&t, &codes[0], false).await;
    assert_eq!(again.status(), Status::Unauthorized, "a recovery code works once");
    let undashed: String = codes[1]
        .replace('-', "")
        .chars()
        .enumerate()
        .map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c })
        .collect();
    let response = submit_code(&t, &undashed, false).await;
    assert_eq!(response.status(), Status::SeeOther, "typed without the dash, in any case");
    t.logout().await;

    // The API.
    let token = api_password_step(&t, &user).await;
    assert_eq!(error_code(api_code(&t, &token, &codes[1]).await, Status::Unauthorized).await, "second_factor_invalid", "used in pages");
    let tokens = api_login_with_code(&t, &token, &codes[2]).await;
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok);
    let token = api_password_step(&t, &user).await;
    assert_eq!(error_code(api_code(&t, &token, &codes[2]).await, Status::Unauthorized).await, "second_factor_invalid", "used over the API");
    assert_eq!(error_code(api_code(&t, &token, "zzzzz-zzzzz").await, Status::Unauthorized).await, "second_factor_invalid", "never issued");

    assert_eq!(t.mail(CODE_USED, 3).await.len(), 3, "each use is announced");
    assert_eq!(events(&t, AuditKind::RecoveryCodeUsed).await.len(), 3, "and audited");
    login_with_code(&t, &user, &codes[3]).await;
    assert!(security_page(&t).await.contains("Recovery codes left: <strong>6</strong>"));
}

#[rocket::async_test]
async fn wrong_codes_count_as_failed_logins_and_lock_the_account_with_429_even_for_a_right_code() {
    let t = TestApp::spawn_with(&[("login_max_failures_per_account", json!(3))]).await;
    let (user, mut app, codes) = two_factor_user(&t).await;
    let wrong = wrong_code(&app.secret);

    // A half-done login in the browser, kept for later.
    password_step(&t, &user).await;
    let token = api_password_step(&t, &user).await;
    for n in 0..2 {
        assert_eq!(error_code(api_code(&t, &token, &wrong).await, Status::Unauthorized).await, "second_factor_invalid", "wrong code {n}");
    }
    // The right password again does not give a new budget of codes.
    let token = api_password_step(&t, &user).await;
    let third = submit_code(&t, &wrong, false).await;
    assert_eq!(third.status(), Status::Unauthorized, "a wrong code in the page counts too");

    let right = app.next_code().await;
    let refused = api_code(&t, &token, &right).await;
    assert!(refused.headers().get_one("Retry-After").and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s > 0), "Retry-After");
    assert_eq!(error_code(refused, Status::TooManyRequests).await, "too_many_requests", "a right code past the limit");
    let page_refused = submit_code(&t, &right, false).await;
    assert_eq!(page_refused.status(), Status::TooManyRequests, "the page's second step is throttled too");
    assert!(page_refused.headers().get_one("Retry-After").is_some());
    assert!(t.cookie("access_token").is_none(), "nobody is logged in");
    let recovery = api_code(&t, &token, &codes[0]).await;
    assert_eq!(recovery.status(), Status::TooManyRequests, "a recovery code too");
    let password = t.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await;
    assert_eq!(password.status(), Status::TooManyRequests, "and the password login itself");

    let failures = events(&t, AuditKind::LoginFailed).await;
    assert_eq!(failures.iter().filter(|e| e.detail.contains("wrong_code")).count(), 3, "three wrong codes audited: {failures:?}");
    assert!(failures.iter().all(|e| !e.detail.contains(&wrong) && !e.detail.contains(&right)), "no code in the trail");

    // Once the failures leave the window, the code that was refused works:
    // the refusals did not use it up.
    recipebox::entities::login_failure::Entity::update_many()
        .col_expr(
            recipebox::entities::login_failure::Column::CreatedAt,
            Expr::col(recipebox::entities::login_failure::Column::CreatedAt).sub(901),
        )
        .exec(&t.app().db)
        .await
        .unwrap();
    api_login_with_code(&t, &token, &right).await;
}

#[rocket::async_test]
async fn wrong_codes_count_against_the_client_address_too() {
    let t = TestApp::spawn_with(&[("login_max_failures_per_address", json!(3))]).await;
    let (user, app, _) = two_factor_user(&t).await;
    let (other, _) = t.api_signup().await;
    let from = |ip: &str| -> std::net::SocketAddr { format!("{ip}:40000").parse().unwrap() };
    let post = |path: &'static str, body: Value, ip: &'static str| {
        t.client.post(path).header(ContentType::JSON).remote(from(ip)).body(body.to_string()).dispatch()
    };

    let response = post("/api/v1/auth/login", json!({"email": user.email, "password": user.password}), "203.0.113.50").await;
    let token = second_factor_token_of(response).await;
    for n in 0..3 {
        let wrong = post("/api/v1/auth/second-factor", json!({"second_factor_token": token, "code": wrong_code(&app.secret)}), "203.0.113.50");
        assert_eq!(wrong.await.status(), Status::Unauthorized, "wrong code {n}");
    }
    let blocked = post("/api/v1/auth/login", json!({"email": other.email, "password": other.password}), "203.0.113.50").await;
    assert_eq!(blocked.status(), Status::TooManyRequests, "another account's login from that address is throttled");
    let elsewhere = post("/api/v1/auth/login", json!({"email": other.email, "password": other.password}), "198.51.100.50").await;
    assert_eq!(elsewhere.status(), Status::Ok, "from another address it is not");
}

#[rocket::async_test]
async fn a_remembered_browser_skips_the_code_but_its_session_is_not_fresh_until_the_code_is_given() {
    let t = TestApp::spawn().await;
    let (user, mut app, _) = two_factor_user(&t).await;

    password_step(&t, &user).await;
    let response = submit_code(&t, &app.next_code().await, true).await;
    assert_eq!(response.status(), Status::SeeOther);
    let cookie = set_cookies(&response).into_iter().find(|c| c.starts_with("remembered_browser=")).expect("a remembered_browser cookie").to_owned();
    for flag in ["HttpOnly", "Path=/login", "SameSite=Lax", "Max-Age=2592000"] {
        assert!(cookie.contains(flag), "the remember cookie has {flag}: {cookie}");
    }
    let security = security_page(&t).await;
    assert_eq!(remembered_browser_ids(&security).len(), 1, "the browser is listed with a forget form: {security}");
    t.logout().await;

    // The password alone logs this browser in...
    let response = t.login(&user.email, &user.password).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/", "a remembered browser skips the second step");
    assert_eq!(browser_claims(&t)["fresh"], false, "but its session is not fresh");
    let logins = events(&t, AuditKind::Login).await;
    assert!(logins.iter().any(|e| e.detail.contains("remembered_browser")), "the audit says how: {logins:?}");
    // ...the API still asks (it has no remembered browser).
    api_password_step(&t, &user).await;

    // Pages that need a fresh session send it to confirm, and changing a
    // factor from it is refused.
    let form = t.client.get("/me/password").dispatch().await;
    assert_eq!(form.status(), Status::SeeOther, "the password form needs a fresh session");
    assert_eq!(location(&form), "/login?next=%2Fme%2Fpassword");
    let csrf = t.session_csrf().await;
    let disable = t.post_form("/me/two-factor/disable", Some(&csrf), &[]).await;
    assert_eq!(disable.status(), Status::SeeOther);
    assert!(location(&disable).starts_with("/login?next="), "turning it off needs a fresh session: {}", location(&disable));
    assert!(security_page(&t).await.contains("Recovery codes left"), "two-step login is still on");

    // Confirming the password in a logged-in browser always asks for the code.
    let confirm = page(&t, "/login?next=%2Fme%2Fpassword").await;
    let csrf = extract_csrf(&confirm).unwrap();
    let response = t
        .post_form("/login", Some(&csrf), &[("email", &user.email), ("password", &user.password), ("next", "/me/password")])
        .await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/login/two-factor", "a remembered browser does not confirm a password");
    let response = submit_code(&t, &app.next_code().await, false).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/me/password", "back to the page that asked");
    assert_eq!(browser_claims(&t)["fresh"], true, "fresh now");

    // A password change forgets every remembered browser.
    let csrf = t.session_csrf().await;
    let changed = t
        .post_form("/me/password", Some(&csrf), &[("current_password", &user.password), ("new_password", NEW_PASSWORD), ("new_password_confirm", NEW_PASSWORD)])
        .await;
    assert_eq!(changed.status(), Status::SeeOther);
    let security = security_page(&t).await;
    assert!(remembered_browser_ids(&security).is_empty() && security.contains("No browser is remembered"), "{security}");
    t.logout().await;
    assert!(t.cookie("remembered_browser").is_some(), "the browser still holds its cookie");
    password_step(&t, &TestUser { password: NEW_PASSWORD.into(), ..user }).await;
}

#[rocket::async_test]
async fn a_forgotten_browser_is_asked_for_the_code_again() {
    let t = TestApp::spawn().await;
    let (user, mut app, _) = two_factor_user(&t).await;
    password_step(&t, &user).await;
    assert_eq!(submit_code(&t, &app.next_code().await, true).await.status(), Status::SeeOther);

    let ids = remembered_browser_ids(&security_page(&t).await);
    assert_eq!(ids.len(), 1);
    let path = format!("/me/browsers/{}/forget", ids[0]);
    let csrf = t.session_csrf().await;
    let forgotten = t.post_form(&path, Some(&csrf), &[]).await;
    assert_eq!(forgotten.status(), Status::SeeOther, "POST {path}, the form /me/security shows, forgets the browser");
    assert_eq!(location(&forgotten), "/me/security");
    assert!(security_page(&t).await.contains("No browser is remembered"));
    assert_eq!(events(&t, AuditKind::BrowserForgotten).await.len(), 1, "audited");
    assert_eq!(t.post_form(&path, Some(&csrf), &[]).await.status(), Status::NotFound, "forgotten already");
    let unknown = format!("/me/browsers/{}/forget", uuid::Uuid::new_v4());
    assert_eq!(t.post_form(&unknown, Some(&csrf), &[]).await.status(), Status::NotFound, "an unknown browser");
    assert_eq!(t.post_form(&unknown, None, &[]).await.status(), Status::Forbidden, "no csrf_token: refused before anything");

    t.logout().await;
    password_step(&t, &user).await;
}

#[rocket::async_test]
async fn a_password_reset_of_a_two_step_account_ends_with_the_second_step_not_with_a_session() {
    let t = TestApp::spawn().await;
    let (user, mut app, _) = two_factor_user(&t).await;
    // A remembered browser, which the reset forgets.
    password_step(&t, &user).await;
    assert_eq!(submit_code(&t, &app.next_code().await, true).await.status(), Status::SeeOther);
    let api_session = {
        let token = api_password_step(&t, &user).await;
        api_login_with_code(&t, &token, &app.next_code().await).await
    };
    t.logout().await;

    let csrf = t.csrf_from("/forgot-password").await;
    assert_eq!(t.post_form("/forgot-password", Some(&csrf), &[("email", &user.email)]).await.status(), Status::Ok);
    let mail = t.mail("Reset your recipebox password", 1).await.remove(0);
    let marker = "/reset-password?token=";
    let token = mail[mail.find(marker).expect("a reset link") + marker.len()..].split_whitespace().next().unwrap().to_owned();
    let follow = t.client.get(format!("/reset-password?token={token}")).dispatch().await;
    assert_eq!(follow.status(), Status::SeeOther);
    let form = page(&t, "/reset-password").await;
    let csrf = extract_csrf(&form).unwrap();
    let done = t.post_form("/reset-password", Some(&csrf), &[("new_password", NEW_PASSWORD), ("new_password_confirm", NEW_PASSWORD)]).await;
    assert_eq!(done.status(), Status::SeeOther);
    assert_eq!(location(&done), "/login/two-factor", "the reset goes on to the second step");
    assert!(!sets_cookie(&done, "access_token"), "no session by the link alone: {:?}", set_cookies(&done));
    assert!(t.cookie("access_token").is_none());
    let me = t.client.get("/me").dispatch().await;
    assert_eq!(me.status(), Status::SeeOther, "not logged in");
    assert_eq!(error_code(t.get_json("/api/v1/me", Some(&api_session.access)).await, Status::Unauthorized).await, "token_revoked", "every session ended");

    let response = submit_code(&t, &app.next_code().await, false).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/");
    assert!(page(&t, "/me").await.contains(&user.username), "the code logs in");
    t.logout().await;
    // The remembered browser was forgotten, and the new password is the one.
    let new = TestUser { password: NEW_PASSWORD.into(), ..user };
    password_step(&t, &new).await;
}

#[rocket::async_test]
async fn an_admin_reset_removes_every_factor_and_ends_the_users_sessions() {
    let t = TestApp::spawn().await;
    let (user, mut app, codes) = two_factor_user(&t).await;
    let id = public_id(&t, &user).await;
    let api_session = {
        let token = api_password_step(&t, &user).await;
        api_login_with_code(&t, &token, &app.next_code().await).await
    };
    login_with_code(&t, &user, &app.next_code().await).await;
    let browser_session = t.cookie("access_token").unwrap();
    let pending = api_password_step(&t, &user).await;

    // Not for the user themselves.
    let path = format!("/admin/users/{id}/two-factor/reset");
    assert_eq!(t.client.get(path.clone()).dispatch().await.status(), Status::Forbidden, "an admin page");
    let csrf = t.session_csrf().await;
    assert_eq!(t.post_form(&path, Some(&csrf), &[]).await.status(), Status::Forbidden, "an admin action");
    t.logout().await;

    let admin = t.browser_admin().await;
    let users = page(&t, "/admin/users").await;
    assert!(users.contains("<th>Two-step</th>"), "the admin list has a Two-step column");
    let row = |users: &str, email: &str| {
        let at = users.find(email).unwrap_or_else(|| panic!("{email} is listed"));
        let row_end = at + users[at..].find("</tr>").unwrap();
        let row_start = users[..at].rfind("<tr").unwrap();
        users[row_start..row_end].to_owned()
    };
    assert!(row(&users, &user.email).contains(r#"<td data-label="Two-step">on</td>"#), "{}", row(&users, &user.email));
    assert!(row(&users, &admin.email).contains(r#"<td data-label="Two-step">off</td>"#));
    let user_page = page(&t, &format!("/admin/users/{id}")).await;
    assert!(user_page.contains(&format!(r#"href="{path}""#)), "the user's page leads to the reset");

    let confirm = page(&t, &path).await;
    assert!(confirm.contains(&user.username), "the confirmation names the user");
    let csrf = extract_csrf(&confirm).expect("the confirmation posts with a csrf_token");
    assert_eq!(t.post_form(&path, None, &[]).await.status(), Status::Forbidden, "no csrf_token, no reset");
    let done = t.post_form(&path, Some(&csrf), &[]).await;
    assert_eq!(done.status(), Status::SeeOther);
    assert_eq!(location(&done), format!("/admin/users/{id}"));

    for (what, token) in [("the API session", &api_session.access), ("the browser session", &browser_session)] {
        let response = t.get_json("/api/v1/me", Some(token)).await;
        assert_eq!(response.status(), Status::Unauthorized, "{what} of the user ended");
    }
    assert_eq!(error_code(api_code(&t, &pending, &codes[0]).await, Status::Unauthorized).await, "second_factor_invalid", "a half-done login ends too");
    assert!(row(&page(&t, "/admin/users").await, &user.email).contains(r#"<td data-label="Two-step">off</td>"#));

    let notice = t.mail(TWO_FACTOR_RESET, 1).await.remove(0);
    assert!(notice.contains(&format!("To: {}", user.email)), "{notice}");
    let reset = events(&t, AuditKind::TwoFactorReset).await;
    assert_eq!(reset.len(), 1);
    assert_eq!(reset[0].subject_public_id, Some(id));
    assert_eq!(reset[0].actor_public_id, Some(public_id(&t, &admin).await), "the admin did it");

    // The password alone logs in now.
    let tokens = t.api_login(&user).await;
    assert_eq!(t.get_json("/api/v1/me", Some(&tokens.access)).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn an_admin_reset_asks_a_stale_admin_session_to_confirm_its_password_first() {
    let t = TestApp::spawn().await;
    let (user, _app, _codes) = two_factor_user(&t).await;
    let id = public_id(&t, &user).await;
    let admin = t.browser_admin().await;
    let path = format!("/admin/users/{id}/two-factor/reset");
    let confirm_first = format!("/login?next={}", crate::helpers::enc(&path));
    assert!(extract_csrf(&page(&t, &path).await).is_some(), "a fresh admin session is shown the confirmation");

    // The same admin a while later: the access token came from a refresh.
    let refresh = t.cookie("refresh_token").unwrap();
    let t = t.restart().await;
    let users = t.client.get("/admin/users").cookie(Cookie::new("refresh_token", refresh)).dispatch().await;
    assert_eq!(users.status(), Status::Ok, "the refresh cookie alone opens the admin pages");
    drop(users);
    assert_eq!(browser_claims(&t)["fresh"], false, "a refreshed token is not fresh");
    let form = t.client.get(path.clone()).dispatch().await;
    assert_eq!((form.status(), location(&form)), (Status::SeeOther, confirm_first.clone()), "the confirmation page asks to log in again");
    drop(form);
    let csrf = t.session_csrf().await;
    let refused = t.post_form(&path, Some(&csrf), &[]).await;
    assert_eq!((refused.status(), location(&refused)), (Status::SeeOther, confirm_first.clone()), "so does the action");
    drop(refused);
    assert!(events(&t, AuditKind::TwoFactorReset).await.is_empty(), "nothing was reset");
    t.logout().await;
    password_step(&t, &user).await;

    // Confirming the password makes the session fresh: the reset goes through.
    let response = t.login(&admin.email, &admin.password).await;
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let csrf = extract_csrf(&page(&t, &path).await).expect("now the confirmation is shown");
    let done = t.post_form(&path, Some(&csrf), &[]).await;
    assert_eq!((done.status(), location(&done)), (Status::SeeOther, format!("/admin/users/{id}")));
    drop(done);
    assert_eq!(events(&t, AuditKind::TwoFactorReset).await.len(), 1);
}

#[rocket::async_test]
async fn an_admin_resets_their_own_two_step_login_on_their_security_page_not_through_the_admin_reset() {
    let t = TestApp::spawn().await;
    let admin = t.browser_admin().await;
    enable_two_factor(&t).await;
    let id = public_id(&t, &admin).await;
    let own_page = page(&t, &format!("/admin/users/{id}")).await;
    assert!(own_page.contains(r#"href="/me/security""#), "their own page leads to /me/security");
    assert!(!own_page.contains("two-factor/reset"), "and not to the admin reset");
    let path = format!("/admin/users/{id}/two-factor/reset");
    let form = t.client.get(path.clone()).dispatch().await;
    assert_eq!((form.status(), location(&form)), (Status::SeeOther, "/me/security".to_owned()));
    drop(form);
    let csrf = t.session_csrf().await;
    let action = t.post_form(&path, Some(&csrf), &[]).await;
    assert_eq!((action.status(), location(&action)), (Status::SeeOther, "/me/security".to_owned()));
    drop(action);
    assert!(events(&t, AuditKind::TwoFactorReset).await.is_empty(), "nothing was reset");
    assert!(security_page(&t).await.contains("Turn off"), "two-step login is still on");
}

#[rocket::async_test]
async fn renewed_recovery_codes_replace_the_old_ones_and_turning_it_off_lets_the_password_alone_log_in() {
    let t = TestApp::spawn().await;
    let (user, first_app, old) = two_factor_user(&t).await;
    login_with_code(&t, &user, &old[0]).await;

    let csrf = t.session_csrf().await;
    let renewed = t.post_form("/me/recovery-codes", Some(&csrf), &[]).await;
    assert_eq!(renewed.status(), Status::Ok, "the new codes are shown at once");
    let new = recovery_codes_of(&renewed.into_string().await.unwrap());
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|code| !old.contains(code)), "all new codes");
    assert!(security_page(&t).await.contains("Recovery codes left: <strong>10</strong>"));
    assert!(t.mail(CODES_RENEWED, 1).await[0].contains(&format!("To: {}", user.email)));
    assert_eq!(events(&t, AuditKind::RecoveryCodesRenewed).await.len(), 1);
    t.logout().await;

    password_step(&t, &user).await;
    assert_eq!(submit_code(&t, &old[1], false).await.status(), Status::Unauthorized, "an old code stops working");
    let response = submit_code(&t, &new[0], false).await;
    assert_eq!(response.status(), Status::SeeOther, "a new one works");

    let csrf = t.session_csrf().await;
    assert_eq!(t.post_form("/me/two-factor/disable", None, &[]).await.status(), Status::Forbidden, "no csrf_token, still on");
    let off = t.post_form("/me/two-factor/disable", Some(&csrf), &[]).await;
    assert_eq!(off.status(), Status::SeeOther);
    assert_eq!(location(&off), "/me/security");
    let security = security_page(&t).await;
    assert!(security.contains(">Off<") && !security.contains("Recovery codes left"), "{security}");
    assert!(t.mail(TWO_FACTOR_OFF, 1).await[0].contains(&format!("To: {}", user.email)));
    assert_eq!(events(&t, AuditKind::TwoFactorDisabled).await.len(), 1);
    let renew_when_off = t.post_form("/me/recovery-codes", Some(&csrf), &[]).await;
    assert_eq!(renew_when_off.status(), Status::SeeOther, "no recovery codes without two-step login");
    t.logout().await;

    let response = t.login(&user.email, &user.password).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/", "the password alone logs in");
    assert_eq!(browser_claims(&t)["fresh"], true);
    t.api_login(&user).await;
    // Turning it on again takes a new key.
    let (again, _) = enable_two_factor(&t).await;
    assert_ne!(again.secret, first_app.secret, "a new key, not the old one");
}

#[rocket::async_test]
async fn a_half_done_login_grants_nothing_and_expires() {
    let t = TestApp::spawn().await;
    let (user, mut app, _) = two_factor_user(&t).await;

    // Pages: with the ticket cookie and no session, nothing is open.
    password_step(&t, &user).await;
    let page_ticket = t.cookie("login_ticket").expect("the browser holds the ticket");
    for path in ["/me", "/me/security", "/me/two-factor", "/recipes/new"] {
        let response = t.client.get(path).dispatch().await;
        assert_eq!(response.status(), Status::SeeOther, "{path} is closed to a half-done login");
        assert!(location(&response).starts_with("/login?next="), "{path}: {}", location(&response));
    }
    assert_eq!(t.get_json("/api/v1/me", Some(&page_ticket)).await.status(), Status::Unauthorized, "the ticket is no Bearer token");
    let code = app.next_code().await;
    let crossed = api_code(&t, &page_ticket, &code).await;
    assert_eq!(error_code(crossed, Status::Unauthorized).await, "second_factor_invalid", "the pages' ticket is not the API's");

    // The API's token is no page ticket either.
    let api_token = api_password_step(&t, &user).await;
    let other = rocket::local::asynchronous::Client::untracked(recipebox::rocket(t.figment())).await.unwrap();
    let response = other.get("/login/two-factor").cookie(rocket::http::Cookie::new("login_ticket", api_token.clone())).dispatch().await;
    assert_eq!(response.status(), Status::SeeOther, "an API token does not open the second step in pages");
    assert!(location(&response).starts_with("/login"));
    let response = other.get("/login/two-factor").dispatch().await;
    assert_eq!(response.status(), Status::SeeOther, "no ticket, no second step");
    assert!(location(&response).starts_with("/login"));

    // Five minutes on, both have expired.
    login_ticket::Entity::update_many()
        .col_expr(login_ticket::Column::ExpiresAt, Expr::col(login_ticket::Column::ExpiresAt).sub(301))
        .exec(&t.app().db)
        .await
        .unwrap();
    let response = t.client.get("/login/two-factor").dispatch().await;
    assert_eq!(response.status(), Status::SeeOther, "an expired ticket sends the browser back to log in");
    assert!(location(&response).starts_with("/login"));
    password_step(&t, &user).await;
    login_ticket::Entity::update_many()
        .col_expr(login_ticket::Column::ExpiresAt, Expr::col(login_ticket::Column::ExpiresAt).sub(301))
        .exec(&t.app().db)
        .await
        .unwrap();
    let response = submit_code_without_form(&t, &code).await;
    assert_eq!(response.status(), Status::SeeOther, "a code with an expired ticket");
    assert!(location(&response).starts_with("/login"), "back to log in: {}", location(&response));
    assert!(t.cookie("access_token").is_none(), "and nobody is logged in");
    assert_eq!(error_code(api_code(&t, &api_token, &code).await, Status::Unauthorized).await, "second_factor_invalid", "an expired API token");

    // The code, unused by all of this, still logs in with a new ticket.
    login_with_code(&t, &user, &code).await;
}

#[rocket::async_test]
async fn a_password_change_cancels_the_logins_begun_with_the_old_password() {
    let t = TestApp::spawn().await;
    let (user, mut app, _) = two_factor_user(&t).await;
    // Someone with the old password has reached the second step over the API.
    let stolen = api_password_step(&t, &user).await;
    // The owner logs in with both factors and changes the password.
    let token = api_password_step(&t, &user).await;
    let tokens = api_login_with_code(&t, &token, &app.next_code().await).await;
    let change = json!({"current_password": user.password, "new_password": NEW_PASSWORD});
    assert_eq!(t.post_json("/api/v1/me/password", Some(&tokens.access), &change).await.status(), Status::NoContent);
    // A right code no longer finishes the login begun before.
    let refused = api_code(&t, &stolen, &app.next_code().await).await;
    assert_eq!(error_code(refused, Status::Unauthorized).await, "second_factor_invalid", "the old password's half login is gone");
}

#[rocket::async_test]
async fn a_next_too_long_to_hold_is_dropped_not_a_server_error() {
    let t = TestApp::spawn().await;
    let (user, mut app, _) = two_factor_user(&t).await;
    let next = format!("/recipes?q={}", "a".repeat(3000));
    let csrf = t.csrf_from("/login").await;
    let response = t.post_form("/login", Some(&csrf), &[("email", &user.email), ("password", &user.password), ("next", &next)]).await;
    assert_eq!(response.status(), Status::SeeOther, "a right password, whatever the next");
    assert_eq!(location(&response), "/login/two-factor");
    drop(response);
    let response = submit_code(&t, &app.next_code().await, false).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/", "the over-long next was not followed");
}
