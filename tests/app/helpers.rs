//! The test harness: every test gets its own app on its own fresh SQLite
//! file, driven through Rocket's local client. Helpers assert the status they
//! expect, so a broken step fails where it breaks.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rocket::http::{ContentType, Header as HttpHeader, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use serde_json::{json, Value};
use std::sync::Arc;

use tempfile::TempDir;

use recipebox::app::App;

pub const SECRET: &str = "integration-test-secret-integration-test-secret";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub client: Client,
    /// A folder of this test's own (the SQLite database lives here).
    pub dir: TempDir,
    pub database: Arc<TestDatabase>,
    /// The outbox files [`TestApp::mail`] has seen, in the order it first
    /// saw them: file times are too coarse to order two quick messages.
    outbox_order: std::sync::Mutex<Vec<std::path::PathBuf>>,
    /// The keys [`TestApp::spawn_with`] set, kept across a restart.
    settings: Vec<(String, Value)>,
}

/// This test's own database: an SQLite file in the test's folder, or, with
/// `TEST_DATABASE_URL` (a `postgres://` or `mysql://` URL), a database of
/// its own created on that server and dropped when the test ends, so tests
/// stay independent and run in parallel on every backend.
pub struct TestDatabase {
    pub url: String,
    /// The server's URL and this database's name, to drop it afterwards.
    server: Option<(String, String)>,
}

/// The server database URL the suite runs against, if not SQLite.
pub fn server_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL").ok().filter(|url| !url.trim().is_empty() && !url.starts_with("sqlite:"))
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(base, query)| (base, Some(query)));
    let (server, _) = base.rsplit_once('/').filter(|(server, _)| server.contains("://") && !server.ends_with('/')).unwrap_or((base, ""));
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

impl TestDatabase {
    pub async fn create(dir: &TempDir) -> Self {
        let Some(server) = server_url() else {
            return Self { url: format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()), server: None };
        };
        let name = format!("rb_test_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let admin = sea_orm::Database::connect(server.as_str()).await.expect("TEST_DATABASE_URL is reachable");
        sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("CREATE DATABASE {name}")).await.expect("CREATE DATABASE");
        admin.close().await.ok();
        Self { url: with_database(&server, &name), server: Some((server, name)) }
    }

    pub fn is_sqlite(&self) -> bool {
        self.server.is_none()
    }

    /// The server's URL and this database's name on it (`None` for SQLite).
    pub fn on_server(&self) -> Option<(&str, &str)> {
        self.server.as_ref().map(|(server, name)| (server.as_str(), name.as_str()))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = self.server.take() else { return };
        // Drop runs inside the test's runtime, which cannot block on a
        // future: a thread with a runtime of its own drops the database.
        let dropped = std::thread::spawn(move || {
            let runtime = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let admin = sea_orm::Database::connect(server.as_str()).await?;
                let force = if server.starts_with("postgres") { " WITH (FORCE)" } else { "" };
                sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("DROP DATABASE IF EXISTS {name}{force}")).await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: the test database could not be dropped: {dropped:?}");
        }
    }
}

/// A unique, valid user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub email: String,
    pub username: String,
    pub password: String,
}

impl TestUser {
    pub fn random() -> Self {
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
        Self { email: format!("cook-{tag}@example.com"), username: format!("cook_{tag}"), password: PASSWORD.into() }
    }
}

/// An API login: the user's public id and a token pair.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub public_id: String,
    pub access: String,
    pub refresh: String,
}

/// The test configuration on the database at `database_url`, with mail
/// written to `dir`'s `outbox/`.
pub fn figment(database_url: &str, dir: &std::path::Path) -> rocket::figment::Figment {
    rocket::Config::figment()
        .merge(("database_url", database_url))
        .merge(("outbox_dir", dir.join("outbox")))
        .merge(("jwt_secret", SECRET))
        .merge(("bcrypt_cost", 4))
        .merge(("cookie_secure", false))
        .merge(("log_level", "off"))
}

/// `figment` with `settings` merged over it.
fn with(mut figment: rocket::figment::Figment, settings: &[(String, Value)]) -> rocket::figment::Figment {
    for (key, value) in settings {
        figment = figment.merge((key.as_str(), value.clone()));
    }
    figment
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// An app with some configuration keys set otherwise.
    pub async fn spawn_with(settings: &[(&str, Value)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = Arc::new(TestDatabase::create(&dir).await);
        let settings: Vec<(String, Value)> = settings.iter().map(|(key, value)| ((*key).to_owned(), value.clone())).collect();
        let client = Client::tracked(recipebox::rocket(with(figment(&database.url, dir.path()), &settings))).await.expect("the app ignites");
        Self { client, dir, database, outbox_order: Default::default(), settings }
    }

    /// An app on a database that already exists (a migration test's).
    pub async fn spawn_on(dir: TempDir, database: Arc<TestDatabase>) -> Self {
        let client = Client::tracked(recipebox::rocket(figment(&database.url, dir.path()))).await.expect("the app ignites");
        Self { client, dir, database, outbox_order: Default::default(), settings: Vec::new() }
    }

    /// This test's configuration, for a second app on the same database.
    pub fn figment(&self) -> rocket::figment::Figment {
        figment(&self.database.url, self.dir.path())
    }

    /// The messages with `subject` in the outbox once there are at least
    /// `count` of them (mail is delivered by a background task), in the
    /// order this test first saw them: oldest first as long as the test
    /// waits for each message before it causes the next. Waits five
    /// seconds at most.
    pub async fn mail(&self, subject: &str, count: usize) -> Vec<String> {
        let outbox = self.dir.path().join("outbox");
        let header = format!("Subject: {subject}\r\n");
        for _ in 0..250 {
            let mut found: Vec<(std::time::SystemTime, std::path::PathBuf)> = std::fs::read_dir(&outbox)
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                        .map(|e| (e.metadata().unwrap().modified().unwrap(), e.path()))
                        .collect()
                })
                .unwrap_or_default();
            found.sort();
            let order = {
                let mut order = self.outbox_order.lock().unwrap();
                for (_, path) in found {
                    if !order.contains(&path) {
                        order.push(path);
                    }
                }
                order.clone()
            };
            let texts: Vec<String> =
                order.iter().map(|path| std::fs::read_to_string(path).unwrap()).filter(|text| text.contains(&header)).collect();
            if texts.len() >= count {
                return texts;
            }
            rocket::tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("fewer than {count} messages about {subject:?} reached the outbox");
    }

    /// Stops this app and starts a new one on the same database.
    pub async fn restart(self) -> Self {
        let Self { client, dir, database, outbox_order, settings } = self;
        drop(client);
        let client = Client::tracked(recipebox::rocket(with(figment(&database.url, dir.path()), &settings))).await.expect("the app ignites");
        Self { client, dir, database, outbox_order, settings }
    }

    pub fn app(&self) -> &App {
        self.client.rocket().state::<App>().expect("App is managed")
    }

    /// The key the app signs with now.
    pub fn signer(&self) -> Signer {
        let ring = self.app().keys.ring();
        let active = ring.active().expect("the keyring has an active key");
        Signer { kid: active.kid.clone(), key: active.encoding.clone() }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.client.cookies().get(name).map(|c| c.value().to_owned())
    }

    /// GETs a page that has a form and returns its `csrf_token` value.
    pub async fn csrf_from(&self, path: &str) -> String {
        let response = self.client.get(path.to_owned()).dispatch().await;
        assert_eq!(response.status(), Status::Ok, "GET {path}");
        let body = response.into_string().await.unwrap();
        extract_csrf(&body).unwrap_or_else(|| panic!("no csrf_token on {path}"))
    }

    /// POSTs `fields` (plus `csrf_token`, when given) as a urlencoded form.
    pub async fn post_form(&self, path: &str, csrf: Option<&str>, fields: &[(&str, &str)]) -> LocalResponse<'_> {
        let mut pairs: Vec<(&str, &str)> = fields.to_vec();
        if let Some(csrf) = csrf {
            pairs.push(("csrf_token", csrf));
        }
        self.client
            .post(path.to_owned())
            .header(ContentType::Form)
            .body(form_body(&pairs))
            .dispatch()
            .await
    }

    pub async fn signup_as(&self, user: &TestUser) -> LocalResponse<'_> {
        let csrf = self.csrf_from("/signup").await;
        self.post_form(
            "/signup",
            Some(&csrf),
            &[("email", &user.email), ("username", &user.username), ("password", &user.password), ("password_confirm", &user.password)],
        )
        .await
    }

    /// Signs a new user up in the browser; they are logged in afterwards.
    pub async fn signup(&self) -> TestUser {
        let user = TestUser::random();
        let response = self.signup_as(&user).await;
        let status = response.status();
        if status != Status::SeeOther {
            panic!("sign-up should succeed, got {status}: {}", response.into_string().await.unwrap_or_default());
        }
        assert!(self.cookie("access_token").is_some(), "sign-up sets the access cookie");
        user
    }

    pub async fn login(&self, email: &str, password: &str) -> LocalResponse<'_> {
        let csrf = self.csrf_from("/login").await;
        self.post_form("/login", Some(&csrf), &[("email", email), ("password", password)]).await
    }

    /// The CSRF value of the logged-in user (from the layout's log-out form).
    pub async fn session_csrf(&self) -> String {
        self.csrf_from("/me").await
    }

    pub async fn logout(&self) {
        let csrf = self.session_csrf().await;
        let response = self.post_form("/logout", Some(&csrf), &[]).await;
        assert_eq!(response.status(), Status::SeeOther);
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> LocalResponse<'_> {
        let mut request = self.client.post(path.to_owned()).header(ContentType::JSON).body(body.to_string());
        if let Some(token) = token {
            request = request.header(bearer(token));
        }
        request.dispatch().await
    }

    pub async fn get_json(&self, path: &str, token: Option<&str>) -> LocalResponse<'_> {
        let mut request = self.client.get(path.to_owned());
        if let Some(token) = token {
            request = request.header(bearer(token));
        }
        request.dispatch().await
    }

    /// Registers a new user over the API and returns their tokens.
    pub async fn api_signup(&self) -> (TestUser, Tokens) {
        let user = TestUser::random();
        let response = self
            .post_json("/api/v1/users", None, &json!({"email": user.email, "username": user.username, "password": user.password}))
            .await;
        assert_eq!(response.status(), Status::Created, "API sign-up");
        let tokens = tokens_of(response.into_json().await.unwrap());
        (user, tokens)
    }

    pub async fn api_login(&self, user: &TestUser) -> Tokens {
        let response = self.post_json("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await;
        assert_eq!(response.status(), Status::Ok, "API login");
        tokens_of(response.into_json().await.unwrap())
    }

    /// Gives the user with `email` the admin role, as `recipebox user promote` does.
    pub async fn make_admin(&self, email: &str) {
        let user = recipebox::store::users::find_by_email(&self.app().db, email).await.unwrap().expect("user exists");
        recipebox::accounts::admin::promote(self.app(), &user).await.unwrap();
    }

    /// Signs a new user up in the browser and makes them an admin. The browser
    /// is an admin's from its next request on: the guard reads the role from
    /// the database, not from the token.
    pub async fn browser_admin(&self) -> TestUser {
        let user = self.signup().await;
        self.make_admin(&user.email).await;
        user
    }

    /// The stored row of the user with `email`, if there is one.
    pub async fn user_row(&self, email: &str) -> Option<recipebox::entities::user::Model> {
        recipebox::store::users::find_by_email(&self.app().db, email).await.unwrap()
    }

    /// An admin with an API token.
    pub async fn api_admin(&self) -> (TestUser, Tokens) {
        let (user, tokens) = self.api_signup().await;
        self.make_admin(&user.email).await;
        (user, tokens)
    }
}

pub fn bearer(token: &str) -> HttpHeader<'static> {
    HttpHeader::new("Authorization", format!("Bearer {token}"))
}

pub fn tokens_of(body: Value) -> Tokens {
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    Tokens {
        public_id: body["user"]["public_id"].as_str().unwrap().to_owned(),
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

pub fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but unreserved characters (query strings,
/// form bodies).
pub fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A response's `Location` header, or "".
pub fn location(response: &LocalResponse<'_>) -> String {
    response.headers().get_one("Location").unwrap_or_default().to_owned()
}

pub fn extract_csrf(html: &str) -> Option<String> {
    let marker = r#"name="csrf_token" value=""#;
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// The claims of a token, unverified (tests read what the server issued).
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Signs arbitrary claims with `secret` and no `kid`, as tokens were signed
/// before the keyring (or as a forger with a secret of their own would).
pub fn sign(claims: &Value, alg: Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

/// The app's active signing key, to forge tokens that are wrong in one way
/// but signed as the server signs.
pub struct Signer {
    pub kid: String,
    pub key: EncodingKey,
}

impl Signer {
    /// `claims` signed with this key under `alg`, naming it in `kid`.
    pub fn sign(&self, claims: &Value, alg: Algorithm) -> String {
        self.sign_as(claims, alg, Some(&self.kid))
    }

    /// The same, naming whatever key `kid` says.
    pub fn sign_as(&self, claims: &Value, alg: Algorithm, kid: Option<&str>) -> String {
        let header = Header { kid: kid.map(str::to_owned), ..Header::new(alg) };
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The `error.code` of a JSON error response, after checking its status.
pub async fn error_code(response: LocalResponse<'_>, status: Status) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.into_json().await.expect("a JSON error body");
    body["error"]["code"].as_str().expect("error.code").to_owned()
}
