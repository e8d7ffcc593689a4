//! The application's shared state, built once at ignite and managed by Rocket.

use sea_orm::DatabaseConnection;

use crate::auth::jwt::JwtKeys;
use crate::auth::password::PasswordHasher;
use crate::config::AppConfig;
use crate::db;

pub struct App {
    pub db: DatabaseConnection,
    pub config: AppConfig,
    pub keys: JwtKeys,
    pub hasher: PasswordHasher,
}

impl App {
    /// Connects, applies pending migrations and prepares the keys.
    pub async fn start(config: AppConfig) -> anyhow::Result<Self> {
        let db = db::connect(&config.database_url, &config.pool).await?;
        db::migrate(&db).await?;
        let hasher = PasswordHasher::new(config.bcrypt_cost).await?;
        Ok(Self { db, keys: JwtKeys::new(&config.jwt_secret), hasher, config })
    }
}
