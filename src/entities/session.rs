use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `sid` claim of every token of this login.
    #[sea_orm(unique)]
    pub sid: Uuid,
    pub user_id: i64,
    pub user_agent: Option<String>,
    /// The client address of the login.
    pub ip_address: Option<String>,
    pub created_at: TimeUnixTimestamp,
    pub last_used_at: TimeUnixTimestamp,
    /// When the newest refresh token of this session expires.
    pub expires_at: TimeUnixTimestamp,
    pub revoked_at: Option<TimeUnixTimestamp>,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
