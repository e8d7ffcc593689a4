use sea_orm::entity::prelude::*;

/// The blocklist. A row means "this `jti` is never accepted again"; it can be
/// purged once `expires_at` (the token's own `exp`) has passed, because an
/// expired token is refused anyway.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revoked_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub jti: Uuid,
    pub token_type: String,
    pub user_public_id: Uuid,
    pub expires_at: TimeUnixTimestamp,
    pub revoked_at: TimeUnixTimestamp,
}

impl ActiveModelBehavior for ActiveModel {}
