use sea_orm::entity::prelude::*;

/// A single-use token sent in a link by email, stored only as its SHA-256.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// `reset` (a password reset) or `verify` (an address verification).
    pub purpose: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    /// The address the link was sent to.
    pub email: String,
    pub created_at: TimeUnixTimestamp,
    pub expires_at: TimeUnixTimestamp,
    pub used_at: Option<TimeUnixTimestamp>,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
