//! The application's shared state, built once at ignite and managed by Rocket.
//! It holds plain parts that know nothing of the features above them.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::crypto::jwt::JwtKeys;
use crate::crypto::password::PasswordHasher;
use crate::crypto::sealed::Sealer;
use crate::config::AppConfig;
use crate::db;
use crate::kept::{self, Kept};
use crate::mail::Mailer;
use crate::oidc::Providers;
use crate::store::batch::Reads;
use crate::store::commits::Commits;

pub struct App {
    pub db: DatabaseConnection,
    pub config: AppConfig,
    /// The keyring in use (`crate::keys` keeps it the database's), shared
    /// with the task that looks after it.
    pub keys: Arc<JwtKeys>,
    pub hasher: PasswordHasher,
    pub mailer: Mailer,
    /// Answers kept between requests, checked against versions the
    /// database keeps (`crate::kept`).
    pub kept: Kept,
    /// The reads every request makes, batched (`crate::store::batch`).
    pub reads: Reads,
    /// The WebAuthn relying party of `public_url`, or why passkeys are off.
    pub passkeys: Result<webauthn_rs::Webauthn, String>,
    /// Seals a passkey sign-in's ceremony for the browser to hold.
    pub passkey_sign_ins: Sealer,
    /// The OpenID Connect providers people may sign in with.
    pub oidc: Providers,
}

impl App {
    /// Connects, applies pending migrations, opens the keyring (refusing a
    /// `jwt_secret` that cannot open it; making the first key) and the
    /// mail transport (the server starts the deliverer at liftoff).
    pub async fn start(config: AppConfig) -> anyhow::Result<Self> {
        let db = db::connect(&config.database_url, &config.pool).await?;
        db::migrate(&db).await?;
        let hasher = PasswordHasher::new(config.bcrypt_cost).await?;
        let mailer = Mailer::new(&config.mail)?;
        let reads = Reads::start(&db, Commits::open(&config.database_url).await);
        let passkeys = crate::crypto::passkeys::relying_party(&config.mail.public_url);
        if let Err(why) = &passkeys {
            tracing::warn!(%why, "passkeys are off");
        }
        let passkey_sign_ins = Sealer::new(&config.jwt_secret, "recipebox passkey sign-in");
        let oidc = Providers::new(&config)?;
        let app = Self {
            db,
            reads,
            passkeys,
            passkey_sign_ins,
            oidc,
            keys: Arc::new(JwtKeys::new(&config.jwt_secret)),
            hasher,
            mailer,
            kept: Kept::new(kept::BUDGET),
            config,
        };
        crate::keys::open((&app).into()).await?;
        Ok(app)
    }
}
