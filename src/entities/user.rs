use sea_orm::entity::prelude::*;

use crate::domain::Role;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub public_id: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    pub username: String,
    /// `username` lower-cased; carries the case-insensitive unique index.
    #[sea_orm(unique)]
    pub username_key: String,
    /// bcrypt; empty for an account made through a provider whose owner
    /// has set no password (see [`Model::password`]).
    pub password_hash: String,
    pub role: Role,
    pub disabled_at: Option<TimeUnixTimestamp>,
    pub tokens_valid_after: TimeUnixTimestamp,
    /// When the user followed a verification link to their current address.
    pub email_verified_at: Option<TimeUnixTimestamp>,
    /// When the user last started a session (login or sign-up).
    pub last_login_at: Option<TimeUnixTimestamp>,
    pub created_at: TimeUnixTimestamp,
    pub updated_at: TimeUnixTimestamp,
    #[sea_orm(has_many)]
    pub recipes: HasMany<super::recipe::Entity>,
    #[sea_orm(has_many)]
    pub sessions: HasMany<super::session::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The password's hash; `None` when the account has no password (made
    /// through a provider, until its owner sets one by the reset link).
    pub fn password(&self) -> Option<&str> {
        Some(self.password_hash.as_str()).filter(|hash| !hash.is_empty())
    }
}
