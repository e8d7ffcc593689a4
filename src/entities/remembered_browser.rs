use sea_orm::entity::prelude::*;

/// A browser that skips the second step for 30 days; its cookie holds a
/// token whose SHA-256 is here.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "remembered_browsers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What `/me/security` names it by.
    #[sea_orm(unique)]
    pub public_id: Uuid,
    pub user_id: i64,
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Browser and system, in words, when it was remembered.
    pub device: String,
    pub ip_address: Option<String>,
    pub created_at: TimeUnixTimestamp,
    pub last_used_at: Option<TimeUnixTimestamp>,
    pub expires_at: TimeUnixTimestamp,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
