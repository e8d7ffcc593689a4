//! The application's shared state, built once at ignite and managed by Rocket.

use sea_orm::DatabaseConnection;

use std::sync::Arc;

use crate::accounts::overview::{self, OverviewCache};
use crate::auth::cache::AuthCache;
use crate::catalog::RecipeCache;
use crate::changes::Changes;
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
    /// The counters that tell every instance what changed (`crate::changes`).
    pub changes: Arc<Changes>,
    /// What the guard read for each access token in use (`auth::cache`).
    pub auth_cache: AuthCache,
    /// Recipe lists as last read (`crate::catalog`).
    pub recipe_cache: RecipeCache,
    /// What `/me` shows of each account, as last read (`accounts::overview`).
    pub overview_cache: OverviewCache,
}

impl App {
    /// Connects, applies pending migrations, prepares the keys and starts
    /// the mail delivery task.
    pub async fn start(config: AppConfig) -> anyhow::Result<Self> {
        let changes = Arc::new(Changes::for_database(&config.database_url)?);
        let db = db::connect(&config.database_url, &config.pool).await?;
        db::migrate(&db).await?;
        let hasher = PasswordHasher::new(config.bcrypt_cost).await?;
        let mailer = Mailer::start(&config.mail)?;
        Ok(Self { db, keys: JwtKeys::new(&config.jwt_secret), hasher,
            mailer,
            auth_cache: AuthCache::new(Arc::clone(&changes)),
            recipe_cache: RecipeCache::new(Arc::clone(&changes)),
            overview_cache: overview::cache(),
            changes,
            config,
        })
    }
}
