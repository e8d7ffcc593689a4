use sea_orm::entity::prelude::*;

/// A login whose password was right and whose second step is to come.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_tickets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub user_id: i64,
    /// `page` or `api`.
    pub purpose: String,
    pub next_path: Option<String>,
    /// The provider of a login through one (`oidc_providers`' key).
    pub provider: Option<String>,
    pub created_at: TimeUnixTimestamp,
    pub expires_at: TimeUnixTimestamp,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
