use sea_orm::entity::prelude::*;

/// A user's TOTP secret (RFC 6238), pending until a code confirms it.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "totp_secrets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// Base32, as authenticator apps take it.
    pub secret: String,
    /// The last time step accepted; a code of it or an earlier one is refused.
    pub last_step: Option<i64>,
    pub created_at: TimeUnixTimestamp,
    /// Null while enrolling: two-step login is on from this moment.
    pub enabled_at: Option<TimeUnixTimestamp>,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
