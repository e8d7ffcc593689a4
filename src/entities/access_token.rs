use sea_orm::entity::prelude::*;

/// A personal access token (SPEC §2): only the SHA-256 of the token is kept.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What pages and the export name it by.
    #[sea_orm(unique)]
    pub public_id: Uuid,
    pub user_id: i64,
    pub name: String,
    /// Scope names separated by spaces (`crate::pat::Scopes`).
    pub scopes: String,
    /// SHA-256 of the whole token, in hex.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub created_at: TimeUnixTimestamp,
    pub expires_at: TimeUnixTimestamp,
    pub last_used_at: Option<TimeUnixTimestamp>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<TimeUnixTimestamp>,
    /// When the notice that it expires within 7 days was queued.
    pub expiry_noticed_at: Option<TimeUnixTimestamp>,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
