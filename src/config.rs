//! Configuration: SPEC.md §1's keys, read from Rocket's figment (Rocket.toml
//! profiles, `ROCKET_*` variables, and the conventional `DATABASE_URL`),
//! checked once at start, then shared read-only as managed state.
//!
//! Invariant: the JWT secret is never printed. `JwtSecret`'s `Debug` is
//! redacted, error messages name the key but never its value, and the
//! database URL (which may hold a password) is never echoed either.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use rand::RngCore;
use rocket::figment::providers::{Env, Serialized};
use rocket::figment::Figment;
use serde::{Deserialize, Serialize};

use crate::domain::PasswordRules;
use crate::telemetry::LogFormat;

/// Where the generated JWT secret lives when none is configured.
pub const SECRET_FILE: &str = "data/jwt_secret";
const MIN_SECRET_BYTES: usize = 32;
const GENERATED_SECRET_BYTES: usize = 64;

/// The keys as written in configuration, with SPEC.md's defaults.
#[derive(Deserialize, Serialize)]
#[serde(default)]
struct RawConfig {
    database_url: String,
    jwt_secret: Option<String>,
    access_token_ttl: i64,
    refresh_token_ttl: i64,
    bcrypt_cost: u32,
    cookie_secure: Option<bool>,
    password_min_length: usize,
    audit_retention_days: u32,
    sqlite_busy_timeout_ms: u64,
    database_pool_size: Option<u32>,
    database_connect_timeout: u64,
    database_acquire_timeout: u64,
    database_idle_timeout: u64,
    login_max_failures_per_account: u64,
    login_max_failures_per_address: u64,
    login_window: i64,
    session_max_age: i64,
    signup_max_per_address: u64,
    signup_window: i64,
    public_url: String,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    outbox_dir: String,
    mail_retry_seconds: i64,
    mail_retry_for: i64,
    mail_lease_seconds: i64,
    jwt_algorithm: String,
    jwt_key_rotation_days: u32,
    sessions_per_account: u64,
    token_max_days: u32,
    oidc_providers: std::collections::BTreeMap<String, RawProvider>,
}

/// One `oidc_providers` table as written.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    issuer: String,
    client_id: String,
    client_secret: String,
    name: String,
    #[serde(default)]
    email_login: bool,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/recipebox.db?mode=rwc".into(),
            jwt_secret: None,
            access_token_ttl: 900,
            refresh_token_ttl: 604_800,
            bcrypt_cost: 12,
            cookie_secure: None,
            password_min_length: 8,
            audit_retention_days: 90,
            sqlite_busy_timeout_ms: 5000,
            database_pool_size: None,
            database_connect_timeout: 5,
            database_acquire_timeout: 5,
            database_idle_timeout: 600,
            login_max_failures_per_account: 10,
            login_max_failures_per_address: 100,
            login_window: 900,
            session_max_age: 2_592_000,
            signup_max_per_address: 20,
            signup_window: 3600,
            public_url: "http://localhost:8000".into(),
            smtp_url: None,
            mail_from: None,
            outbox_dir: "data/outbox".into(),
            mail_retry_seconds: 30,
            mail_retry_for: 86_400,
            mail_lease_seconds: 60,
            jwt_algorithm: "HS256".into(),
            jwt_key_rotation_days: 90,
            sessions_per_account: 100,
            token_max_days: 366,
            oidc_providers: Default::default(),
        }
    }
}

/// The HMAC key for HS256. Never printed.
#[derive(Clone)]
pub struct JwtSecret(Vec<u8>);

impl JwtSecret {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(<redacted>)")
    }
}

/// An OpenID Connect provider people may sign in with (`oidc_providers`).
#[derive(Clone)]
pub struct OidcProvider {
    /// The table's name: in URLs and in the database.
    pub key: String,
    /// Exactly as the provider publishes it (compared as a string).
    pub issuer: String,
    pub client_id: String,
    /// Never printed.
    pub client_secret: String,
    /// Shown on buttons.
    pub name: String,
    /// Whether a first login through this provider may join an existing
    /// account by email (both emails verified).
    pub email_login: bool,
}

impl fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcProvider")
            .field("key", &self.key)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("email_login", &self.email_login)
            .finish_non_exhaustive()
    }
}

/// The longest provider key: it is a URL segment and a column.
const PROVIDER_KEY_MAX: usize = 64;

fn oidc_providers(raw: std::collections::BTreeMap<String, RawProvider>) -> Result<Vec<OidcProvider>, ConfigError> {
    let mut providers = Vec::with_capacity(raw.len());
    for (key, provider) in raw {
        let invalid = |what: &str| ConfigError::Invalid(format!("oidc_providers.{key}: {what}"));
        let key_ok = !key.is_empty()
            && key.len() <= PROVIDER_KEY_MAX
            && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !key_ok {
            return Err(ConfigError::Invalid(format!(
                "oidc_providers: a provider's key is 1 to {PROVIDER_KEY_MAX} of a-z, 0-9, - and _ (found {key:?})"
            )));
        }
        if !(provider.issuer.starts_with("https://") || provider.issuer.starts_with("http://")) {
            return Err(invalid("issuer must be an http:// or https:// URL, exactly as the provider publishes it"));
        }
        if provider.client_id.trim().is_empty() {
            return Err(invalid("client_id is empty"));
        }
        if provider.client_secret.is_empty() {
            return Err(invalid("client_secret is empty"));
        }
        if provider.name.trim().is_empty() {
            return Err(invalid("name is empty"));
        }
        providers.push(OidcProvider {
            key,
            issuer: provider.issuer,
            client_id: provider.client_id,
            client_secret: provider.client_secret,
            name: provider.name.trim().to_owned(),
            email_login: provider.email_login,
        });
    }
    Ok(providers)
}

/// Where the secret came from, so start-up can say so (without the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Configured,
    File(PathBuf),
    Generated(PathBuf),
}

/// The database connection pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Most connections open at once.
    pub size: u32,
    /// How long the first connection at start may take.
    pub connect_timeout: Duration,
    /// How long a request waits for a free connection before it gets 503.
    pub acquire_timeout: Duration,
    /// An idle connection is closed after this long.
    pub idle_timeout: Duration,
    /// How long an SQLite writer waits for another before giving up (503).
    pub sqlite_busy_timeout: Duration,
}

/// The pool size when none is configured. SQLite serialises writers, so a
/// few connections serve it; a server database takes more, but several
/// instances share its connection limit (PostgreSQL's default is 100,
/// MariaDB's 151).
fn default_pool_size(database_url: &str) -> u32 {
    if database_url.starts_with("sqlite:") {
        8
    } else {
        16
    }
}

/// Where mail goes (SPEC.md §1): an SMTP server, or `.eml` files.
#[derive(Clone)]
pub struct MailSettings {
    /// The base of links in emails, without a trailing slash.
    pub public_url: String,
    /// `smtp://`, `smtps://` (TLS) or `smtp://…?tls=required` (STARTTLS);
    /// may hold a password, so it is never printed.
    pub smtp_url: Option<String>,
    pub from: lettre::message::Mailbox,
    /// Where messages are written when there is no `smtp_url`.
    pub outbox_dir: PathBuf,
    /// The wait after a message's first failed try, doubled after each
    /// further one (up to an hour).
    pub retry_seconds: i64,
    /// How long after it was queued a message is tried before it fails.
    pub retry_for: i64,
    /// How long a deliverer's claim on a message holds unless renewed: the
    /// longest a message waits when an instance dies while sending it.
    pub lease_seconds: i64,
}

impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSettings")
            .field("public_url", &self.public_url)
            .field("smtp", &self.smtp_url.as_ref().map(|_| "<configured>"))
            .field("from", &self.from.to_string())
            .field("outbox_dir", &self.outbox_dir)
            .field("retry_seconds", &self.retry_seconds)
            .field("retry_for", &self.retry_for)
            .field("lease_seconds", &self.lease_seconds)
            .finish()
    }
}

/// Login throttling (SPEC.md §6).
#[derive(Debug, Clone, Copy)]
pub struct ThrottleRules {
    /// Failed logins allowed per account within `window`.
    pub per_account: u64,
    /// Failed logins allowed per client address within `window`.
    pub per_address: u64,
    /// Seconds.
    pub window: i64,
    /// Sign-ups allowed per client address within `signup_window`.
    pub signups_per_address: u64,
    /// Seconds.
    pub signup_window: i64,
}

/// Validated configuration, managed by Rocket.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub database_url: String,
    pub jwt_secret: JwtSecret,
    pub secret_source: SecretSource,
    /// Seconds.
    pub access_token_ttl: i64,
    /// Seconds.
    pub refresh_token_ttl: i64,
    /// Seconds a session lasts at most from its login.
    pub session_max_age: i64,
    pub bcrypt_cost: u32,
    pub cookie_secure: bool,
    pub password_rules: PasswordRules,
    /// Audit events older than this many days are purged.
    pub audit_retention_days: u32,
    pub pool: PoolSettings,
    pub throttle: ThrottleRules,
    pub mail: MailSettings,
    /// What new signing keys are (SPEC §1): HS256 or EdDSA.
    pub jwt_algorithm: jsonwebtoken::Algorithm,
    /// A new signing key this often (days; 0: only by hand).
    pub jwt_key_rotation_days: u32,
    /// Live sessions one account may hold (SPEC §3).
    pub sessions_per_account: u64,
    /// The longest life a personal access token may be given (days).
    pub token_max_days: u32,
    /// The providers people may sign in with, by key.
    pub oidc_providers: Vec<OidcProvider>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("jwt_secret is {0} bytes long; it must be at least 32 bytes (64 random bytes are best)")]
    ShortSecret(usize),
    #[error("database_url is not a supported URL: it must start with sqlite:, postgres://, postgresql:// or mysql://")]
    DatabaseUrl,
    #[error("bcrypt_cost {0} is out of range: bcrypt accepts 4 to 31")]
    BcryptCostRange(u32),
    #[error("bcrypt_cost {0} is below 10, which is refused in the release profile (lower costs are for tests)")]
    BcryptCostRelease(u32),
    #[error("{0} must be a positive number of seconds")]
    Ttl(&'static str),
    #[error("password_min_length {0} is out of range: it must be 1 to 72")]
    PasswordMinLength(usize),
    #[error("audit_retention_days must be at least 1")]
    AuditRetention,
    #[error("{0} must be at least 1")]
    AtLeastOne(&'static str),
    #[error("{path}: {source}")]
    SecretFile { path: String, source: std::io::Error },
    #[error("{0} does not hold a usable secret; delete it to have a new one generated")]
    CorruptSecretFile(String),
}

/// Rocket's figment (defaults, Rocket.toml, `ROCKET_*`) plus `DATABASE_URL`.
/// Precedence, lowest first: Rocket.toml, `DATABASE_URL`, `ROCKET_DATABASE_URL`.
pub fn figment() -> Figment {
    rocket::Config::figment()
        .merge(Env::raw().only(&["DATABASE_URL"]).global())
        .merge(Env::prefixed("ROCKET_").only(&["DATABASE_URL"]).global())
}

/// The `log_format` key, read before anything else so that every later
/// message is logged in the chosen format.
pub fn log_format(figment: &Figment) -> Result<LogFormat, ConfigError> {
    match figment.extract_inner::<String>("log_format") {
        Ok(raw) => raw.parse().map_err(ConfigError::Invalid),
        Err(e) if e.missing() => Ok(LogFormat::default()),
        Err(_) => Err(ConfigError::Invalid("log_format must be \"text\" or \"json\"".into())),
    }
}

/// Reads and checks the configuration; generates the secret file if needed.
pub fn load(figment: &Figment) -> Result<AppConfig, ConfigError> {
    let raw: RawConfig = Figment::from(Serialized::defaults(RawConfig::default()))
        .merge(figment.clone())
        .extract()
        .map_err(|e| {
            // A figment error quotes the offending value: fine for a TTL,
            // never for the secret.
            if e.path.iter().any(|key| key == "jwt_secret") {
                ConfigError::Invalid("jwt_secret must be a string".into())
            } else if e.path.iter().any(|key| key == "client_secret") {
                ConfigError::Invalid("oidc_providers: client_secret must be a string".into())
            } else {
                ConfigError::Invalid(e.to_string())
            }
        })?;
    let release = *figment.profile() == rocket::Config::RELEASE_PROFILE;

    if !is_supported_url(&raw.database_url) {
        return Err(ConfigError::DatabaseUrl);
    }
    if !(4..=31).contains(&raw.bcrypt_cost) {
        return Err(ConfigError::BcryptCostRange(raw.bcrypt_cost));
    }
    if release && raw.bcrypt_cost < 10 {
        return Err(ConfigError::BcryptCostRelease(raw.bcrypt_cost));
    }
    if raw.access_token_ttl <= 0 {
        return Err(ConfigError::Ttl("access_token_ttl"));
    }
    if raw.refresh_token_ttl <= 0 {
        return Err(ConfigError::Ttl("refresh_token_ttl"));
    }
    if !(1..=72).contains(&raw.password_min_length) {
        return Err(ConfigError::PasswordMinLength(raw.password_min_length));
    }
    if raw.audit_retention_days == 0 {
        return Err(ConfigError::AuditRetention);
    }
    for (key, value) in [
        ("login_max_failures_per_account", raw.login_max_failures_per_account),
        ("login_max_failures_per_address", raw.login_max_failures_per_address),
        ("signup_max_per_address", raw.signup_max_per_address),
    ] {
        if value == 0 {
            return Err(ConfigError::AtLeastOne(key));
        }
    }
    if raw.database_pool_size == Some(0) {
        return Err(ConfigError::AtLeastOne("database_pool_size"));
    }
    for (key, value) in [
        ("database_connect_timeout", raw.database_connect_timeout),
        ("database_acquire_timeout", raw.database_acquire_timeout),
        ("database_idle_timeout", raw.database_idle_timeout),
    ] {
        if value == 0 {
            return Err(ConfigError::AtLeastOne(key));
        }
    }
    let positive = [
        ("login_window", raw.login_window),
        ("session_max_age", raw.session_max_age),
        ("signup_window", raw.signup_window),
        ("mail_retry_seconds", raw.mail_retry_seconds),
        ("mail_retry_for", raw.mail_retry_for),
    ];
    for (key, seconds) in positive {
        if seconds <= 0 {
            return Err(ConfigError::Ttl(key));
        }
    }
    let jwt_algorithm = parse_jwt_algorithm(&raw.jwt_algorithm)
        .ok_or_else(|| ConfigError::Invalid("jwt_algorithm must be \"HS256\" or \"EdDSA\"".into()))?;
    if raw.sessions_per_account == 0 {
        return Err(ConfigError::AtLeastOne("sessions_per_account"));
    }
    if raw.token_max_days == 0 {
        return Err(ConfigError::AtLeastOne("token_max_days"));
    }
    // Renewed every third of it, in whole seconds.
    if raw.mail_lease_seconds < 3 {
        return Err(ConfigError::Invalid("mail_lease_seconds must be at least 3".into()));
    }
    let (jwt_secret, secret_source) = match raw.jwt_secret {
        Some(secret) if secret.len() < MIN_SECRET_BYTES => return Err(ConfigError::ShortSecret(secret.len())),
        Some(secret) => (JwtSecret(secret.into_bytes()), SecretSource::Configured),
        None => load_or_generate_secret(Path::new(SECRET_FILE))?,
    };

    let oidc_providers = oidc_providers(raw.oidc_providers)?;
    let pool_size = raw.database_pool_size.unwrap_or_else(|| default_pool_size(&raw.database_url));
    let public_url = raw.public_url.trim_end_matches('/').to_owned();
    if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
        return Err(ConfigError::Invalid("public_url must start with http:// or https://".into()));
    }
    if raw.smtp_url.as_deref().is_some_and(|url| !(url.starts_with("smtp://") || url.starts_with("smtps://"))) {
        return Err(ConfigError::Invalid("smtp_url must start with smtp:// or smtps://".into()));
    }
    let from = raw.mail_from.as_deref().unwrap_or("recipebox <recipebox@localhost>");
    let from = from.parse().map_err(|_| ConfigError::Invalid("mail_from must be an address such as \"recipebox <no-reply@example.com>\"".into()))?;
    let mail = MailSettings {
        public_url,
        smtp_url: raw.smtp_url,
        from,
        outbox_dir: PathBuf::from(raw.outbox_dir),
        retry_seconds: raw.mail_retry_seconds,
        retry_for: raw.mail_retry_for,
        lease_seconds: raw.mail_lease_seconds,
    };
    Ok(AppConfig {
        database_url: raw.database_url,
        jwt_secret,
        secret_source,
        access_token_ttl: raw.access_token_ttl,
        refresh_token_ttl: raw.refresh_token_ttl,
        session_max_age: raw.session_max_age,
        bcrypt_cost: raw.bcrypt_cost,
        cookie_secure: raw.cookie_secure.unwrap_or(release),
        password_rules: PasswordRules { min_length: raw.password_min_length },
        audit_retention_days: raw.audit_retention_days,
        pool: PoolSettings {
            size: pool_size,
            connect_timeout: Duration::from_secs(raw.database_connect_timeout),
            acquire_timeout: Duration::from_secs(raw.database_acquire_timeout),
            idle_timeout: Duration::from_secs(raw.database_idle_timeout),
            sqlite_busy_timeout: Duration::from_millis(raw.sqlite_busy_timeout_ms),
        },
        throttle: ThrottleRules {
            per_account: raw.login_max_failures_per_account,
            per_address: raw.login_max_failures_per_address,
            window: raw.login_window,
            signups_per_address: raw.signup_max_per_address,
            signup_window: raw.signup_window,
        },
        mail,
        jwt_algorithm,
        jwt_key_rotation_days: raw.jwt_key_rotation_days,
        sessions_per_account: raw.sessions_per_account,
        token_max_days: raw.token_max_days,
        oidc_providers,
    })
}

/// `jwt_algorithm`'s values (also a signing key's `algorithm` column).
pub fn parse_jwt_algorithm(raw: &str) -> Option<jsonwebtoken::Algorithm> {
    match raw {
        "HS256" => Some(jsonwebtoken::Algorithm::HS256),
        "EdDSA" => Some(jsonwebtoken::Algorithm::EdDSA),
        _ => None,
    }
}

/// The name [`parse_jwt_algorithm`] reads.
pub fn jwt_algorithm_name(algorithm: jsonwebtoken::Algorithm) -> &'static str {
    match algorithm {
        jsonwebtoken::Algorithm::EdDSA => "EdDSA",
        _ => "HS256",
    }
}

fn is_supported_url(url: &str) -> bool {
    ["sqlite:", "postgres://", "postgresql://", "mysql://"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
}

/// Reuses the secret in `path`, or writes 64 random bytes there (mode 0600,
/// created exclusively, so two instances starting at once agree on one).
fn load_or_generate_secret(path: &Path) -> Result<(JwtSecret, SecretSource), ConfigError> {
    let io_err = |source| ConfigError::SecretFile { path: path.display().to_string(), source };
    let read = |path: &Path| -> Result<JwtSecret, ConfigError> {
        let text = fs::read_to_string(path).map_err(io_err)?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .filter(|bytes| bytes.len() >= MIN_SECRET_BYTES)
            .map(JwtSecret)
            .ok_or_else(|| ConfigError::CorruptSecretFile(path.display().to_string()))
    };
    if path.exists() {
        return Ok((read(path)?, SecretSource::File(path.to_owned())));
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io_err)?;
    }
    let mut bytes = vec![0u8; GENERATED_SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(encoded.as_bytes()).and_then(|()| file.sync_all()).map_err(io_err)?;
            Ok((JwtSecret(bytes), SecretSource::Generated(path.to_owned())))
        }
        // Another instance won the race: use its secret.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok((read(path)?, SecretSource::File(path.to_owned())))
        }
        Err(e) => Err(io_err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::figment::providers::Serialized;

    fn figment_with(key: &str, value: impl Serialize) -> Figment {
        Figment::new()
            .merge(Serialized::default("jwt_secret", "x".repeat(32)))
            .merge(Serialized::default(key, value))
    }

    #[test]
    fn defaults_follow_the_spec() {
        let config = load(&figment_with("bcrypt_cost", 12)).unwrap();
        assert_eq!(config.database_url, "sqlite://data/recipebox.db?mode=rwc");
        assert_eq!((config.access_token_ttl, config.refresh_token_ttl), (900, 604_800));
        assert_eq!(config.password_rules.min_length, 8);
        assert_eq!(config.audit_retention_days, 90);
        assert_eq!(config.pool.size, 8, "SQLite's pool");
        assert_eq!(config.mail.public_url, "http://localhost:8000");
        assert!(config.mail.smtp_url.is_none(), "mail goes to data/outbox by default");
        assert_eq!(config.mail.outbox_dir, PathBuf::from("data/outbox"));
        assert_eq!(load(&figment_with("database_url", "postgres://db/app")).unwrap().pool.size, 16);
        let throttle = config.throttle;
        assert_eq!((throttle.per_account, throttle.per_address, throttle.window), (10, 100, 900));
        assert_eq!(config.secret_source, SecretSource::Configured);
        assert_eq!(config.jwt_algorithm, jsonwebtoken::Algorithm::HS256);
        assert_eq!((config.jwt_key_rotation_days, config.sessions_per_account), (90, 100));
    }

    #[test]
    fn bad_values_are_refused_with_a_message_naming_the_key() {
        for (key, value, expected) in [
            ("jwt_secret", serde_json::json!("too-short"), "at least 32 bytes"),
            ("database_url", serde_json::json!("redis://127.0.0.1"), "database_url"),
            ("bcrypt_cost", serde_json::json!(3), "bcrypt_cost 3"),
            ("access_token_ttl", serde_json::json!(0), "access_token_ttl"),
            ("password_min_length", serde_json::json!(0), "password_min_length"),
            ("audit_retention_days", serde_json::json!(0), "audit_retention_days"),
            ("login_max_failures_per_account", serde_json::json!(0), "login_max_failures_per_account"),
            ("login_window", serde_json::json!(-5), "login_window"),
            ("database_pool_size", serde_json::json!(0), "database_pool_size"),
            ("database_acquire_timeout", serde_json::json!(0), "database_acquire_timeout"),
            ("public_url", serde_json::json!("example.com"), "public_url"),
            ("smtp_url", serde_json::json!("http://mail.example.com"), "smtp_url"),
            ("mail_from", serde_json::json!("not an address"), "mail_from"),
            ("bcrypt_cost", serde_json::json!("twelve"), "bcrypt_cost"),
            ("jwt_algorithm", serde_json::json!("RS256"), "jwt_algorithm"),
            ("sessions_per_account", serde_json::json!(0), "sessions_per_account"),
            ("token_max_days", serde_json::json!(0), "token_max_days"),
        ] {
            let message = load(&figment_with(key, value)).unwrap_err().to_string();
            assert!(message.contains(expected), "{key}: {message:?} should contain {expected:?}");
            assert!(!message.contains("too-short"), "the secret must not be echoed: {message}");
        }
    }

    #[test]
    fn oidc_providers_are_read_by_key_and_each_table_is_checked_without_echoing_its_secret() {
        let good = |issuer: &str| {
            serde_json::json!({ "issuer": issuer, "client_id": "recipebox", "client_secret": "s3cret-value", "name": " Staff login " })
        };
        let config = load(&figment_with("oidc_providers", serde_json::json!({ "staff": good("https://sso.example.com/realms/a") })))
            .unwrap();
        let provider = &config.oidc_providers[0];
        assert_eq!((provider.key.as_str(), provider.name.as_str(), provider.email_login), ("staff", "Staff login", false));
        assert!(!format!("{provider:?}").contains("s3cret-value"), "Debug hides the client secret");
        assert!(load(&figment_with("bcrypt_cost", 12)).unwrap().oidc_providers.is_empty(), "none by default");

        let mut no_secret = good("https://sso.example.com");
        no_secret["client_secret"] = "".into();
        let mut unknown_key = good("https://sso.example.com");
        unknown_key["scope"] = "openid".into();
        let mut secret_not_text = good("https://sso.example.com");
        secret_not_text["client_secret"] = serde_json::json!(["s3cret-value"]);
        for (tables, expected) in [
            (serde_json::json!({ "Staff Login": good("https://sso.example.com") }), "a provider's key"),
            (serde_json::json!({ "staff": good("sso.example.com") }), "oidc_providers.staff: issuer"),
            (serde_json::json!({ "staff": no_secret }), "client_secret is empty"),
            (serde_json::json!({ "staff": unknown_key }), "scope"),
            (serde_json::json!({ "staff": secret_not_text }), "client_secret must be a string"),
        ] {
            let message = load(&figment_with("oidc_providers", tables)).unwrap_err().to_string();
            assert!(message.contains(expected), "{message:?} should contain {expected:?}");
            assert!(!message.contains("s3cret-value"), "the secret must not be echoed: {message}");
        }
    }

    #[test]
    fn log_format_is_text_by_default_json_on_request_and_nothing_else() {
        assert_eq!(log_format(&Figment::new()).unwrap(), LogFormat::Text);
        assert_eq!(log_format(&figment_with("log_format", "json")).unwrap(), LogFormat::Json);
        let message = log_format(&figment_with("log_format", "xml")).unwrap_err().to_string();
        assert!(message.contains("log_format"), "{message}");
    }

    #[test]
    fn a_low_bcrypt_cost_is_refused_only_in_release() {
        let release = figment_with("bcrypt_cost", 4).select(rocket::Config::RELEASE_PROFILE);
        assert!(matches!(load(&release), Err(ConfigError::BcryptCostRelease(4))));
        let release_ok = figment_with("bcrypt_cost", 10).select(rocket::Config::RELEASE_PROFILE);
        let config = load(&release_ok).unwrap();
        assert!(config.cookie_secure, "cookies are Secure by default in release");
        assert!(!load(&figment_with("bcrypt_cost", 4)).unwrap().cookie_secure);
    }

    #[test]
    fn a_generated_secret_is_stored_privately_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("jwt_secret");
        let (first, source) = load_or_generate_secret(&path).unwrap();
        assert_eq!(source, SecretSource::Generated(path.clone()));
        assert_eq!(first.bytes().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, source) = load_or_generate_secret(&path).unwrap();
        assert_eq!(source, SecretSource::File(path));
        assert_eq!(first.bytes(), second.bytes());
        assert!(!format!("{first:?}").contains(&format!("{:?}", first.bytes())));
    }
}

/// Lets unit tests elsewhere build a secret without a figment.
#[cfg(test)]
pub(crate) mod tests_support {
    pub fn secret(text: &str) -> super::JwtSecret {
        super::JwtSecret(text.as_bytes().to_vec())
    }
}
