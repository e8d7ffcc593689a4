//! The application's shared state, built once at ignite and managed by Rocket.

use sea_orm::DatabaseConnection;

use crate::auth::jwt::JwtKeys;
use crate::auth::password::PasswordHasher;
use crate::config::AppConfig;
use crate::db;
use crate::mail::Mailer;

pub struct App {
    pub db: DatabaseConnection,
    pub config: AppConfig,
    pub keys: JwtKeys,
    pub hasher: PasswordHasher,
    pub mailer: Mailer,
}

impl App {
    /// Connects, applies pending migrations, prepares the keys and starts
    /// the mail delivery task.
    pub async fn start(config: AppConfig) -> anyhow::Result<Self> {
        let db = db::connect(&config.database_url, &config.pool).await?;
        db::migrate(&db).await?;
        let hasher = PasswordHasher::new(config.bcrypt_cost).await?;
        let mailer = Mailer::start(&config.mail)?;
        Ok(Self { db, keys: JwtKeys::new(&config.jwt_secret), hasher, mailer, config })
    }
}
