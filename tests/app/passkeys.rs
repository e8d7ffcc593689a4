//! Passkeys (SPEC.md §2, §4, §6): adding one from a fresh session, signing
//! in with it and no password (a fresh session), using it as the second
//! step of a password login, removing it, and everything a relying party
//! must refuse: a challenge used twice (on one instance or two), an answer
//! for another origin or relying party, a removed passkey, a disabled
//! account, a missing CSRF token, a stale session, a signature counter
//! that goes back.
//!
//! The tests play the browser and its authenticator with the `passkey`
//! crate ([`SoftKey`]): its client turns the server's options into a
//! credential exactly as `navigator.credentials` would, and its JSON is
//! what a browser's `credential.toJSON()` posts. The site's relying party
//! is the harness's `public_url`, `http://localhost:8000`; the client takes
//! plain http only for `localhost`, and only when told to
//! (`allows_insecure_localhost`).

use base64::Engine as _;
use passkey::authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
use passkey::client::{Client, ClientData, DefaultClientData, DefaultClientDataWithCustomHash, WebauthnError};
use passkey::crypto::rust_crypto::RustCryptoBackend;
use passkey_types::ctap2::{Aaguid, Ctap2Error};
use passkey_types::webauthn::{CredentialCreationOptions, CredentialRequestOptions};
use passkey_types::Passkey;
use rocket::http::{ContentType, Cookie, Header, Status};
use rocket::local::asynchronous::LocalResponse;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::helpers::{claims_of, error_code, extract_csrf, location, TestApp, TestUser};
use recipebox::accounts::notices::{NEW_DEVICE, PASSKEY_ADDED, PASSKEY_REMOVED, TWO_FACTOR_RESET};
use recipebox::domain::AuditKind;
use recipebox::entities::{audit_event, passkey as passkey_row, passkey_ceremony};

/// The site's origin in the test harness (`public_url`).
const ORIGIN: &str = "http://localhost:8000";
/// The second step's ceremony: under `/login…`, where the half-done login's cookie goes.
const SECOND_STEP_BEGIN: &str = "/login/two-factor/passkey/begin";
const SECOND_STEP_FINISH: &str = "/login/two-factor/passkey/finish";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";

// --- The authenticator ----------------------------------------------------------

/// The person at the authenticator: present, and verified when asked
/// (a fingerprint that always matches).
struct Owner;

#[rocket::async_trait]
impl UserValidationMethod for Owner {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(&self, _hint: UiHint<'a, Passkey>, _presence: bool, verification: bool) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck { presence: true, verification })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

/// A software passkey: one discoverable credential, held in memory, used
/// through the `passkey` crate's WebAuthn client as a browser would. Cloning
/// it copies the private key (a cloned authenticator).
#[derive(Clone)]
struct SoftKey {
    passkey: Option<Passkey>,
    /// Whether the authenticator keeps a signature counter (most synced
    /// passkeys do not: theirs stays 0).
    counter: bool,
}

fn b64url(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn url(origin: &str) -> url::Url {
    url::Url::parse(origin).expect("an origin")
}

impl SoftKey {
    fn new() -> Self {
        Self { passkey: None, counter: false }
    }

    /// An authenticator that counts its signatures.
    fn counting() -> Self {
        Self { passkey: None, counter: true }
    }

    /// The WebAuthn client over this key's authenticator, for one call; the
    /// credential comes back to `self` afterwards (see [`Self::put_back`]).
    fn authenticator(&mut self) -> Authenticator<Option<Passkey>, Owner, RustCryptoBackend> {
        let mut authenticator = Authenticator::new(Aaguid::new_empty(), self.passkey.take(), Owner, RustCryptoBackend);
        authenticator.set_make_credentials_with_signature_counter(self.counter);
        authenticator
    }

    /// The credential id, as the JSON carries it.
    fn credential_id(&self) -> String {
        b64url(&*self.passkey.as_ref().expect("a registered key").credential_id)
    }

    /// Runs `navigator.credentials.create` at `origin` for the server's
    /// `begun` (`{ceremony, publicKey}`): the credential as JSON.
    async fn create(&mut self, origin: &str, begun: &Value, client_data: impl ClientData<()>) -> Result<Value, WebauthnError> {
        let options: CredentialCreationOptions =
            serde_json::from_value(json!({"publicKey": begun["publicKey"]})).expect("the server's creation options parse");
        let mut client = Client::new(self.authenticator()).allows_insecure_localhost(true);
        let created = client.register(url(origin), options, client_data).await;
        self.passkey = client.authenticator().store().clone();
        created.map(|credential| serde_json::to_value(credential).unwrap())
    }

    /// Runs `navigator.credentials.get` at `origin` for the server's
    /// `begun`: the assertion as JSON.
    async fn get(&mut self, origin: &str, begun: &Value, client_data: impl ClientData<()>) -> Result<Value, WebauthnError> {
        let options: CredentialRequestOptions =
            serde_json::from_value(json!({"publicKey": begun["publicKey"]})).expect("the server's request options parse");
        let mut client = Client::new(self.authenticator()).allows_insecure_localhost(true);
        let asserted = client.authenticate(url(origin), options, client_data).await;
        self.passkey = client.authenticator().store().clone();
        asserted.map(|credential| serde_json::to_value(credential).unwrap())
    }

    /// An answer no browser sends: the authenticator signs for `rp_id`
    /// while the client data claims `origin` (the site's own). The client
    /// is run at `https://{rp_id}` with a client-data hash of ours, and
    /// the client data it wrote is replaced by ours, so the signature is
    /// good and only the relying party is wrong.
    async fn answer_for_relying_party(&mut self, kind: &str, begun: &Value, rp_id: &str, origin: &str) -> Value {
        let client_data =
            json!({"type": kind, "challenge": begun["publicKey"]["challenge"], "origin": origin, "crossOrigin": false}).to_string();
        let hash = DefaultClientDataWithCustomHash(Sha256::digest(client_data.as_bytes()).to_vec());
        let mut begun = begun.clone();
        let site = format!("https://{rp_id}");
        let mut answer = if kind == "webauthn.create" {
            begun["publicKey"]["rp"]["id"] = json!(rp_id);
            self.create(&site, &begun, hash).await
        } else {
            begun["publicKey"]["rpId"] = json!(rp_id);
            self.get(&site, &begun, hash).await
        }
        .unwrap_or_else(|e| panic!("the software client signs for {rp_id}: {e:?}"));
        answer["response"]["clientDataJSON"] = json!(b64url(client_data));
        answer
    }

    /// Adds this key to the account of the browser's (fresh) session;
    /// the new passkey's id.
    async fn register(&mut self, t: &TestApp, name: &str) -> Uuid {
        let (ceremony, credential) = self.register_answer(t, ORIGIN).await;
        let response = finish_registration(t, &ceremony, name, &credential).await;
        let (status, body) = json_of(response).await;
        assert_eq!(status, Status::Created, "the passkey is added: {body}");
        body["id"].as_str().and_then(|id| id.parse().ok()).expect("the new passkey's id")
    }

    /// Begins a registration and answers it at `origin`, without finishing.
    async fn register_answer(&mut self, t: &TestApp, origin: &str) -> (String, Value) {
        let begun = begin_registration(t).await;
        let credential = self.create(origin, &begun, DefaultClientData).await.expect("the authenticator makes a credential");
        (ceremony_of(&begun), credential)
    }

    /// Signs the (logged-out) browser in with this key: the JSON answer.
    async fn sign_in(&mut self, t: &TestApp) -> Value {
        let csrf = t.csrf_from("/login").await;
        let begun = begin(t, "/passkeys/login/begin", &csrf).await;
        let credential = self.get(ORIGIN, &begun, DefaultClientData).await.expect("the authenticator signs");
        let response = finish(t, "/passkeys/login/finish", &csrf, &ceremony_of(&begun), &credential).await;
        let (status, body) = json_of(response).await;
        assert_eq!(status, Status::Ok, "the passkey signs in: {body}");
        body
    }

    /// Begins a sign-in and answers it at `origin`: the CSRF token, the
    /// ceremony and the answer, not yet sent.
    async fn sign_in_answer(&mut self, t: &TestApp, origin: &str) -> (String, String, Value) {
        let csrf = t.csrf_from("/login").await;
        let begun = begin(t, "/passkeys/login/begin", &csrf).await;
        let credential = self.get(origin, &begun, DefaultClientData).await.expect("the authenticator signs");
        (csrf, ceremony_of(&begun), credential)
    }

    /// A whole sign-in whose answer `finish` must refuse with `status`; the
    /// error code.
    async fn refused_sign_in(&mut self, t: &TestApp, status: Status) -> String {
        let (csrf, ceremony, credential) = self.sign_in_answer(t, ORIGIN).await;
        error_code(finish(t, "/passkeys/login/finish", &csrf, &ceremony, &credential).await, status).await
    }
}

// --- The ceremonies over HTTP ----------------------------------------------------

/// A JSON POST as the page script sends it.
async fn send<'a>(t: &'a TestApp, path: &str, body: &Value) -> LocalResponse<'a> {
    t.client.post(path.to_owned()).header(ContentType::JSON).body(body.to_string()).dispatch().await
}

async fn json_of(response: LocalResponse<'_>) -> (Status, Value) {
    let status = response.status();
    let body = response.into_string().await.unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or_else(|_| json!({"not_json": body})))
}

/// A `begin` that must succeed: `{ceremony, publicKey}`.
async fn begin(t: &TestApp, path: &str, csrf: &str) -> Value {
    let response = send(t, path, &json!({"csrf_token": csrf})).await;
    let cache = response.headers().get_one("Cache-Control").unwrap_or_default().to_owned();
    let (status, body) = json_of(response).await;
    assert_eq!(status, Status::Ok, "POST {path}: {body}");
    assert!(cache.contains("no-store"), "a ceremony's options are not cached: {cache:?}");
    assert!(body["ceremony"].as_str().is_some_and(|c| !c.is_empty()), "a ceremony token: {body}");
    assert!(body["publicKey"]["challenge"].is_string(), "a challenge: {body}");
    body
}

fn ceremony_of(begun: &Value) -> String {
    begun["ceremony"].as_str().unwrap().to_owned()
}

async fn begin_registration(t: &TestApp) -> Value {
    let csrf = t.session_csrf().await;
    begin(t, "/passkeys/register/begin", &csrf).await
}

async fn finish_registration<'a>(t: &'a TestApp, ceremony: &str, name: &str, credential: &Value) -> LocalResponse<'a> {
    let csrf = t.session_csrf().await;
    send(t, "/passkeys/register/finish", &json!({"csrf_token": csrf, "ceremony": ceremony, "name": name, "credential": credential})).await
}

async fn finish<'a>(t: &'a TestApp, path: &str, csrf: &str, ceremony: &str, credential: &Value) -> LocalResponse<'a> {
    send(t, path, &json!({"csrf_token": csrf, "ceremony": ceremony, "credential": credential})).await
}

/// The CSRF token a page hands its passkey script (`data-csrf`): the
/// second step of a passkey-only account has no form to read it from.
async fn script_csrf(t: &TestApp, path: &str) -> String {
    let response = t.client.get(path.to_owned()).dispatch().await;
    assert_eq!(response.status(), Status::Ok, "GET {path}");
    let html = response.into_string().await.unwrap();
    let marker = r#"data-csrf=""#;
    let start = html.find(marker).unwrap_or_else(|| panic!("{path} has a passkey script: {html}")) + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

// --- What the site recorded ------------------------------------------------------

async fn events(t: &TestApp, kind: AuditKind) -> Vec<audit_event::Model> {
    let all = audit_event::Entity::find().all(&t.app().db).await.unwrap();
    all.into_iter().filter(|event| event.kind == kind).collect()
}

async fn public_id(t: &TestApp, user: &TestUser) -> Uuid {
    t.user_row(&user.email).await.expect("the user exists").public_id
}

async fn passkeys_of(t: &TestApp, user: &TestUser) -> Vec<passkey_row::Model> {
    let id = t.user_row(&user.email).await.expect("the user exists").id;
    passkey_row::Entity::find().filter(passkey_row::Column::UserId.eq(id)).all(&t.app().db).await.unwrap()
}

async fn page(t: &TestApp, path: &str) -> String {
    let response = t.client.get(path.to_owned()).dispatch().await;
    assert_eq!(response.status(), Status::Ok, "GET {path}");
    response.into_string().await.unwrap().replace("&#x2F;", "/")
}

fn browser_claims(t: &TestApp) -> Value {
    claims_of(&t.cookie("access_token").expect("the browser is logged in"))
}

/// A new user, signed up in the browser, with `key` added; logged out
/// afterwards.
async fn passkey_user(t: &TestApp, key: &mut SoftKey) -> TestUser {
    let user = t.signup().await;
    key.register(t, "Laptop").await;
    t.logout().await;
    user
}

/// The right password for an account with a passkey: half a login, held in
/// the `login_ticket` cookie. `next` goes with it.
async fn password_step(t: &TestApp, user: &TestUser, next: Option<&str>) {
    let csrf = t.csrf_from("/login").await;
    let mut fields = vec![("email", user.email.as_str()), ("password", user.password.as_str())];
    if let Some(next) = next {
        fields.push(("next", next));
    }
    let response = t.post_form("/login", Some(&csrf), &fields).await;
    assert_eq!(response.status(), Status::SeeOther, "a right password");
    assert_eq!(location(&response), "/login/two-factor", "an account with a passkey takes a second step");
    drop(response);
    assert!(t.cookie("login_ticket").is_some(), "the half-done login is in a cookie");
    assert!(t.cookie("access_token").is_none(), "and no session yet");
}

/// An admin's action on `user` from the admin pages, by a new admin in this
/// browser (logged out afterwards): its confirmation page, then the POST.
async fn admin_does(t: &TestApp, user: &TestUser, action: &str) {
    let id = public_id(t, user).await;
    t.browser_admin().await;
    let path = format!("/admin/users/{id}/{action}");
    let csrf = extract_csrf(&page(t, &path).await).expect("the confirmation posts with a csrf_token");
    let response = t.post_form(&path, Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::SeeOther, "{action}");
    assert_eq!(location(&response), format!("/admin/users/{id}"));
    drop(response);
    t.logout().await;
}

// --- Adding a passkey and signing in with it --------------------------------------------

#[rocket::async_test]
async fn a_passkey_added_from_a_fresh_session_signs_in_without_a_password_into_a_fresh_session() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let id = public_id(&t, &user).await;
    assert!(page(&t, "/me/security").await.contains("No passkey yet."));

    // The options: this site's relying party, this user, a discoverable credential.
    let begun = begin_registration(&t).await;
    let options = &begun["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost", "the relying party is public_url's host: {options}");
    assert_eq!(options["user"]["name"], user.email.as_str(), "{options}");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required", "a passkey proper: {options}");
    let mut key = SoftKey::new();
    let credential = key.create(ORIGIN, &begun, DefaultClientData).await.expect("the authenticator makes a credential");
    let response = finish_registration(&t, &ceremony_of(&begun), "  My laptop  ", &credential).await;
    let (status, body) = json_of(response).await;
    assert_eq!(status, Status::Created, "{body}");
    let passkey_id: Uuid = body["id"].as_str().unwrap().parse().unwrap();

    // Listed, announced, audited.
    let security = page(&t, "/me/security").await;
    assert!(security.contains("<td>My laptop</td>"), "listed by its name, trimmed: {security}");
    assert!(security.contains(&format!(r#"action="/me/passkeys/{passkey_id}/delete""#)), "with its remove form: {security}");
    assert!(security.contains(r#"<td data-label="Last used">never</td>"#), "not used yet: {security}");
    let notice = t.mail(PASSKEY_ADDED, 1).await.remove(0);
    assert!(notice.contains(&format!("To: {}", user.email)) && notice.contains("My laptop"), "{notice}");
    assert!(notice.contains("http://localhost:8000/forgot-password"), "what to do if it was not them, with the link (SPEC §6): {notice}");
    let added = events(&t, AuditKind::PasskeyAdded).await;
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0].subject_public_id, Some(id));
    let stored = passkeys_of(&t, &user).await;
    assert_eq!((stored.len(), stored[0].public_id, stored[0].sign_count), (1, passkey_id, 0));
    t.logout().await;

    // The login page offers it; the passkey alone signs in, from a browser the account has not used.
    assert!(page(&t, "/login").await.contains(r#"data-passkey="login""#), "the login page offers a passkey");
    let csrf = t.csrf_from("/login").await;
    let begun = begin(&t, "/passkeys/login/begin", &csrf).await;
    assert!(begun["publicKey"].get("allowCredentials").map_or(true, |list| list.as_array().is_some_and(|l| l.is_empty())), "discoverable: {begun}");
    let credential = key.get(ORIGIN, &begun, DefaultClientData).await.expect("the authenticator signs");
    let body = json!({"csrf_token": csrf, "ceremony": ceremony_of(&begun), "credential": credential, "next": "/recipes/new"});
    let response = t
        .client
        .post("/passkeys/login/finish")
        .header(ContentType::JSON)
        .header(Header::new("User-Agent", FIREFOX))
        .body(body.to_string())
        .dispatch()
        .await;
    let (status, body) = json_of(response).await;
    assert_eq!((status, &body), (Status::Ok, &json!({"redirect": "/recipes/new"})), "the page goes on to next");
    let claims = browser_claims(&t);
    assert_eq!(claims["sub"], id.to_string());
    assert_eq!(claims["fresh"], true, "a passkey is both factors: the session is fresh");
    assert!(t.cookie("refresh_token").is_some());
    assert_eq!(t.client.get("/me").dispatch().await.status(), Status::Ok, "logged in");

    let logins = events(&t, AuditKind::Login).await;
    let by_passkey: Vec<_> = logins.iter().filter(|e| e.subject_public_id == Some(id) && e.detail.contains("passkey")).collect();
    assert_eq!(by_passkey.len(), 1, "one login by passkey: {logins:?}");
    let detail: Value = serde_json::from_str(&by_passkey[0].detail).unwrap();
    assert_eq!(detail["second_step"], "passkey", "{detail}");
    let device = t.mail(NEW_DEVICE, 1).await.into_iter().find(|m| m.contains("Firefox")).expect("a new-device notice for Firefox");
    assert!(device.contains(&format!("To: {}", user.email)), "{device}");
    let security = page(&t, "/me/security").await;
    assert!(!security.contains(r#"<td data-label="Last used">never</td>"#), "the use is recorded: {security}");
    assert!(passkeys_of(&t, &user).await[0].last_used_at.is_some());

    // A session of a passkey is fresh enough to add another.
    let mut second = SoftKey::new();
    second.register(&t, "").await;
    let names: Vec<String> = passkeys_of(&t, &user).await.into_iter().map(|p| p.name).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(!names[1].is_empty(), "an unnamed passkey is named after its device: {names:?}");
    t.mail(PASSKEY_ADDED, 2).await;

    // And the next page asks no password: `next` of an absolute URL is ignored.
    t.logout().await;
    let (csrf, ceremony, credential) = second.sign_in_answer(&t, ORIGIN).await;
    let body = json!({"csrf_token": csrf, "ceremony": ceremony, "credential": credential, "next": "https://evil.example/"});
    let (status, body) = json_of(send(&t, "/passkeys/login/finish", &body).await).await;
    assert_eq!((status, body["redirect"].as_str()), (Status::Ok, Some("/")), "only a local next: {body}");
}

// --- Single use -------------------------------------------------------------------

#[rocket::async_test]
async fn every_challenge_works_once() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let mut key = SoftKey::new();

    // Registration: the same answer to the same ceremony twice.
    let (ceremony, credential) = key.register_answer(&t, ORIGIN).await;
    assert_eq!(finish_registration(&t, &ceremony, "Laptop", &credential).await.status(), Status::Created);
    let replay = finish_registration(&t, &ceremony, "Laptop", &credential).await;
    assert_eq!(error_code(replay, Status::BadRequest).await, "bad_request", "a registration ceremony is used once");
    assert_eq!(passkeys_of(&t, &user).await.len(), 1);
    t.logout().await;

    // Sign-in: the same answer to the same ceremony twice.
    let (csrf, ceremony, credential) = key.sign_in_answer(&t, ORIGIN).await;
    assert_eq!(finish(&t, "/passkeys/login/finish", &csrf, &ceremony, &credential).await.status(), Status::Ok);
    t.logout().await;
    let csrf = t.csrf_from("/login").await;
    let replay = finish(&t, "/passkeys/login/finish", &csrf, &ceremony, &credential).await;
    assert_eq!(error_code(replay, Status::BadRequest).await, "bad_request", "a sign-in ceremony is used once");
    assert!(t.cookie("access_token").is_none(), "nobody is signed in");

    // An old answer to a new ceremony: signed over another challenge.
    let begun = begin(&t, "/passkeys/login/begin", &csrf).await;
    let replay = finish(&t, "/passkeys/login/finish", &csrf, &ceremony_of(&begun), &credential).await;
    assert_eq!(error_code(replay, Status::Unauthorized).await, "passkey_rejected", "an answer to another challenge");

    // A ceremony of one kind does not finish another kind; an unknown one is no ceremony.
    let begun = begin(&t, "/passkeys/login/begin", &csrf).await;
    let credential = key.get(ORIGIN, &begun, DefaultClientData).await.unwrap();
    let wrong_kind = finish(&t, SECOND_STEP_FINISH, &csrf, &ceremony_of(&begun), &credential).await;
    assert_eq!(wrong_kind.status(), Status::BadRequest, "a sign-in ceremony is no second step's");
    drop(wrong_kind);
    let unknown = finish(&t, "/passkeys/login/finish", &csrf, "no-such-ceremony", &credential).await;
    assert_eq!(error_code(unknown, Status::BadRequest).await, "bad_request");

    // Five minutes on, a ceremony has expired: the browser holds the
    // sign-in's state, sealed with its expiry, so here it is sealed again
    // as the server would have five minutes ago.
    let (csrf, ceremony, credential) = key.sign_in_answer(&t, ORIGIN).await;
    let sealer = &t.app().passkey_sign_ins;
    let (state, _) = sealer.open::<Value>(&ceremony).expect("the ceremony is the server's sealed state");
    let expired = sealer.seal(&state, crate::helpers::now() - 1).unwrap();
    let response = finish(&t, "/passkeys/login/finish", &csrf, &expired, &credential).await;
    assert_eq!(error_code(response, Status::BadRequest).await, "bad_request", "an expired ceremony");
    // A state changed in the browser does not open.
    let middle = (ceremony.find('.').unwrap() + ceremony.rfind('.').unwrap()) / 2;
    let flipped = if &ceremony[middle..=middle] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &ceremony[..middle], &ceremony[middle + 1..]);
    let response = finish(&t, "/passkeys/login/finish", &csrf, &tampered, &credential).await;
    assert_eq!(error_code(response, Status::BadRequest).await, "bad_request", "a changed ceremony");
    key.sign_in(&t).await;
}

#[rocket::async_test]
async fn a_thousand_sign_ins_begun_by_one_client_write_nothing() {
    let t = TestApp::spawn().await;
    let csrf = t.csrf_from("/login").await;
    let mut ceremonies = std::collections::HashSet::new();
    for _ in 0..1000 {
        ceremonies.insert(ceremony_of(&begin(&t, "/passkeys/login/begin", &csrf).await));
    }
    assert_eq!(ceremonies.len(), 1000, "each begin has a challenge of its own");
    let rows = passkey_ceremony::Entity::find().all(&t.app().db).await.unwrap();
    assert!(rows.is_empty(), "no row for a sign-in begun: {} rows", rows.len());

    // A finish whose signature did not verify writes nothing either; one
    // that did writes its ceremony down as spent, once.
    let user = t.signup().await;
    let mut key = SoftKey::new();
    key.register(&t, "Laptop").await;
    t.logout().await;
    let (csrf, ceremony, credential) = key.sign_in_answer(&t, ORIGIN).await;
    let (_, _, for_another) = key.sign_in_answer(&t, ORIGIN).await;
    let refused = finish(&t, "/passkeys/login/finish", &csrf, &ceremony, &for_another).await;
    assert_eq!(error_code(refused, Status::Unauthorized).await, "passkey_rejected", "an answer to another challenge");
    let spent = || async { passkey_ceremony::Entity::find().filter(passkey_ceremony::Column::Kind.eq("login_spent")).all(&t.app().db).await.unwrap() };
    assert!(spent().await.is_empty(), "a refused answer spends nothing");
    assert_eq!(finish(&t, "/passkeys/login/finish", &csrf, &ceremony, &credential).await.status(), Status::Ok);
    assert_eq!(spent().await.len(), 1, "{user:?} signed in, and the ceremony is spent");
}

#[rocket::async_test]
async fn a_registration_begun_by_one_account_cannot_be_finished_by_another() {
    let t = TestApp::spawn().await;
    let first = t.signup().await;
    let mut key = SoftKey::new();
    let (ceremony, credential) = key.register_answer(&t, ORIGIN).await;
    t.logout().await;
    let second = t.signup().await;
    let response = finish_registration(&t, &ceremony, "Stolen", &credential).await;
    assert_eq!(error_code(response, Status::BadRequest).await, "bad_request");
    assert!(passkeys_of(&t, &first).await.is_empty() && passkeys_of(&t, &second).await.is_empty());
}

#[rocket::async_test]
async fn a_ceremony_begun_on_one_instance_is_finished_on_another_once() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_on(tempfile::tempdir().unwrap(), a.database.clone()).await;
    let user = a.signup().await;
    let mut key = SoftKey::new();

    // Registration: begun on A, finished on B with the same session.
    let (ceremony, credential) = key.register_answer(&a, ORIGIN).await;
    let csrf = a.session_csrf().await;
    let body = json!({"csrf_token": csrf, "ceremony": ceremony, "name": "Laptop", "credential": credential});
    let on_b = b
        .client
        .post("/passkeys/register/finish")
        .header(ContentType::JSON)
        .cookie(Cookie::new("access_token", a.cookie("access_token").unwrap()))
        .body(body.to_string())
        .dispatch()
        .await;
    assert_eq!(on_b.status(), Status::Created, "B finishes what A began");
    drop(on_b);
    assert_eq!(error_code(send(&a, "/passkeys/register/finish", &body).await, Status::BadRequest).await, "bad_request", "and A no longer can");
    assert_eq!(passkeys_of(&a, &user).await.len(), 1);
    a.logout().await;

    // Sign-in: begun on A, finished on B (a browser of its own), then replayed on A.
    let (csrf_a, ceremony, credential) = key.sign_in_answer(&a, ORIGIN).await;
    let csrf_b = b.csrf_from("/login").await;
    let (status, body) = json_of(finish(&b, "/passkeys/login/finish", &csrf_b, &ceremony, &credential).await).await;
    assert_eq!(status, Status::Ok, "{body}");
    assert_eq!(claims_of(&b.cookie("access_token").unwrap())["fresh"], true);
    let replay = finish(&a, "/passkeys/login/finish", &csrf_a, &ceremony, &credential).await;
    assert_eq!(error_code(replay, Status::BadRequest).await, "bad_request", "the challenge B took is gone for A");
    assert!(a.cookie("access_token").is_none());
}

// --- Answers that must not verify ------------------------------------------------------

#[rocket::async_test]
async fn an_answer_made_for_another_origin_is_rejected() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let mut key = SoftKey::new();

    // Registration from another site, another port, or https.
    for origin in ["http://evil.example", "http://localhost:9999", "https://localhost:8000"] {
        let (ceremony, credential) = key.register_answer(&t, origin).await;
        let response = finish_registration(&t, &ceremony, "Elsewhere", &credential).await;
        assert_eq!(error_code(response, Status::Unauthorized).await, "passkey_rejected", "registration at {origin}");
    }
    assert!(passkeys_of(&t, &user).await.is_empty(), "nothing was added");
    assert!(events(&t, AuditKind::PasskeyAdded).await.is_empty());

    key.register(&t, "Laptop").await;
    t.logout().await;
    for origin in ["http://evil.example", "http://localhost:9999", "https://localhost:8000"] {
        let (csrf, ceremony, credential) = key.sign_in_answer(&t, origin).await;
        let response = finish(&t, "/passkeys/login/finish", &csrf, &ceremony, &credential).await;
        assert_eq!(error_code(response, Status::Unauthorized).await, "passkey_rejected", "sign-in at {origin}");
        assert!(t.cookie("access_token").is_none(), "nobody is signed in from {origin}");
    }
    key.sign_in(&t).await;
}

#[rocket::async_test]
async fn an_answer_signed_for_another_relying_party_is_rejected() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let mut key = SoftKey::new();

    // The site's own origin in the client data, example.com's relying party in the signed data.
    let begun = begin_registration(&t).await;
    let credential = key.answer_for_relying_party("webauthn.create", &begun, "example.com", ORIGIN).await;
    let response = finish_registration(&t, &ceremony_of(&begun), "Elsewhere", &credential).await;
    assert_eq!(error_code(response, Status::Unauthorized).await, "passkey_rejected", "a credential of example.com");
    assert!(passkeys_of(&t, &user).await.is_empty());

    key.register(&t, "Laptop").await;
    t.logout().await;
    let csrf = t.csrf_from("/login").await;
    let begun = begin(&t, "/passkeys/login/begin", &csrf).await;
    let credential = key.answer_for_relying_party("webauthn.get", &begun, "example.com", ORIGIN).await;
    let response = finish(&t, "/passkeys/login/finish", &csrf, &ceremony_of(&begun), &credential).await;
    assert_eq!(error_code(response, Status::Unauthorized).await, "passkey_rejected", "a signature for example.com");
    assert!(t.cookie("access_token").is_none());

    // The same hand-made answer for this site's relying party does verify:
    // the refusals above were the relying party's.
    let begun = begin(&t, "/passkeys/login/begin", &csrf).await;
    let credential = key.answer_for_relying_party("webauthn.get", &begun, "localhost", ORIGIN).await;
    let (status, body) = json_of(finish(&t, "/passkeys/login/finish", &csrf, &ceremony_of(&begun), &credential).await).await;
    assert_eq!(status, Status::Ok, "{body}");
}

#[rocket::async_test]
async fn a_signature_counter_that_goes_back_is_refused_and_recorded() {
    let t = TestApp::spawn().await;
    let mut key = SoftKey::counting();
    let user = passkey_user(&t, &mut key).await;
    let id = public_id(&t, &user).await;
    key.sign_in(&t).await;
    t.logout().await;
    assert_eq!(passkeys_of(&t, &user).await[0].sign_count, 1, "the counter is kept");

    // A copy of the key: the original signs on, then the copy signs with a count already seen.
    let mut copy = key.clone();
    key.sign_in(&t).await;
    t.logout().await;
    assert_eq!(passkeys_of(&t, &user).await[0].sign_count, 2);
    assert_eq!(copy.refused_sign_in(&t, Status::Unauthorized).await, "passkey_rejected", "a counter that did not go up");
    assert!(t.cookie("access_token").is_none());
    let suspected = events(&t, AuditKind::PasskeyCloneSuspected).await;
    assert_eq!(suspected.len(), 1, "{suspected:?}");
    assert_eq!(suspected[0].subject_public_id, Some(id));
    assert_eq!(passkeys_of(&t, &user).await[0].sign_count, 2, "the refused count is not stored");

    // The original, ahead of what the server saw, goes on signing in.
    key.sign_in(&t).await;
    assert_eq!(passkeys_of(&t, &user).await[0].sign_count, 3);
}

/// A key and its copy sign the same count at the same moment, on two
/// instances: the counter check and the write of the new count must be one
/// step, or both are let in and no clone is noticed. Several rounds, as an
/// unguarded read-then-write loses the race only most of the time.
#[rocket::async_test]
async fn a_key_and_its_copy_signing_in_at_the_same_moment_are_not_both_let_in() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_on(tempfile::tempdir().unwrap(), a.database.clone()).await;
    let mut key = SoftKey::counting();
    let user = passkey_user(&a, &mut key).await;
    const ROUNDS: usize = 20;
    for round in 1..=ROUNDS {
        let mut copy = key.clone();
        let (csrf_a, ceremony_a, answer_a) = key.sign_in_answer(&a, ORIGIN).await;
        let (csrf_b, ceremony_b, answer_b) = copy.sign_in_answer(&b, ORIGIN).await;
        let (on_a, on_b) = rocket::tokio::join!(
            finish(&a, "/passkeys/login/finish", &csrf_a, &ceremony_a, &answer_a),
            finish(&b, "/passkeys/login/finish", &csrf_b, &ceremony_b, &answer_b)
        );
        let statuses = (on_a.status(), on_b.status());
        drop((on_a, on_b));
        let count = passkeys_of(&a, &user).await[0].sign_count;
        assert!(
            statuses != (Status::Ok, Status::Ok),
            "round {round}: two signatures with one count were both accepted (stored count {count}): a clone went unnoticed"
        );
        assert!(statuses.0 == Status::Ok || statuses.1 == Status::Ok, "round {round}: one of them is the first: {statuses:?}");
        for browser in [&a, &b] {
            if browser.cookie("access_token").is_some() {
                browser.logout().await;
            }
        }
    }
    assert_eq!(events(&a, AuditKind::PasskeyCloneSuspected).await.len(), ROUNDS, "each refused copy is recorded");
}

// --- Removing, disabling, resetting -----------------------------------------------------

#[rocket::async_test]
async fn a_removed_passkey_no_longer_signs_in() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let mut key = SoftKey::new();
    let passkey_id = key.register(&t, "Laptop").await;
    let path = format!("/me/passkeys/{passkey_id}/delete");

    let csrf = t.session_csrf().await;
    assert_eq!(t.post_form(&path, None, &[]).await.status(), Status::Forbidden, "no csrf_token, no removal");
    let unknown = t.post_form(&format!("/me/passkeys/{}/delete", Uuid::new_v4()), Some(&csrf), &[]).await;
    assert_eq!(unknown.status(), Status::NotFound, "an unknown passkey");
    drop(unknown);
    // Someone else's passkey is as unknown.
    t.logout().await;
    t.signup().await;
    let other_csrf = t.session_csrf().await;
    assert_eq!(t.post_form(&path, Some(&other_csrf), &[]).await.status(), Status::NotFound, "another account's passkey");
    assert_eq!(passkeys_of(&t, &user).await.len(), 1);
    t.logout().await;

    key.sign_in(&t).await;
    let csrf = t.session_csrf().await;
    let removed = t.post_form(&path, Some(&csrf), &[]).await;
    assert_eq!(removed.status(), Status::SeeOther);
    assert_eq!(location(&removed), "/me/security");
    drop(removed);
    let security = page(&t, "/me/security").await;
    assert!(!security.contains(&path) && security.contains("No passkey yet."), "{security}");
    assert!(passkeys_of(&t, &user).await.is_empty());
    let notice = t.mail(PASSKEY_REMOVED, 1).await.remove(0);
    assert!(notice.contains(&format!("To: {}", user.email)), "{notice}");
    let removed = events(&t, AuditKind::PasskeyRemoved).await;
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].subject_public_id, Some(public_id(&t, &user).await));
    t.logout().await;

    assert_eq!(key.refused_sign_in(&t, Status::Unauthorized).await, "passkey_rejected", "a removed passkey");
    assert!(t.cookie("access_token").is_none());
    // Without a passkey, the password alone logs in again.
    let response = t.login(&user.email, &user.password).await;
    assert_eq!((response.status(), location(&response)), (Status::SeeOther, "/".to_owned()));
}

#[rocket::async_test]
async fn a_disabled_account_cannot_sign_in_with_its_passkey() {
    let t = TestApp::spawn().await;
    let mut key = SoftKey::new();
    let user = passkey_user(&t, &mut key).await;
    admin_does(&t, &user, "disable").await;

    assert_eq!(key.refused_sign_in(&t, Status::Forbidden).await, "forbidden", "a disabled account");
    assert!(t.cookie("access_token").is_none(), "no session");
    let failed = events(&t, AuditKind::LoginFailed).await;
    let id = public_id(&t, &user).await;
    assert!(failed.iter().any(|e| e.subject_public_id == Some(id) && e.detail.contains("disabled")), "{failed:?}");

    admin_does(&t, &user, "enable").await;
    key.sign_in(&t).await;
}

#[rocket::async_test]
async fn an_admin_reset_of_two_step_login_removes_the_passkeys() {
    let t = TestApp::spawn().await;
    let mut key = SoftKey::new();
    let user = passkey_user(&t, &mut key).await;
    admin_does(&t, &user, "two-factor/reset").await;

    assert!(passkeys_of(&t, &user).await.is_empty(), "the passkeys are gone");
    t.mail(TWO_FACTOR_RESET, 1).await;
    assert_eq!(key.refused_sign_in(&t, Status::Unauthorized).await, "passkey_rejected");
    let response = t.login(&user.email, &user.password).await;
    assert_eq!((response.status(), location(&response)), (Status::SeeOther, "/".to_owned()), "the password alone logs in");
}

// --- The second step -------------------------------------------------------------------

#[rocket::async_test]
async fn a_passkey_serves_as_the_second_step_of_a_password_login() {
    let t = TestApp::spawn().await;
    let mut key = SoftKey::new();
    let user = passkey_user(&t, &mut key).await;
    let id = public_id(&t, &user).await;
    let mut stranger = SoftKey::new();
    passkey_user(&t, &mut stranger).await;

    password_step(&t, &user, Some("/recipes/new")).await;
    let csrf = script_csrf(&t, "/login/two-factor").await;
    let begun = begin(&t, SECOND_STEP_BEGIN, &csrf).await;
    let allowed: Vec<&str> =
        begun["publicKey"]["allowCredentials"].as_array().expect("allowCredentials").iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(allowed, vec![key.credential_id().as_str()], "the account's own passkey");

    // Another account's passkey answers (its browser ignores allowCredentials): refused.
    let mut open = begun.clone();
    open["publicKey"]["allowCredentials"] = json!([]);
    let credential = stranger.get(ORIGIN, &open, DefaultClientData).await.unwrap();
    let response = finish(&t, SECOND_STEP_FINISH, &csrf, &ceremony_of(&begun), &credential).await;
    assert_eq!(error_code(response, Status::Unauthorized).await, "passkey_rejected", "another account's passkey");
    assert!(t.cookie("access_token").is_none());

    // The account's passkey finishes the login, with "remember this browser".
    let begun = begin(&t, SECOND_STEP_BEGIN, &csrf).await;
    let credential = key.get(ORIGIN, &begun, DefaultClientData).await.unwrap();
    let body = json!({"csrf_token": csrf, "ceremony": ceremony_of(&begun), "credential": credential, "remember": true});
    let (status, answer) = json_of(send(&t, SECOND_STEP_FINISH, &body).await).await;
    assert_eq!((status, &answer), (Status::Ok, &json!({"redirect": "/recipes/new"})), "on to the login's next");
    let claims = browser_claims(&t);
    assert_eq!((claims["sub"].as_str(), &claims["fresh"]), (Some(id.to_string().as_str()), &json!(true)), "a fresh session");
    assert!(t.cookie("login_ticket").is_none(), "the ticket is cleared");
    assert!(t.cookie("remembered_browser").is_some(), "the browser is remembered");
    let logins = events(&t, AuditKind::Login).await;
    let login = logins.iter().rev().find(|e| e.subject_public_id == Some(id)).expect("a login event");
    assert_eq!(serde_json::from_str::<Value>(&login.detail).unwrap()["second_step"], "passkey", "{login:?}");

    // The same ceremony again: used.
    let mut body = body;
    body["csrf_token"] = json!(t.session_csrf().await);
    let replay = send(&t, SECOND_STEP_FINISH, &body).await;
    assert_eq!(error_code(replay, Status::BadRequest).await, "bad_request");
    t.logout().await;

    // The ticket was used up: without a new password step, no second step begins.
    let csrf = t.csrf_from("/login").await;
    let response = send(&t, SECOND_STEP_BEGIN, &json!({"csrf_token": csrf})).await;
    assert_eq!(error_code(response, Status::Unauthorized).await, "second_factor_invalid", "no ticket, no ceremony");

    // The remembered browser skips the step.
    let response = t.login(&user.email, &user.password).await;
    assert_eq!((response.status(), location(&response)), (Status::SeeOther, "/".to_owned()), "remembered: the password is enough");
}

#[rocket::async_test]
async fn a_ticket_taken_by_a_passkey_second_step_cannot_be_taken_again() {
    let t = TestApp::spawn().await;
    let mut key = SoftKey::new();
    let user = passkey_user(&t, &mut key).await;
    password_step(&t, &user, None).await;
    let ticket = t.cookie("login_ticket").unwrap();
    let csrf = script_csrf(&t, "/login/two-factor").await;
    // Two ceremonies on one ticket; the first finishes the login.
    let first = begin(&t, SECOND_STEP_BEGIN, &csrf).await;
    let second = begin(&t, SECOND_STEP_BEGIN, &csrf).await;
    let answer = key.get(ORIGIN, &first, DefaultClientData).await.unwrap();
    assert_eq!(finish(&t, SECOND_STEP_FINISH, &csrf, &ceremony_of(&first), &answer).await.status(), Status::Ok);
    t.logout().await;

    // The second ceremony, answered, with the ticket presented again.
    let answer = key.get(ORIGIN, &second, DefaultClientData).await.unwrap();
    let csrf = t.csrf_from("/login").await;
    let body = json!({"csrf_token": csrf, "ceremony": ceremony_of(&second), "credential": answer});
    let response = t
        .client
        .post(SECOND_STEP_FINISH)
        .header(ContentType::JSON)
        .cookie(Cookie::new("login_ticket", ticket))
        .body(body.to_string())
        .dispatch()
        .await;
    assert_eq!(error_code(response, Status::Unauthorized).await, "second_factor_invalid", "the ticket works once");
    assert!(t.cookie("access_token").is_none(), "nobody is logged in");
}

// --- CSRF and freshness ------------------------------------------------------------------

#[rocket::async_test]
async fn the_ceremonies_take_the_csrf_token_of_forms() {
    let t = TestApp::spawn().await;
    t.signup().await;
    let csrf = t.session_csrf().await;
    for body in [json!({}), json!({"csrf_token": ""}), json!({"csrf_token": "not-the-token"})] {
        let response = send(&t, "/passkeys/register/begin", &body).await;
        assert_eq!(error_code(response, Status::Forbidden).await, "csrf_failed", "register/begin with {body}");
    }
    // The token in a form body is no JSON ceremony.
    let response = t.post_form("/passkeys/register/begin", Some(&csrf), &[]).await;
    assert_eq!(response.status(), Status::Forbidden, "a form body");
    drop(response);

    let mut key = SoftKey::new();
    let (ceremony, credential) = key.register_answer(&t, ORIGIN).await;
    let response = send(&t, "/passkeys/register/finish", &json!({"ceremony": ceremony, "credential": credential})).await;
    assert_eq!(error_code(response, Status::Forbidden).await, "csrf_failed", "register/finish without a token");
    // Refused before the ceremony was looked at: it still finishes with the token.
    assert_eq!(finish_registration(&t, &ceremony, "Laptop", &credential).await.status(), Status::Created);
    t.logout().await;

    let response = send(&t, "/passkeys/login/begin", &json!({})).await;
    assert_eq!(error_code(response, Status::Forbidden).await, "csrf_failed", "login/begin without a token");
    let (csrf, ceremony, credential) = key.sign_in_answer(&t, ORIGIN).await;
    for body in [json!({"ceremony": ceremony, "credential": credential}), json!({"csrf_token": "x", "ceremony": ceremony, "credential": credential})] {
        let response = send(&t, "/passkeys/login/finish", &body).await;
        assert_eq!(error_code(response, Status::Forbidden).await, "csrf_failed", "login/finish without the token");
        assert!(t.cookie("access_token").is_none());
    }
    // A browser without the csrf cookie cannot present another's token.
    let b = TestApp::spawn_on(tempfile::tempdir().unwrap(), t.database.clone()).await;
    let response = finish(&b, "/passkeys/login/finish", &csrf, &ceremony, &credential).await;
    assert_eq!(error_code(response, Status::Forbidden).await, "csrf_failed", "a token without its cookie");
    assert_eq!(finish(&t, "/passkeys/login/finish", &csrf, &ceremony, &credential).await.status(), Status::Ok);
    t.logout().await;

    let response = send(&t, SECOND_STEP_BEGIN, &json!({})).await;
    assert_eq!(error_code(response, Status::Forbidden).await, "csrf_failed", "the second step's begin without a token");
    let response = send(&t, SECOND_STEP_FINISH, &json!({"ceremony": "x", "credential": credential})).await;
    assert_eq!(error_code(response, Status::Forbidden).await, "csrf_failed", "the second step's finish without a token");
}

/// A browser session whose access token came from a refresh, not a login
/// (as in the password tests): the app restarts with a client that holds
/// only the refresh cookie, and the first page load refreshes it.
async fn stale_browser(t: TestApp) -> TestApp {
    let refresh = t.cookie("refresh_token").unwrap();
    let t = t.restart().await;
    let status = t.client.get("/me").cookie(Cookie::new("refresh_token", refresh)).dispatch().await.status();
    assert_eq!(status, Status::Ok, "the refresh cookie alone logs the browser in");
    assert_eq!(browser_claims(&t)["fresh"], false, "a refreshed token is not fresh");
    t
}

#[rocket::async_test]
async fn adding_or_removing_a_passkey_takes_a_fresh_session() {
    let t = TestApp::spawn().await;
    // Anonymous: no session at all.
    let csrf = t.csrf_from("/login").await;
    let response = send(&t, "/passkeys/register/begin", &json!({"csrf_token": csrf})).await;
    assert_eq!(response.status(), Status::Unauthorized, "no session, no passkey");
    drop(response);

    let user = t.signup().await;
    let mut key = SoftKey::new();
    let passkey_id = key.register(&t, "Laptop").await;
    // A registration begun fresh, finished stale.
    let mut late = SoftKey::new();
    let (ceremony, credential) = late.register_answer(&t, ORIGIN).await;

    let t = stale_browser(t).await;
    let csrf = t.session_csrf().await;
    let response = send(&t, "/passkeys/register/begin", &json!({"csrf_token": csrf})).await;
    assert_eq!(error_code(response, Status::Unauthorized).await, "fresh_token_required", "register/begin");
    let response = finish_registration(&t, &ceremony, "Late", &credential).await;
    assert_eq!(error_code(response, Status::Unauthorized).await, "fresh_token_required", "register/finish");
    assert_eq!(passkeys_of(&t, &user).await.len(), 1, "nothing was added");

    let removed = t.post_form(&format!("/me/passkeys/{passkey_id}/delete"), Some(&csrf), &[]).await;
    assert_eq!(removed.status(), Status::SeeOther, "a stale session is sent to confirm");
    assert!(location(&removed).starts_with("/login?next="), "{}", location(&removed));
    drop(removed);
    assert_eq!(passkeys_of(&t, &user).await.len(), 1, "nothing was removed");
    assert!(events(&t, AuditKind::PasskeyRemoved).await.is_empty());
}

#[rocket::async_test]
async fn a_tampered_answer_is_rejected() {
    let t = TestApp::spawn().await;
    let mut key = SoftKey::new();
    passkey_user(&t, &mut key).await;
    let (_, other) = t.api_signup().await;

    let tamper: [(&str, fn(&mut Value, &str)); 4] = [
        ("a signature with a bit flipped", |answer, _| {
            let signature = answer["response"]["signature"].as_str().unwrap();
            let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            answer["response"]["signature"] = json!(b64url(bytes));
        }),
        ("no user handle", |answer, _| {
            answer["response"].as_object_mut().unwrap().remove("userHandle");
        }),
        ("another account's user handle", |answer, other| {
            answer["response"]["userHandle"] = json!(b64url(other.parse::<Uuid>().unwrap().as_bytes()));
        }),
        ("an unknown credential id", |answer, _| {
            answer["id"] = json!(b64url([7u8; 16]));
            answer["rawId"] = json!(b64url([7u8; 16]));
        }),
    ];
    for (what, change) in tamper {
        let (csrf, ceremony, mut credential) = key.sign_in_answer(&t, ORIGIN).await;
        change(&mut credential, &other.public_id);
        let response = finish(&t, "/passkeys/login/finish", &csrf, &ceremony, &credential).await;
        assert_eq!(error_code(response, Status::Unauthorized).await, "passkey_rejected", "{what}");
        assert!(t.cookie("access_token").is_none(), "nobody is signed in with {what}");
    }
    // Not an answer at all: the request is incomplete.
    let (csrf, ceremony, _) = key.sign_in_answer(&t, ORIGIN).await;
    let response = finish(&t, "/passkeys/login/finish", &csrf, &ceremony, &json!({"id": "x"})).await;
    assert_eq!(error_code(response, Status::BadRequest).await, "bad_request", "a credential that is no credential");
    key.sign_in(&t).await;
}

#[rocket::async_test]
async fn a_deleted_accounts_passkeys_go_with_it() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let mut key = SoftKey::new();
    key.register(&t, "Laptop").await;
    // A ceremony left unfinished goes too.
    begin_registration(&t).await;
    let csrf = t.session_csrf().await;
    let response = t.post_form("/me/delete", Some(&csrf), &[("current_password", &user.password)]).await;
    assert_eq!(response.status(), Status::SeeOther, "the account is deleted");
    drop(response);
    assert!(t.user_row(&user.email).await.is_none());
    assert!(passkey_row::Entity::find().all(&t.app().db).await.unwrap().is_empty(), "no passkey is left");
    assert!(passkey_ceremony::Entity::find().all(&t.app().db).await.unwrap().is_empty(), "no ceremony of it is left");
    assert_eq!(key.refused_sign_in(&t, Status::Unauthorized).await, "passkey_rejected");
}

#[rocket::async_test]
async fn passkeys_are_off_where_public_url_is_an_ip_address() {
    let t = TestApp::spawn_with(&[("public_url", json!("http://127.0.0.1:8000"))]).await;
    t.signup().await;
    let security = page(&t, "/me/security").await;
    assert!(security.contains("Passkeys are off on this site's address"), "{security}");
    assert!(!security.contains(r#"data-passkey="register""#), "no button that cannot work");
    let csrf = t.session_csrf().await;
    let response = send(&t, "/passkeys/register/begin", &json!({"csrf_token": csrf})).await;
    assert_eq!(error_code(response, Status::BadRequest).await, "bad_request");
    t.logout().await;
    assert!(!page(&t, "/login").await.contains(r#"data-passkey="login""#), "the login page offers no passkey");
    let csrf = t.csrf_from("/login").await;
    let response = send(&t, "/passkeys/login/begin", &json!({"csrf_token": csrf})).await;
    assert_eq!(error_code(response, Status::BadRequest).await, "bad_request");
}

#[rocket::async_test]
async fn a_stale_session_confirms_with_its_passkey_and_keeps_its_session() {
    let t = TestApp::spawn().await;
    let user = t.signup().await;
    let mut key = SoftKey::new();
    let passkey_id = key.register(&t, "Laptop").await;
    let t = stale_browser(t).await;
    let sid = browser_claims(&t)["sid"].clone();

    // Sent to confirm, the page offers the passkey with the session's CSRF value.
    let next = format!("/me/passkeys/{passkey_id}/delete");
    let confirm = format!("/login?next={}", crate::helpers::enc("/me/security"));
    let csrf = script_csrf(&t, &confirm).await;
    assert_eq!(csrf, t.session_csrf().await, "the confirmation page's script carries the session's CSRF value");
    let begun = begin(&t, "/passkeys/login/begin", &csrf).await;
    let credential = key.get(ORIGIN, &begun, DefaultClientData).await.expect("the authenticator signs");
    let body = json!({"csrf_token": csrf, "ceremony": ceremony_of(&begun), "credential": credential, "next": "/me/security"});
    let (status, answer) = json_of(send(&t, "/passkeys/login/finish", &body).await).await;
    assert_eq!(status, Status::Ok, "{answer}");
    assert_eq!(answer["redirect"], "/me/security");

    let claims = browser_claims(&t);
    assert_eq!(claims["fresh"], true, "the passkey made the session fresh again");
    assert_eq!(claims["sid"], sid, "the same session, with new tokens");
    let csrf = t.session_csrf().await;
    let removed = t.post_form(&next, Some(&csrf), &[]).await;
    assert_eq!(location(&removed), "/me/security", "a fresh session may remove the passkey");
    drop(removed);
    assert!(passkeys_of(&t, &user).await.is_empty());
}
